/**
 * The adapter's public types, and their declaration merging into `fastify`: the `websocket` and
 * `wsHandler` route options, the websocket handler signature for `app.get(path, { websocket:
 * true }, handler)` and `app.route(...)`, and the `fastify.websocket` and `fastify.injectWS`
 * decorations.
 *
 * @module
 */

import type {
  ContextConfigDefault,
  FastifyBaseLogger,
  FastifyInstance,
  FastifyRequest,
  FastifySchema,
  FastifyTypeProvider,
  FastifyTypeProviderDefault,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerBase,
  RawServerDefault,
  RouteGenericInterface,
  RouteOptions,
} from 'fastify';
import type { Conn } from '@silverback/websocket';
import type {
  CloseOptions,
  ConnectionFilter,
  InjectOptions,
  UpgradeLayer,
  UpgradeLayerOptions,
  WebSocketRouteOptions,
} from '@silverback/websocket/adapter';

/**
 * A websocket route's handler: the connection and Fastify's request (with the route's typed
 * `params`, `query` and `headers`), with `this` the encapsulated instance the route was declared
 * on. When it throws or rejects, the connection is closed with 1011 and the error logged through
 * `request.log`; when it returns, the connection stays open (it may have been handed to a hub).
 */
export type WebSocketHandler<
  RawServer extends RawServerBase = RawServerDefault,
  RawRequest extends RawRequestDefaultExpression<RawServer> =
    RawRequestDefaultExpression<RawServer>,
  RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
  RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
  ContextConfig = ContextConfigDefault,
  SchemaCompiler extends FastifySchema = FastifySchema,
  TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
  Logger extends FastifyBaseLogger = FastifyBaseLogger,
> = (
  this: FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>,
  conn: Conn,
  request: FastifyRequest<
    RouteGeneric,
    RawServer,
    RawRequest,
    SchemaCompiler,
    TypeProvider,
    ContextConfig,
    Logger
  >,
) => void | Promise<unknown>;

/**
 * Upgrader options for one route (`{ websocket: { ... } }`), merged over the plugin's:
 * `subprotocols`, `readLimit`, `enableCompression`, `checkOrigin` (receiving the
 * `FastifyRequest`) and every other `UpgraderOptions` field.
 */
export type FastifyWebSocketRouteOptions = WebSocketRouteOptions<FastifyRequest>;

/**
 * Options of the plugin: application-wide upgrader options (`checkOrigin` receives the
 * `FastifyRequest`; the default is gorilla's same-origin rule), `shouldHandle` to leave some
 * upgrade requests to the server's other `'upgrade'` listeners, `drainMs` (how long a shutdown
 * waits for each closing handshake, default 5,000 ms) and `onError` (default: `request.log` for
 * handler errors, `fastify.log` otherwise).
 */
export type FastifyWebSocketOptions = UpgradeLayerOptions<FastifyRequest>;

/** Options of `fastify.injectWS`: request headers, subprotocols to offer, handshake timeout. */
export type InjectWSOptions = InjectOptions;

/**
 * `fastify.websocket`: the application's live connections and their shutdown.
 */
export interface FastifyWebSocket {
  /**
   * Returns the live connections: all of them, one route's (`{ route: '/rooms/:room' }`, the
   * route's full URL with its prefix), or one server's. For broadcasts.
   */
  connections(filter?: ConnectionFilter): Conn[];
  /**
   * Closes every connection with `code` (default 1001 Going Away), waits up to `drainMs` for
   * each closing handshake, and stops serving upgrades. Resolves once all are closed; never
   * rejects. `fastify.close()` calls it.
   */
  close(options?: CloseOptions): Promise<void>;
  /** The shared upgrade layer underneath. */
  readonly layer: UpgradeLayer<FastifyRequest>;
}

/** The HTTP methods a websocket route may declare: GET, and HEAD beside it (for plain HEADs). */
export type WebSocketRouteMethod = 'GET' | 'HEAD' | ('GET' | 'HEAD')[];

/**
 * `app.route()` options of a websocket-only route: `handler` is the websocket handler.
 */
export type WebSocketOnlyRouteOptions<
  RawServer extends RawServerBase = RawServerDefault,
  RawRequest extends RawRequestDefaultExpression<RawServer> =
    RawRequestDefaultExpression<RawServer>,
  RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
  RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
  ContextConfig = ContextConfigDefault,
  SchemaCompiler extends FastifySchema = FastifySchema,
  TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
  Logger extends FastifyBaseLogger = FastifyBaseLogger,
> = Omit<
  RouteOptions<
    RawServer,
    RawRequest,
    RawReply,
    RouteGeneric,
    ContextConfig,
    SchemaCompiler,
    TypeProvider,
    Logger
  >,
  'handler' | 'wsHandler' | 'websocket' | 'method'
> & {
  method: WebSocketRouteMethod;
  websocket: true | FastifyWebSocketRouteOptions;
  handler: WebSocketHandler<
    RawServer,
    RawRequest,
    RawReply,
    RouteGeneric,
    ContextConfig,
    NoInfer<SchemaCompiler>,
    TypeProvider,
    Logger
  >;
};

declare module 'fastify' {
  interface RouteShorthandOptions<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> =
      RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
    ContextConfig = ContextConfigDefault,
    SchemaCompiler extends FastifySchema = FastifySchema,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
  > {
    /**
     * Makes the route a websocket route (`@silverback/fastify`): an upgrade request runs the
     * route's hooks, then upgrades and calls the handler with `(conn, request)`. An object gives
     * the route's upgrader options. Only GET routes may set it.
     */
    websocket?: boolean | FastifyWebSocketRouteOptions;
    /**
     * The route's websocket handler, beside a plain `handler` that answers plain GETs on the
     * same path (`@silverback/fastify`).
     */
    wsHandler?: WebSocketHandler<
      RawServer,
      RawRequest,
      RawReply,
      RouteGeneric,
      ContextConfig,
      NoInfer<SchemaCompiler>,
      TypeProvider,
      Logger
    >;
  }

  interface RouteShorthandMethod<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> =
      RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
  > {
    /**
     * Declares a websocket route (`@silverback/fastify`): `app.get(path, { websocket: true },
     * async (conn, request) => { ... })`.
     */
    <
      RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
      ContextConfig = ContextConfigDefault,
      const SchemaCompiler extends FastifySchema = FastifySchema,
    >(
      path: string,
      opts: RouteShorthandOptions<
        RawServer,
        RawRequest,
        RawReply,
        RouteGeneric,
        ContextConfig,
        SchemaCompiler,
        TypeProvider,
        Logger
      > & { websocket: true | FastifyWebSocketRouteOptions },
      handler: WebSocketHandler<
        RawServer,
        RawRequest,
        RawReply,
        RouteGeneric,
        ContextConfig,
        SchemaCompiler,
        TypeProvider,
        Logger
      >,
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>;
  }

  interface FastifyInstance<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> =
      RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
  > {
    /** The application's websockets: `connections()` and `close()` (`@silverback/fastify`). */
    websocket: FastifyWebSocket;
    /**
     * Opens a client `Conn` to a websocket route without a listening port: the upgrade request
     * runs through Fastify's routing and hooks over an in-memory socket (`@silverback/fastify`).
     * Waits for `ready()` first.
     *
     * @throws {HandshakeError} when the route or a hook refused: `status` and `response` (status,
     *   headers, body) carry the answer.
     * @throws {TimeoutError} when no answer came within `handshakeTimeout`.
     */
    injectWS(path?: string, options?: InjectWSOptions): Promise<Conn>;
    /**
     * Declares a websocket-only route (`@silverback/fastify`): `{ method: 'GET', url, websocket:
     * true, handler: (conn, request) => ... }`.
     */
    route<
      RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
      ContextConfig = ContextConfigDefault,
      const SchemaCompiler extends FastifySchema = FastifySchema,
    >(
      opts: WebSocketOnlyRouteOptions<
        RawServer,
        RawRequest,
        RawReply,
        RouteGeneric,
        ContextConfig,
        SchemaCompiler,
        TypeProvider,
        Logger
      >,
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>;
  }
}
