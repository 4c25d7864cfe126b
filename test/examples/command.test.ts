/**
 * The command example, driven by a Node WebSocket client: the command's output reaches the
 * client line by line, the client's messages reach its stdin, and either side ending ends the
 * other.
 */
import { readFileSync } from 'node:fs';
import {
  startCommand,
  type CommandExit,
  type CommandOptions,
  type CommandServer,
} from '../../examples/command/src/index';
import { connectWs, type WsClient } from '../helpers/ws-client';

let server: CommandServer | undefined;
const clients: WsClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await server?.close();
  server = undefined;
});

/** Starts the example with `command` and resolves with it and a promise of the next exit. */
async function start(
  command: string,
  args: string[],
  options: Partial<CommandOptions> = {},
): Promise<{ url: string; exits: () => Promise<CommandExit> }> {
  const waiting: ((exit: CommandExit) => void)[] = [];
  const seen: CommandExit[] = [];
  server = await startCommand({
    command,
    args,
    onExit: (exit) => {
      const take = waiting.shift();
      if (take) take(exit);
      else seen.push(exit);
    },
    ...options,
  });
  return {
    url: `${server.url.replace('http:', 'ws:')}ws`,
    exits: () =>
      seen.length > 0
        ? Promise.resolve(seen.shift()!)
        : new Promise((resolve) => waiting.push(resolve)),
  };
}

/** Whether process `pid` runs (exists, and is not a zombie waiting to be reaped). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function connect(url: string): Promise<WsClient> {
  const client = await connectWs(url);
  clients.push(client);
  return client;
}

// A small line-oriented program: echoes each input line in upper case, says goodbye on EOF.
const upperCase = [
  '-e',
  `const rl = require('node:readline').createInterface({ input: process.stdin });
   rl.on('line', (line) => console.log(line.toUpperCase()));
   rl.on('close', () => console.log('bye'));`,
];

describe('command example', () => {
  test('serves the page at /', async () => {
    await start('cat', []);
    const page = await fetch(server!.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("location.host + '/ws'");
  });

  test('sends input lines to stdin and output lines back as messages', async () => {
    const { url } = await start(process.execPath, upperCase);
    const client = await connect(url);
    client.ws.send('hello');
    expect(await client.next()).toBe('HELLO');
    client.ws.send('two\nlines');
    expect(await client.take(2)).toEqual(['TWO', 'LINES']);
  });

  test('when the command exits, the connection is closed with 1000 after its last line', async () => {
    const { url, exits } = await start('sh', ['-c', 'echo one; echo two; echo oops >&2; exit 3']);
    const client = await connect(url);
    const lines = [await client.next(), await client.next(), await client.next()];
    // stdout and stderr are separate pipes: their lines may interleave either way.
    expect(lines.sort()).toEqual(['one', 'oops', 'two']);
    expect(await client.closed).toEqual({ code: 1000, reason: '' });
    expect(await exits()).toMatchObject({ code: 3, signal: null });
  });

  test('when the client leaves, stdin closes and the command ends', async () => {
    const { url, exits } = await start(process.execPath, upperCase);
    const client = await connect(url);
    client.ws.send('first');
    expect(await client.next()).toBe('FIRST');
    client.ws.close(1000);
    const exit = await exits();
    // It ends at EOF or at the SIGINT that follows at once, whichever comes first.
    expect(exit.code === 0 || exit.signal === 'SIGINT').toBe(true);
    expect(await client.closed).toMatchObject({ code: 1000 });
  });

  test('a command that ignores stdin is interrupted when the client leaves', async () => {
    const { url, exits } = await start('sleep', ['60']);
    const client = await connect(url);
    client.ws.close(1001);
    expect(await exits()).toMatchObject({ code: null, signal: 'SIGINT' });
  });

  test('a command that ignores SIGINT gets SIGTERM', async () => {
    const script =
      "process.on('SIGINT', () => {}); setInterval(() => {}, 1000); console.log('ready');";
    const { url, exits } = await start(process.execPath, ['-e', script]);
    const client = await connect(url);
    // Once it says so, its SIGINT handler is in place.
    expect(await client.next()).toBe('ready');
    client.ws.terminate();
    expect(await exits()).toMatchObject({ code: null, signal: 'SIGTERM' });
  });

  test('a command that ignores SIGINT and SIGTERM too is killed', async () => {
    const script =
      "process.on('SIGINT', () => {}); process.on('SIGTERM', () => {}); " +
      "setInterval(() => {}, 1000); console.log('ready');";
    const { url, exits } = await start(process.execPath, ['-e', script]);
    const client = await connect(url);
    expect(await client.next()).toBe('ready');
    client.ws.terminate();
    expect(await exits()).toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  test.each([
    ['a background job (which ignores SIGINT)', 'sleep 300 & echo $!; wait'],
    ['a tree that ignores SIGINT and SIGTERM', "trap '' INT TERM; sleep 300 & echo $!; wait"],
  ])('when the page goes away, the whole process tree ends: %s', async (_name, script) => {
    const { url, exits } = await start('sh', ['-c', script]);
    const client = await connect(url);
    const grandchild = Number(await client.next());
    expect(isRunning(grandchild)).toBe(true);
    client.ws.terminate();
    await exits();
    expect(isRunning(grandchild)).toBe(false);
  });

  test('each connection runs its own process', async () => {
    const { url } = await start(process.execPath, ['-e', 'console.log(process.pid)']);
    const a = await connect(url);
    const b = await connect(url);
    const [pidA, pidB] = [await a.next(), await b.next()];
    expect(pidA).toMatch(/^\d+$/);
    expect(pidB).toMatch(/^\d+$/);
    expect(pidA).not.toBe(pidB);
  });

  test('long output lines arrive whole, and a last line without a newline too', async () => {
    const script = "process.stdout.write('x'.repeat(50000) + '\\r\\nlast')";
    const { url } = await start(process.execPath, ['-e', script]);
    const client = await connect(url);
    expect(await client.next()).toBe('x'.repeat(50000));
    expect(await client.next()).toBe('last');
    expect((await client.closed).code).toBe(1000);
  });

  test('an input message over 8 KiB closes the connection with 1009 and ends the command', async () => {
    const { url, exits } = await start('cat', []);
    const client = await connect(url);
    client.ws.send('y'.repeat(8193));
    expect((await client.closed).code).toBe(1009);
    await exits();
  });

  test('a command that cannot start is reported with 1011', async () => {
    const { url } = await start('/nonexistent/command', []);
    const client = await connect(url);
    expect(await client.next()).toBe('Internal server error.');
    expect(await client.closed).toEqual({ code: 1011, reason: 'command failed to start' });
  });

  test('refuses a cross-origin upgrade with 403', async () => {
    const { url } = await start('cat', []);
    await expect(connectWs(url, { origin: 'http://evil.example' })).rejects.toThrow(
      'handshake refused with 403',
    );
  });

  test('close() ends every connection with 1001 and every command', async () => {
    const { url, exits } = await start('cat', []);
    const client = await connect(url);
    client.ws.send('ping');
    expect(await client.next()).toBe('ping');
    const exited = exits();
    const closing = server!.close();
    server = undefined;
    expect((await client.closed).code).toBe(1001);
    await exited;
    await closing;
  });
});
