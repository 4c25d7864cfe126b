/**
 * The examples' main.ts runner. envAddress reads the environment; runExample runs in a child
 * process, as a main.ts does, from the built package (`npm run build`): a clean stop on SIGINT and
 * SIGTERM, and exit code 1 with the error printed when starting or stopping fails.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { addressProblem, envAddress } from '../src/run-example';

const saved = { PORT: process.env.PORT, HOST: process.env.HOST };

afterEach(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

test('envAddress reads PORT and HOST, else the defaults', () => {
  delete process.env.PORT;
  delete process.env.HOST;
  expect(envAddress(8081, '127.0.0.1')).toEqual({ port: 8081, host: '127.0.0.1' });
  expect(envAddress(8080)).toEqual({ port: 8080, host: undefined });
  process.env.PORT = '9000';
  process.env.HOST = '::1';
  expect(envAddress(8081, '127.0.0.1')).toEqual({ port: 9000, host: '::1' });
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `runExample(<start>)` in a child process, `start` being JavaScript source; sends `signal`
 * once the child prints "started".
 */
async function runExample(start: string, signal?: NodeJS.Signals): Promise<Ran> {
  const built = JSON.stringify(join(__dirname, '..', 'dist', 'run-example.js'));
  const program = `require(${built}).runExample(${start});`;
  const child = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (signal !== undefined && !signalled && stdout.includes('started')) {
      signalled = child.kill(signal);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

// Keeps the child alive until it is stopped, as a listening server does. "started" comes from
// setImmediate, which runs after the promise callbacks that install the signal handlers.
const started = `async () => {
  const alive = setInterval(() => {}, 1000);
  setImmediate(() => console.log('started'));
  return async () => { clearInterval(alive); console.log('stopped'); };
}`;

test.each(['SIGINT', 'SIGTERM'] as const)(
  '%s stops the example and exits with 0',
  async (signal) => {
    const ran = await runExample(started, signal);
    expect(ran).toEqual({ code: 0, stdout: 'started\nstopped\n', stderr: '' });
  },
);

test('a failure to start is printed, and exits with 1', async () => {
  const ran = await runExample(`async () => { throw new Error('EADDRINUSE, say'); }`);
  expect(ran.code).toBe(1);
  expect(ran.stderr).toContain('Error: EADDRINUSE, say');
});

test('a failure to stop is printed, and exits with 1', async () => {
  const failingStop = `async () => {
    const alive = setInterval(() => {}, 1000);
    setImmediate(() => console.log('started'));
    return () => Promise.reject(new Error('stuck'));
  }`;
  const ran = await runExample(failingStop, 'SIGINT');
  expect(ran.code).toBe(1);
  expect(ran.stderr).toContain('Error: stuck');
});

test('a port in use is one line naming the port and PORT, without a stack', async () => {
  const inUse = `async () => {
    throw Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8080'), {
      code: 'EADDRINUSE', port: 8080, address: '127.0.0.1',
    });
  }`;
  const ran = await runExample(inUse);
  expect(ran).toEqual({
    code: 1,
    stdout: '',
    stderr:
      'port 8080 is already in use: set PORT to another one (PORT=8081, or PORT=0 for any free port)\n',
  });
});

test.each<[object, string]>([
  [
    { code: 'EACCES', port: 80 },
    'port 80 needs privileges this process lacks: set PORT to one above 1023',
  ],
  [
    { code: 'EADDRNOTAVAIL', address: '10.9.9.9', port: 8080 },
    '10.9.9.9 is not an address of this machine: set HOST to one that is (or leave it unset)',
  ],
  [{ code: 'ECONNRESET' }, ''],
])('addressProblem(%j)', (err, line) => {
  expect(addressProblem(err) ?? '').toBe(line);
});

test('a second signal while stopping exits at once, with 1', async () => {
  const slowStop = `async () => {
    const alive = setInterval(() => {}, 1000);
    setImmediate(() => console.log('started'));
    return () => {
      console.log('stopping');
      process.kill(process.pid, 'SIGINT');
      return new Promise(() => {});
    };
  }`;
  const ran = await runExample(slowStop, 'SIGTERM');
  expect(ran).toEqual({ code: 1, stdout: 'started\nstopping\n', stderr: '' });
});
