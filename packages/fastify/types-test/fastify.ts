/**
 * Type tests for @silverback/fastify's declaration merging, compiled by `tsc --noEmit` (the root
 * tsconfig includes this folder) and never run: each `expectType` must hold and each
 * `@ts-expect-error` line must fail to compile.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Conn } from '@silverback/websocket';
import websocket, {
  websocket as namedPlugin,
  type FastifyWebSocket,
  type FastifyWebSocketOptions,
  type WebSocketHandler,
} from '@silverback/fastify';
import { expectType } from '../../../test/helpers/expect-type';

const app = Fastify();
expectType<typeof websocket>()(namedPlugin);

// Plugin options: every upgrader option, checkOrigin receiving the FastifyRequest.
const options: FastifyWebSocketOptions = {
  checkOrigin: (request) => {
    expectType<FastifyRequest>()(request);
    return request.headers.origin === undefined;
  },
  subprotocols: ['chat'],
  enableCompression: true,
  readLimit: 1 << 20,
  handshakeTimeout: 5000,
  shouldHandle: (req) => req.url !== '/hmr',
  drainMs: 1000,
  onError: (err, context) => {
    expectType<unknown>()(err);
    expectType<'dispatch' | 'handler'>()(context.phase);
  },
};
void app.register(websocket, options);
// @ts-expect-error readLimit is a number of bytes
void app.register(websocket, { readLimit: 'big' });
// @ts-expect-error checkOrigin is a function
void app.register(websocket, { checkOrigin: true });

// The shorthand: the handler gets (conn, request), `this` the instance.
app.get('/chat', { websocket: true }, async function (conn, request) {
  expectType<Conn>()(conn);
  expectType<FastifyRequest>()(request);
  expectType<FastifyInstance>()(this);
  await conn.writeMessage(1, 'hi');
});

// Typed params and query through the route generic.
app.get<{ Params: { room: string }; Querystring: { user?: string } }>(
  '/rooms/:room',
  { websocket: true },
  (conn, request) => {
    expectType<string>()(request.params.room);
    expectType<string | undefined>()(request.query.user);
    // @ts-expect-error no such param
    void request.params.nope;
  },
);

// Per-route upgrader options.
app.get(
  '/v2',
  {
    websocket: {
      subprotocols: ['v2'],
      readLimit: 4096,
      enableCompression: false,
      checkOrigin: (request) => {
        expectType<FastifyRequest>()(request);
        return true;
      },
    },
  },
  (conn) => {
    expectType<Conn>()(conn);
  },
);
// @ts-expect-error subprotocols is a list of strings
app.get('/bad', { websocket: { subprotocols: 'v2' } }, (conn: Conn) => conn.close());

// A plain handler beside a wsHandler on one path.
app.route({
  method: 'GET',
  url: '/live',
  handler: (request, reply) => {
    expectType<FastifyRequest>()(request);
    expectType<FastifyReply>()(reply);
    return reply.send('page');
  },
  wsHandler: (conn, request) => {
    expectType<Conn>()(conn);
    expectType<FastifyRequest>()(request);
  },
});

// The route() form of a websocket-only route.
app.route({
  method: 'GET',
  url: '/feed',
  websocket: true,
  handler: (conn, request) => {
    expectType<Conn>()(conn);
    expectType<FastifyRequest>()(request);
  },
});
// @ts-expect-error a websocket handshake is a GET request
app.route({
  method: 'POST',
  url: '/upload',
  websocket: true,
  handler: (conn: Conn) => conn.close(),
});

// A handler declared apart.
const handler: WebSocketHandler = async (conn) => {
  for await (const message of conn) await conn.writeMessage(message.type, message.data);
};
app.get('/echo', { websocket: true }, handler);

// Decorations.
expectType<FastifyWebSocket>()(app.websocket);
expectType<Conn[]>()(app.websocket.connections({ route: '/chat' }));
expectType<Promise<void>>()(app.websocket.close({ code: 1001, reason: 'bye', drainMs: 100 }));
expectType<Promise<Conn>>()(
  app.injectWS('/chat', { headers: { authorization: 'Bearer t' }, subprotocols: ['chat'] }),
);
// @ts-expect-error subprotocols is a list
void app.injectWS('/chat', { subprotocols: 'chat' });
// @ts-expect-error close codes are numbers
void app.websocket.close({ code: '1001' });
