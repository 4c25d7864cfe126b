/**
 * @silverback/koa: upgrade requests running through the app's real middleware stack, seen by real
 * clients (supertest and raw sockets for the HTTP answers, `ws` and our own Dialer for the
 * upgrades).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import request from 'supertest';
import WebSocket from 'ws';
import { Dialer, isCloseError, TextMessage, type Conn } from '@silverback/websocket';
import {
  attach,
  inject,
  websocket,
  websocketRoute,
  type KoaWebSocket,
  type KoaWebSocketOptions,
} from '@silverback/koa';
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
import {
  rawUpgradeAnswer,
  UPGRADE_HEADERS,
  upgradeRequest,
} from '../../../test/helpers/upgrade-request';
import { connectWs, wsClients } from '../../../test/helpers/ws-client';

const cleanups = useCleanups();
const wsClientsOfFile = wsClients(cleanups);
const { open: openWs } = wsClientsOfFile;

interface Started {
  app: Koa;
  handle: KoaWebSocket;
  server: Server;
  port: number;
  /** Everything emitted on the app's 'error' event, with the ctx it came with. */
  errors: { err: Error; ctx: Koa.Context | undefined }[];
}

// Ends a server's sockets, then closes it, after the test.
function cleanupServer(server: Server): void {
  cleanups.push(serverCloser(server).close);
}

function newApp(options: KoaWebSocketOptions = {}) {
  const app = new Koa();
  const errors: Started['errors'] = [];
  app.on('error', (err: Error, ctx?: Koa.Context) => errors.push({ err, ctx }));
  const handle = websocket(options);
  cleanups.push(() => handle.close({ drainMs: 100 }));
  app.use(handle);
  return { app, handle, errors };
}

async function listen(app: Koa): Promise<{ server: Server; port: number }> {
  const server = app.listen(0, '127.0.0.1');
  cleanupServer(server);
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

async function startApp(
  setup: (app: Koa) => void,
  options: KoaWebSocketOptions = {},
): Promise<Started> {
  const { app, handle, errors } = newApp(options);
  setup(app);
  const { server, port } = await listen(app);
  return { app, handle, server, port, errors };
}

function routes(app: Koa, declare: (router: Router) => void): void {
  const router = new Router();
  declare(router);
  app.use(router.routes());
}

async function open(port: number, path: string, options: WebSocket.ClientOptions = {}) {
  const client = await connectWs(`ws://127.0.0.1:${port}${path}`, options);
  cleanups.push(() => client.ws.terminate());
  return client;
}

// A ws client for handshakes that may be refused: resolves with the HTTP answer it got.
async function refusal(port: number, path: string): Promise<IncomingMessage> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  const [, response] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  return response;
}

async function echo(conn: Conn): Promise<void> {
  for await (const { type, data } of conn) await conn.writeMessage(type, data);
}

// Answers 401 unless the request carries a session cookie: the auth every test app shares.
async function auth(ctx: Koa.Context, next: Koa.Next): Promise<void> {
  if (ctx.cookies.get('session') !== 'ann') {
    ctx.status = 401;
    ctx.set('WWW-Authenticate', 'Cookie realm="chat"');
    ctx.body = 'login first';
    return;
  }
  ctx.cookies.set('seen', 'yes', { httpOnly: false });
  await next();
}

describe('upgrades through the middleware stack', () => {
  test('ctx.ws() upgrades an upgrade request and is null on plain requests', async () => {
    const seen: string[] = [];
    const { server, port } = await startApp((app) =>
      app.use(async (ctx, next) => {
        seen.push(ctx.ws === null ? 'plain' : typeof ctx.ws);
        if (ctx.path !== '/echo' || !ctx.ws) {
          await next();
          return;
        }
        await echo(await ctx.ws());
      }),
    );
    const client = await open(port, '/echo');
    client.ws.send('hello');
    expect(await client.next()).toBe('hello');
    client.ws.send(Buffer.from([1, 2, 3]));
    expect(await client.next()).toEqual(Buffer.from([1, 2, 3]));
    expect((await request(server).get('/echo')).status).toBe(404);
    expect(seen).toEqual(['function', 'plain']);
  });

  test('websocketRoute under @koa/router gets path parameters, query and the route key', async () => {
    const { port, handle } = await startApp((app) => {
      const router = new Router({ prefix: '/orgs/:org' });
      router.get(
        '/rooms/:room',
        websocketRoute(async (conn, ctx) => {
          await conn.writeJSON({
            org: ctx.params.org,
            room: ctx.params.room,
            user: ctx.query.user,
            path: ctx.path,
            status: ctx.status,
          });
          await echo(conn);
        }),
      );
      app.use(router.routes());
    });
    const client = await open(port, '/orgs/acme/rooms/blue?user=ann');
    expect(JSON.parse(String(await client.next()))).toEqual({
      org: 'acme',
      room: 'blue',
      user: 'ann',
      path: '/orgs/acme/rooms/blue',
      status: 101,
    });
    expect(handle.connections({ route: '/orgs/:org/rooms/:room' })).toHaveLength(1);
  });

  test('auth middleware answering 401 refuses the upgrade with its status, headers and body', async () => {
    let reached = false;
    const { server, port } = await startApp((app) => {
      app.use(auth);
      routes(app, (router) =>
        router.get(
          '/chat',
          websocketRoute((conn) => {
            reached = true;
            conn.close();
          }),
        ),
      );
    });
    const res = await request(server).get('/chat').set(UPGRADE_HEADERS);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Cookie realm="chat"');
    expect(res.text).toBe('login first');
    // A raw client reads the whole answer, then the server closes the socket.
    const raw = await rawUpgradeAnswer(port, '/chat');
    expect(raw.status).toBe(401);
    expect(raw.body).toBe('login first');
    expect((await refusal(port, '/chat')).statusCode).toBe(401);
    expect(reached).toBe(false);
  });

  test('a request that passes auth is upgraded, with the cookie the middleware set', async () => {
    const { port } = await startApp((app) => {
      app.use(auth);
      routes(app, (router) => router.get('/chat', websocketRoute(echo)));
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { Cookie: 'session=ann' } });
    cleanups.push(() => ws.terminate());
    const opened = once(ws, 'open');
    const [response] = (await once(ws, 'upgrade')) as [IncomingMessage];
    expect(response.headers['set-cookie']).toEqual(['seen=yes; path=/']);
    await opened;
    ws.send('in');
    const [data] = (await once(ws, 'message')) as [Buffer];
    expect(data.toString()).toBe('in');
  });

  test('ctx.throw(403) in router middleware refuses with 403 and its message', async () => {
    const { server } = await startApp((app) =>
      routes(app, (router) =>
        router.get(
          '/admin',
          async (ctx, next) => {
            if (ctx.query.role !== 'admin') ctx.throw(403, 'admins only');
            await next();
          },
          websocketRoute(echo),
        ),
      ),
    );
    const res = await request(server).get('/admin?role=guest').set(UPGRADE_HEADERS);
    expect(res.status).toBe(403);
    expect(res.text).toBe('admins only');
  });

  test('an error thrown in middleware answers 500 through Koa and is emitted on the app', async () => {
    const { server, port, errors } = await startApp((app) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/broken') throw new Error('database down');
        await next();
      });
      routes(app, (router) => router.get('/broken', websocketRoute(echo)));
    });
    const res = await request(server).get('/broken').set(UPGRADE_HEADERS);
    expect(res.status).toBe(500);
    expect(res.text).toBe('Internal Server Error');
    expect(errors.map(({ err }) => err.message)).toEqual(['database down']);
    expect(errors[0]!.ctx?.path).toBe('/broken');
    expect((await rawUpgradeAnswer(port, '/broken')).status).toBe(500);
  });

  test('an upgrade no middleware accepts gets 404 written to the socket, which is closed', async () => {
    const { server, port } = await startApp((app) =>
      routes(app, (router) => router.get('/echo', websocketRoute(echo))),
    );
    const res = await request(server).get('/nowhere').set(UPGRADE_HEADERS);
    expect(res.status).toBe(404);
    expect(res.text).toBe('Not Found');
    const raw = await rawUpgradeAnswer(port, '/nowhere');
    expect(raw.status).toBe(404);
    expect(raw.body).toBe('Not Found');
  });

  test('an upgrade to a plain HTTP route answers 426; the route ran', async () => {
    let ran = 0;
    const { server } = await startApp((app) =>
      routes(app, (router) =>
        router.get('/status', (ctx) => {
          ran++;
          ctx.body = { ok: true };
        }),
      ),
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
      routes(app, (router) =>
        router.get(
          '/slow',
          websocketRoute(async (conn) => {
            await gate; // a database call, say
            const messages: string[] = [];
            for (let i = 0; i < 20; i++) messages.push((await conn.readMessage()).data.toString());
            done(messages);
          }),
        ),
      ),
    );
    const client = await open(port, '/slow');
    for (let i = 0; i < 20; i++) client.ws.send(`m${i}`);
    // Pings are answered as they are parsed: the pong proves the messages reached the server
    // while the handler was still waiting.
    client.ws.ping();
    await once(client.ws, 'pong');
    release();
    expect(await received).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });
});

describe('the HTTP side', () => {
  test('non-websocket routes are unaffected', async () => {
    const { app, server } = await startApp((app) =>
      routes(app, (router) => {
        router.get('/health', (ctx) => {
          ctx.body = 'ok';
        });
        router.post('/items', (ctx) => {
          ctx.status = 201;
          ctx.body = { created: true, type: ctx.get('content-type') };
        });
        router.get('/echo', websocketRoute(echo));
      }),
    );
    expect((await request(server).get('/health')).text).toBe('ok');
    const created = await request(server).post('/items').send({ a: 1 });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ created: true, type: 'application/json' });
    expect((await request(server).get('/missing')).status).toBe(404);
    // The app's own callback, as supertest serves it, works the same.
    expect((await request(app.callback()).get('/health')).text).toBe('ok');
  });

  test('a plain GET to a websocket route answers 426', async () => {
    const { server } = await startApp((app) =>
      routes(app, (router) => router.get('/echo', websocketRoute(echo))),
    );
    const res = await request(server).get('/echo');
    expectUpgradeRequired(res);
  });

  test('a later middleware on the same path answers plain GETs; the socket still upgrades', async () => {
    const { server, port } = await startApp((app) =>
      routes(app, (router) => {
        router.get('/live', websocketRoute(echo), (ctx) => {
          ctx.body = 'the page';
        });
        router.get('/gone', websocketRoute(echo), (ctx) => {
          ctx.status = 404;
          ctx.body = 'gone for good';
        });
      }),
    );
    const page = await request(server).get('/live');
    expect(page.status).toBe(200);
    expect(page.text).toBe('the page');
    const client = await open(port, '/live');
    client.ws.send('still a socket');
    expect(await client.next()).toBe('still a socket');
    // A 404 with a body is the app's own answer, not a missing route.
    expect((await request(server).get('/gone')).text).toBe('gone for good');
  });

  test('an upgrade to a server websocket() does not serve answers 500 and says why', async () => {
    const { app, errors } = newApp();
    routes(app, (router) => router.get('/echo', websocketRoute(echo)));
    const notAttached = createServer((req, res) => void app.callback()(req, res));
    const res = await request(notAttached).get('/echo').set(UPGRADE_HEADERS);
    expect(res.status).toBe(500);
    expect(errors.map(({ err }) => err.message)).toEqual([
      expect.stringContaining('attach(app, server)') as unknown,
    ]);
  });

  test('websocketRoute without websocket() answers 500 and says why on the app', async () => {
    const app = new Koa();
    const errors: Error[] = [];
    app.on('error', (err: Error) => errors.push(err));
    app.use(websocketRoute(echo));
    const res = await request(app.callback()).get('/');
    expect(res.status).toBe(500);
    expect(errors.map((err) => err.message)).toEqual([
      'silverback: websocketRoute needs app.use(websocket()) before the router',
    ]);
  });
});

describe('options', () => {
  test('subprotocols: globally, per ctx.ws() call and per route', async () => {
    const v1 = { subprotocols: ['v2', 'v1'] };
    const { port } = await startApp(
      (app) => {
        app.use(async (ctx, next) => {
          if (ctx.path !== '/call' || !ctx.ws) {
            await next();
            return;
          }
          await echo(await ctx.ws(v1));
        });
        routes(app, (router) => {
          router.get('/route', websocketRoute({ subprotocols: ['v3'] }, echo));
          router.get('/global', websocketRoute(echo));
        });
      },
      { subprotocols: ['chat'] },
    );
    const call = new WebSocket(`ws://127.0.0.1:${port}/call`, ['v1', 'v2']);
    const route = new WebSocket(`ws://127.0.0.1:${port}/route`, ['v1', 'v3']);
    const global = new WebSocket(`ws://127.0.0.1:${port}/global`, ['other', 'chat']);
    for (const ws of [call, route, global]) cleanups.push(() => ws.terminate());
    await Promise.all([call, route, global].map((ws) => once(ws, 'open')));
    expect([call.protocol, route.protocol, global.protocol]).toEqual(['v1', 'v3', 'chat']);
  });

  test('compression is negotiated when enabled, per route or for the app', async () => {
    const { port } = await startApp(
      (app) =>
        routes(app, (router) => {
          router.get('/deflate', websocketRoute({ enableCompression: true }, echo));
          router.get('/plain', websocketRoute(echo));
        }),
      { enableCompression: false },
    );
    await expectCompressionPerRoute(openWs, port, 'compress me '.repeat(200));
  });

  test('checkOrigin receives the Koa ctx; the default is same-origin', async () => {
    const seen: string[] = [];
    const { server, errors } = await startApp((app) =>
      routes(app, (router) => {
        router.get(
          '/partner/:id',
          websocketRoute(
            {
              checkOrigin: (ctx) => {
                seen.push(`${String(ctx.params.id)} ${ctx.get('origin')}`);
                return ctx.get('origin') === 'https://partner.example';
              },
            },
            echo,
          ),
        );
        router.get('/default', websocketRoute(echo));
      }),
    );
    const refused = await request(server)
      .get('/partner/7')
      .set({ ...UPGRADE_HEADERS, Origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    expect(seen).toEqual(['7 https://evil.example']);
    const crossOrigin = await request(server)
      .get('/default')
      .set({ ...UPGRADE_HEADERS, Origin: 'https://evil.example' });
    expect(crossOrigin.status).toBe(403);
    // A refusal is the client's fault, not an application error.
    expect(errors).toEqual([]);
  });

  test('a refused ctx.ws() left uncaught ends the request quietly with the upgrader answer', async () => {
    let afterUpgrade = false;
    const { server, errors } = await startApp(
      (app) =>
        app.use(async (ctx) => {
          await ctx.ws!();
          afterUpgrade = true;
        }),
      { checkOrigin: (ctx) => ctx.get('origin') === '' },
    );
    const res = await request(server)
      .get('/x')
      .set({ ...UPGRADE_HEADERS, Origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(afterUpgrade).toBe(false);
    expect(errors).toEqual([]);
  });

  test('readLimit per route: a larger message closes with 1009', async () => {
    const { port } = await startApp((app) =>
      routes(app, (router) => router.get('/small', websocketRoute({ readLimit: 8 }, echo))),
    );
    const client = await open(port, '/small');
    client.ws.send('123456789');
    expect((await client.closed).code).toBe(1009);
  });

  test('maxBufferedAmount applies globally and per route', async () => {
    const { port } = await startApp(
      (app) =>
        routes(app, (router) => {
          router.get('/capped', websocketRoute(bufferLimitProbe));
          router.get('/uncapped', websocketRoute({ maxBufferedAmount: 1 << 30 }, bufferLimitProbe));
        }),
      { maxBufferedAmount: 1 << 16 },
    );
    await expectBufferLimitPerRoute(port);
  });

  test('bad options and a handle shared by two apps are refused', async () => {
    expect(() => websocket({ onError: 'log' as never })).toThrow(TypeError);
    expect(() => websocketRoute('handler' as never)).toThrow(TypeError);
    const { app, handle } = newApp();
    expect((await request(app.callback()).get('/')).status).toBe(404); // the handle serves app
    const other = new Koa();
    const errors: Error[] = [];
    other.on('error', (err: Error) => errors.push(err));
    other.use(handle);
    expect((await request(other.callback()).get('/')).status).toBe(500);
    expect(errors[0]?.message).toMatch(/serves one app/);
  });
});

describe('handlers, shutdown and tracking', () => {
  test('a route handler that rejects closes with 1011 and is emitted on the app', async () => {
    const { port, errors } = await startApp((app) =>
      routes(app, (router) =>
        router.get(
          '/fail',
          websocketRoute(async (conn) => {
            await conn.readMessage();
            throw new Error('handler bug');
          }),
        ),
      ),
    );
    const client = await open(port, '/fail');
    client.ws.send('go');
    expect((await client.closed).code).toBe(1011);
    expect(errors.map(({ err }) => err.message)).toEqual(['handler bug']);
    expect(errors[0]!.ctx?.path).toBe('/fail');
  });

  test('middleware that throws after ctx.ws() closes with 1011; no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => void process.off('unhandledRejection', onUnhandled));
    // An error-handling middleware upstream of websocket(), as apps often have.
    let upstreamSaw: unknown = 'nothing';
    const app = new Koa();
    const errors: Error[] = [];
    app.on('error', (err: Error) => errors.push(err));
    app.use(async (_ctx, next) => {
      try {
        await next();
      } catch (err) {
        upstreamSaw = err;
      }
    });
    const handle = websocket();
    cleanups.push(() => handle.close({ drainMs: 100 }));
    app.use(handle);
    app.use(async (ctx) => {
      const conn = await ctx.ws!();
      await conn.readMessage();
      throw 'not an Error'; // eslint-disable-line @typescript-eslint/only-throw-error
    });
    const { port } = await listen(app);
    const client = await open(port, '/any');
    client.ws.send('go');
    expect((await client.closed).code).toBe(1011);
    expect(errors.map((err) => err.message)).toEqual(['non-error thrown: "not an Error"']);
    // The error is the connection's now: nothing upstream may try to answer it as HTTP.
    expect(upstreamSaw).toBe('nothing');
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });

  test('a client that resets its connection is not reported as an app error', async () => {
    let closeErr: unknown;
    let ended: () => void = () => {};
    const handlerEnded = new Promise<void>((resolve) => (ended = resolve));
    const { port, errors } = await startApp((app) =>
      routes(app, (router) =>
        router.get(
          '/reset',
          websocketRoute(async (conn) => {
            try {
              await conn.readMessage();
            } catch (err) {
              closeErr = err;
            }
            ended();
          }),
        ),
      ),
    );
    const answer = await upgradeRequest(port, '/reset');
    expect(answer.status).toBe(101);
    (answer.socket as Socket).resetAndDestroy();
    await handlerEnded;
    expect(isCloseError(closeErr, 1006)).toBe(true);
    expect(errors).toEqual([]);
  });

  test('server.close() from app.listen() sends 1001 to every open websocket', async () => {
    const { server, port, handle } = await startApp((app) =>
      routes(app, (router) => router.get('/echo', websocketRoute(echo))),
    );
    const a = await open(port, '/echo');
    const b = await open(port, '/echo');
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    expect((await Promise.all([a.closed, b.closed])).map((c) => c.code)).toEqual([1001, 1001]);
    await serverClosed;
    expect(handle.connections()).toEqual([]);
  });

  test('attach(app, server) serves a server made elsewhere, beside app.listen(); close() and connections()', async () => {
    const joined: Conn[] = [];
    let bothJoined: () => void = () => {};
    const joining = new Promise<void>((resolve) => (bothJoined = resolve));
    const { app, handle } = newApp();
    routes(app, (router) =>
      router.get(
        '/rooms/:room',
        websocketRoute((conn) => {
          if (joined.push(conn) === 2) bothJoined();
        }),
      ),
    );
    const madeElsewhere = createServer((req, res) => void app.callback()(req, res));
    attach(app, madeElsewhere);
    cleanupServer(madeElsewhere);
    madeElsewhere.listen(0, '127.0.0.1');
    await once(madeElsewhere, 'listening');
    const { server: listened, port: port2 } = await listen(app);
    const port1 = (madeElsewhere.address() as { port: number }).port;
    // Our own client this time.
    const dialer = new Dialer();
    const a = await dialer.dial(`ws://127.0.0.1:${port1}/rooms/a`);
    const b = await dialer.dial(`ws://127.0.0.1:${port2}/rooms/b`);
    cleanups.push(() => void a.conn.underlyingConn().destroy());
    cleanups.push(() => void b.conn.underlyingConn().destroy());
    await joining;
    expect(handle.connections()).toHaveLength(2);
    expect(handle.connections({ route: '/rooms/:room' })).toHaveLength(2);
    expect(handle.connections({ server: madeElsewhere })).toHaveLength(1);
    expect(handle.connections({ server: listened })).toHaveLength(1);
    const reads = [a.conn.readMessage(), b.conn.readMessage()].map((read) =>
      read.then(
        () => 'message',
        (err: unknown) => (isCloseError(err, 4000) ? `${err.code} ${err.text}` : String(err)),
      ),
    );
    await handle.close({ code: 4000, reason: 'maintenance', drainMs: 500 });
    expect(await Promise.all(reads)).toEqual(['4000 maintenance', '4000 maintenance']);
    expect(handle.connections()).toEqual([]);
    // A closed handle serves no more servers.
    expect(() => attach(app, createServer())).toThrow(/closed/);
  });

  test("another 'upgrade' listener on the same server keeps working", async () => {
    const { server, port } = await startApp(
      (app) => routes(app, (router) => router.get('/echo', websocketRoute(echo))),
      { shouldHandle: (req) => req.url !== '/hmr' },
    );
    await expectBesideAnotherUpgradeListener(server, wsClientsOfFile, port);
  });
});

describe('inject', () => {
  test('opens a Conn through the real middleware stack without a port', async () => {
    const { app } = newApp();
    app.use(auth);
    routes(app, (router) =>
      router.get(
        '/rooms/:room',
        websocketRoute({ subprotocols: ['chat'] }, async (conn, ctx) => {
          await conn.writeMessage(TextMessage, `welcome to ${ctx.params.room}`);
          await echo(conn);
        }),
      ),
    );
    const conn = await inject(app, '/rooms/blue', {
      headers: { cookie: 'session=ann' },
      subprotocols: ['chat'],
    });
    await expectWelcomeAndEcho(conn, 'blue');
  });

  test('rejects with the status, headers and body the middleware answered', async () => {
    const { app } = newApp();
    app.use(auth);
    routes(app, (router) => router.get('/rooms/:room', websocketRoute(echo)));
    const { status, response } = await handshakeRefusal(inject(app, '/rooms/blue'));
    expect(status).toBe(401);
    expect(response?.headers['www-authenticate']).toBe('Cookie realm="chat"');
    expect(response?.body.toString()).toBe('login first');
    await expect(
      inject(app, '/nowhere', { headers: { cookie: 'session=ann' } }),
    ).rejects.toMatchObject({ status: 404 });
    expect(() => inject(new Koa(), '/')).toThrow(/websocket\(\)/);
  });
});
