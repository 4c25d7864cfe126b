/**
 * The types of @silverback/koa, and `ctx.ws` declared on Koa's context (declaration merging).
 *
 * @module
 */

import type Koa from 'koa';
import type { Conn } from '@silverback/websocket';
import type {
  CloseOptions,
  ConnectionFilter,
  UpgradeLayer,
  UpgradeLayerOptions,
  WebSocketRouteOptions,
} from '@silverback/websocket/adapter';

/**
 * Upgrader options for one upgrade, merged over the middleware's: `subprotocols`, `readLimit`,
 * `enableCompression`, `checkOrigin` (receiving Koa's `ctx`) and every other `UpgraderOptions`
 * field. Pass the same object each time: the upgrader built from it is cached per object.
 */
export type KoaUpgradeOptions = WebSocketRouteOptions<Koa.Context>;

/**
 * `ctx.ws`: upgrades the request and resolves to the connection. It exists only on upgrade
 * requests the {@link websocket} middleware handles; plain requests have `ctx.ws === null`.
 *
 * Call it at most once. From the call on, Koa no longer answers the request: the 101, or the
 * upgrader's refusal, is the answer.
 *
 * @throws {HandshakeError} when the upgrader refused the request (its HTTP answer, 400, 403, 405,
 *   426, 500 or 503, is already written; `status` says which), or when the request was already
 *   answered or upgraded (`status` 0). Left uncaught, the refusal ends the request quietly.
 * @throws {TimeoutError} when the handshake timed out.
 */
export type KoaUpgrade = (options?: KoaUpgradeOptions) => Promise<Conn>;

/**
 * A websocket route's handler: the connection and Koa's `ctx` (with `ctx.params` under
 * `@koa/router`). Throwing or rejecting closes the connection with 1011 and emits the error on the
 * app; returning leaves the connection open (it may have been handed to a hub).
 */
export type KoaWebSocketHandler<TContext = Koa.Context> = (
  conn: Conn,
  ctx: TContext,
) => void | Promise<void>;

/** The route parameters `@koa/router` puts on the context. */
export interface RouteParams {
  /** The path parameters of the matched route (`/rooms/:room` gives `ctx.params.room`). */
  params: Record<string, string>;
}

/** The context a {@link websocketRoute} handler receives. */
export type KoaRouteContext<
  TState = Koa.DefaultState,
  TContext = Koa.DefaultContext,
> = Koa.ParameterizedContext<TState, TContext & RouteParams>;

/**
 * Upgrader options for a {@link websocketRoute}: as {@link KoaUpgradeOptions}, with `checkOrigin`
 * receiving the route's context (router parameters included).
 */
export type KoaRouteOptions<
  TState = Koa.DefaultState,
  TContext = Koa.DefaultContext,
> = WebSocketRouteOptions<KoaRouteContext<TState, TContext>>;

/** Options of {@link websocket}. */
export type KoaWebSocketOptions = UpgradeLayerOptions<Koa.Context>;

/**
 * A Koa middleware that accepts any application's context type, so that `app.use` takes it
 * whatever the app's state and context types are.
 */
export type KoaMiddleware = <TState, TContext>(
  ctx: Koa.ParameterizedContext<TState, TContext>,
  next: Koa.Next,
) => Promise<void>;

/**
 * What {@link websocket} returns: the Koa middleware (give it to `app.use`) that is also the
 * application's websocket handle, for broadcasts and shutdown.
 */
export interface KoaWebSocket extends KoaMiddleware {
  /**
   * Returns the live connections: all of them, one route's (`{ route: '/rooms/:room' }`: the
   * `@koa/router` path pattern, or the request path outside a router), or one server's.
   */
  connections(filter?: ConnectionFilter): Conn[];
  /**
   * Closes every connection with `code` (default 1001 Going Away), waits up to `drainMs` for the
   * closing handshakes, and stops serving upgrades. Resolves once all are closed; never rejects.
   */
  close(options?: CloseOptions): Promise<void>;
  /** The shared upgrade layer underneath. */
  readonly layer: UpgradeLayer<Koa.Context>;
}

declare module 'koa' {
  interface ExtendableContext {
    /**
     * Upgrades this request to a WebSocket connection: `const conn = await ctx.ws()`. Set by
     * the `websocket()` middleware of `@silverback/koa`: a function on the upgrade requests it
     * handles, `null` on every other request (`undefined` without the middleware).
     */
    ws?: KoaUpgrade | null;
  }
}
