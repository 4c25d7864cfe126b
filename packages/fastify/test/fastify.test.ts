/**
 * @silverback/fastify: websocket routes running through Fastify's own routing, hooks and schema
 * validation. Upgrades are opened with `injectWS` (no port) and with real clients over TCP (`ws`,
 * raw sockets); the HTTP side is checked with supertest against a listening server.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import request from 'supertest';
import {
  BinaryMessage,
  HandshakeError,
  TextMessage,
  isCloseError,
  type Conn,
} from '@silverback/websocket';
import websocket, { type FastifyWebSocketOptions } from '@silverback/fastify';
import { rawConnect } from '../../../test/helpers/raw-client';
import { rawUpgradeAnswer } from '../../../test/helpers/upgrade-request';
import {
  bufferLimitProbe,
  expectBesideAnotherUpgradeListener,
  expectBufferLimitPerRoute,
  expectCompressionPerRoute,
  expectUpgradeRequired,
} from '../../../test/helpers/adapter-checks';
import { useCleanups } from '../../../test/helpers/cleanups';
import { closeOf, nextMessage, wsClients } from '../../../test/helpers/ws-client';

const cleanups = useCleanups();
const clients = wsClients(cleanups);
const { client, open } = clients;

/** An app with the plugin registered, closed after the test. */
async function build(
  options: FastifyWebSocketOptions = {},
  serverOptions: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify(serverOptions);
  cleanups.push(() => app.close());
  await app.register(websocket, options);
  return app;
}

/** Listens on 127.0.0.1 with an ephemeral port and returns the port. */
async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as { port: number }).port;
}

/** The client side of an injected connection, closed after the test. */
function track(conn: Conn): Conn {
  cleanups.push(() => void conn.close());
  return conn;
}

async function text(conn: Conn): Promise<string> {
  return (await conn.readMessage()).data.toString();
}

async function refusal(promise: Promise<Conn>): Promise<HandshakeError> {
  const err = await promise.then(track).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeError);
  return err as HandshakeError;
}

async function echo(conn: Conn): Promise<void> {
  for await (const { type, data } of conn) await conn.writeMessage(type, data);
}

function bearer(token: string) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      await reply.code(401).header('www-authenticate', 'Bearer realm="chat"').send('login first');
    }
  };
}

describe('upgrades through Fastify routing and hooks (injectWS)', () => {
  test('a websocket route echoes text and binary messages', async () => {
    const app = await build();
    app.get('/echo', { websocket: true }, echo);
    const conn = track(await app.injectWS('/echo'));
    await conn.writeMessage(TextMessage, 'hello');
    expect(await conn.readMessage()).toEqual({ type: TextMessage, data: Buffer.from('hello') });
    await conn.writeMessage(BinaryMessage, Buffer.from([1, 2, 3]));
    expect(await conn.readMessage()).toEqual({ type: BinaryMessage, data: Buffer.from([1, 2, 3]) });
  });

  test('path params and the query string reach the handler, with this the encapsulated instance', async () => {
    const app = await build();
    await app.register((child, _options, done) => {
      child.decorate('roomsOwner', 'child plugin');
      child.get<{ Params: { room: string }; Querystring: { user: string } }>(
        '/rooms/:room',
        { websocket: true },
        async function (conn, req) {
          await conn.writeJSON({
            room: req.params.room,
            user: req.query.user,
            owner: (this as unknown as { roomsOwner: string }).roomsOwner,
          });
        },
      );
      done();
    });
    const conn = track(await app.injectWS('/rooms/blue?user=ann'));
    expect(await conn.readJSON()).toEqual({ room: 'blue', user: 'ann', owner: 'child plugin' });
    expect(app.hasDecorator('roomsOwner')).toBe(false);
  });

  test('onRequest, preParsing, preValidation and preHandler hooks all run before the upgrade', async () => {
    const app = await build();
    const ran: string[] = [];
    app.addHook('onRequest', (_req, _reply, done) => {
      ran.push('onRequest');
      done();
    });
    app.addHook('preParsing', (_req, _reply, payload, done) => {
      ran.push('preParsing');
      done(null, payload);
    });
    app.addHook('preValidation', (_req, _reply, done) => {
      ran.push('preValidation');
      done();
    });
    app.get(
      '/hooked',
      {
        websocket: true,
        preHandler: (_req, _reply, done) => {
          ran.push('preHandler (route)');
          done();
        },
      },
      async (conn) => {
        ran.push('handler');
        await conn.writeJSON(ran);
      },
    );
    const conn = track(await app.injectWS('/hooked'));
    expect(await conn.readJSON()).toEqual([
      'onRequest',
      'preParsing',
      'preValidation',
      'preHandler (route)',
      'handler',
    ]);
  });

  test.each(['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const)(
    'a %s hook refuses the upgrade with its own status, headers and body',
    async (hook) => {
      const app = await build();
      let handlerRan = false;
      app.get(
        '/guarded',
        {
          websocket: true,
          [hook]: async (_req: FastifyRequest, reply: FastifyReply) => {
            await reply
              .code(403)
              .header('x-refused-by', hook)
              .send({ error: `no (${hook})` });
          },
        },
        () => {
          handlerRan = true;
        },
      );
      const { status, response } = await refusal(app.injectWS('/guarded'));
      expect(status).toBe(403);
      expect(response?.headers['x-refused-by']).toBe(hook);
      expect(JSON.parse(response!.body.toString())).toEqual({ error: `no (${hook})` });
      expect(handlerRan).toBe(false);
    },
  );

  test('schema validation of params and query applies: bad input answers 400, good input is coerced', async () => {
    const app = await build();
    app.get(
      '/items/:id',
      {
        websocket: true,
        schema: {
          params: { type: 'object', properties: { id: { type: 'integer' } } },
          querystring: {
            type: 'object',
            required: ['page'],
            properties: { page: { type: 'integer', minimum: 1 } },
          },
        },
      },
      async (conn, req) => {
        await conn.writeJSON({ params: req.params, query: req.query });
      },
    );
    const badParam = await refusal(app.injectWS('/items/abc?page=1'));
    expect(badParam.status).toBe(400);
    expect(JSON.parse(badParam.response!.body.toString())).toMatchObject({
      code: 'FST_ERR_VALIDATION',
      message: 'params/id must be integer',
    });
    const missingQuery = await refusal(app.injectWS('/items/7'));
    expect(missingQuery.status).toBe(400);
    expect(missingQuery.response!.body.toString()).toContain("must have required property 'page'");
    const conn = track(await app.injectWS('/items/7?page=2'));
    expect(await conn.readJSON()).toEqual({ params: { id: 7 }, query: { page: 2 } });
  });

  test('an unknown path answers 404; a plain HTTP route answers 426 after its handler ran', async () => {
    const app = await build();
    let ran = 0;
    app.get('/status', () => {
      ran++;
      return { ok: true };
    });
    app.get('/echo', { websocket: true }, echo);
    const missing = await refusal(app.injectWS('/nowhere'));
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.response!.body.toString())).toMatchObject({
      message: 'Route GET:/nowhere not found',
    });
    const plain = await refusal(app.injectWS('/status'));
    expect(plain.status).toBe(426);
    expect(plain.response?.headers.upgrade).toBe('websocket');
    expect(plain.response?.body.toString()).toBe('Upgrade Required\n');
    expect(ran).toBe(1);
  });

  test("an error thrown in a hook answers 500 through the app's error handler", async () => {
    const app = await build();
    app.setErrorHandler(async (err: Error, _req, reply) => {
      await reply.code(500).send({ failed: err.message });
    });
    app.get(
      '/broken',
      {
        websocket: true,
        preHandler: (_req, _reply, done) => done(new Error('database down')),
      },
      echo,
    );
    const { status, response } = await refusal(app.injectWS('/broken'));
    expect(status).toBe(500);
    expect(JSON.parse(response!.body.toString())).toEqual({ failed: 'database down' });
  });

  test('encapsulation and prefixes: a prefixed plugin protects only its own websocket routes', async () => {
    const app = await build();
    await app.register(
      (api, _options, done) => {
        api.addHook('onRequest', bearer('s3cret'));
        api.get('/chat', { websocket: true }, async (conn, req) => {
          await conn.writeMessage(TextMessage, `in ${req.routeOptions.url ?? ''}`);
        });
        done();
      },
      { prefix: '/api' },
    );
    app.get('/lobby', { websocket: true }, async (conn) => {
      await conn.writeMessage(TextMessage, 'open to all');
    });
    const refused = await refusal(app.injectWS('/api/chat'));
    expect(refused.status).toBe(401);
    expect(refused.response?.headers['www-authenticate']).toBe('Bearer realm="chat"');
    expect(refused.response?.body.toString()).toBe('login first');
    const allowed = track(
      await app.injectWS('/api/chat', { headers: { authorization: 'Bearer s3cret' } }),
    );
    expect(await text(allowed)).toBe('in /api/chat');
    expect(await text(track(await app.injectWS('/lobby')))).toBe('open to all');
    // The route is not reachable without its prefix.
    expect((await refusal(app.injectWS('/chat'))).status).toBe(404);
  });

  test('a route pairs a plain handler with a wsHandler on one path', async () => {
    const app = await build();
    app.route({
      method: 'GET',
      url: '/live',
      handler: async (_req, reply) => reply.type('text/html').send('<p>the page</p>'),
      wsHandler: async (conn) => {
        await conn.writeMessage(TextMessage, 'the socket');
      },
    });
    const port = await listen(app);
    const page = await request(`http://127.0.0.1:${port}`).get('/live');
    expect(page.status).toBe(200);
    expect(page.text).toBe('<p>the page</p>');
    expect(await text(track(await app.injectWS('/live')))).toBe('the socket');
  });

  test('a websocket route with another method than GET fails at registration', async () => {
    const app = await build();
    expect(() => app.post('/upload', { websocket: true }, echo)).toThrow(
      new TypeError(
        'silverback: websocket route POST /upload: a WebSocket handshake is a GET request ' +
          '(RFC 6455 section 4.1); declare the route with GET',
      ),
    );
    expect(() =>
      app.route({
        method: ['GET', 'PUT'],
        url: '/both',
        handler: () => 'plain',
        wsHandler: echo,
      }),
    ).toThrow(/websocket route PUT \/both/);
    expect(() =>
      app.get('/bad-options', { websocket: { subprotocols: 'chat' as unknown as string[] } }, echo),
    ).toThrow(/subprotocols must be an array of strings/);
    expect(() => app.get('/no-cap', { websocket: { maxBufferedAmount: -1 } }, echo)).toThrow(
      /websocket route GET \/no-cap: maxBufferedAmount must be a number > 0/,
    );
    expect(() =>
      app.get(
        '/cap-policy',
        { websocket: { closeOnBufferFull: 'yes' as unknown as boolean } },
        echo,
      ),
    ).toThrow(/closeOnBufferFull must be a boolean/);
    await expect(
      Fastify().register(websocket, { checkOrigin: true as unknown as () => boolean }),
    ).rejects.toThrow(/plugin options: checkOrigin must be a function/);
  });

  test('headers a hook set on the reply (a cookie) go out with the 101', async () => {
    const app = await build();
    app.addHook('onRequest', async (_req, reply) => {
      reply.header('set-cookie', 'session=ann; Path=/');
    });
    app.get('/chat', { websocket: true }, echo);
    const port = await listen(app);
    const ws = client(port, '/chat');
    // ws emits 'open' in the same tick as 'upgrade': listen for both at once.
    const opened = once(ws, 'open');
    const [response] = (await once(ws, 'upgrade')) as [IncomingMessage];
    expect(response.headers['set-cookie']).toEqual(['session=ann; Path=/']);
    await opened;
  });
});

describe('the HTTP side', () => {
  test('non-websocket routes are unaffected', async () => {
    const app = await build();
    app.get('/health', () => 'ok');
    app.post('/items', async (req, reply) => reply.code(201).send({ got: req.body }));
    app.get('/echo', { websocket: true }, echo);
    const port = await listen(app);
    const http = request(`http://127.0.0.1:${port}`);
    expect((await http.get('/health')).text).toBe('ok');
    const created = await http.post('/items').send({ a: 1 });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ got: { a: 1 } });
    expect((await http.get('/missing')).status).toBe(404);
  });

  test('a plain GET or HEAD to a websocket-only route answers 426', async () => {
    const app = await build();
    app.get('/echo', { websocket: true }, echo);
    const port = await listen(app);
    const http = request(`http://127.0.0.1:${port}`);
    const get = await http.get('/echo');
    expectUpgradeRequired(get);
    const head = await http.head('/echo');
    expect(head.status).toBe(426);
    expect(head.headers.upgrade).toBe('websocket');
  });

  test.each([
    { status: 401, path: '/secure/chat', body: 'login first' },
    { status: 403, path: '/admin?role=guest', body: '{"error":"admins only"}' },
    { status: 404, path: '/nowhere', body: '"message":"Route GET:/nowhere not found"' },
    { status: 426, path: '/status', body: 'Upgrade Required\n' },
    { status: 500, path: '/broken', body: '"message":"database down"' },
    { status: 400, path: '/items/abc', body: '"message":"params/id must be integer"' },
  ])(
    'a $status refusal reaches a real client over TCP with its body, and the socket is closed',
    async ({ status, path, body }) => {
      const app = await build();
      await app.register(
        (secure, _options, done) => {
          secure.addHook('onRequest', bearer('s3cret'));
          secure.get('/chat', { websocket: true }, echo);
          done();
        },
        { prefix: '/secure' },
      );
      app.get(
        '/admin',
        {
          websocket: true,
          preHandler: async (req: FastifyRequest<{ Querystring: { role?: string } }>, reply) => {
            if (req.query.role !== 'admin') await reply.code(403).send({ error: 'admins only' });
          },
        },
        echo,
      );
      app.get('/status', () => ({ ok: true }));
      app.get(
        '/broken',
        {
          websocket: true,
          onRequest: (_req, _reply, done) => done(new Error('database down')),
        },
        echo,
      );
      app.get(
        '/items/:id',
        {
          websocket: true,
          schema: { params: { type: 'object', properties: { id: { type: 'integer' } } } },
        },
        echo,
      );
      const port = await listen(app);
      // The whole answer, read until the server closed its side: never a 101, never left open.
      const raw = await rawUpgradeAnswer(port, path);
      expect(raw.status).toBe(status);
      expect(raw.body).toContain(body);
      // The ws client sees the same refusal.
      const ws = client(port, path);
      const [, response] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
      expect(response.statusCode).toBe(status);
    },
  );
});

describe('real clients', () => {
  test('echo, params and query over TCP with the ws client', async () => {
    const app = await build();
    app.get<{ Params: { room: string }; Querystring: { user: string } }>(
      '/rooms/:room',
      { websocket: true },
      async (conn, req) => {
        await conn.writeMessage(TextMessage, `${req.query.user}@${req.params.room}`);
        await echo(conn);
      },
    );
    const port = await listen(app);
    const ws = client(port, '/rooms/blue?user=ann');
    expect(await nextMessage(ws)).toBe('ann@blue');
    ws.send('hello');
    expect(await nextMessage(ws)).toBe('hello');
  });

  test("subprotocols: the client's first offer the route supports wins; route options override the plugin's", async () => {
    const app = await build({ subprotocols: ['chat'] });
    app.get('/v', { websocket: { subprotocols: ['v2', 'v1'] } }, echo);
    app.get('/global', { websocket: true }, echo);
    const port = await listen(app);
    expect((await open(port, '/v', {}, ['v1', 'v2'])).protocol).toBe('v1');
    expect((await open(port, '/global', {}, ['other', 'chat'])).protocol).toBe('chat');
    const injected = track(await app.injectWS('/v', { subprotocols: ['v2'] }));
    expect(injected.subprotocol()).toBe('v2');
  });

  test('compression is negotiated when enabled, for the app or per route', async () => {
    const app = await build({ enableCompression: true });
    app.get('/deflate', { websocket: true }, echo);
    app.get('/plain', { websocket: { enableCompression: false } }, echo);
    const port = await listen(app);
    await expectCompressionPerRoute(open, port, 'compress me '.repeat(500));
  });

  test('checkOrigin receives the FastifyRequest; the default is same-origin', async () => {
    const seen: string[] = [];
    const app = await build();
    app.get<{ Params: { id: string } }>(
      '/partner/:id',
      {
        websocket: {
          checkOrigin: (req: FastifyRequest) => {
            seen.push(`${(req.params as { id: string }).id} ${req.headers.origin ?? ''}`);
            return req.headers.origin === 'https://partner.example';
          },
        },
      },
      echo,
    );
    app.get('/default', { websocket: true }, echo);
    const port = await listen(app);
    const refused = await rawUpgradeAnswer(port, '/partner/7', { Origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    expect(seen).toEqual(['7 https://evil.example']);
    await open(port, '/partner/8', { origin: 'https://partner.example' });
    expect(seen).toEqual(['7 https://evil.example', '8 https://partner.example']);
    expect(
      (await rawUpgradeAnswer(port, '/default', { Origin: 'https://evil.example' })).status,
    ).toBe(403);
    await open(port, '/default', { origin: `http://127.0.0.1:${port}` });
  });

  test('readLimit per route: a larger message closes with 1009', async () => {
    const app = await build({ readLimit: 1024 });
    app.get('/small', { websocket: { readLimit: 8 } }, echo);
    app.get('/large', { websocket: true }, echo);
    const port = await listen(app);
    const small = await open(port, '/small');
    const closed = closeOf(small);
    small.send('123456789');
    expect((await closed).code).toBe(1009);
    const large = await open(port, '/large');
    large.send('x'.repeat(1000));
    expect(await nextMessage(large)).toBe('x'.repeat(1000));
  });

  test('maxBufferedAmount applies globally and per route', async () => {
    const app = await build({ maxBufferedAmount: 1 << 16 });
    app.get('/capped', { websocket: true }, bufferLimitProbe);
    app.get('/uncapped', { websocket: { maxBufferedAmount: 1 << 30 } }, bufferLimitProbe);
    await expectBufferLimitPerRoute(await listen(app));
  });

  test('a handler that awaits before its first read loses no message sent meanwhile', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let done: (messages: string[]) => void = () => {};
    const received = new Promise<string[]>((resolve) => (done = resolve));
    const app = await build();
    app.get('/slow', { websocket: true }, async (conn) => {
      await gate; // a database call, say
      const messages: string[] = [];
      for (let i = 0; i < 20; i++) messages.push(await text(conn));
      done(messages);
    });
    const port = await listen(app);
    const ws = await open(port, '/slow');
    for (let i = 0; i < 20; i++) ws.send(`m${i}`);
    // Pings are answered as they are parsed: the pong proves the messages reached the server
    // while the handler was still waiting.
    ws.ping();
    await once(ws, 'pong');
    release();
    expect(await received).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });

  test("another 'upgrade' listener on the same server keeps working", async () => {
    const app = await build({ shouldHandle: (req) => req.url !== '/hmr' });
    app.get('/echo', { websocket: true }, echo);
    const port = await listen(app);
    await expectBesideAnotherUpgradeListener(app.server, clients, port);
  });
});

describe('handlers, shutdown and tracking', () => {
  test('a handler that throws or rejects closes with 1011 and logs through request.log', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = {
      write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => void process.off('unhandledRejection', onUnhandled));
    const app = await build({}, { logger: { level: 'error', stream } });
    app.get('/rejects', { websocket: true }, async (conn) => {
      await conn.readMessage();
      throw new Error('handler bug');
    });
    app.get('/throws', { websocket: true }, () => {
      throw new Error('sync bug');
    });
    const port = await listen(app);
    const ws = await open(port, '/rejects');
    const closed = closeOf(ws);
    ws.send('go');
    expect((await closed).code).toBe(1011);
    const injected = track(await app.injectWS('/throws'));
    const err = await injected.readMessage().catch((e: unknown) => e);
    expect(isCloseError(err, 1011)).toBe(true);
    const errors = lines.filter((line) => line.level === 50);
    expect(errors.map((line) => (line.err as { message: string }).message)).toEqual([
      'handler bug',
      'sync bug',
    ]);
    for (const line of errors) {
      expect(line.msg).toBe('websocket handler failed; connection closed with 1011');
      expect(line.reqId).toEqual(expect.any(String)); // request.log, not the app's logger
    }
    expect(unhandled).toEqual([]);
  });

  test('a handler failing after the peer closed with 1009 logs 1009, the code that ended it', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = {
      write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    };
    let failed: () => void = () => {};
    const failing = new Promise<void>((resolve) => (failed = resolve));
    const app = await build({}, { logger: { level: 'error', stream } });
    app.get('/big', { websocket: true }, async (conn) => {
      await conn.readMessage().catch(() => {});
      try {
        await conn.writeMessage(TextMessage, 'too late');
      } finally {
        failed();
      }
    });
    const port = await listen(app);
    const ws = await open(port, '/big');
    const closed = closeOf(ws);
    ws.close(1009, 'too big for me');
    expect((await closed).code).toBe(1009);
    await failing;
    await app.close();
    const errors = lines.filter((line) => line.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toBe(
      'websocket handler failed; the peer closed the connection with 1009 "too big for me"',
    );
    expect(errors[0]!.closeCode).toBe(1009);
    expect((errors[0]!.err as { message: string }).message).toMatch(
      /^websocket: close 1009 \(message too big\): too big for me; the peer closed the connection/,
    );
  });

  test('fastify.close() sends 1001 to every open websocket and waits for the closing handshakes', async () => {
    const app = await build();
    const joined: Conn[] = [];
    let allJoined: () => void = () => {};
    const joining = new Promise<void>((resolve) => (allJoined = resolve));
    app.get('/rooms/:room', { websocket: true }, (conn) => {
      if (joined.push(conn) === 3) allJoined();
    });
    const port = await listen(app);
    const a = await open(port, '/rooms/a');
    const b = await open(port, '/rooms/b');
    const injected = track(await app.injectWS('/rooms/c'));
    await joining;
    expect(app.websocket.connections()).toHaveLength(3);
    expect(app.websocket.connections({ route: '/rooms/:room' })).toHaveLength(3);
    const closes = Promise.all([closeOf(a), closeOf(b)]);
    const injectedClose = injected.readMessage().catch((e: unknown) => e);
    await app.close();
    expect((await closes).map((c) => c.code)).toEqual([1001, 1001]);
    expect(isCloseError(await injectedClose, 1001)).toBe(true);
    // close() resolved after the handshakes: every server-side connection is gone.
    expect(app.websocket.connections()).toEqual([]);
    await expect(app.injectWS('/rooms/d')).rejects.toThrow(/after fastify.close/);
  });

  test('a peer that never answers the close frame is dropped after drainMs', async () => {
    const app = await build({ drainMs: 200 });
    let joined: () => void = () => {};
    const joining = new Promise<void>((resolve) => (joined = resolve));
    app.get('/mute', { websocket: true }, () => joined());
    const port = await listen(app);
    const mute = await rawConnect(port, '/mute');
    cleanups.push(() => mute.destroy());
    await joining;
    await app.close();
    const frame = await mute.nextFrame();
    expect(frame?.opcode).toBe(0x8);
    expect(frame?.payload.readUInt16BE(0)).toBe(1001);
    await mute.ended; // the server dropped the TCP connection instead of waiting forever
  });

  test('fastify.websocket.close() closes with the given code and reason; connections() per route', async () => {
    const app = await build();
    const joined: string[] = [];
    let allJoined: () => void = () => {};
    const joining = new Promise<void>((resolve) => (allJoined = resolve));
    const join = (name: string) => () => {
      if (joined.push(name) === 3) allJoined();
    };
    app.get('/a', { websocket: true }, join('a'));
    await app.register(
      (child, _options, done) => {
        child.get('/b', { websocket: true }, join('b'));
        done();
      },
      { prefix: '/v1' },
    );
    const port = await listen(app);
    const clients = [await open(port, '/a'), await open(port, '/a'), await open(port, '/v1/b')];
    await joining;
    expect(app.websocket.connections({ route: '/a' })).toHaveLength(2);
    expect(app.websocket.connections({ route: '/v1/b' })).toHaveLength(1);
    expect(app.websocket.connections({ server: app.server })).toHaveLength(3);
    const closes = Promise.all(clients.map(closeOf));
    await app.websocket.close({ code: 4000, reason: 'maintenance', drainMs: 500 });
    expect(await closes).toEqual(Array(3).fill({ code: 4000, reason: 'maintenance' }));
    expect(app.websocket.connections()).toEqual([]);
  });
});

describe('a websocket route without the plugin', () => {
  test('fails at its declaration, naming the missing register call', () => {
    const app = Fastify();
    cleanups.push(() => app.close());
    expect(() => app.get('/chat', { websocket: true }, () => {})).toThrow(
      'silverback: route GET /chat has { websocket: true }, but @silverback/fastify is not ' +
        'registered in its scope: `await app.register(websocket)`',
    );
    expect(() =>
      app.route({ method: 'GET', url: '/both', handler: () => 'page', wsHandler: () => {} }),
    ).toThrow(/route GET \/both has a wsHandler, but @silverback\/fastify is not registered/);
    // Plain routes are none of its business.
    expect(() => app.get('/plain', () => 'ok')).not.toThrow();
  });

  test('declared before the plugin was registered, it fails too; after, it works', async () => {
    const app = Fastify();
    cleanups.push(() => app.close());
    void app.register(websocket);
    expect(() => app.get('/early', { websocket: true }, () => {})).toThrow(/is not registered/);
    await app.ready();
    // A plugin registered after the plugin sees it.
    const late = Fastify();
    cleanups.push(() => late.close());
    await late.register(websocket);
    late.get('/chat', { websocket: true }, async (conn) => {
      await conn.writeMessage(TextMessage, 'hello');
    });
    const conn = track(await late.injectWS('/chat'));
    expect((await conn.readMessage()).data.toString()).toBe('hello');
  });

  test('in a scope beside the one that registered it, it fails', async () => {
    const app = Fastify();
    cleanups.push(() => app.close());
    const errors: unknown[] = [];
    void app.register(async (scoped) => {
      // Not through fastify-plugin: this registration stays inside its own scope.
      await scoped.register(async (inner) => {
        await inner.register(websocket);
      });
    });
    void app.register((sibling, _options, done) => {
      try {
        sibling.get('/chat', { websocket: true }, () => {});
      } catch (err) {
        errors.push(err);
      }
      done();
    });
    await app.ready();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/is not registered in its scope/);
  });
});
