/**
 * The README's quick start is a program, not prose: the block under "## Quick start" is
 * type-checked against the packages' sources, then run as it is (compiled to CommonJS), with
 * `app.listen(8080)` moved to a free port on 127.0.0.1, and real clients check what it promises.
 */
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import ts from 'typescript';
import { useCleanups } from '../../../test/helpers/cleanups';
import { serverCloser, type ServerCloser } from '../../../test/helpers/listen';
import { rawUpgradeAnswer } from '../../../test/helpers/upgrade-request';
import { connectWs } from '../../../test/helpers/ws-client';

const root = join(__dirname, '..', '..', '..');
// Under node_modules: outside the repository's type check and lint, inside its module resolution.
const workDir = join(root, 'node_modules', '.cache', 'silverback-koa-readme');

/** The first TypeScript block under the README's `## Quick start` heading. */
function quickStart(): string {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Quick start\n');
  if (start < 0) throw new Error('the README has no "## Quick start" section');
  const open = readme.indexOf('```ts\n', start);
  const close = readme.indexOf('\n```', open + 6);
  return readme.slice(open + 6, close + 1);
}

const source = quickStart();
const cleanups = useCleanups();

test('the quick start type-checks against the packages', () => {
  mkdirSync(workDir, { recursive: true });
  const file = join(workDir, 'quick-start.ts');
  writeFileSync(file, source);
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noUncheckedIndexedAccess: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
    baseUrl: root,
    paths: {
      '@silverback/websocket': ['packages/websocket/src/index.ts'],
      '@silverback/websocket/*': ['packages/websocket/src/*.ts'],
      '@silverback/koa': ['packages/koa/src/index.ts'],
    },
  });
  const diagnostics = ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(diagnostics).toEqual([]);
});

test('the quick start serves its room with auth, and plain routes beside it', async () => {
  // Every server the snippet starts listens on a free loopback port instead of 8080.
  const servers: Server[] = [];
  const closers: ServerCloser[] = [];
  const listen = NetServer.prototype.listen as (this: NetServer, ...args: unknown[]) => NetServer;
  const spy = jest.spyOn(NetServer.prototype, 'listen').mockImplementation(function (
    this: NetServer,
  ) {
    servers.push(this as Server);
    closers.push(serverCloser(this));
    return listen.call(this, 0, '127.0.0.1');
  });
  cleanups.push(() => spy.mockRestore());

  mkdirSync(workDir, { recursive: true });
  const script = join(workDir, 'quick-start.js');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  writeFileSync(script, outputText);
  jest.isolateModules(() => {
    jest.requireActual(script);
  });

  expect(servers).toHaveLength(1);
  const server = servers[0]!;
  cleanups.push(closers[0]!.close);
  if (!server.listening) await once(server, 'listening');
  const { port } = server.address() as { port: number };

  expect((await request(server).get('/health')).text).toBe('ok');

  const refused = await rawUpgradeAnswer(port, '/rooms/blue');
  expect(refused.status).toBe(401);
  expect(refused.body).toBe('log in first');

  const client = await connectWs(`ws://127.0.0.1:${port}/rooms/blue`, {
    headers: { Cookie: 'user=ann' },
  });
  cleanups.push(() => client.ws.terminate());
  expect(await client.next()).toBe('welcome to blue');
  client.ws.send('hello from the README');
  expect(await client.next()).toBe('hello from the README');
  client.ws.close(1000);
  expect((await client.closed).code).toBe(1000);
});
