/**
 * WebSocket middleware for Koa 3 on silverback's gorilla/websocket API.
 *
 * `app.use(websocket(options))` gives each upgrade request `ctx.ws()`, which upgrades it and
 * resolves to the `Conn`; `websocketRoute(handler)` is a websocket route for `@koa/router`
 * (or any place a middleware goes). An upgrade request runs through the app's whole middleware
 * stack, exactly as an HTTP request does, so:
 *
 * - a middleware that answers (auth answering 401, say) refuses the upgrade with that answer: its
 *   status, headers and body reach the client, and the socket is closed;
 * - router parameters and the query string are on `ctx` as usual (`ctx.params`, `ctx.query`);
 * - an upgrade that no middleware accepts gets Koa's 404; a thrown error Koa's 500, emitted on
 *   the app (`app.on('error')`) by Koa's own error handling; an upgrade to a plain HTTP route 426
 *   Upgrade Required (the route ran, its 2xx answer is replaced);
 * - a plain GET to a websocket route answers 426, unless a later middleware answers it.
 *
 * Handlers receive the `Conn` and Koa's `ctx`. When one throws or rejects after the upgrade,
 * the connection is closed with 1011 and the error emitted on the app. `checkOrigin` receives
 * `ctx`; the default is gorilla's same-origin rule. `app.listen()` serves upgrades as it is;
 * {@link attach} serves a server made elsewhere. Closing a server (`server.close()`) closes its
 * websockets with 1001 Going Away, waiting up to `drainMs` for each closing handshake.
 *
 * @example
 * import Koa from 'koa';
 * import Router from '@koa/router';
 * import { websocket, websocketRoute } from '@silverback/koa';
 *
 * const app = new Koa();
 * const router = new Router();
 * app.use(websocket());
 * app.use(auth);
 * router.get('/rooms/:room', websocketRoute(async (conn, ctx) => {
 *   for await (const { type, data } of conn) await conn.writeMessage(type, data);
 * }));
 * app.use(router.routes());
 * app.listen(8080);
 *
 * @packageDocumentation
 */

export { websocket, attach, inject } from './middleware.js';
export { websocketRoute } from './route.js';
export type {
  KoaMiddleware,
  KoaRouteContext,
  KoaRouteOptions,
  KoaUpgrade,
  KoaUpgradeOptions,
  KoaWebSocket,
  KoaWebSocketHandler,
  KoaWebSocketOptions,
  RouteParams,
} from './types.js';
export type {
  CloseOptions,
  ConnectionFilter,
  InjectOptions,
  UpgradeServer,
} from '@silverback/websocket/adapter';
