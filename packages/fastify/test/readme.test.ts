/**
 * The README's quick start is a program, not prose: this test takes the first TypeScript block
 * under "## Quick start", compiles it as it is, and runs it with one change (`listen({ port:
 * 8080 })` becomes port 0 on 127.0.0.1), then checks what the README promises with a real client.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import ts from 'typescript';
import WebSocket from 'ws';
import * as plugin from '@silverback/fastify';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

function quickStart(): string {
  const section = readme.indexOf('\n## Quick start\n');
  const open = readme.indexOf('```ts\n', section);
  const close = readme.indexOf('\n```', open);
  if (section < 0 || open < 0 || close < 0) throw new Error('README has no quick start block');
  return readme.slice(open + '```ts\n'.length, close + 1);
}

type AsyncFunctionConstructor = new (...args: string[]) => (...args: unknown[]) => Promise<void>;
const AsyncFunction = (Object.getPrototypeOf(async () => {}) as { constructor: unknown })
  .constructor as AsyncFunctionConstructor;

const apps: FastifyInstance[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const app of apps.splice(0)) await app.close();
});

// Runs the snippet with the modules it imports; the Fastify factory is wrapped so that the test
// can find the app it created (and close it).
async function runQuickStart(): Promise<FastifyInstance> {
  const source = quickStart().replace('{ port: 8080 }', "{ port: 0, host: '127.0.0.1' }");
  expect(source).toContain("{ port: 0, host: '127.0.0.1' }");
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  const modules: Record<string, unknown> = {
    fastify: {
      __esModule: true,
      default: (...args: unknown[]) => {
        const app = (Fastify as (...options: unknown[]) => FastifyInstance)(...args);
        apps.push(app);
        return app;
      },
    },
    '@silverback/fastify': plugin,
  };
  const load = (name: string): unknown => {
    if (!(name in modules)) throw new Error(`the quick start imports ${name}, unknown to the test`);
    return modules[name];
  };
  await new AsyncFunction('require', 'exports', outputText)(load, {});
  expect(apps).toHaveLength(1);
  return apps[0]!;
}

function port(app: FastifyInstance): number {
  return (app.server.address() as { port: number }).port;
}

test('the quick start echoes for a client with the token, and refuses one without with 401', async () => {
  const app = await runQuickStart();
  const url = `ws://127.0.0.1:${port(app)}/echo/lobby`;

  const ws = new WebSocket(url, { headers: { authorization: 'Bearer open-sesame' } });
  sockets.push(ws);
  await once(ws, 'open');
  const reply = once(ws, 'message');
  ws.send('hi');
  expect(String((await reply)[0])).toBe('lobby: hi');

  const refused = new WebSocket(url);
  sockets.push(refused);
  refused.on('error', () => {});
  const [, response] = (await once(refused, 'unexpected-response')) as [unknown, IncomingMessage];
  expect(response.statusCode).toBe(401);
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({ error: 'log in first' });
});
