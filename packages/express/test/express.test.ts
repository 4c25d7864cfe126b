/**
 * @silverback/express: websocket routes running through the app's real middleware stack, seen by
 * real clients (supertest for the HTTP answers, `ws` and our own client Conn for the upgrades).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import express, { type Application, type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { TextMessage, type Conn } from '@silverback/websocket';
import {
  inject,
  websocket,
  type ExpressWebSocket,
  type ExpressWebSocketOptions,
} from '@silverback/express';
import {
  bufferLimitProbe,
  expectBesideAnotherUpgradeListener,
  expectBufferLimitPerRoute,
  expectCompressionPerRoute,
  expectUpgradeRequired,
  expectWelcomeAndEcho,
  handshakeRefusal,
} from '../../../test/helpers/adapter-checks';
import { useCleanups } from '../../../test/helpers/cleanups';
import { serverCloser } from '../../../test/helpers/listen';
import { rawUpgradeAnswer, UPGRADE_HEADERS } from '../../../test/helpers/upgrade-request';
import { closeOf, nextMessage, wsClients } from '../../../test/helpers/ws-client';

const cleanups = useCleanups();
const clients = wsClients(cleanups);
const { client, open } = clients;

interface Started {
  app: Application;
  handle: ExpressWebSocket;
  server: Server;
  port: number;
  errors: unknown[];
}

// Ends a server's sockets, then closes it, after the test.
function cleanupServer(server: Server): void {
  cleanups.push(serverCloser(server).close);
}

async function startApp(
  setup: (app: Application) => void,
  options: ExpressWebSocketOptions = {},
): Promise<Started> {
  const app = express();
  const errors: unknown[] = [];
  const handle = websocket(app, { onError: (err) => errors.push(err), ...options });
  cleanups.push(() => handle.close({ drainMs: 100 }));
  setup(app);
  const server = app.listen(0, '127.0.0.1');
  cleanupServer(server);
  await once(server, 'listening');
  return { app, handle, server, port: (server.address() as { port: number }).port, errors };
}

async function echo(conn: Conn): Promise<void> {
  for await (const { type, data } of conn) await conn.writeMessage(type, data);
}

function auth(req: Request, res: Response, next: NextFunction): void {
  if (req.get('authorization') === 'Bearer good') {
    res.cookie('session', 'ann');
    next();
    return;
  }
  res.status(401).set('WWW-Authenticate', 'Bearer realm="chat"').send('login first');
}

describe('upgrades through the middleware stack', () => {
  test('app.ws echoes messages for a real client', async () => {
    const { port } = await startApp((app) => app.ws('/echo', echo));
    const ws = await open(port, '/echo');
    ws.send('hello');
    expect(await nextMessage(ws)).toBe('hello');
    ws.send(Buffer.from([1, 2, 3]));
    expect(await nextMessage(ws)).toBe('\u0001\u0002\u0003');
  });

  test('path parameters and query strings reach the handler', async () => {
    const { port } = await startApp((app) =>
      app.ws('/rooms/:room', async (conn, req) => {
        await conn.writeJSON({ room: req.params.room, user: req.query.user, path: req.path });
      }),
    );
    const ws = client(port, '/rooms/blue?user=ann');
    expect(JSON.parse(await nextMessage(ws))).toEqual({
      room: 'blue',
      user: 'ann',
      path: '/rooms/blue',
    });
  });

  test('router.ws works under a mount path with its own parameters', async () => {
    const { port } = await startApp((app) => {
      const router = express.Router({ mergeParams: true });
      router.ws('/feed/:topic', async (conn, req) => {
        const params = req.params as Record<string, string>;
        await conn.writeJSON({ org: params.org, topic: params.topic, baseUrl: req.baseUrl });
      });
      app.use('/orgs/:org', router);
    });
    const ws = client(port, '/orgs/acme/feed/news');
    expect(JSON.parse(await nextMessage(ws))).toEqual({
      org: 'acme',
      topic: 'news',
      baseUrl: '/orgs/acme',
    });
  });

  test('app.use(auth) answering 401 refuses the upgrade with its status, headers and body', async () => {
    const { server, port } = await startApp((app) => {
      app.use(auth);
      app.ws('/chat', echo);
    });
    const res = await request(server).get('/chat').set(UPGRADE_HEADERS);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="chat"');
    expect(res.text).toBe('login first');
    // The ws client sees the same refusal, and the server closes the socket after it.
    const ws = client(port, '/chat');
    const [, response] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(response.statusCode).toBe(401);
    const raw = await rawUpgradeAnswer(port, '/chat');
    expect(raw.status).toBe(401);
    expect(raw.body).toBe('login first');
  });

  test('a request that passes the auth middleware is upgraded, with the cookie it set', async () => {
    const { port } = await startApp((app) => {
      app.use(auth);
      app.ws('/chat', echo);
    });
    const ws = client(port, '/chat', { headers: { Authorization: 'Bearer good' } });
    const opened = once(ws, 'open');
    const [response] = (await once(ws, 'upgrade')) as [IncomingMessage];
    expect(response.headers['set-cookie']).toEqual(['session=ann; Path=/']);
    await opened;
    ws.send('in');
    expect(await nextMessage(ws)).toBe('in');
  });

  test('route middleware can refuse with 403', async () => {
    const { server } = await startApp((app) => {
      const adminsOnly = (req: Request, res: Response, next: NextFunction) => {
        if (req.query.role === 'admin') next();
        else res.status(403).json({ error: 'admins only' });
      };
      app.ws('/admin', adminsOnly, echo);
    });
    const res = await request(server).get('/admin?role=guest').set(UPGRADE_HEADERS);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'admins only' });
  });

  test('an error thrown in middleware answers 500', async () => {
    const { server } = await startApp((app) => {
      app.use('/broken', () => {
        throw new Error('database down');
      });
      app.ws('/broken/socket', echo);
    });
    const res = await request(server).get('/broken/socket').set(UPGRADE_HEADERS);
    expect(res.status).toBe(500);
    expect(res.text).toContain('Error: database down'); // Express's error page
  });

  test('an unknown path answers 404 and the socket is closed', async () => {
    const { server, port } = await startApp((app) => app.ws('/echo', echo));
    const res = await request(server).get('/nowhere').set(UPGRADE_HEADERS);
    expect(res.status).toBe(404);
    expect(res.text).toContain('Cannot GET /nowhere');
    const raw = await rawUpgradeAnswer(port, '/nowhere');
    expect(raw.status).toBe(404);
  });

  test('an upgrade to a plain HTTP route answers 426; the route ran', async () => {
    let ran = 0;
    const { server } = await startApp((app) =>
      app.get('/status', (_req, res) => {
        ran++;
        res.json({ ok: true });
      }),
    );
    const res = await request(server).get('/status').set(UPGRADE_HEADERS);
    expectUpgradeRequired(res);
    expect(ran).toBe(1);
  });

  test('a handler that awaits before its first read loses no message sent meanwhile', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let done: (messages: string[]) => void = () => {};
    const received = new Promise<string[]>((resolve) => (done = resolve));
    const { port } = await startApp((app) =>
      app.ws('/slow', async (conn) => {
        await gate; // a database call, say
        const messages: string[] = [];
        for (let i = 0; i < 20; i++) messages.push((await conn.readMessage()).data.toString());
        done(messages);
      }),
    );
    const ws = await open(port, '/slow');
    for (let i = 0; i < 20; i++) ws.send(`m${i}`);
    // Pings are answered as they are parsed: the pong proves the messages reached the server
    // while the handler was still waiting.
    ws.ping();
    await once(ws, 'pong');
    release();
    expect(await received).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });
});

describe('the HTTP side', () => {
  test('non-websocket routes are unaffected', async () => {
    const { app, server } = await startApp((app) => {
      app.use(express.json());
      app.get('/health', (_req, res) => void res.send('ok'));
      app.post('/items', (req, res) => void res.status(201).json({ got: req.body as unknown }));
      app.ws('/echo', echo);
    });
    expect((await request(server).get('/health')).text).toBe('ok');
    const created = await request(server).post('/items').send({ a: 1 });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ got: { a: 1 } });
    // The app itself, as supertest serves it, works the same.
    expect((await request(app).get('/health')).text).toBe('ok');
    expect((await request(app).get('/missing')).status).toBe(404);
  });

  test('a plain GET to a websocket-only route answers 426', async () => {
    const { server } = await startApp((app) => app.ws('/echo', echo));
    const res = await request(server).get('/echo');
    expectUpgradeRequired(res);
  });

  test('a plain route declared after a websocket route on the same path answers plain GETs', async () => {
    const { server, port } = await startApp((app) => {
      app.ws('/live', echo);
      app.get('/live', (_req, res) => void res.send('the page'));
      app.get('/gone', (_req, res) => void res.status(404).send('gone for good'));
    });
    const page = await request(server).get('/live');
    expect(page.status).toBe(200);
    expect(page.text).toBe('the page');
    const ws = await open(port, '/live');
    ws.send('still a socket');
    expect(await nextMessage(ws)).toBe('still a socket');
    // A 404 that a route answered is its own, not a missing route.
    expect((await request(server).get('/gone')).text).toBe('gone for good');
  });
});

describe('options', () => {
  test('subprotocols: the client first offer the route supports is chosen', async () => {
    const { port } = await startApp(
      (app) => {
        app.ws('/v', { subprotocols: ['v2', 'v1'] }, echo);
        app.ws('/global', echo);
      },
      { subprotocols: ['chat'] },
    );
    const v = await open(port, '/v', {}, ['v1', 'v2']);
    expect(v.protocol).toBe('v1');
    const global = await open(port, '/global', {}, ['other', 'chat']);
    expect(global.protocol).toBe('chat');
  });

  test('compression is negotiated when enabled, per route or for the app', async () => {
    const { port } = await startApp(
      (app) => {
        app.ws('/deflate', { enableCompression: true }, echo);
        app.ws('/plain', echo);
      },
      { enableCompression: false },
    );
    await expectCompressionPerRoute(open, port, 'compress me '.repeat(200));
  });

  test('checkOrigin receives the Express request; the default is same-origin', async () => {
    const seen: string[] = [];
    const { server } = await startApp((app) => {
      app.ws(
        '/partner/:id',
        {
          checkOrigin: (req: Request) => {
            seen.push(`${String(req.params.id)} ${req.get('origin') ?? ''}`);
            return req.get('origin') === 'https://partner.example';
          },
        },
        echo,
      );
      app.ws('/default', echo);
    });
    const refused = await request(server)
      .get('/partner/7')
      .set({ ...UPGRADE_HEADERS, Origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    expect(seen).toEqual(['7 https://evil.example']);
    const crossOrigin = await request(server)
      .get('/default')
      .set({ ...UPGRADE_HEADERS, Origin: 'https://evil.example' });
    expect(crossOrigin.status).toBe(403);
  });

  test('readLimit applies per route: a larger message closes with 1009', async () => {
    const { port } = await startApp((app) => app.ws('/small', { readLimit: 8 }, echo));
    const ws = await open(port, '/small');
    const closed = closeOf(ws);
    ws.send('123456789');
    expect((await closed).code).toBe(1009);
  });

  test('maxBufferedAmount applies globally and per route', async () => {
    const { port } = await startApp(
      (app) => {
        app.ws('/capped', bufferLimitProbe);
        app.ws('/uncapped', { maxBufferedAmount: 1 << 30 }, bufferLimitProbe);
      },
      { maxBufferedAmount: 1 << 16 },
    );
    await expectBufferLimitPerRoute(port);
  });

  test('websocket(app) twice is refused', () => {
    const app = express();
    websocket(app);
    expect(() => websocket(app)).toThrow(/already/);
  });
});

describe('handlers, shutdown and tracking', () => {
  test('a handler that rejects closes with 1011 and reaches onError', async () => {
    const { port, errors } = await startApp((app) =>
      app.ws('/fail', async (conn) => {
        await conn.readMessage();
        throw new Error('handler bug');
      }),
    );
    const ws = await open(port, '/fail');
    const closed = closeOf(ws);
    ws.send('go');
    expect((await closed).code).toBe(1011);
    expect(errors).toEqual([new Error('handler bug')]);
  });

  test("by default a handler's error reaches the app's error middleware, which cannot answer", async () => {
    const app = express();
    const handle = websocket(app);
    cleanups.push(() => handle.close({ drainMs: 100 }));
    const seen: string[] = [];
    app.ws('/fail/:id', async (conn) => {
      await conn.readMessage();
      throw new Error('handler bug');
    });
    app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
      seen.push(`${err.message} on ${req.originalUrl}`);
      res.status(500).send('too late for HTTP');
    });
    const server = app.listen(0, '127.0.0.1');
    cleanupServer(server);
    await once(server, 'listening');
    const ws = await open((server.address() as { port: number }).port, '/fail/7');
    const frames: Buffer[] = [];
    ws.on('message', (data: Buffer) => frames.push(data));
    const closed = closeOf(ws);
    ws.send('go');
    expect((await closed).code).toBe(1011);
    expect(seen).toEqual(['handler bug on /fail/7']);
    expect(frames).toEqual([]); // the error page never reached the socket
  });

  test('server.close() sends 1001 to every open websocket', async () => {
    const { server, port, handle } = await startApp((app) => app.ws('/echo', echo));
    const a = await open(port, '/echo');
    const b = await open(port, '/echo');
    const closes = Promise.all([closeOf(a), closeOf(b)]);
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    expect((await closes).map((c) => c.code)).toEqual([1001, 1001]);
    await serverClosed;
    expect(handle.connections()).toEqual([]);
  });

  test('works with a server passed in and several servers; connections() and close()', async () => {
    const app = express();
    const joined: Conn[] = [];
    let bothJoined: () => void = () => {};
    const joining = new Promise<void>((resolve) => (bothJoined = resolve));
    const passedIn = createServer(app);
    const handle = websocket(app, { server: passedIn });
    cleanups.push(() => handle.close({ drainMs: 100 }));
    app.ws('/rooms/:room', (conn) => {
      if (joined.push(conn) === 2) bothJoined();
    });
    cleanupServer(passedIn);
    passedIn.listen(0, '127.0.0.1');
    await once(passedIn, 'listening');
    const listened = app.listen(0, '127.0.0.1');
    cleanupServer(listened);
    await once(listened, 'listening');
    const port1 = (passedIn.address() as { port: number }).port;
    const port2 = (listened.address() as { port: number }).port;
    const a = await open(port1, '/rooms/a');
    const b = await open(port2, '/rooms/b');
    await joining;
    expect(handle.connections()).toHaveLength(2);
    expect(handle.connections({ route: '/rooms/:room' })).toHaveLength(2);
    expect(handle.connections({ server: passedIn })).toHaveLength(1);
    expect(handle.connections({ server: listened })).toHaveLength(1);
    const closes = Promise.all([closeOf(a), closeOf(b)]);
    await handle.close({ code: 4000, reason: 'maintenance', drainMs: 500 });
    expect(await closes).toEqual([
      { code: 4000, reason: 'maintenance' },
      { code: 4000, reason: 'maintenance' },
    ]);
    expect(handle.connections()).toEqual([]);
  });

  test("another 'upgrade' listener on the same server keeps working", async () => {
    const { server, port } = await startApp((app) => app.ws('/echo', echo), {
      shouldHandle: (req) => req.url !== '/hmr',
    });
    await expectBesideAnotherUpgradeListener(server, clients, port);
  });
});

describe('inject', () => {
  test('opens a Conn through the real middleware stack without a port', async () => {
    const app = express();
    const handle = websocket(app);
    cleanups.push(() => handle.close({ drainMs: 100 }));
    app.use(auth);
    app.ws('/rooms/:room', { subprotocols: ['chat'] }, async (conn, req) => {
      await conn.writeMessage(TextMessage, `welcome to ${req.params.room}`);
      await echo(conn);
    });
    const conn = await inject(app, '/rooms/blue', {
      headers: { authorization: 'Bearer good' },
      subprotocols: ['chat'],
    });
    await expectWelcomeAndEcho(conn, 'blue');
  });

  test('rejects with the status, headers and body the middleware answered', async () => {
    const app = express();
    const handle = websocket(app);
    cleanups.push(() => handle.close());
    app.use(auth);
    app.ws('/rooms/:room', echo);
    const { status, response } = await handshakeRefusal(inject(app, '/rooms/blue'));
    expect(status).toBe(401);
    expect(response?.headers['www-authenticate']).toBe('Bearer realm="chat"');
    expect(response?.body.toString()).toBe('login first');
    await expect(
      inject(app, '/nowhere', { headers: { authorization: 'Bearer good' } }),
    ).rejects.toMatchObject({
      status: 404,
    });
  });
});

describe('websocket routes without websocket(app)', () => {
  test('app.ws fails at registration, naming the missing call', () => {
    const app = express();
    expect(() => app.ws('/chat', echo)).toThrow(
      'silverback: app.ws("/chat") needs websocket(app) first: call websocket(app) from ' +
        "'@silverback/express' before declaring websocket routes",
    );
  });

  test("a router's websocket route on an app that websocket() does not serve answers 500 and says why", async () => {
    const app = express();
    const router = express.Router();
    router.ws('/feed', echo);
    app.use('/api', router);
    const seen: string[] = [];
    app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
      seen.push(err.message);
      res.status(500).send('no websocket here');
    });
    const server = app.listen(0, '127.0.0.1');
    cleanupServer(server);
    await once(server, 'listening');
    const { status } = await rawUpgradeAnswer(
      (server.address() as { port: number }).port,
      '/api/feed',
    );
    expect(status).toBe(500);
    expect(seen).toEqual([
      "silverback: a WebSocket upgrade for /api/feed reached Express as a plain request: its server has no 'upgrade' listener. Call websocket(app) before app.listen(), or websocket(app, { server }) for a server made with http.createServer(app).",
    ]);
  });
});
