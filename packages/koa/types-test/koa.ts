/**
 * Type tests for @silverback/koa, compiled by `tsc --noEmit` (the root tsconfig includes this
 * folder) and never run: each `expectType` must hold and each `@ts-expect-error` line must fail.
 */
import { createServer } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import type { Conn } from '@silverback/websocket';
import {
  attach,
  inject,
  websocket,
  websocketRoute,
  type KoaUpgrade,
  type KoaWebSocket,
} from '@silverback/koa';
import { expectType } from '../../../test/helpers/expect-type';

const app = new Koa();
const handle = websocket({
  checkOrigin: (ctx) => {
    expectType<Koa.Context>()(ctx);
    return ctx.get('origin') === '';
  },
  subprotocols: ['chat'],
  enableCompression: true,
  readLimit: 1 << 20,
  shouldHandle: (req) => req.url !== '/hmr',
  drainMs: 1000,
  onError: (err, context) => {
    expectType<unknown>()(err);
    expectType<'dispatch' | 'handler'>()(context.phase);
    expectType<Koa.Context | undefined>()(context.request);
  },
});
expectType<KoaWebSocket>()(handle);
expectType<Conn[]>()(handle.connections());
expectType<Conn[]>()(handle.connections({ route: '/rooms/:room' }));
expectType<Promise<void>>()(handle.close({ code: 1001, reason: 'bye', drainMs: 100 }));

// The handle is a middleware the app takes.
app.use(handle);

// ctx.ws is declared on Koa's context: a function on upgrade requests, null on the others.
app.use(async (ctx, next) => {
  expectType<KoaUpgrade | null | undefined>()(ctx.ws);
  if (ctx.path !== '/echo' || !ctx.ws) {
    await next();
    return;
  }
  const conn = await ctx.ws({ subprotocols: ['v1'], checkOrigin: (c: Koa.Context) => c.secure });
  expectType<Conn>()(conn);
  // @ts-expect-error: per-call options are upgrader options
  void ctx.ws({ subprotocols: 'v1' });
});

// Route level with @koa/router: the handler gets (conn, ctx) with the router's params.
const router = new Router();
router.get(
  '/rooms/:room',
  websocketRoute(async (conn, ctx) => {
    expectType<Conn>()(conn);
    expectType<string | undefined>()(ctx.params.room);
    expectType<KoaUpgrade | null | undefined>()(ctx.ws);
    await conn.writeMessage(1, ctx.params.room ?? '');
  }),
);
// Per-route options come first; the route's checkOrigin sees the router's parameters.
router.get(
  '/v1/:id',
  websocketRoute(
    {
      checkOrigin: (ctx) => {
        expectType<string | undefined>()(ctx.params.id);
        return ctx.params.id !== 'banned';
      },
    },
    (conn) => conn.close(),
  ),
);
router.get(
  '/v1',
  websocketRoute({ subprotocols: ['v1'], enableCompression: true }, (conn, ctx) => {
    expectType<string>()(ctx.path);
    conn.close();
  }),
);
app.use(router.routes());

// Custom state and context types flow into the handler.
interface AppState {
  user: { name: string };
}
interface AppContext {
  requestId: string;
}
const typed = new Koa<AppState, AppContext>();
typed.use(websocket());
const typedRouter = new Router<AppState, AppContext>();
typedRouter.get(
  '/me',
  websocketRoute<AppState, AppContext>((conn, ctx) => {
    expectType<{ name: string }>()(ctx.state.user);
    expectType<string>()(ctx.requestId);
    conn.close();
  }),
);
typed.use(typedRouter.routes());

// @ts-expect-error: a websocket handler gets (conn, ctx), not (ctx, next)
websocketRoute((ctx: Koa.Context, next: Koa.Next) => next());

// @ts-expect-error: the handler is required
websocketRoute({ subprotocols: ['v1'] });

// @ts-expect-error: checkOrigin must return a boolean
websocket({ checkOrigin: () => 'yes' });

// @ts-expect-error: checkOrigin receives Koa's ctx, not the raw request
websocket({ checkOrigin: (req: { rawHeaders: string[] }) => req.rawHeaders.length > 0 });

// attach serves servers made elsewhere; inject takes an app or a server and resolves to a Conn.
attach(
  app,
  createServer((req, res) => void app.callback()(req, res)),
);
attach(
  typed,
  createServer((req, res) => void typed.callback()(req, res)),
);
expectType<Promise<Conn>>()(inject(app, '/rooms/1', { headers: { cookie: 'a=b' } }));
expectType<Promise<Conn>>()(inject(createServer(), '/rooms/1', { subprotocols: ['chat'] }));
