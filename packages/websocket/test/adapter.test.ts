/**
 * The adapters' shared upgrade layer, driven by a framework of a dozen lines so that what is
 * tested is the layer: cooperative listeners, HTTP answers through a real response, 426
 * replacement, handler failures, tracking, shutdown, per-route options and inject.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import {
  CloseError,
  HandshakeError,
  TextMessage,
  TimeoutError,
  Upgrader,
  type Conn,
} from '@silverback/websocket';
import {
  inject,
  memorySocketPair,
  pendingUpgrade,
  registerInjectTarget,
  respondUpgradeRequired,
  UpgradeLayer,
  type UpgradeErrorContext,
  type UpgradeLayerOptions,
  type WebSocketHandler,
  type WebSocketRouteOptions,
} from '@silverback/websocket/adapter';
import { parseFrame } from '../../../test/helpers/frames';
import { useCleanups } from '../../../test/helpers/cleanups';
import { listenOnLoopback, serverCloser } from '../../../test/helpers/listen';
import {
  rawUpgradeAnswer,
  upgradeRequest,
  upgradeRequestHead,
} from '../../../test/helpers/upgrade-request';
import { closeOf, nextMessage, wsClients } from '../../../test/helpers/ws-client';

// A stand-in for a framework's request object: what checkOrigin and handlers receive.
interface MiniRequest {
  raw: IncomingMessage;
  path: string;
  query: URLSearchParams;
  user?: string;
}

interface MiniRoute {
  ws?: WebSocketHandler<MiniRequest>;
  options?: WebSocketRouteOptions<MiniRequest>;
  http?: (req: MiniRequest, res: ServerResponse) => void | Promise<void>;
}

// The smallest framework: an auth "middleware", then routes by path; websocket routes accept
// through the pending upgrade, plain routes answer HTTP.
function miniFramework(routes: Record<string, MiniRoute>) {
  return async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(raw.url ?? '/', 'http://localhost');
    const request: MiniRequest = { raw, path: url.pathname, query: url.searchParams };
    const auth = raw.headers.authorization;
    if (auth === 'Bearer bad') {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer', 'Content-Type': 'text/plain' });
      res.end('token rejected');
      return;
    }
    if (auth !== undefined) {
      request.user = auth.slice('Bearer '.length);
      res.setHeader('Set-Cookie', `session=${request.user}`);
    }
    const route = routes[url.pathname];
    if (route === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('no such route');
      return;
    }
    const pending = pendingUpgrade<MiniRequest>(raw);
    if (route.ws !== undefined) {
      if (pending === undefined) {
        respondUpgradeRequired(res);
        return;
      }
      let conn: Conn;
      try {
        conn = await pending.accept(request, { options: route.options, route: url.pathname });
      } catch {
        return; // answered
      }
      pending.run(conn, request, route.ws);
      return;
    }
    await route.http?.(request, res);
  };
}

interface Fixture {
  server: Server;
  port: number;
  layer: UpgradeLayer<MiniRequest>;
  errors: [unknown, UpgradeErrorContext<MiniRequest>][];
}

const cleanups = useCleanups();
const { open: wsClient } = wsClients(cleanups);

// Listens on the loopback interface; the test's cleanup ends its sockets and closes it.
async function listen(server: Server): Promise<number> {
  cleanups.push(serverCloser(server).close);
  return listenOnLoopback(server);
}

async function start(
  routes: Record<string, MiniRoute>,
  options: UpgradeLayerOptions<MiniRequest> = {},
): Promise<Fixture> {
  const errors: Fixture['errors'] = [];
  const dispatch = miniFramework(routes);
  const layer = new UpgradeLayer<MiniRequest>(dispatch, {
    onError: (err, context) => errors.push([err, context]),
    ...options,
  });
  const server = createServer((req, res) => void dispatch(req, res));
  layer.attach(server);
  const port = await listen(server);
  cleanups.push(() => layer.close({ drainMs: 100 }));
  return { server, port, layer, errors };
}

async function echo(conn: Conn): Promise<void> {
  for await (const { type, data } of conn) await conn.writeMessage(type, data);
}

describe('upgrade dispatch', () => {
  test('a websocket route accepts, and its handler gets the framework request', async () => {
    const seen: string[] = [];
    const { port } = await start({
      '/echo': {
        ws: async (conn, req) => {
          seen.push(`${req.path}?${req.query.toString()}`);
          await echo(conn);
        },
      },
    });
    const ws = await wsClient(port, '/echo?room=7');
    ws.send('hello');
    expect(await nextMessage(ws)).toBe('hello');
    expect(seen).toEqual(['/echo?room=7']);
  });

  test('middleware refuses the upgrade with its own status, headers and body, then closes', async () => {
    const { port } = await start({ '/echo': { ws: echo } });
    const answer = await rawUpgradeAnswer(port, '/echo', { Authorization: 'Bearer bad' });
    expect(answer.status).toBe(401);
    expect(answer.head).toMatch(/\r\nWWW-Authenticate: Bearer\r\n/i);
    expect(answer.head).toMatch(/\r\nConnection: close\r\n/i);
    expect(answer.body).toBe('token rejected');
  });

  test('an unknown path gets the framework 404 and the socket is closed', async () => {
    const { port } = await start({ '/echo': { ws: echo } });
    const answer = await rawUpgradeAnswer(port, '/nowhere');
    expect(answer.status).toBe(404);
    expect(answer.body).toBe('no such route');
  });

  test('a plain HTTP route runs, and its 2xx answer is replaced by 426', async () => {
    let ran = false;
    const { port } = await start({
      '/plain': {
        http: (_req, res) => {
          ran = true;
          res.setHeader('X-Secret', 'not for upgrades');
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write('{"partial":');
          res.end('true}');
        },
      },
    });
    const answer = await rawUpgradeAnswer(port, '/plain');
    expect(ran).toBe(true);
    expect(answer.status).toBe(426);
    expect(answer.head).toMatch(/\r\nUpgrade: websocket\r\n/i);
    expect(answer.head).not.toMatch(/X-Secret|application\/json/i);
    expect(answer.body).toBe('Upgrade Required\n');
  });

  test('a plain route answering through end() alone, with a status set beforehand, is replaced too', async () => {
    const { port } = await start({
      '/created': {
        http: (_req, res) => {
          res.statusCode = 201;
          res.end('made');
        },
      },
      '/moved': {
        http: (_req, res) => {
          res.writeHead(302, { Location: '/elsewhere' });
          res.end();
        },
      },
    });
    expect((await rawUpgradeAnswer(port, '/created')).status).toBe(426);
    const moved = await rawUpgradeAnswer(port, '/moved');
    expect(moved.status).toBe(302);
    expect(moved.head).toMatch(/\r\nLocation: \/elsewhere\r\n/i);
  });

  test('a plain GET to a websocket-only route gets 426, and plain routes are unaffected', async () => {
    const { port } = await start({
      '/echo': { ws: echo },
      '/plain': { http: (_req, res) => void res.end('plain ok') },
    });
    const ws = await fetch(`http://127.0.0.1:${port}/echo`);
    expect(ws.status).toBe(426);
    expect(ws.headers.get('upgrade')).toBe('websocket');
    expect(await ws.text()).toBe('Upgrade Required\n');
    const plain = await fetch(`http://127.0.0.1:${port}/plain`);
    expect(plain.status).toBe(200);
    expect(await plain.text()).toBe('plain ok');
  });

  test('a pipeline that throws gets 500 and is reported', async () => {
    const { port, errors } = await start({
      '/boom': {
        http: () => {
          throw new Error('boom');
        },
      },
    });
    const answer = await rawUpgradeAnswer(port, '/boom');
    expect(answer.status).toBe(500);
    expect(errors).toHaveLength(1);
    expect(errors[0]![0]).toMatchObject({ message: 'boom' });
    expect(errors[0]![1].phase).toBe('dispatch');
  });

  test('a pipeline that never answers gets 503 at the handshake timeout', async () => {
    const { port } = await start(
      { '/stuck': { http: () => new Promise<void>(() => {}) } },
      { handshakeTimeout: 200 },
    );
    const answer = await rawUpgradeAnswer(port, '/stuck');
    expect(answer.status).toBe(503);
  });

  test('a client that leaves while the pipeline runs is no upgrade and no crash', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => {};
    const inPipeline = new Promise<void>((resolve) => (entered = resolve));
    let outcome: (value: unknown) => void = () => {};
    const accepted = new Promise<unknown>((resolve) => (outcome = resolve));
    const layer = new UpgradeLayer<IncomingMessage>(async (raw) => {
      entered();
      await gate; // a slow auth lookup
      await pendingUpgrade<IncomingMessage>(raw)!.accept(raw).then(outcome, outcome);
    });
    const server = createServer();
    layer.attach(server);
    const port = await listen(server);
    cleanups.push(() => layer.close());
    const connected = once(server, 'connection') as Promise<[Socket]>;
    const client = connect(port, '127.0.0.1');
    client.on('error', () => {});
    await once(client, 'connect');
    client.write(upgradeRequestHead(port, '/'));
    await inPipeline;
    // A reset, not a FIN: the server's socket errors (ECONNRESET) while no Conn owns it yet.
    const [serverSocket] = await connected;
    const serverClosed = new Promise((resolve) => serverSocket.once('close', resolve));
    client.resetAndDestroy();
    await serverClosed;
    release();
    const err = await accepted;
    expect(err).toBeInstanceOf(HandshakeError);
    expect(layer.connections()).toEqual([]);
  });

  test('headers the pipeline set (a session cookie) go out with the 101', async () => {
    const { port } = await start({ '/echo': { ws: echo } });
    const answer = await upgradeRequest(port, '/echo', { Authorization: 'Bearer ann' });
    answer.socket?.destroy();
    expect(answer.status).toBe(101);
    expect(answer.headers['set-cookie']).toEqual(['session=ann']);
  });

  test('nothing the framework writes after the upgrade reaches the client', async () => {
    const dispatch = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
      const pending = pendingUpgrade<IncomingMessage>(raw)!;
      const conn = await pending.accept(raw);
      // A framework's late answer: Express's final handler, Koa's respond step.
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain');
      res.write('late ');
      res.end('answer');
      await conn.writeMessage(TextMessage, 'first frame');
    };
    const layer = new UpgradeLayer<IncomingMessage>(dispatch);
    const server = createServer();
    layer.attach(server);
    const port = await listen(server);
    cleanups.push(() => layer.close({ drainMs: 100 }));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    cleanups.push(() => ws.terminate());
    expect(await nextMessage(ws)).toBe('first frame');
  });
});

describe('cooperation with other upgrade listeners', () => {
  test('requests shouldHandle declines are left to the other listener, which keeps working', async () => {
    const { server, port } = await start(
      { '/echo': { ws: echo } },
      { shouldHandle: (req) => !(req.url ?? '').startsWith('/other') },
    );
    const other = new Upgrader();
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!(req.url ?? '').startsWith('/other')) return;
      other.upgrade(req, socket, head).then(
        (conn) => conn.writeMessage(TextMessage, 'from the other listener'),
        () => {},
      );
    });
    const theirs = new WebSocket(`ws://127.0.0.1:${port}/other`);
    cleanups.push(() => theirs.terminate());
    expect(await nextMessage(theirs)).toBe('from the other listener');
    const ours = await wsClient(port, '/echo');
    ours.send('ours');
    expect(await nextMessage(ours)).toBe('ours');
  });

  test('attaching installs one listener beside the others, detaching removes only it', () => {
    const server = createServer();
    const foreign = (): void => {};
    server.on('upgrade', foreign);
    const layer = new UpgradeLayer(() => {});
    layer.attach(server);
    layer.attach(server);
    expect(server.listenerCount('upgrade')).toBe(2);
    layer.detach(server);
    expect(server.listeners('upgrade')).toEqual([foreign]);
  });
});

describe('handlers', () => {
  test('a handler that rejects closes the connection with 1011 and is reported', async () => {
    const { port, errors } = await start({
      '/fail': {
        ws: async (conn) => {
          await conn.readMessage();
          throw new Error('handler bug');
        },
      },
    });
    const ws = await wsClient(port, '/fail');
    const closed = closeOf(ws);
    ws.send('go');
    expect((await closed).code).toBe(1011);
    expect(errors.map(([err, ctx]) => [(err as Error).message, ctx.phase])).toEqual([
      ['handler bug', 'handler'],
    ]);
    expect(errors[0]![1].request?.path).toBe('/fail');
  });

  test('a handler that throws synchronously closes with 1011 too', async () => {
    const { port, errors } = await start({
      '/throw': {
        ws: () => {
          throw new Error('sync bug');
        },
      },
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/throw`);
    cleanups.push(() => ws.terminate());
    expect((await closeOf(ws)).code).toBe(1011);
    expect(errors).toHaveLength(1);
  });

  test('a handler whose peer closed normally is not reported as an error', async () => {
    let failed: (err: unknown) => void = () => {};
    const failure = new Promise<unknown>((resolve) => (failed = resolve));
    const { port, errors } = await start({
      '/read': {
        ws: async (conn) => {
          try {
            await conn.readMessage();
          } catch (err) {
            failed(err);
            throw err;
          }
        },
      },
    });
    const ws = await wsClient(port, '/read');
    ws.close(1000);
    expect(await failure).toBeInstanceOf(CloseError);
    await once(ws, 'close');
    expect(errors).toEqual([]);
  });

  test('a handler that awaits before its first read loses no message sent meanwhile', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let done: (messages: string[]) => void = () => {};
    const received = new Promise<string[]>((resolve) => (done = resolve));
    const { port } = await start({
      '/slow': {
        ws: async (conn) => {
          await gate; // a database call, say
          const messages: string[] = [];
          for (let i = 0; i < 50; i++) messages.push((await conn.readMessage()).data.toString());
          done(messages);
        },
      },
    });
    const ws = await wsClient(port, '/slow');
    for (let i = 0; i < 50; i++) ws.send(`message ${i}`);
    // The server answers pings as it parses them, so the pong proves that every message before
    // the ping reached the server while the handler was still waiting.
    ws.ping();
    await once(ws, 'pong');
    release();
    expect(await received).toEqual(Array.from({ length: 50 }, (_, i) => `message ${i}`));
  });
});

describe('tracking and shutdown', () => {
  // Counts connections as their handlers start, which happens after they are tracked.
  function arrivals() {
    const conns: Conn[] = [];
    const waiters: [number, () => void][] = [];
    return {
      handler: (conn: Conn) => {
        conns.push(conn);
        for (const [n, wake] of waiters) if (conns.length >= n) wake();
      },
      conns,
      until: (n: number) =>
        conns.length >= n
          ? Promise.resolve()
          : new Promise<void>((resolve) => waiters.push([n, resolve])),
    };
  }

  test('connections() lists live connections per route and per server', async () => {
    const arrived = arrivals();
    const { layer, port, server } = await start({
      '/a': { ws: arrived.handler },
      '/b': { ws: arrived.handler },
    });
    const second = createServer();
    layer.attach(second);
    const port2 = await listen(second);
    await wsClient(port, '/a');
    await wsClient(port, '/b');
    const c = await wsClient(port2, '/a');
    await arrived.until(3);
    expect(layer.connections()).toHaveLength(3);
    expect(layer.connections({ route: '/a' })).toHaveLength(2);
    expect(layer.connections({ route: '/b' })).toHaveLength(1);
    expect(layer.connections({ server })).toHaveLength(2);
    expect(layer.connections({ server: second })).toHaveLength(1);
    expect(layer.connections({ server: second, route: '/b' })).toHaveLength(0);
    c.terminate();
    await arrived.conns[2]!.closed;
    expect(layer.connections()).toHaveLength(2);
    expect(layer.connections()).not.toContain(arrived.conns[2]);
  });

  test('server.close() closes its websockets with 1001 and the server then closes', async () => {
    const { server, port, layer } = await start({ '/a': { ws: echo } });
    const ws = await wsClient(port, '/a');
    const closed = closeOf(ws);
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    expect((await closed).code).toBe(1001);
    await serverClosed;
    expect(layer.connections()).toEqual([]);
  });

  test('close() sends the code and reason, drops a silent peer at the deadline, and detaches', async () => {
    const arrived = arrivals();
    const { server, port, layer } = await start({ '/a': { ws: arrived.handler } });
    const polite = await wsClient(port, '/a');
    // A raw peer that never answers the close frame: dropped once drainMs has passed.
    const silent = await upgradeRequest(port, '/a');
    const bytes: Buffer[] = [];
    silent.socket!.on('data', (chunk: Buffer) => bytes.push(chunk));
    const silentClosed = once(silent.socket!, 'close');
    await arrived.until(2);
    const closed = closeOf(polite);
    await layer.close({ code: 1012, reason: 'restarting', drainMs: 200 });
    expect(await closed).toEqual({ code: 1012, reason: 'restarting' });
    await silentClosed;
    const frame = parseFrame(Buffer.concat(bytes))?.frame;
    expect(frame?.opcode).toBe(8);
    expect(frame?.payload.readUInt16BE(0)).toBe(1012);
    expect(layer.connections()).toEqual([]);
    expect(server.listenerCount('upgrade')).toBe(0);
    expect(layer.closed).toBe(true);
  });

  test('an upgrade that reaches a closed layer gets 503', async () => {
    const layer = new UpgradeLayer(() => {});
    const server = layer.memoryServer();
    await layer.close();
    const answer = await rawUpgradeAnswerVia(server, layer);
    expect(answer).toBe(503);
  });
});

describe('per-route options', () => {
  test('checkOrigin receives the framework request, per route and globally', async () => {
    const checked: string[] = [];
    const { port } = await start(
      {
        '/strict': {
          ws: echo,
          options: {
            checkOrigin: (req) => {
              checked.push(`route ${req.path}`);
              return req.user === 'ann';
            },
          },
        },
        '/open': { ws: echo },
      },
      {
        checkOrigin: (req) => {
          checked.push(`global ${req.path}`);
          return true;
        },
      },
    );
    const refused = await rawUpgradeAnswer(port, '/strict', { Authorization: 'Bearer bob' });
    expect(refused.status).toBe(403);
    const allowed = await upgradeRequest(port, '/strict', { Authorization: 'Bearer ann' });
    allowed.socket?.destroy();
    expect(allowed.status).toBe(101);
    const open = await upgradeRequest(port, '/open', { Origin: 'http://evil.example' });
    open.socket?.destroy();
    expect(open.status).toBe(101);
    expect(checked).toEqual(['route /strict', 'route /strict', 'global /open']);
  });

  test('the default origin check is same-origin', async () => {
    const { port } = await start({ '/echo': { ws: echo } });
    const answer = await rawUpgradeAnswer(port, '/echo', { Origin: 'http://evil.example' });
    expect(answer.status).toBe(403);
  });

  test('subprotocols, read limit and compression apply per route', async () => {
    const { port } = await start({
      '/chat': {
        ws: echo,
        options: { subprotocols: ['chat.v2', 'chat.v1'], readLimit: 16, enableCompression: true },
      },
      '/plain': { ws: echo },
    });
    const chat = await wsClient(port, '/chat', { perMessageDeflate: true }, ['chat.v1', 'chat.v2']);
    expect(chat.protocol).toBe('chat.v1');
    expect(chat.extensions).toContain('permessage-deflate');
    const closed = closeOf(chat);
    chat.send('x'.repeat(17));
    expect((await closed).code).toBe(1009);
    const plain = await wsClient(port, '/plain', { perMessageDeflate: true });
    expect(plain.protocol).toBe('');
    expect(plain.extensions).toBe('');
  });
});

describe('inject', () => {
  test('opens a connection through the real pipeline without a listening port', async () => {
    const dispatch = miniFramework({
      '/echo': { ws: echo, options: { subprotocols: ['v1'] } },
    });
    const layer = new UpgradeLayer<MiniRequest>(dispatch);
    const app = {};
    registerInjectTarget(app, () => layer.memoryServer());
    cleanups.push(() => layer.close({ drainMs: 100 }));
    const conn = await inject(app, '/echo', {
      headers: { authorization: 'Bearer ann' },
      subprotocols: ['v0', 'v1'],
    });
    expect(conn.subprotocol()).toBe('v1');
    await conn.writeMessage(TextMessage, 'through memory');
    expect((await conn.readMessage()).data.toString()).toBe('through memory');
    expect(layer.connections({ route: '/echo' })).toHaveLength(1);
    await conn.closeGracefully();
  });

  test('rejects with the refusal status, headers and body', async () => {
    const layer = new UpgradeLayer<MiniRequest>(miniFramework({ '/echo': { ws: echo } }));
    const server = layer.memoryServer();
    cleanups.push(() => layer.close());
    const err = await inject(server, '/echo', { headers: { authorization: 'Bearer bad' } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HandshakeError);
    const refusal = err as HandshakeError;
    expect(refusal.status).toBe(401);
    expect(refusal.response?.headers['www-authenticate']).toBe('Bearer');
    expect(refusal.response?.body.toString()).toBe('token rejected');
  });

  test('works against a listening server too, and times out when nothing answers', async () => {
    const { server } = await start({ '/echo': { ws: echo } });
    const conn = await inject(server, '/echo');
    await conn.writeMessage(TextMessage, 'hi');
    expect((await conn.readMessage()).data.toString()).toBe('hi');
    await conn.closeGracefully();

    const silent = createServer();
    silent.on('upgrade', () => {});
    await expect(inject(silent, '/', { handshakeTimeout: 100 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
  });

  test('refuses a target that is not a server or a served application', async () => {
    await expect(inject({}, '/')).rejects.toThrow(TypeError);
  });

  test('offers compression when asked, and rejects a plain route with 426', async () => {
    const { server } = await start({
      '/deflate': { ws: echo, options: { enableCompression: true } },
      '/no-content': {
        http: (_req, res) => {
          // A plain route's 2xx answer becomes 426 for inject as for any client.
          res.writeHead(204);
          res.end();
        },
      },
    });
    const conn = await inject(server, '/deflate', { enableCompression: true });
    expect(conn.extensions()).toContain('permessage-deflate');
    await conn.writeMessage(TextMessage, 'squeeze '.repeat(100));
    expect((await conn.readMessage()).data.toString()).toBe('squeeze '.repeat(100));
    await conn.closeGracefully();
    await expect(inject(server, '/no-content')).rejects.toMatchObject({ status: 426 });
  });
});

// Hands an upgrade request straight to a layer (as its listener would) and returns the status.
async function rawUpgradeAnswerVia(server: Server, layer: UpgradeLayer<unknown>): Promise<number> {
  const [client, serverEnd] = memorySocketPair();
  const req = Object.assign(Object.create(null) as IncomingMessage, {
    method: 'GET',
    url: '/',
    headers: {},
  });
  layer.handleUpgrade(req, serverEnd, Buffer.alloc(0), server);
  const chunks: Buffer[] = [];
  client.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(client, 'end');
  return Number(/^HTTP\/1\.1 (\d+)/.exec(Buffer.concat(chunks).toString())?.[1]);
}
