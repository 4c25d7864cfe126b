/**
 * The examples behave as programs: run from their built `dist/main.js` (`npm test` builds them
 * first), a taken port is one line naming the port and `PORT`, not a stack; and `npm start` runs
 * the server so that a signal sent to npm's own process reaches it: its connections are closed
 * with 1001 Going Away and it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useCleanups } from '../helpers/cleanups';
import { connectWs } from '../helpers/ws-client';

const cleanups = useCleanups();
const root = join(__dirname, '..', '..');

/** A port on 127.0.0.1 held by another server for the test. */
async function takenPort(): Promise<number> {
  const holder: Server = createServer();
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  cleanups.push(() => new Promise((resolve) => holder.close(resolve)));
  return (holder.address() as { port: number }).port;
}

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Watches a child's output; `exited` resolves once it has exited and its output closed. */
function watch(child: ChildProcess): { exited: Promise<Exited>; output: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'close').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout,
    stderr,
  }));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return { exited, output: () => stdout };
}

const file = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'silverback-programs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'watched.txt');
  writeFileSync(path, 'hello\n');
  return path;
})();

const examples: [string, string[]][] = [
  ['chat', []],
  ['echo', []],
  ['command', ['cat']],
  ['filewatch', [file]],
  ['express-chat', []],
  ['fastify-chat', []],
  ['koa-chat', []],
  ['autobahn', []],
];

test.each(examples)(
  'examples/%s: a taken port is one line naming the port and PORT, and exit code 1',
  async (name, args) => {
    const port = await takenPort();
    const child = spawn(
      process.execPath,
      [join(root, 'examples', name, 'dist', 'main.js'), ...args],
      {
        env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const { code, stderr } = await watch(child).exited;
    expect(code).toBe(1);
    expect(stderr).toBe(
      `port ${port} is already in use: set PORT to another one (PORT=${port + 1}, or PORT=0 for any free port)\n`,
    );
  },
);

test.each(['SIGTERM', 'SIGINT'] as const)(
  "%s sent to `npm start`'s own process closes the chat's connections with 1001 and stops it",
  async (signal) => {
    const npm = spawn('npm', ['start'], {
      cwd: root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { exited, output } = watch(npm);
    // Wait for the line that names the page.
    const port = await new Promise<number>((resolve, reject) => {
      const look = (): void => {
        const found = /chat example: open http:\/\/localhost:(\d+)\//.exec(output());
        if (found !== null) resolve(Number(found[1]));
      };
      npm.stdout.on('data', look);
      void exited.then((e) => reject(new Error(`npm start exited early: ${e.stderr}`)));
    });
    const client = await connectWs(`ws://127.0.0.1:${port}/ws`, {
      origin: `http://127.0.0.1:${port}`,
    });
    cleanups.push(() => client.ws.terminate());

    npm.kill(signal);
    expect((await client.closed).code).toBe(1001);
    const { code } = await exited;
    expect(code).toBe(0);
    // The server is gone: nobody listens on its port any more.
    const probe = connectWs(`ws://127.0.0.1:${port}/ws`);
    await expect(probe).rejects.toThrow(/ECONNREFUSED/);
  },
);
