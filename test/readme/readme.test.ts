/**
 * The root README's quick starts are programs, not prose: each one is type-checked against the
 * packages' published types, then run as it is (an ES module importing the built packages), with
 * `listen(8080)` moved to a free port on 127.0.0.1, and a client checks that it echoes. The
 * client snippet runs against the Node `http` quick start. Needs the packages built (`npm test`
 * builds them first; alone, run `npm run build`).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { connectWs } from '../helpers/ws-client';

const root = join(__dirname, '..', '..');
const workDir = join(root, 'test', 'artifacts', 'readme');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The first TypeScript block under the `### <heading>` section of the README. */
function snippet(heading: string): string {
  const start = readme.indexOf(`\n### ${heading}\n`);
  if (start < 0) throw new Error(`README has no "### ${heading}" section`);
  const open = readme.indexOf('```ts\n', start);
  const close = readme.indexOf('\n```', open + 6);
  return readme.slice(open + 6, close + 1);
}

const client = { heading: 'A client', file: 'client' };

const quickStarts = [
  { heading: 'Node `http`', file: 'node-http' },
  { heading: 'Express 5', file: 'express' },
  { heading: 'Fastify 5', file: 'fastify' },
  { heading: 'Koa 3', file: 'koa' },
];

// Loaded before a snippet runs: every server listens on a free loopback port instead of the one
// the snippet names, and the first one tells the test where; a client's connection to port 8080
// goes to README_PORT instead.
const preload = `'use strict';
const net = require('node:net');
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect() passes its arguments normalised, as an array whose first item is the options.
  const options = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (process.env.README_PORT && options && Number(options.port) === 8080) {
    options.port = Number(process.env.README_PORT);
    options.host = '127.0.0.1';
  }
  return connect.apply(this, args);
};
const listen = net.Server.prototype.listen;
let reported = false;
net.Server.prototype.listen = function (...args) {
  const callback = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : undefined;
  this.once('listening', () => {
    if (reported) return;
    reported = true;
    process.send({ port: this.address().port });
  });
  return callback ? listen.call(this, 0, '127.0.0.1', callback) : listen.call(this, 0, '127.0.0.1');
};
`;

beforeAll(() => {
  mkdirSync(workDir, { recursive: true });
  writeFileSync(join(workDir, 'redirect-ports.cjs'), preload);
  for (const { heading, file } of [...quickStarts, client]) {
    writeFileSync(join(workDir, `${file}.mts`), snippet(heading));
  }
});

/** A snippet running as a child process. */
interface Running {
  /** Resolves with the port its first server listens on. */
  port: Promise<number>;
  /** Resolves with its exit code and everything it printed, once its output has closed. */
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(): void;
}

/** Transpiles a snippet to an ES module and runs it with the port redirections loaded. */
function run(file: string, env: Record<string, string> = {}): Running {
  const source = readFileSync(join(workDir, `${file}.mts`), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const script = join(workDir, `${file}.mjs`);
  writeFileSync(script, outputText);
  const child = spawn(
    process.execPath,
    ['--require', join(workDir, 'redirect-ports.cjs'), script],
    {
      cwd: workDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'close').then(([code]) => ({
    code: code as number | null,
    stdout,
    stderr,
  }));
  const port = Promise.race([
    once(child, 'message').then(([message]) => (message as { port: number }).port),
    exited.then(({ code }) => {
      throw new Error(`${file} exited (${String(code)}) before listening:\n${stderr}`);
    }),
  ]);
  // A snippet that never listens (the client) rejects `port`, which only servers' tests await.
  port.catch(() => {});
  return { port, exited, kill: () => child.kill() };
}

test('every quick start and the client snippet type-check against the packages', () => {
  const files = [...quickStarts, client].map(({ file }) => join(workDir, `${file}.mts`));
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName.slice(workDir.length + 1)}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
  expect(diagnostics).toEqual([]);
});

test.each(quickStarts)('the $heading quick start serves an echo endpoint', async ({ file }) => {
  const server = run(file);
  try {
    const conn = await connectWs(`ws://127.0.0.1:${await server.port}/echo`);
    conn.ws.send('hello from the README');
    expect(await conn.next()).toBe('hello from the README');
    conn.ws.send(Buffer.from([0, 1, 2, 255]));
    expect(await conn.next()).toEqual(Buffer.from([0, 1, 2, 255]));
    conn.ws.close(1000);
    expect((await conn.closed).code).toBe(1000);
  } finally {
    server.kill();
    await server.exited;
  }
});

test('the client snippet talks to the Node http quick start', async () => {
  const server = run('node-http');
  try {
    const dialer = run(client.file, { README_PORT: String(await server.port) });
    const { code, stdout, stderr } = await dialer.exited;
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: 'hello\n', stderr: '' });
  } finally {
    server.kill();
    await server.exited;
  }
});
