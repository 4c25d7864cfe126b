/**
 * The upgrade layer: one application's `'upgrade'` listener, the run of each upgrade request
 * through the framework's pipeline ({@link PendingUpgrade}), and the connections its routes
 * accepted. The flow is told in the module documentation of `adapter.ts`.
 *
 * @module
 */

import {
  createServer,
  STATUS_CODES,
  ServerResponse,
  type IncomingMessage,
  type Server as HttpServer,
} from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import {
  CloseGoingAway,
  CloseInternalServerErr,
  CloseNoStatusReceived,
  CloseNormalClosure,
  DEFAULT_HANDSHAKE_TIMEOUT,
} from './constants.js';
import type { CloseStatus, Conn } from './conn.js';
import { publishRefused } from './diagnostics.js';
import { HandshakeError, isCloseError } from './errors.js';
import { headersArrived, watchHeadersTime } from './headers-timeout.js';
import { DEFAULT_ADAPTER_KEEPALIVE } from './keepalive.js';
import {
  checkSameOrigin,
  Upgrader,
  writeHttpError,
  type ResponseHeaders,
  type UpgraderOptions,
} from './server.js';
import { offServerClose, onServerClose } from './server-close.js';
import { replaceWithUpgradeRequired, silenceResponse } from './upgrade-required.js';

// -------------------------------------------------------------------------------------------------
// Types

/** A server the layer can attach to: Node's `http.Server` or `https.Server`. */
export type UpgradeServer = HttpServer | HttpsServer;

/**
 * A websocket route's handler: receives the connection and the framework's own request object
 * (Express `req`, `FastifyRequest`, Koa `ctx`). When it throws or rejects, the connection is
 * closed with 1011; when it returns, the connection stays open (it may have been handed to a hub).
 */
export type WebSocketHandler<TRequest> = (conn: Conn, request: TRequest) => void | Promise<void>;

/**
 * Upgrader options for a websocket route, as an adapter takes them globally and per route. Every
 * {@link UpgraderOptions} field passes through; `checkOrigin` receives the framework's own request
 * object instead of the raw `IncomingMessage`.
 */
export interface WebSocketRouteOptions<TRequest> extends Omit<UpgraderOptions, 'checkOrigin'> {
  /**
   * Decides whether the request's origin is allowed; refused requests get 403. It receives the
   * framework's request object. The default is gorilla's same-origin rule: a request whose
   * `Origin` host differs from its `Host` is refused. `() => true` allows every origin.
   */
  checkOrigin?: (request: TRequest) => boolean | Promise<boolean>;
}

/** Where an error reported to {@link UpgradeLayerOptions.onError} came from. */
export interface UpgradeErrorContext<TRequest> {
  /**
   * `'dispatch'`: the framework pipeline threw outside the framework's own error handling (the
   * client got 500); `'handler'`: a websocket handler threw or rejected after the upgrade (the
   * connection was closed with 1011).
   */
  phase: 'dispatch' | 'handler';
  /** The raw request. */
  req: IncomingMessage;
  /** The framework's request object, once a route accepted. */
  request?: TRequest;
  /** The connection, for a handler error. */
  conn?: Conn;
  /**
   * For a handler error: how the connection ends. The close the connection was already in (the
   * peer's 1009, say, or 1006 when it dropped), or the 1011 the layer closes it with now.
   */
  close?: CloseStatus;
}

/**
 * Says how a failed handler's connection ended, for a log line: "the peer closed the connection
 * with 1009", "connection closed with 1011".
 */
export function describeHandlerClose(close: CloseStatus | undefined): string {
  if (close === undefined) return 'closed';
  const reason = close.reason === '' ? '' : ` "${close.reason}"`;
  if (close.initiator === 'peer')
    return `the peer closed the connection with ${close.code}${reason}`;
  if (close.initiator === undefined) return `the connection dropped (${close.code})`;
  return `connection closed with ${close.code}${reason}`;
}

/** Options of an {@link UpgradeLayer}: the application-wide upgrader options and the layer's own. */
export interface UpgradeLayerOptions<TRequest> extends WebSocketRouteOptions<TRequest> {
  /**
   * Says which upgrade requests are this layer's. The others are left untouched for the server's
   * other `'upgrade'` listeners. Default: every upgrade request.
   */
  shouldHandle?: (req: IncomingMessage) => boolean;
  /**
   * How long (ms) a shutdown waits for each peer's close frame before it drops the TCP
   * connection. Default 5,000.
   */
  drainMs?: number;
  /**
   * How long (ms) a new connection to an attached server may take to send its first request
   * head, upgrade requests included; past it, it is answered 408 and closed. It bounds what slow
   * senders (one byte a second) can hold: Node's own `headersTimeout` is checked only every 30 s.
   * Default 10,000; 0 leaves it to Node.
   */
  headersTimeout?: number;
  /**
   * Reports an error the application did not handle: a handler that threw or rejected after the
   * upgrade, or a pipeline that threw. Adapters route it to the framework's logger. Default:
   * `console.error`.
   */
  onError?: (err: unknown, context: UpgradeErrorContext<TRequest>) => void;
}

/**
 * Runs a request through the framework's pipeline with a response bound to the request's socket.
 * A thrown error or rejected promise is reported and answered with 500 when nothing was sent yet.
 */
export type UpgradeDispatch = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Options of {@link UpgradeLayer.close}. */
export interface CloseOptions {
  /** The close code sent to every connection. Default 1001 (Going Away). */
  code?: number;
  /** The close reason. Default `''`. */
  reason?: string;
  /**
   * How long (ms) to wait for each peer's close frame before dropping its TCP connection.
   * Default: the layer's `drainMs`.
   */
  drainMs?: number;
}

/** Which connections {@link UpgradeLayer.connections} returns. */
export interface ConnectionFilter {
  /** Only those accepted on this route (the route key the adapter gave, such as its path). */
  route?: string;
  /** Only those upgraded on this server. */
  server?: UpgradeServer;
}

/** Options of {@link PendingUpgrade.accept}. */
export interface AcceptOptions<TRequest> {
  /** The route's upgrader options, merged over the layer's. */
  options?: WebSocketRouteOptions<TRequest>;
  /** The route key under which the connection is tracked (its path pattern, say). */
  route?: string;
  /** Headers for the 101 answer, added to those the pipeline set on the response. */
  headers?: ResponseHeaders;
}

/** Where a {@link PendingUpgrade} stands. */
export type PendingUpgradeState =
  /** In the framework's pipeline: nothing answered, no route accepted. */
  | 'routing'
  /** A route accepted; the handshake is running. */
  | 'accepting'
  /** The 101 went out: the request is a WebSocket connection. */
  | 'upgraded'
  /** An HTTP answer started (the pipeline's, the upgrader's refusal, or the layer's). */
  | 'answered';

// -------------------------------------------------------------------------------------------------
// The layer

const kPending = Symbol.for('silverback.websocket.pendingUpgrade');

interface PendingCarrier {
  [kPending]?: PendingUpgrade<unknown>;
}

type UpgradeListener = (req: unknown, socket: unknown, head: unknown) => void;

interface Tracked {
  route: string | undefined;
  server: UpgradeServer | undefined;
}

const DEFAULT_DRAIN_MS = 5000;
const DEFAULT_HEADERS_TIMEOUT = 10_000;

// Headers the pipeline may set that describe an HTTP body or connection, not a 101 answer.
const HEADERS_NOT_FOR_101 = new Set([
  'connection',
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'etag',
  'last-modified',
]);

/**
 * UpgradeLayer is one application's WebSocket upgrade machinery, shared by the framework
 * adapters: it owns an `'upgrade'` listener on each attached server, runs upgrade requests
 * through the framework's pipeline, and tracks and closes the connections its routes accept.
 * See the module documentation for the flow.
 *
 * @typeParam TRequest - the framework's request object handed to handlers and `checkOrigin`.
 */
export class UpgradeLayer<TRequest> {
  readonly #dispatch: UpgradeDispatch;
  readonly #options: UpgradeLayerOptions<TRequest>;
  readonly #upgraderOptions: UpgraderOptions;
  readonly #shouldHandle: (req: IncomingMessage) => boolean;
  readonly #drainMs: number;
  readonly #routingTimeout: number;
  readonly #listeners = new Map<UpgradeServer, UpgradeListener>();
  readonly #headerWatches = new Map<UpgradeServer, () => void>();
  readonly #headersTimeout: number;
  readonly #closingServers = new WeakSet<UpgradeServer>();
  readonly #conns = new Map<Conn, Tracked>();
  readonly #upgraders = new WeakMap<WebSocketRouteOptions<TRequest>, Upgrader>();
  readonly #defaultUpgrader: Upgrader;
  #memoryServer: HttpServer | null = null;
  #closed = false;

  /**
   * @param dispatch - runs a request through the framework's pipeline.
   * @param options - the application-wide upgrader options and the layer's own.
   */
  constructor(dispatch: UpgradeDispatch, options: UpgradeLayerOptions<TRequest> = {}) {
    this.#dispatch = dispatch;
    this.#options = { ...options };
    const {
      shouldHandle,
      drainMs,
      headersTimeout,
      onError: _onError,
      checkOrigin: _check,
      ...rest
    } = options;
    this.#headersTimeout = headersTimeout ?? DEFAULT_HEADERS_TIMEOUT;
    // Adapters keep connections alive by default: proxies drop idle ones, and peers vanish.
    this.#upgraderOptions = { ...rest, keepAlive: rest.keepAlive ?? DEFAULT_ADAPTER_KEEPALIVE };
    this.#shouldHandle = shouldHandle ?? (() => true);
    this.#drainMs = drainMs ?? DEFAULT_DRAIN_MS;
    this.#routingTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    this.#defaultUpgrader = this.#makeUpgrader(undefined);
  }

  /** The layer's options, as given. */
  get options(): Readonly<UpgradeLayerOptions<TRequest>> {
    return this.#options;
  }

  /** Whether {@link UpgradeLayer.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Attaches the layer to a server: adds its `'upgrade'` listener (once per server, beside any
   * others), and makes `server.close()` close the connections upgraded on that server with 1001
   * Going Away, waiting up to `drainMs` for each closing handshake. Attaching twice is harmless.
   *
   * @throws {Error} when the layer was closed.
   */
  attach(server: UpgradeServer): void {
    if (this.#closed) throw new Error('silverback: the websocket layer is closed');
    if (this.#listeners.has(server)) return;
    const listener: UpgradeListener = (req, socket, head) => {
      headersArrived(socket as Duplex);
      this.handleUpgrade(req as IncomingMessage, socket as Duplex, head as Buffer, server);
    };
    this.#listeners.set(server, listener);
    server.on('upgrade', listener);
    this.#headerWatches.set(server, watchHeadersTime(server, this.#headersTimeout));
    onServerClose(server, this, () => {
      void this.#closeServer(server);
    });
  }

  /**
   * Removes the layer's `'upgrade'` listener from a server. Connections already upgraded stay
   * open and tracked.
   */
  detach(server: UpgradeServer): void {
    const listener = this.#listeners.get(server);
    if (listener === undefined) return;
    this.#listeners.delete(server);
    server.off('upgrade', listener);
    this.#headerWatches.get(server)?.();
    this.#headerWatches.delete(server);
    offServerClose(server, this);
  }

  /** The servers the layer is attached to. */
  servers(): UpgradeServer[] {
    return [...this.#listeners.keys()];
  }

  /**
   * Handles one upgrade request, as the layer's `'upgrade'` listener does: returns `false` and
   * touches nothing when `shouldHandle` declines it; otherwise runs it through the pipeline and
   * returns `true`. Adapters call it directly only for servers they do not attach.
   *
   * @param server - the server that received the request, for per-server tracking.
   */
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    server?: UpgradeServer,
  ): boolean {
    let ours: boolean;
    try {
      ours = this.#shouldHandle(req);
    } catch (err) {
      this.report(err, { phase: 'dispatch', req });
      refuse(req, socket, 500, 'shouldHandle threw');
      return true;
    }
    if (!ours) return false;
    // Until a Conn owns the socket, a reset by the client must not crash the process.
    socket.on('error', noop);
    if (this.#closed || (server !== undefined && this.#closingServers.has(server))) {
      refuse(req, socket, 503, 'the server is shutting down');
      return true;
    }
    const res = new ServerResponse(req);
    const pending = new PendingUpgrade<TRequest>(this, req, socket, head, res, server);
    (req as PendingCarrier)[kPending] = pending as PendingUpgrade<unknown>;
    pending.start(this.#routingTimeout);
    try {
      const result = this.#dispatch(req, res);
      if (isPromiseLike(result)) {
        result.then(undefined, (err: unknown) => pending.pipelineFailed(err));
      }
    } catch (err) {
      pending.pipelineFailed(err);
    }
    return true;
  }

  /**
   * Returns the live connections, optionally only those of one route or one server: for
   * broadcasts and for shutdown. A connection leaves the list when its TCP connection closes.
   */
  connections(filter: ConnectionFilter = {}): Conn[] {
    const out: Conn[] = [];
    for (const [conn, tracked] of this.#conns) {
      // A destroyed socket's 'close' event may still be on its way (Node reports a server closed
      // first), but the connection is no longer live.
      if (conn.underlyingConn().destroyed) continue;
      if (filter.route !== undefined && tracked.route !== filter.route) continue;
      if (filter.server !== undefined && tracked.server !== filter.server) continue;
      out.push(conn);
    }
    return out;
  }

  /**
   * Shuts the layer down: detaches it from every server (new upgrade requests that still reach it
   * get 503), then closes every live connection with `code` (default 1001 Going Away) and waits
   * for the closing handshakes, dropping a peer's TCP connection after `drainMs`. Resolves once
   * every connection is closed; never rejects.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    this.#closed = true;
    for (const server of this.servers()) this.detach(server);
    await this.#closeConns(this.connections(), options);
  }

  /**
   * Returns a server that never listens, attached to this layer, for {@link inject}: requests
   * reach it over in-memory sockets. Created on first use.
   */
  memoryServer(): HttpServer {
    if (this.#memoryServer === null) {
      // Only upgrade requests are injected; a plain one still gets the framework's answer.
      this.#memoryServer = createServer((req, res) => {
        Promise.resolve()
          .then(() => this.#dispatch(req, res))
          .catch((err: unknown) => {
            this.report(err, { phase: 'dispatch', req });
            if (!res.headersSent) res.writeHead(500).end();
          });
      });
      this.attach(this.#memoryServer);
    }
    return this.#memoryServer;
  }

  /**
   * Reports an error to the `onError` hook (default `console.error`). A hook that throws is
   * ignored: reporting must not fail the caller.
   */
  report(err: unknown, context: UpgradeErrorContext<TRequest>): void {
    try {
      if (this.#options.onError !== undefined) this.#options.onError(err, context);
      else if (context.phase === 'handler') {
        console.error(
          `silverback: websocket handler failed; ${describeHandlerClose(context.close)}:`,
          err,
        );
      } else console.error('silverback: websocket error', err);
    } catch {
      // nothing left to tell
    }
  }

  /** @internal */
  isClosing(server: UpgradeServer | undefined): boolean {
    return this.#closed || (server !== undefined && this.#closingServers.has(server));
  }

  /** @internal */
  upgrader(options: WebSocketRouteOptions<TRequest> | undefined): Upgrader {
    if (options === undefined) return this.#defaultUpgrader;
    let upgrader = this.#upgraders.get(options);
    if (upgrader === undefined) {
      upgrader = this.#makeUpgrader(options);
      this.#upgraders.set(options, upgrader);
    }
    return upgrader;
  }

  /** @internal */
  track(conn: Conn, route: string | undefined, server: UpgradeServer | undefined): void {
    const socket = conn.underlyingConn();
    if (socket.destroyed) return;
    this.#conns.set(conn, { route, server });
    // On the socket's 'close' itself, not on `conn.closed`: a promise settles a step later, after
    // a server waiting for its last connection may already have reported itself closed.
    socket.once('close', () => this.#conns.delete(conn));
  }

  /** @internal */
  get drainMs(): number {
    return this.#drainMs;
  }

  #makeUpgrader(route: WebSocketRouteOptions<TRequest> | undefined): Upgrader {
    const check = route?.checkOrigin ?? this.#options.checkOrigin;
    const { checkOrigin: _check, ...routeRest } = route ?? {};
    return new Upgrader({
      ...this.#upgraderOptions,
      ...routeRest,
      // The Upgrader sees the raw request; the application's check wants the framework's.
      checkOrigin: (req) => {
        const pending = (req as PendingCarrier)[kPending];
        if (check === undefined || pending === undefined) return checkSameOrigin(req);
        return check(pending.request as TRequest);
      },
    });
  }

  async #closeServer(server: UpgradeServer): Promise<void> {
    this.#closingServers.add(server);
    this.detach(server);
    await this.#closeConns(this.connections({ server }), {});
  }

  async #closeConns(conns: Conn[], options: CloseOptions): Promise<void> {
    const code = options.code ?? CloseGoingAway;
    const reason = options.reason ?? '';
    const drainMs = options.drainMs ?? this.#drainMs;
    await Promise.all(conns.map((conn) => conn.closeGracefully(code, reason, drainMs)));
  }
}

// -------------------------------------------------------------------------------------------------
// One upgrade request

/**
 * PendingUpgrade is an upgrade request on its way through the framework's pipeline. A websocket
 * route finds it with {@link pendingUpgrade} and calls {@link PendingUpgrade.accept}; anything
 * else the pipeline does is an HTTP answer, written to the socket through {@link response}.
 *
 * @typeParam TRequest - the framework's request object.
 */
export class PendingUpgrade<TRequest> {
  /** The raw upgrade request. */
  readonly req: IncomingMessage;
  /** The request's socket. */
  readonly socket: Duplex;
  /** The response bound to the socket, which the framework answers through. */
  readonly response: ServerResponse;
  /** The server that received the request (undefined when the adapter called the layer itself). */
  readonly server: UpgradeServer | undefined;
  readonly #layer: UpgradeLayer<TRequest>;
  readonly #head: Buffer;
  #state: PendingUpgradeState = 'routing';
  #request: TRequest | undefined;
  #timer: NodeJS.Timeout | null = null;

  /** @internal */
  constructor(
    layer: UpgradeLayer<TRequest>,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    res: ServerResponse,
    server: UpgradeServer | undefined,
  ) {
    this.#layer = layer;
    this.req = req;
    this.socket = socket;
    this.#head = head;
    this.response = res;
    this.server = server;
  }

  /** Where the request stands. */
  get state(): PendingUpgradeState {
    return this.#state;
  }

  /** The framework's request object, once a route accepted. */
  get request(): TRequest | undefined {
    return this.#request;
  }

  /** The layer that dispatched the request. */
  get layer(): UpgradeLayer<TRequest> {
    return this.#layer;
  }

  /** @internal Binds the response to the socket and arms the routing deadline. */
  start(timeoutMs: number): void {
    const res = this.response;
    // The socket carries one answer, then closes: no keep-alive after a refused upgrade.
    res.shouldKeepAlive = false;
    res.assignSocket(this.socket as Parameters<ServerResponse['assignSocket']>[0]);
    replaceWithUpgradeRequired(res, isSuccess, () => this.#answering());
    res.once('finish', () => {
      endSocket(this.socket);
      const status = res.statusCode;
      const text = `${status} ${STATUS_CODES[status] ?? ''}`.trimEnd();
      publishRefused(
        this.req,
        status,
        new HandshakeError(`the application answered ${text} instead of upgrading`, status),
      );
    });
    this.socket.once('close', () => this.#clearTimer());
    if (timeoutMs > 0) {
      this.#timer = setTimeout(() => this.#routingTimedOut(), timeoutMs);
      this.#timer.unref();
    }
  }

  /**
   * Upgrades the request: runs the {@link Upgrader} with the layer's options and `options`
   * merged (its `checkOrigin` receives `request`), writes the 101 answer with the headers the
   * pipeline set on the response (cookies, say) plus `headers`, and returns the connection,
   * tracked under `route`. From this call on, the framework's response is cut off from the
   * socket: nothing it writes reaches the client.
   *
   * The connection reads from the socket at once and holds what arrives until the application
   * reads, so a handler that awaits something before its first read loses no message.
   *
   * @param request - the framework's request object, for `checkOrigin` and the handler.
   * @throws {HandshakeError} when the upgrader refused the request (it answered the HTTP error:
   *   400, 403, 405, 426 or 500, `status` says which), when the layer or the server is shutting
   *   down (503 answered), or when an HTTP answer already started (`status` 0, nothing written).
   * @throws {TimeoutError} when the handshake timed out.
   */
  async accept(request: TRequest, options: AcceptOptions<TRequest> = {}): Promise<Conn> {
    if (this.#state !== 'routing') {
      throw new HandshakeError(`cannot upgrade: the request is already ${this.#state}`, 0);
    }
    const res = this.response;
    if (res.headersSent) {
      this.#state = 'answered';
      throw new HandshakeError('cannot upgrade: an HTTP answer was already sent', 0);
    }
    this.#request = request;
    this.#state = 'accepting';
    this.#clearTimer();
    const headers = { ...headersFor101(res), ...options.headers };
    this.#detachResponse();
    if (this.#layer.isClosing(this.server)) {
      this.#state = 'answered';
      throw refuse(this.req, this.socket, 503, 'the server is shutting down');
    }
    let conn: Conn;
    try {
      conn = await this.#layer
        .upgrader(options.options)
        .upgrade(this.req, this.socket, this.#head, headers);
    } catch (err) {
      this.#state = 'answered';
      throw err;
    }
    this.#state = 'upgraded';
    this.socket.off('error', noop);
    this.#layer.track(conn, options.route, this.server);
    if (this.#layer.isClosing(this.server)) {
      // The server began to close while the handshake ran.
      void conn.closeGracefully(CloseGoingAway, '', this.#layer.drainMs);
    }
    return conn;
  }

  /**
   * Runs a websocket handler on an accepted connection. When it throws or rejects, the error goes
   * to the layer's `onError` hook (unless it is the peer's normal close) and the connection is
   * closed with 1011. When it returns, the connection stays open.
   */
  run(conn: Conn, request: TRequest, handler: WebSocketHandler<TRequest>): void {
    let result: void | Promise<void>;
    try {
      result = handler(conn, request);
    } catch (err) {
      this.handlerFailed(conn, request, err);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(undefined, (err: unknown) => this.handlerFailed(conn, request, err));
    }
  }

  /**
   * Reports a handler's failure and closes its connection with 1011 (Internal Server Error).
   * The peer closing normally (1000, 1001, or no code) is not reported.
   */
  handlerFailed(conn: Conn, request: TRequest, err: unknown): void {
    // A connection already closing keeps its code: the 1011 below is not sent then.
    const close = conn.closeStatus() ?? {
      code: CloseInternalServerErr,
      reason: '',
      initiator: 'local' as const,
    };
    if (!isCloseError(err, CloseNormalClosure, CloseGoingAway, CloseNoStatusReceived)) {
      this.#layer.report(err, { phase: 'handler', req: this.req, request, conn, close });
    }
    void conn.closeGracefully(CloseInternalServerErr, '', this.#layer.drainMs);
  }

  /** @internal The pipeline threw outside the framework's error handling. */
  pipelineFailed(err: unknown): void {
    this.#layer.report(err, { phase: 'dispatch', req: this.req });
    if (this.#state !== 'routing') return;
    const res = this.response;
    if (res.headersSent) {
      this.socket.destroy();
      return;
    }
    this.#state = 'answered';
    this.#detachResponse();
    refuse(this.req, this.socket, 500, 'the framework pipeline threw');
  }

  #answering(): void {
    if (this.#state === 'routing') this.#state = 'answered';
    this.#clearTimer();
  }

  #routingTimedOut(): void {
    this.#timer = null;
    if (this.#state !== 'routing') return;
    this.#state = 'answered';
    if (this.response.headersSent) {
      this.socket.destroy();
      return;
    }
    this.#detachResponse();
    refuse(this.req, this.socket, 503, 'no route accepted the upgrade request in time');
  }

  // Cuts the framework's response off the socket: whatever it writes later goes nowhere.
  #detachResponse(): void {
    const res = this.response;
    if (res.socket !== null) res.detachSocket(res.socket);
    silenceResponse(res);
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/**
 * Returns the pending upgrade that a {@link UpgradeLayer} is running through the pipeline for
 * this raw request, or `undefined` when the request is not an upgrade the layer handles (a plain
 * HTTP request, say).
 *
 * @typeParam TRequest - the framework's request object; the adapter that created the layer knows
 *   it.
 */
export function pendingUpgrade<TRequest = unknown>(
  req: IncomingMessage,
): PendingUpgrade<TRequest> | undefined {
  return (req as PendingCarrier)[kPending] as PendingUpgrade<TRequest> | undefined;
}

function headersFor101(res: ServerResponse): ResponseHeaders {
  const out: Record<string, string | string[] | number> = {};
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (value === undefined || HEADERS_NOT_FOR_101.has(name) || name.startsWith('sec-websocket-')) {
      continue;
    }
    out[name] = value;
  }
  return out;
}

// Ends a socket once its answer is written, and destroys it if the peer does not close its side.
function endSocket(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.end();
  socket.once('finish', () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}

// -------------------------------------------------------------------------------------------------
// Helpers

// Answers the layer's own HTTP error and tells the diagnostics channel why.
function refuse(
  req: IncomingMessage,
  socket: Duplex,
  status: number,
  message: string,
): HandshakeError {
  const err = new HandshakeError(message, status);
  publishRefused(req, status, err);
  writeHttpError(socket, status);
  return err;
}

function noop(): void {}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
