/**
 * WebSocket routes for Express 5 on silverback's gorilla/websocket API.
 *
 * `websocket(app, options)` makes an application serve WebSocket routes declared with
 * `app.ws(path, ...middleware, handler)` and `router.ws(path, ...middleware, handler)`. An
 * upgrade request runs through the application's own middleware stack and routers, exactly as
 * an HTTP request does, so:
 *
 * - middleware that answers (auth answering 401, say) refuses the upgrade with that answer: its
 *   status, headers and body reach the client, and the socket is closed;
 * - path parameters, mount paths and query strings work (`req.params`, `req.baseUrl`,
 *   `req.query`);
 * - an error thrown in middleware answers 500 (Express's own error handling runs);
 * - an upgrade to a path with no route answers Express's 404; to a plain HTTP route, 426 Upgrade
 *   Required (the route ran, its 2xx answer is replaced);
 * - a plain GET to a websocket route answers 426, unless a later plain route on the same path
 *   answers it.
 *
 * The handler receives the {@link Conn} and Express's `req`. When it throws or rejects, the
 * connection is closed with 1011 and the error goes to `onError` or, by default, to the app's
 * error-handling middleware and Express's final handler, as an HTTP route's error would (what
 * they write goes nowhere after the upgrade). Closing the server (`server.close()`) closes its
 * websockets with 1001 Going Away.
 *
 * @example
 * import express from 'express';
 * import { websocket } from '@silverback/express';
 *
 * const app = express();
 * const ws = websocket(app);
 * app.use(auth);
 * app.ws('/rooms/:room', async (conn, req) => {
 *   for await (const { type, data } of conn) await conn.writeMessage(type, data);
 * });
 * app.listen(8080);
 *
 * @packageDocumentation
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Application, type NextFunction, type Request, type Response } from 'express';
import type {
  ParamsDictionary,
  PathParams,
  Query,
  RequestHandler,
  RouteParameters,
} from 'express-serve-static-core';
import { isWebSocketUpgrade, type Conn } from '@silverback/websocket';
import {
  inject as injectUpgrade,
  pendingUpgrade,
  registerInjectTarget,
  replaceWithUpgradeRequired,
  UpgradeLayer,
  type CloseOptions,
  type ConnectionFilter,
  type InjectOptions,
  type UpgradeErrorContext,
  type UpgradeLayerOptions,
  type UpgradeServer,
  type WebSocketRouteOptions,
} from '@silverback/websocket/adapter';

export type { CloseOptions, ConnectionFilter, InjectOptions, UpgradeServer };

// -------------------------------------------------------------------------------------------------
// Types

/**
 * A websocket route's handler: the connection and Express's request (with typed `params` and
 * `query`). Throwing or rejecting closes the connection with 1011; returning leaves it open.
 */
export type WebSocketRequestHandler<P = ParamsDictionary, ReqQuery = Query> = (
  conn: Conn,
  req: Request<P, unknown, unknown, ReqQuery>,
) => void | Promise<void>;

/**
 * Upgrader options for one route, merged over the application's: `subprotocols`, `readLimit`,
 * `enableCompression`, `checkOrigin` (receiving Express's `req`) and every other
 * `UpgraderOptions` field.
 */
export type ExpressRouteOptions = WebSocketRouteOptions<Request>;

/** Options of {@link websocket}. */
export interface ExpressWebSocketOptions extends UpgradeLayerOptions<Request> {
  /**
   * Receives the errors of handlers that throw or reject after the upgrade (their connections
   * are closed with 1011). Default: the app's error-handling middleware, then Express's final
   * handler, which logs them unless the app's env is `'test'`.
   */
  onError?: (err: unknown, context: UpgradeErrorContext<Request>) => void;
  /**
   * A server (or servers) to serve, besides those `app.listen()` creates: for a server created
   * with `http.createServer(app)` or `https.createServer(options, app)`.
   */
  server?: UpgradeServer | readonly UpgradeServer[];
}

/**
 * What {@link websocket} returns: the application's websocket handle, for broadcasts, shutdown
 * and more servers.
 */
export interface ExpressWebSocket {
  /**
   * Returns the live connections: all of them, one route's (`{ route: '/rooms/:room' }`, the
   * mount path followed by the path given to `ws()`), or one server's.
   */
  connections(filter?: ConnectionFilter): Conn[];
  /**
   * Closes every connection with `code` (default 1001 Going Away), waits up to `drainMs` for the
   * closing handshakes, and stops serving upgrades. Resolves once all are closed; never rejects.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Serves upgrade requests arriving at one more server. */
  attach(server: UpgradeServer): void;
  /** The shared upgrade layer underneath. */
  readonly layer: UpgradeLayer<Request>;
}

/**
 * `app.ws` and `router.ws`: declares a websocket route, with optional per-route upgrader options,
 * route middleware, and the handler last. Returns the app or router, as `app.get` does.
 */
export interface WebSocketRouteMatcher<T> {
  <Route extends string, P = RouteParameters<Route>, ReqQuery = Query>(
    path: Route,
    ...handlers: [...middleware: RequestHandler<P>[], handler: WebSocketRequestHandler<P, ReqQuery>]
  ): T;
  <Route extends string, P = RouteParameters<Route>, ReqQuery = Query>(
    path: Route,
    options: ExpressRouteOptions,
    ...handlers: [...middleware: RequestHandler<P>[], handler: WebSocketRequestHandler<P, ReqQuery>]
  ): T;
  (
    path: PathParams,
    ...handlers: [...middleware: RequestHandler[], handler: WebSocketRequestHandler]
  ): T;
  (
    path: PathParams,
    options: ExpressRouteOptions,
    ...handlers: [...middleware: RequestHandler[], handler: WebSocketRequestHandler]
  ): T;
}

declare module 'express-serve-static-core' {
  interface IRouter {
    /**
     * Declares a websocket route: `ws(path, [options], ...middleware, handler)`. Upgrade requests
     * run through the app's middleware and this route's; the handler gets `(conn, req)`. Needs
     * `websocket(app)` from `@silverback/express`.
     */
    ws: WebSocketRouteMatcher<this>;
  }
}

// -------------------------------------------------------------------------------------------------
// websocket(app)

const handles = new WeakMap<Application, ExpressWebSocket>();

/**
 * Makes an Express application serve its websocket routes: attaches the upgrade layer to every
 * server `app.listen()` creates from now on and to `options.server`, and returns the handle.
 *
 * @param app - the Express 5 application.
 * @param options - application-wide upgrader options (`checkOrigin` receives Express's `req`),
 *   `shouldHandle` to leave some upgrade requests to other listeners, `drainMs`, `onError`, and
 *   `server`.
 * @throws {Error} when `websocket` was already called for this app.
 */
export function websocket(
  app: Application,
  options: ExpressWebSocketOptions = {},
): ExpressWebSocket {
  if (handles.has(app))
    throw new Error('silverback: websocket(app) was already called for this app');
  const { server, ...layerOptions } = options;
  const layer = new UpgradeLayer<Request>(
    (req, res) => {
      // The app's own pipeline, with Express's final handler for 404 and errors.
      (app as unknown as (req: IncomingMessage, res: ServerResponse) => void)(req, res);
    },
    { onError: (err, context) => reportError(app, err, context), ...layerOptions },
  );

  const listen = app.listen.bind(app) as (...args: unknown[]) => UpgradeServer;
  app.listen = ((...args: unknown[]) => {
    const listening = listen(...args);
    if (!layer.closed) layer.attach(listening);
    return listening;
  }) as Application['listen'];
  for (const each of server === undefined ? [] : Array.isArray(server) ? server : [server]) {
    layer.attach(each as UpgradeServer);
  }
  installWs(app);
  registerInjectTarget(app, () => layer.memoryServer());

  const handle: ExpressWebSocket = {
    connections: (filter) => layer.connections(filter),
    close: (closeOptions) => layer.close(closeOptions),
    attach: (each) => layer.attach(each),
    layer,
  };
  handles.set(app, handle);
  return handle;
}

/**
 * Opens a client {@link Conn} to a websocket route without a listening port: the request goes
 * through the application's real middleware stack over an in-memory socket.
 *
 * @param target - an app given to {@link websocket}, or a server it serves.
 * @param path - the path with its query string.
 * @throws {HandshakeError} when the app refused the upgrade: `status` and `response` (status,
 *   headers, body) carry its answer.
 * @throws {TimeoutError} when no answer came within `handshakeTimeout`.
 *
 * @example
 * const conn = await inject(app, '/rooms/42', { headers: { authorization: 'Bearer t' } });
 */
export function inject(
  target: Application | UpgradeServer,
  path: string,
  options?: InjectOptions,
): Promise<Conn> {
  return injectUpgrade(target, path, options);
}

// A handler's error goes where the app's HTTP errors go: its error-handling middleware, then
// Express's final handler, which logs it (what they write goes nowhere after the upgrade).
function reportError(app: Application, err: unknown, context: UpgradeErrorContext<Request>): void {
  const next = context.request?.next;
  if (context.phase === 'handler' && next !== undefined) {
    next(err);
    return;
  }
  // As Express's final handler does: quiet under test.
  if (app.get('env') === 'test') return;
  console.error(
    `silverback: websocket ${context.phase} error on ${context.req.url ?? ''}:`,
    err instanceof Error ? (err.stack ?? err) : err,
  );
}

// -------------------------------------------------------------------------------------------------
// ws routes

interface RouteTarget {
  get(path: PathParams, ...handlers: RequestHandler[]): unknown;
}

type WsFunction = (this: RouteTarget, path: PathParams, ...args: unknown[]) => RouteTarget;

const ws: WsFunction = function (this: RouteTarget, path: PathParams, ...args: unknown[]) {
  if (isApp(this) && !handles.has(this)) {
    throw new Error(
      `silverback: app.ws(${JSON.stringify(String(path))}) needs websocket(app) first: call ` +
        "websocket(app) from '@silverback/express' before declaring websocket routes (without " +
        'it, upgrade requests never reach them). For routes declared elsewhere, use ' +
        'express.Router() and router.ws(), mounted on the app given to websocket().',
    );
  }
  addWebSocketRoute(this, path, args);
  return this;
};

// An Express application, as opposed to a router: only applications listen.
function isApp(target: object): target is Application {
  const candidate = target as Partial<Record<'listen' | 'set' | 'handle', unknown>>;
  return typeof candidate.listen === 'function' && typeof candidate.set === 'function';
}

// Router#ws on every router (express.Router() and the app's own), and app.ws on every app
// created from now on; websocket(app) also sets it on apps created before this module loaded.
function installWs(app?: Application): void {
  const routerPrototype = (express.Router as unknown as { prototype: Record<string, unknown> })
    .prototype;
  if (routerPrototype.ws !== ws) routerPrototype.ws = ws;
  const appPrototype = express.application as unknown as Record<string, unknown>;
  if (appPrototype.ws !== ws) appPrototype.ws = ws;
  if (app !== undefined) (app as unknown as Record<string, unknown>).ws = ws;
}
installWs();

function addWebSocketRoute(target: RouteTarget, path: PathParams, args: unknown[]): void {
  let options: ExpressRouteOptions | undefined;
  if (
    args.length > 0 &&
    typeof args[0] === 'object' &&
    args[0] !== null &&
    !Array.isArray(args[0])
  ) {
    options = args.shift() as ExpressRouteOptions;
  }
  const handler = args.pop();
  if (typeof handler !== 'function') {
    throw new TypeError('silverback: ws(path, ...middleware, handler) needs a handler function');
  }
  const middleware = (args as (RequestHandler | RequestHandler[])[]).flat();
  for (const each of middleware) {
    if (typeof each !== 'function')
      throw new TypeError('silverback: ws() middleware must be functions');
  }
  const routeKey = typeof path === 'string' ? path : String(path);

  // Upgrade requests go on through the route's middleware to `accept`; a plain GET leaves the
  // route, and is answered 426 unless a later route on the same path answers it.
  const guard = (req: Request, res: Response, next: NextFunction): void => {
    const pending = pendingUpgrade<Request>(req);
    if (pending !== undefined && pending.state === 'routing') {
      next();
      return;
    }
    if (pending === undefined && isWebSocketUpgrade(req)) {
      // Node hands an upgrade request to the app as a plain one only when its server has no
      // 'upgrade' listener at all: websocket(app) does not serve that server.
      next(
        new Error(
          `silverback: a WebSocket upgrade for ${req.originalUrl} reached Express as a plain ` +
            "request: its server has no 'upgrade' listener. Call websocket(app) before " +
            'app.listen(), or websocket(app, { server }) for a server made with ' +
            'http.createServer(app).',
        ),
      );
      return;
    }
    const route: unknown = req.route;
    replaceWithUpgradeRequired(res, (status) => status === 404 && req.route === route);
    next('route');
  };

  const accept = (req: Request): void => {
    const pending = pendingUpgrade<Request>(req)!;
    pending.accept(req, { options, route: req.baseUrl + routeKey }).then(
      (conn) => pending.run(conn, req, handler as WebSocketRequestHandler),
      () => {
        // Refused: the upgrader answered the HTTP error and closed the socket.
      },
    );
  };

  target.get(path, guard as RequestHandler, ...middleware, accept as RequestHandler);
}
