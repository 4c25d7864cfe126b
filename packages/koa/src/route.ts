/**
 * `websocketRoute(handler)`: a websocket route as a Koa middleware, for `@koa/router` or any
 * place a middleware goes.
 *
 * @module
 */

import { STATUS_CODES } from 'node:http';
import type Koa from 'koa';
import { pendingUpgrade } from '@silverback/websocket/adapter';
import type {
  KoaRouteContext,
  KoaRouteOptions,
  KoaUpgradeOptions,
  KoaWebSocketHandler,
  RouteParams,
} from './types.js';

/**
 * Returns a Koa middleware that serves a websocket route: it upgrades the request with
 * `ctx.ws(options)` and runs `handler(conn, ctx)`. With `@koa/router`,
 * `router.get('/rooms/:room', websocketRoute(async (conn, ctx) => ...))` gives the handler
 * `ctx.params.room`; the router's and the app's middleware ran before, and any of them could
 * refuse the upgrade with its own answer.
 *
 * The middleware returns as soon as the connection is open, so the rest of the pipeline
 * (loggers waiting on `next()`) finishes then, with `ctx.status` 101; the handler goes on. When
 * the handler throws or rejects, the connection is closed with 1011 and the error emitted on
 * the app; when it returns, the connection stays open (it may have been handed to a hub).
 *
 * A plain request (no upgrade) goes on to the next middleware and is answered 426 Upgrade
 * Required if none answers it, so a page and its socket can share a path. A refused upgrade (a
 * cross-origin request, say) was answered by the upgrader; the handler does not run.
 *
 * Needs `app.use(websocket())` before it.
 *
 * Called with two arguments, the first is the route's upgrader options, merged over the
 * middleware's (`subprotocols`, `readLimit`, `enableCompression`, `checkOrigin` receiving `ctx`,
 * ...).
 *
 * @param handler - receives the connection and Koa's `ctx`.
 * @throws {TypeError} when `handler` is not a function.
 *
 * @example
 * router.get('/rooms/:room', websocketRoute(async (conn, ctx) => {
 *   await conn.writeMessage(TextMessage, `welcome to ${ctx.params.room}`);
 * }));
 */
export function websocketRoute<TState = Koa.DefaultState, TContext = Koa.DefaultContext>(
  handler: KoaWebSocketHandler<KoaRouteContext<TState, TContext>>,
): Koa.Middleware<TState, TContext & RouteParams>;
export function websocketRoute<TState = Koa.DefaultState, TContext = Koa.DefaultContext>(
  options: KoaRouteOptions<TState, TContext>,
  handler: KoaWebSocketHandler<KoaRouteContext<TState, TContext>>,
): Koa.Middleware<TState, TContext & RouteParams>;
export function websocketRoute(
  first: KoaUpgradeOptions | KoaWebSocketHandler<Koa.Context>,
  second?: KoaWebSocketHandler<Koa.Context>,
): Koa.Middleware<Koa.DefaultState, Koa.DefaultContext & RouteParams> {
  const handler = typeof first === 'function' ? first : second;
  // The route's checkOrigin receives the same ctx object, typed with the router's parameters.
  const options = typeof first === 'function' ? undefined : first;
  if (typeof handler !== 'function') {
    throw new TypeError('silverback: websocketRoute([options], handler) needs a handler function');
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError('silverback: websocketRoute(options, handler) takes an options object');
  }

  const route = async function websocketRoute(ctx: Koa.Context, next: Koa.Next): Promise<void> {
    const upgrade = ctx.ws;
    if (upgrade === undefined) {
      throw new Error('silverback: websocketRoute needs app.use(websocket()) before the router');
    }
    if (upgrade === null) {
      await next();
      if (ctx.status === 404 && ctx.body == null && !ctx.headerSent && ctx.respond !== false) {
        answerUpgradeRequired(ctx);
      }
      return;
    }
    let conn;
    try {
      conn = await upgrade(options);
    } catch {
      return; // refused: the upgrader has answered the HTTP error
    }
    pendingUpgrade<Koa.Context>(ctx.req)!.run(conn, ctx, handler);
  };
  return route;
}

// RFC 7231 section 6.5.15: the route exists, but only for WebSocket clients.
function answerUpgradeRequired(ctx: Koa.Context): void {
  ctx.status = 426;
  ctx.set('Upgrade', 'websocket');
  ctx.body = `${STATUS_CODES[426]}\n`;
}
