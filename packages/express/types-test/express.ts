/**
 * Type tests for @silverback/express, compiled by `tsc --noEmit` (the root tsconfig includes this
 * folder) and never run: each `expectType` must hold and each `@ts-expect-error` line must fail.
 */
import { createServer } from 'node:http';
import express, { type Request } from 'express';
import type { ParsedQs } from 'qs';
import type { Conn } from '@silverback/websocket';
import {
  inject,
  websocket,
  type ExpressWebSocket,
  type WebSocketRequestHandler,
} from '@silverback/express';
import { expectType } from '../../../test/helpers/expect-type';

const app = express();
const handle = websocket(app, {
  checkOrigin: (req) => {
    expectType<Request>()(req);
    return req.get('origin') === undefined;
  },
  subprotocols: ['chat'],
  enableCompression: true,
  readLimit: 1 << 20,
  shouldHandle: (req) => req.url !== '/hmr',
  drainMs: 1000,
  onError: (err, context) => {
    expectType<unknown>()(err);
    expectType<'dispatch' | 'handler'>()(context.phase);
  },
  server: createServer(app),
});
expectType<ExpressWebSocket>()(handle);
expectType<Conn[]>()(handle.connections());
expectType<Conn[]>()(handle.connections({ route: '/rooms/:room' }));
expectType<Promise<void>>()(handle.close({ code: 1001, reason: 'bye', drainMs: 100 }));

// The handler gets the Conn and a request whose params come from the path.
app.ws('/rooms/:room', async (conn, req) => {
  expectType<Conn>()(conn);
  expectType<string>()(req.params.room);
  expectType<ParsedQs>()(req.query);
  // @ts-expect-error: no such parameter in the path
  void req.params.nope;
  await conn.writeMessage(1, req.params.room);
});

// Per-route options, then middleware, then the handler; app.ws returns the app for chaining.
const chained = app.ws(
  '/admin/:id',
  { subprotocols: ['v1'], checkOrigin: (req: Request) => req.params.id !== undefined },
  (req, _res, next) => {
    expectType<string>()(req.params.id);
    next();
  },
  (conn, req) => {
    expectType<string>()(req.params.id);
    conn.close();
  },
);
expectType<typeof app>()(chained);

// Routers have ws too.
const router = express.Router();
const routerChained = router.ws('/feed', (conn) => conn.close());
expectType<typeof router>()(routerChained);
app.use('/api', router);

// A handler declared apart, with explicit params.
const handler: WebSocketRequestHandler<{ topic: string }> = (conn, req) => {
  expectType<string>()(req.params.topic);
  conn.close();
};
router.ws('/topics/:topic', handler);

// RegExp paths fall back to untyped params.
app.ws(/^\/re\/(.*)$/, (conn) => conn.close());

// @ts-expect-error: the handler must come last
app.ws('/missing-handler');

// @ts-expect-error: a websocket handler gets (conn, req), not (req, res)
app.ws('/wrong', (req: Request, res: express.Response) => res.end());

// @ts-expect-error: checkOrigin must return a boolean
websocket(express(), { checkOrigin: () => 'yes' });

// inject takes an app or a server and resolves to a Conn.
expectType<Promise<Conn>>()(inject(app, '/rooms/1', { headers: { cookie: 'a=b' } }));
expectType<Promise<Conn>>()(inject(createServer(), '/rooms/1', { subprotocols: ['chat'] }));
