/**
 * The framework-neutral upgrade layer that the Express, Fastify and Koa adapters share
 * (`@silverback/websocket/adapter`). Applications use the adapters; this module is for people
 * writing one.
 *
 * ## How an adapter uses it
 *
 * An adapter creates one {@link UpgradeLayer} per application, giving it a `dispatch` function
 * that runs a request through the framework's own pipeline (Express: `app.handle`, Fastify:
 * `fastify.routing`, Koa: `app.callback()`), and attaches it to the application's servers. The
 * layer then:
 *
 * 1. installs one cooperative `'upgrade'` listener per server. It never removes or disturbs the
 *    server's other `'upgrade'` listeners, and it leaves alone every request its `shouldHandle`
 *    option declines (Vite HMR, socket.io and other apps keep theirs);
 * 2. runs each upgrade request it handles through `dispatch` with a real `ServerResponse` bound to
 *    the socket, so any middleware or hook can refuse the upgrade with a real HTTP status, headers
 *    and body. A route that answers 2xx is a plain HTTP route: its answer is replaced by 426
 *    Upgrade Required. Every request gets an answer: the framework's own 404 or 500, the
 *    adapter's, or 503 when the pipeline outlives the handshake timeout;
 * 3. lets a websocket route accept: the route finds the request's {@link PendingUpgrade} with
 *    {@link pendingUpgrade} and calls {@link PendingUpgrade.accept}, which runs the
 *    {@link index!Upgrader | Upgrader} with the route's options (its `checkOrigin` receives the
 *    framework's own request object) and returns the {@link index!Conn | Conn}. From then on
 *    nothing the framework does can write HTTP to the socket;
 * 4. runs the route's handler with {@link PendingUpgrade.run}: a handler that throws or rejects
 *    closes the connection with 1011 and is reported to the layer's `onError` hook (the
 *    framework's logger), never left as an unhandled rejection;
 * 5. tracks live connections per server and per route ({@link UpgradeLayer.connections}) and
 *    closes them with 1001 Going Away and a drain deadline when a server closes or on
 *    {@link UpgradeLayer.close}.
 *
 * {@link inject} opens a client {@link index!Conn | Conn} to an application without a listening
 * port: the request goes through the real server, the real layer and the real middleware stack,
 * over an in-memory socket pair ({@link memorySocketPair}).
 *
 * A websocket route that receives a plain request (no upgrade) answers it with
 * {@link respondUpgradeRequired}, or, to let a later plain route on the same path answer first,
 * lets it through with {@link replaceWithUpgradeRequired} turning the framework's final 404 into
 * 426.
 *
 * ## Per framework
 *
 * - Express (`@silverback/express`): `dispatch` calls the app, `app(req, res)`, whose final
 *   handler answers 404 and 500; `app.ws` registers a GET route whose last handler accepts.
 * - Fastify: `dispatch` is `fastify.routing(req, res)`, so `onRequest`, `preParsing`,
 *   `preValidation` and `preHandler` hooks and schema validation run before the route; the
 *   route's handler calls `reply.hijack()` and accepts with the `FastifyRequest`. A `preClose`
 *   hook calls {@link UpgradeLayer.close}; `injectWS` is {@link inject} on the instance.
 * - Koa: `dispatch` is `app.callback()`; `ctx.ws()` accepts with `ctx` and sets
 *   `ctx.respond = false`, and Koa's own 404 and 500 reach the client when no middleware accepts.
 *
 * Each adapter registers its application object with {@link registerInjectTarget}, so
 * `inject(app, path)` needs no server from the test.
 *
 * ## Where each part lives
 *
 * `upgrade-layer.ts` ({@link UpgradeLayer}, {@link PendingUpgrade}, {@link pendingUpgrade}),
 * `upgrade-required.ts` (the 426 answers), `server-close.ts` (the `server.close()` hook),
 * `memory-socket.ts` ({@link MemorySocket}, {@link memorySocketPair}) and `inject.ts`
 * ({@link inject}, {@link registerInjectTarget}); this module gathers their exports.
 *
 * @module
 */

export { inject, registerInjectTarget, type InjectOptions } from './inject.js';
export { MemorySocket, memorySocketPair, type StreamCallback } from './memory-socket.js';
export {
  describeHandlerClose,
  PendingUpgrade,
  pendingUpgrade,
  UpgradeLayer,
  type AcceptOptions,
  type CloseOptions,
  type ConnectionFilter,
  type PendingUpgradeState,
  type UpgradeDispatch,
  type UpgradeErrorContext,
  type UpgradeLayerOptions,
  type UpgradeServer,
  type WebSocketHandler,
  type WebSocketRouteOptions,
} from './upgrade-layer.js';
export { replaceWithUpgradeRequired, respondUpgradeRequired } from './upgrade-required.js';
