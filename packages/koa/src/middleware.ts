/**
 * The `websocket()` middleware: gives upgrade requests `ctx.ws()`, serves the servers of the app
 * it is used in, and is the app's websocket handle.
 *
 * @module
 */

import { format } from 'node:util';
import Koa from 'koa';
import { isWebSocketUpgrade, type Conn, type HandshakeError } from '@silverback/websocket';
import {
  inject as injectUpgrade,
  pendingUpgrade,
  registerInjectTarget,
  UpgradeLayer,
  type InjectOptions,
  type PendingUpgrade,
  type UpgradeErrorContext,
  type UpgradeServer,
} from '@silverback/websocket/adapter';
import type { KoaUpgradeOptions, KoaWebSocket, KoaWebSocketOptions } from './types.js';

/** What the package knows of a `websocket()` middleware besides its public face. */
interface HandleInternals {
  readonly layer: UpgradeLayer<Koa.Context>;
  /** Makes the handle serve `app`; a handle serves one app. */
  bind(app: Koa): void;
}

const internals = new WeakMap<object, HandleInternals>();

/**
 * Returns Koa middleware that lets websocket routes accept upgrade requests: on each upgrade
 * request it handles, `ctx.ws(options?)` upgrades the request and resolves to the `Conn`;
 * on every other request `ctx.ws` is `null`. Use it before the routes: `app.use(websocket())`.
 *
 * Upgrade requests run through the app's whole middleware stack, as HTTP requests do, so a
 * middleware that answers (auth answering 401) refuses the upgrade with that answer, an upgrade
 * that no middleware accepts gets Koa's 404, a thrown error Koa's 500 (emitted on the app), and
 * an upgrade to a plain HTTP route 426 Upgrade Required. `app.listen()` serves upgrades as it is;
 * servers made elsewhere need {@link attach}. Closing a server (`server.close()`) closes its
 * websockets with 1001 Going Away.
 *
 * The returned middleware is also the app's handle: `connections()` for broadcasts, `close()`
 * for shutdown. It serves one app.
 *
 * @param options - application-wide upgrader options (`checkOrigin` receives Koa's `ctx`; the
 *   default is gorilla's same-origin rule), `shouldHandle` to leave some upgrade requests to the
 *   server's other `'upgrade'` listeners, `drainMs`, and `onError` (default: emit on the app, as
 *   Koa does for its own errors).
 * @throws {TypeError} when an option that must be a function is not one.
 *
 * @example
 * app.use(websocket({ subprotocols: ['chat'] }));
 * app.use(async (ctx, next) => {
 *   if (ctx.path === '/echo' && ctx.ws) {
 *     const conn = await ctx.ws();
 *     for await (const { type, data } of conn) await conn.writeMessage(type, data);
 *   } else await next();
 * });
 * app.listen(8080);
 */
export function websocket(options: KoaWebSocketOptions = {}): KoaWebSocket {
  for (const name of ['checkOrigin', 'shouldHandle', 'onError'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new TypeError(`silverback: websocket({ ${name} }) must be a function`);
    }
  }
  let app: Koa | undefined;
  const layer = new UpgradeLayer<Koa.Context>(
    (req, res) => {
      if (app === undefined) throw new Error('silverback: websocket() is not used by any app');
      // The app's own pipeline, composed now: Koa's error handling and respond step included.
      return app.callback()(req, res);
    },
    { onError: (err, context) => reportOnApp(app, err, context), ...options },
  );
  const bind = (target: Koa): void => {
    if (app === target) return;
    if (app !== undefined) {
      throw new Error('silverback: a websocket() middleware serves one app; create one per app');
    }
    app = target;
    registerInjectTarget(target, () => layer.memoryServer());
  };

  const middleware = async function websocket(ctx: Koa.Context, next: Koa.Next): Promise<void> {
    bind(ctx.app);
    const pending = pendingUpgrade<Koa.Context>(ctx.req);
    if (pending === undefined && isWebSocketUpgrade(ctx.req)) {
      // Node hands an upgrade request to the request handler only when its server has no
      // 'upgrade' listener at all: no websocket() serves that server.
      throw new Error(
        'silverback: a WebSocket upgrade reached Koa as a plain request: its server has no ' +
          "'upgrade' listener; app.listen() or attach(app, server) makes websocket() serve it",
      );
    }
    if (pending === undefined || pending.layer !== layer || pending.state !== 'routing') {
      ctx.ws = null;
      await next();
      return;
    }
    const upgrade = new UpgradeRequest(pending, ctx);
    ctx.ws = (upgradeOptions) => upgrade.accept(upgradeOptions);
    try {
      await next();
    } catch (err) {
      // Before ctx.ws() the request is plain HTTP: Koa's error handling answers it.
      if (!upgrade.started) throw err;
      upgrade.fail(err);
    }
  };
  internals.set(middleware, { layer, bind });
  return Object.assign(middleware, {
    connections: layer.connections.bind(layer),
    close: layer.close.bind(layer),
    layer,
  });
}

/**
 * Makes an app's `websocket()` middleware serve the upgrade requests of a server created
 * elsewhere (`http.createServer(app.callback())`, an `https` server, a server shared with other
 * apps). Call it for each server; `app.listen()` needs no call. Attaching twice is harmless.
 *
 * @throws {TypeError} when the app does not use a `websocket()` middleware.
 * @throws {Error} when the middleware's `close()` was called.
 */
export function attach<TState, TContext>(app: Koa<TState, TContext>, server: UpgradeServer): void {
  handleFor(app).layer.attach(server);
}

/**
 * Opens a client `Conn` to a websocket route without a listening port: the upgrade request
 * goes through the app's real middleware stack over an in-memory socket.
 *
 * @param target - a Koa app that uses `websocket()`, or a server it serves.
 * @param path - the path with its query string.
 * @throws {HandshakeError} when the app refused the upgrade: `status` and `response` (status,
 *   headers, body) carry its answer.
 * @throws {TimeoutError} when no answer came within `handshakeTimeout`.
 * @throws {TypeError} when the app does not use a `websocket()` middleware.
 *
 * @example
 * const conn = await inject(app, '/rooms/42', { headers: { authorization: 'Bearer t' } });
 */
export function inject<TState, TContext>(
  target: Koa<TState, TContext> | UpgradeServer,
  path: string,
  options?: InjectOptions,
): Promise<Conn> {
  if (isKoaApp(target)) handleFor(target);
  return injectUpgrade(target, path, options);
}

// Finds the app's websocket() middleware among its own (not inside composed or mounted ones)
// and binds it to the app.
function handleFor<TState, TContext>(target: Koa<TState, TContext>): HandleInternals {
  const app = target as unknown as Koa;
  for (const each of app.middleware) {
    const handle = internals.get(each);
    if (handle === undefined) continue;
    handle.bind(app);
    return handle;
  }
  throw new TypeError('silverback: the app uses no websocket() middleware; app.use(websocket())');
}

function isKoaApp(target: object): target is Koa {
  const candidate = target as { middleware?: unknown; callback?: unknown };
  return Array.isArray(candidate.middleware) && typeof candidate.callback === 'function';
}

// -------------------------------------------------------------------------------------------------
// app.listen()

/**
 * Koa's `listen()` creates its server and starts listening in one call, and the middleware
 * never sees the app before a request arrives, which for an upgrade request would be too late
 * (without an `'upgrade'` listener Node hands it to Koa as a plain request). So `listen` is
 * wrapped once, on Koa's prototype, to attach every `websocket()` middleware the app uses to
 * the server it creates. Apps that use none are not affected.
 */
function serveUpgradesOnListen(): void {
  const prototype = Koa.prototype as unknown as Record<PropertyKey, unknown>;
  if (prototype[kListenWrapped] === true) return;
  const listen = prototype.listen as (this: Koa, ...args: unknown[]) => UpgradeServer;
  prototype.listen = function listenServingUpgrades(this: Koa, ...args: unknown[]) {
    const server = listen.apply(this, args);
    for (const each of this.middleware) {
      const handle = internals.get(each);
      if (handle === undefined || handle.layer.closed) continue;
      handle.bind(this);
      handle.layer.attach(server);
    }
    return server;
  };
  prototype[kListenWrapped] = true;
}
// Per copy of this module: each copy wraps `listen` for the middleware it created.
const kListenWrapped = Symbol('silverback.koa.listenWrapped');
serveUpgradesOnListen();

// -------------------------------------------------------------------------------------------------
// One upgrade request

/**
 * The `ctx.ws()` side of one upgrade request: accepts it, and after the upgrade keeps Koa from
 * answering or from reporting the socket's errors as its own.
 */
class UpgradeRequest {
  readonly #pending: PendingUpgrade<Koa.Context>;
  readonly #ctx: Koa.Context;
  #accepted: Promise<Conn> | undefined;
  #refusal: unknown;

  constructor(pending: PendingUpgrade<Koa.Context>, ctx: Koa.Context) {
    this.#pending = pending;
    this.#ctx = ctx;
  }

  /** Whether `ctx.ws()` was called. */
  get started(): boolean {
    return this.#accepted !== undefined;
  }

  accept(options: KoaUpgradeOptions | undefined): Promise<Conn> {
    const pending = this.#pending;
    const ctx = this.#ctx;
    if (this.#accepted !== undefined || pending.state !== 'routing' || ctx.res.headersSent) {
      // Rejects, saying why, and touches nothing.
      return pending.accept(ctx, { options });
    }
    ctx.respond = false;
    this.#silenceKoa();
    // @koa/router's path pattern, so that connections({ route }) takes what the app declared.
    const matched: unknown = ctx._matchedRoute;
    const route = typeof matched === 'string' ? matched : ctx.path;
    const accepted = pending.accept(ctx, { options, route }).then(
      (conn) => {
        ctx.status = 101; // for logging middleware upstream
        return conn;
      },
      (err: unknown) => {
        this.#refusal = err;
        const status = (err as Partial<HandshakeError>).status;
        if (typeof status === 'number' && status >= 100) ctx.status = status;
        throw err;
      },
    );
    // A refusal is the caller's to see; left unobserved it must not become an unhandled rejection.
    accepted.catch(noop);
    this.#accepted = accepted;
    return accepted;
  }

  /**
   * Handles an error that left the middleware below after `ctx.ws()`: closes the connection with
   * 1011 and reports the error. The refusal itself, left uncaught, was already answered.
   */
  fail(err: unknown): void {
    const pending = this.#pending;
    const ctx = this.#ctx;
    void this.#accepted!.then(
      (conn) => pending.handlerFailed(conn, ctx, err),
      () => {
        if (err !== this.#refusal) {
          pending.layer.report(err, { phase: 'handler', req: pending.req, request: ctx });
        }
      },
    );
  }

  // Koa's handleRequest watches the response with on-finished, which reports the socket's errors
  // to ctx.onerror. Once the socket belongs to the connection, those errors are the connection's
  // (its reader sees them); errors from upstream middleware are still emitted on the app, but
  // nothing may be written as HTTP.
  #silenceKoa(): void {
    const ctx = this.#ctx;
    const socketErrors = new WeakSet<object>();
    this.#pending.socket.prependListener('error', (err: Error) => socketErrors.add(err));
    ctx.onerror = (err: Error | null | undefined) => {
      if (err === null || err === undefined || socketErrors.has(err)) return;
      emitOnApp(ctx.app, err, ctx);
    };
  }
}

// -------------------------------------------------------------------------------------------------
// Errors

function reportOnApp(
  app: Koa | undefined,
  err: unknown,
  context: UpgradeErrorContext<Koa.Context>,
): void {
  if (app === undefined) {
    console.error(`silverback: websocket ${context.phase} error:`, err);
    return;
  }
  emitOnApp(app, err, context.request);
}

/** Emits an error on the app as Koa's own `ctx.onerror` does, Error instances only. */
function emitOnApp(app: Koa, err: unknown, ctx: Koa.Context | undefined): void {
  const isError = Object.prototype.toString.call(err) === '[object Error]' || err instanceof Error;
  const error = isError ? (err as Error) : new Error(format('non-error thrown: %j', err));
  if (app.listenerCount('error') === 0) app.onerror(error);
  else app.emit('error', error, ctx);
}

function noop(): void {}
