/**
 * The server side of the opening handshake (RFC 6455 section 4.2): gorilla's `Upgrader`.
 *
 * @module
 */

import {
  STATUS_CODES,
  validateHeaderName,
  validateHeaderValue,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import type {
  Http2ServerRequest,
  Http2ServerResponse,
  IncomingHttpHeaders,
  OutgoingHttpHeaders as Http2OutgoingHeaders,
  ServerHttp2Stream,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import type { BufferPool } from './buffer-pool.js';
import {
  compressionOptions,
  negotiateServer,
  PerMessageDeflate,
  type CompressionOptions,
} from './compression.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from './constants.js';
import { checkBufferLimitOptions, Conn, type BufferLimitOptions } from './conn.js';
import { publishRefused, traceUpgrade } from './diagnostics.js';
import { keepAliveTiming, type KeepAliveOption } from './keepalive.js';
import { rateLimiter, type RateLimitOption } from './rate-limit.js';
import { HandshakeError, TimeoutError } from './errors.js';
import {
  computeAcceptKey,
  headerValue,
  isValidChallengeKey,
  originHost,
  parseList,
  tokenListContainsValue,
} from './handshake.js';
import {
  acceptStream,
  checkExtendedConnect,
  compatRequest,
  forbiddenInHttp2,
  isHttp2Request,
  isWebSocketConnect,
  refuseStream,
  type UpgradeRequest,
} from './http2-server.js';
import { http2StreamTransport, type Transport } from './transport.js';

/** Writes the HTTP answer to a refused upgrade. Gorilla: `Upgrader.Error`. */
export type UpgradeErrorHandler = (
  req: IncomingMessage,
  socket: Duplex,
  status: number,
  reason: Error,
) => void;

/** Options of an {@link Upgrader}. Gorilla: the fields of `Upgrader`. */
export interface UpgraderOptions extends BufferLimitOptions {
  /**
   * How long the handshake may take, in milliseconds, from the call to `upgrade` to the 101
   * answer (an asynchronous `checkOrigin` included). Past it the socket is destroyed and
   * `upgrade` rejects with {@link TimeoutError}. Default 10,000; 0 for none.
   */
  handshakeTimeout?: number;
  /**
   * How much unread message data (bytes) a connection buffers before it stops reading from the
   * socket until the application reads. Default 65,536.
   */
  readBufferSize?: number;
  /**
   * The largest buffer (bytes) that gathers frames for one socket write: frames written in one
   * tick, or while the socket is still busy with earlier ones, are copied into batch buffers that
   * start at 1 KiB and double up to this size. Frames larger than it go to the socket without a
   * copy. Default 16,384.
   */
  writeBufferSize?: number;
  /**
   * Where batch buffers of `writeBufferSize` come from and return to once written; by default
   * they are allocated as needed. An idle connection holds no write buffer either way.
   */
  writeBufferPool?: BufferPool;
  /**
   * The subprotocols the server supports. The client's first offer found here is selected. When
   * unset, a `Sec-WebSocket-Protocol` in `upgrade`'s response headers is used as the answer.
   */
  subprotocols?: string[];
  /**
   * Writes the HTTP answer when the handshake fails, instead of the default plain-text answer.
   * It must write synchronously: the socket is ended when it returns. HTTP/1.1 only: over
   * HTTP/2 the refusal is the status on the stream with a plain-text body.
   */
  error?: UpgradeErrorHandler;
  /**
   * Decides whether the request's origin is allowed; refused requests get 403. The default
   * refuses a request whose `Origin` host differs from its `Host` (over HTTP/2, its
   * `:authority`): gorilla's same-origin rule. `() => true` allows every origin. Over HTTP/2 it
   * receives an `Http2ServerRequest`.
   */
  checkOrigin?(req: UpgradeRequest): boolean | Promise<boolean>;
  /**
   * Whether to negotiate permessage-deflate (RFC 7692) when the client offers it: `true` for the
   * defaults, or {@link CompressionOptions} to set context takeover, window sizes, level and
   * threshold. Offers the server cannot meet are declined and the connection runs uncompressed.
   */
  enableCompression?: boolean | CompressionOptions;
  /** The read limit of each connection, in bytes after decompression. Default 64 MiB. */
  readLimit?: number;
  /**
   * The heartbeat: `{ interval, timeout }` sends a ping after `interval` ms in which nothing
   * arrived from the peer, and closes the connection when nothing arrives within `timeout` ms of
   * it (reads then reject with a {@link TimeoutError} whose `code` is `'ERR_WS_KEEPALIVE'`; the
   * connection ends with 1006). It works whether or not the application is reading, on one
   * timer per connection. Default `false` (none); the framework adapters default to
   * `{ interval: 30_000, timeout: 30_000 }`.
   */
  keepAlive?: KeepAliveOption;
  /**
   * Limits on what the peer may send: `{ messagesPerSecond, messageBurst, bytesPerSecond,
   * byteBurst }` (see `RateLimitOptions`). A peer past a limit fails the connection with
   * 1008 (policy violation) and reads reject with a {@link RateLimitError}. Default `false`
   * (none).
   */
  rateLimit?: RateLimitOption;
}

/** Headers `upgrade` may add to the 101 answer (cookies, say). */
export type ResponseHeaders = OutgoingHttpHeaders | Record<string, string | string[] | number>;

const EMPTY = Buffer.alloc(0);

// Marks a request (or stream) whose upgrade was attempted, across copies of this package.
const kUpgrading = Symbol.for('silverback.websocket.upgrading');

interface UpgradeMark {
  [kUpgrading]?: true;
}

// Whether `target` was upgraded before; marks it.
function upgradedBefore(target: object): boolean {
  const mark = target as UpgradeMark;
  if (mark[kUpgrading] === true) return true;
  mark[kUpgrading] = true;
  return false;
}

function alreadyUpgraded(): Promise<never> {
  return Promise.reject(
    new HandshakeError(
      'upgrade() was already called for this request: a request is upgraded once, and its ' +
        'socket belongs to the first call (its connection, or its HTTP error answer)',
      0,
    ),
  );
}

// Publishes a failed handshake on the refused channel, and passes the failure on.
function reportRefusal(request: () => UpgradeRequest): (err: unknown) => never {
  return (err) => {
    if (err instanceof HandshakeError) publishRefused(request, err.status, err);
    else if (err instanceof TimeoutError) publishRefused(request, 0, err);
    throw err;
  };
}

/** Answers a refused handshake in the request's protocol and returns the error to reject with. */
type Refuse = (
  status: number,
  message: string,
  headers?: Record<string, string>,
  cause?: unknown,
) => HandshakeError;

/** What a handshake agreed on, whichever protocol carried it. */
interface Agreement {
  protocol: string;
  negotiated: ReturnType<typeof negotiateServer>;
  extra: Map<string, HeaderLines>;
}

/**
 * Upgrader turns HTTP upgrade requests into WebSocket connections. Gorilla: `Upgrader`.
 *
 * Over HTTP/2 (RFC 8441), with a server created with `settings: { enableConnectProtocol: true }`:
 * `upgrader.upgrade(req, res)` in its `'connect'` handler (the compatibility API), or
 * `upgrader.upgradeStream(stream, headers)` in its `'stream'` handler.
 *
 * @example
 * const upgrader = new Upgrader({ subprotocols: ['chat'] });
 * server.on('upgrade', async (req, socket, head) => {
 *   let conn;
 *   try {
 *     conn = await upgrader.upgrade(req, socket, head);
 *   } catch {
 *     return; // the upgrader answered the HTTP error and closed the socket
 *   }
 *   for await (const { type, data } of conn) await conn.writeMessage(type, data);
 * });
 */
export class Upgrader {
  readonly #options: UpgraderOptions;
  readonly #handshakeTimeout: number;
  readonly #compression: CompressionOptions | undefined;

  /**
   * @param options - see {@link UpgraderOptions}.
   * @throws {RangeError} for invalid compression options, keepAlive timing, rate limits or
   *   `maxBufferedAmount`.
   * @throws {TypeError} when `closeOnBufferFull` is not a boolean.
   */
  constructor(options: UpgraderOptions = {}) {
    checkBufferLimitOptions(options);
    keepAliveTiming(options.keepAlive);
    rateLimiter(options.rateLimit);
    this.#options = { ...options };
    this.#compression = compressionOptions(options.enableCompression);
    this.#handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  }

  /**
   * Upgrades an HTTP request to a WebSocket connection: checks the request as RFC 6455 section
   * 4.2.1 requires, selects a subprotocol and extensions, writes the 101 answer (with
   * `responseHeaders`) and returns the connection. On failure it answers the HTTP error itself
   * (405 not GET; 426 when the Upgrade header lacks `websocket`; 400 when Connection lacks
   * `upgrade`, the Host header is missing or the key is not 16 bytes of base64; 426 with
   * `Sec-WebSocket-Version: 13` for another version; 403 when `checkOrigin` refuses), closes the
   * socket, and rejects. Gorilla: `Upgrader.Upgrade`.
   *
   * Over HTTP/2, call it as `upgrade(req, res, responseHeaders)` from the server's `'connect'`
   * event (the compatibility API): see {@link Upgrader.upgradeStream} for what happens.
   *
   * @param req - the request from the server's `'upgrade'` event.
   * @param socket - the socket from that event.
   * @param head - the bytes read past the request (the `'upgrade'` event's third argument).
   * @param responseHeaders - headers to add to the 101 answer.
   * @throws {HandshakeError} when the request is refused (`status` is the HTTP status sent), or
   *   when `upgrade` was already called for this request (`status` 0; the socket is left alone).
   * @throws {TimeoutError} when the handshake outlives `handshakeTimeout`.
   */
  upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head?: Buffer,
    responseHeaders?: ResponseHeaders,
  ): Promise<Conn>;
  /**
   * Upgrades an RFC 8441 extended CONNECT that reached an HTTP/2 server's `'connect'` event (the
   * compatibility API): the same as {@link Upgrader.upgradeStream} on `req.stream`, with
   * `checkOrigin` receiving `req`.
   *
   * @param req - the request from the `'connect'` event.
   * @param res - the response from that event; the answer goes on its stream.
   * @param responseHeaders - headers to add to the 200 answer.
   * @throws {HandshakeError} when the request is refused (`status` is the HTTP status sent).
   * @throws {TimeoutError} when the handshake outlives `handshakeTimeout`.
   */
  upgrade(
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    responseHeaders?: ResponseHeaders,
  ): Promise<Conn>;
  upgrade(
    req: UpgradeRequest,
    target: Duplex | Http2ServerResponse,
    third?: Buffer | ResponseHeaders,
    fourth?: ResponseHeaders,
  ): Promise<Conn> {
    if (upgradedBefore(req)) return alreadyUpgraded();
    if (isHttp2Request(req)) {
      return this.#upgradeStream(req.stream, req.headers, third as ResponseHeaders, () => req);
    }
    const socket = target as Duplex;
    // A socket error must not crash the process, before the connection takes the socket over
    // (it adds its own listener) nor after a refusal, while the peer may reset the connection
    // before it has read the answer: the listener stays.
    socket.on('error', ignoreSocketError);
    const request = (): UpgradeRequest => req;
    return traceUpgrade(request, socket, () =>
      this.#guard(this.#handshake(req, socket, (third as Buffer) ?? EMPTY, fourth), () =>
        socket.destroy(),
      ).catch(reportRefusal(request)),
    );
  }

  /**
   * Upgrades an RFC 8441 extended CONNECT on an HTTP/2 stream, from the server's `'stream'`
   * event, to a WebSocket connection carried by that stream. The request is checked as RFC 8441
   * section 5 requires (`:method` CONNECT, `:protocol` websocket, `:scheme`, `:path`,
   * `:authority`, `sec-websocket-version` 13, no `Connection` or `Upgrade`; `Sec-WebSocket-Key`
   * is not used), then origin, subprotocol and permessage-deflate as over HTTP/1.1; the answer is
   * 200 with `responseHeaders`, not 101. A refusal answers its status on the stream (405 not
   * CONNECT, 400 for a malformed request or another version, 403 when `checkOrigin` refuses,
   * 500 for bad `responseHeaders`) and ends it. Closing the connection ends the stream, never
   * the session, which may carry many WebSockets; the stream's flow control is the
   * connection's backpressure.
   *
   * @param stream - the stream from the `'stream'` event.
   * @param headers - the request headers from that event.
   * @param responseHeaders - headers to add to the 200 answer.
   * @throws {HandshakeError} when the request is refused (`status` is the HTTP status sent).
   * @throws {TimeoutError} when the handshake outlives `handshakeTimeout` (the stream is reset).
   */
  upgradeStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    responseHeaders?: ResponseHeaders,
  ): Promise<Conn> {
    if (upgradedBefore(stream)) return alreadyUpgraded();
    let compat: UpgradeRequest | undefined;
    return this.#upgradeStream(
      stream,
      headers,
      responseHeaders,
      () => (compat ??= compatRequest(stream, headers)),
    );
  }

  #upgradeStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    responseHeaders: ResponseHeaders | undefined,
    request: () => UpgradeRequest,
  ): Promise<Conn> {
    // As for a socket: a reset by the peer must not crash the process, even after a refusal.
    stream.on('error', ignoreSocketError);
    const transport = http2StreamTransport(stream);
    return traceUpgrade(request, stream, () =>
      this.#guard(this.#handshakeStream(stream, headers, responseHeaders, request, transport), () =>
        transport.abort(),
      ).catch(reportRefusal(request)),
    );
  }

  // Bounds a handshake by handshakeTimeout: past it the connection is dropped.
  #guard(attempt: Promise<Conn>, drop: () => void): Promise<Conn> {
    const timeout = this.#handshakeTimeout;
    let timer: NodeJS.Timeout | undefined;
    const guarded =
      timeout > 0
        ? Promise.race([
            attempt,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                drop();
                reject(new TimeoutError('handshake'));
              }, timeout);
              timer.unref();
            }),
          ])
        : attempt;
    return guarded.finally(() => clearTimeout(timer));
  }

  async #handshake(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    responseHeaders: ResponseHeaders | undefined,
  ): Promise<Conn> {
    const refuse: Refuse = (status, message, headers = {}, cause) =>
      this.#refuse(req, socket, status, message, headers, cause);
    const headers = req.headers;
    if (req.method !== 'GET') {
      throw refuse(405, 'request method is not GET', { Allow: 'GET' });
    }
    if (!tokenListContainsValue(headerValue(headers, 'upgrade'), 'websocket')) {
      throw refuse(426, "'websocket' token not found in 'Upgrade' header", {
        Upgrade: 'websocket',
      });
    }
    if (!tokenListContainsValue(headerValue(headers, 'connection'), 'upgrade')) {
      throw refuse(400, "'upgrade' token not found in 'Connection' header");
    }
    if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) {
      throw refuse(400, 'HTTP/1.1 or later required');
    }
    if (headers.host === undefined || headers.host === '') {
      throw refuse(400, "missing 'Host' header");
    }
    if (headerValue(headers, 'sec-websocket-version') !== '13') {
      throw refuse(426, "unsupported version: 13 not found in 'Sec-WebSocket-Version' header", {
        'Sec-WebSocket-Version': '13',
      });
    }
    const key = headerValue(headers, 'sec-websocket-key');
    if (!isValidChallengeKey(key)) {
      throw refuse(400, "'Sec-WebSocket-Key' header must be Base64 encoded value of 16 bytes");
    }
    const agreed = await this.#agree(headers, () => req, responseHeaders, refuse, false);
    if (socket.destroyed || !socket.writable) {
      throw new HandshakeError('connection closed during the handshake', 0);
    }

    const { protocol, negotiated, extra } = agreed;
    const lines = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${computeAcceptKey(key)}`,
    ];
    if (protocol !== '') lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
    if (negotiated !== undefined) lines.push(`Sec-WebSocket-Extensions: ${negotiated.response}`);
    for (const [name, values] of extra) {
      if (name === 'sec-websocket-protocol') continue;
      for (const value of values.names) lines.push(`${value}`);
    }
    lines.push('', '');
    socket.write(lines.join('\r\n'));
    return this.#connection(socket, agreed, head, undefined, () => req);
  }

  // RFC 8441 section 5: the extended CONNECT replaces the GET, 200 replaces 101, and the key and
  // accept headers are not used.
  async #handshakeStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    responseHeaders: ResponseHeaders | undefined,
    request: () => UpgradeRequest,
    transport: Transport,
  ): Promise<Conn> {
    const refuse: Refuse = (status, message, answerHeaders = {}, cause) => {
      refuseStream(stream, status, answerHeaders);
      return new HandshakeError(
        message,
        status,
        undefined,
        cause === undefined ? undefined : { cause },
      );
    };
    const refusal = checkExtendedConnect(headers);
    if (refusal !== undefined) throw refuse(refusal.status, refusal.message, refusal.headers);
    const agreed = await this.#agree(headers, request, responseHeaders, refuse, true);
    if (stream.destroyed || stream.closed || !stream.writable) {
      throw new HandshakeError('connection closed during the handshake', 0);
    }
    const answer: Http2OutgoingHeaders = {};
    if (agreed.protocol !== '') answer['sec-websocket-protocol'] = agreed.protocol;
    if (agreed.negotiated !== undefined) {
      answer['sec-websocket-extensions'] = agreed.negotiated.response;
    }
    for (const [name, { values }] of agreed.extra) {
      if (name === 'sec-websocket-protocol') continue;
      answer[name] = values.length === 1 ? values[0] : values;
    }
    acceptStream(stream, answer);
    return this.#connection(stream, agreed, undefined, transport, request);
  }

  // The parts of the handshake both protocols share: the application's response headers, the
  // origin check, the subprotocol and the extensions.
  async #agree(
    headers: IncomingHttpHeaders,
    request: () => UpgradeRequest,
    responseHeaders: ResponseHeaders | undefined,
    refuse: Refuse,
    http2: boolean,
  ): Promise<Agreement> {
    let extra: Map<string, HeaderLines>;
    try {
      extra = normalizeHeaders(responseHeaders);
    } catch (err) {
      throw refuse(500, `invalid response header: ${(err as Error).message}`, {}, err);
    }
    if (extra.has('sec-websocket-extensions')) {
      throw refuse(500, "application specific 'Sec-WebSocket-Extensions' headers are unsupported");
    }
    const forbidden = http2 ? forbiddenInHttp2(extra.keys()) : undefined;
    if (forbidden !== undefined) {
      throw refuse(500, `invalid response header: '${forbidden}' is not allowed in HTTP/2`);
    }
    let allowed: boolean;
    try {
      const options = this.#options;
      allowed =
        options.checkOrigin === undefined
          ? isSameOrigin(headers)
          : await options.checkOrigin(request());
    } catch (err) {
      throw refuse(500, `checkOrigin failed: ${(err as Error).message}`);
    }
    if (!allowed) {
      throw refuse(403, 'request origin not allowed by Upgrader.checkOrigin');
    }
    const protocol = this.#selectSubprotocol(headers, extra);
    const compression = this.#compression;
    const negotiated =
      compression === undefined
        ? undefined
        : negotiateServer(headerValue(headers, 'sec-websocket-extensions'), compression);
    return { protocol, negotiated, extra };
  }

  #connection(
    socket: Duplex,
    { protocol, negotiated }: Agreement,
    head: Buffer | undefined,
    transport: Transport | undefined,
    request: () => UpgradeRequest,
  ): Conn {
    const compression = this.#compression;
    return new Conn(socket, {
      isServer: true,
      subprotocol: protocol,
      extensions: negotiated?.response ?? '',
      deflate:
        negotiated === undefined || compression === undefined
          ? undefined
          : new PerMessageDeflate(negotiated.params, true, compression),
      readBufferSize: this.#options.readBufferSize,
      writeBufferSize: this.#options.writeBufferSize,
      writeBufferPool: this.#options.writeBufferPool,
      readLimit: this.#options.readLimit,
      maxBufferedAmount: this.#options.maxBufferedAmount,
      closeOnBufferFull: this.#options.closeOnBufferFull,
      head,
      transport,
      request,
      keepAlive: this.#options.keepAlive,
      rateLimit: this.#options.rateLimit,
    });
  }

  // The client's first offer that the server supports (gorilla v1.5.1 and later), or the
  // application's own answer when no list is configured.
  #selectSubprotocol(headers: IncomingHttpHeaders, extra: Map<string, HeaderLines>): string {
    const supported = this.#options.subprotocols;
    if (supported === undefined) return extra.get('sec-websocket-protocol')?.values[0] ?? '';
    for (const offer of parseList(headerValue(headers, 'sec-websocket-protocol'))) {
      if (supported.includes(offer)) return offer;
    }
    return '';
  }

  #refuse(
    req: IncomingMessage,
    socket: Duplex,
    status: number,
    message: string,
    headers: Record<string, string> = {},
    cause?: unknown,
  ): HandshakeError {
    const err = new HandshakeError(
      message,
      status,
      undefined,
      cause === undefined ? undefined : { cause },
    );
    if (this.#options.error !== undefined) {
      try {
        this.#options.error(req, socket, status, err);
      } finally {
        finishSocket(socket);
      }
    } else {
      writeHttpError(socket, status, headers);
    }
    return err;
  }
}

interface HeaderLines {
  /** The values as given. */
  values: string[];
  /** The formatted `Name: value` lines. */
  names: string[];
}

function normalizeHeaders(headers: ResponseHeaders | undefined): Map<string, HeaderLines> {
  const out = new Map<string, HeaderLines>();
  if (headers === undefined) return out;
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    validateHeaderName(name);
    const values = (Array.isArray(raw) ? raw : [raw]).map(String);
    for (const value of values) validateHeaderValue(name, value);
    out.set(name.toLowerCase(), { values, names: values.map((value) => `${name}: ${value}`) });
  }
  return out;
}

/**
 * Writes a plain-text HTTP error answer to a socket and closes it.
 *
 * @internal
 */
export function writeHttpError(
  socket: Duplex,
  status: number,
  headers: Record<string, string> = {},
): void {
  if (socket.writable) {
    const body = STATUS_CODES[status] ?? 'Error';
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n`;
    head += `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    socket.write(`${head}\r\n${body}`);
  }
  finishSocket(socket);
}

function ignoreSocketError(): void {}

// Ends the socket and destroys it once the answer is flushed, or after a second if the peer
// does not read it.
function finishSocket(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.once('finish', () => socket.destroy());
  socket.end();
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * The default origin check: allows a request without an `Origin` header, or whose `Origin` host
 * equals its `Host` header (over HTTP/2, its `:authority`), without regard to ASCII case.
 * Gorilla: `checkSameOrigin`.
 */
export function checkSameOrigin(req: UpgradeRequest): boolean {
  return isSameOrigin(req.headers);
}

function isSameOrigin(headers: IncomingHttpHeaders): boolean {
  const origin = headerValue(headers, 'origin');
  if (origin === undefined) return true;
  const host = originHost(origin);
  // RFC 8441 section 5: over HTTP/2, :authority carries what Host carries over HTTP/1.1.
  const requestHost = headerValue(headers, ':authority') ?? headers.host;
  return (
    host !== undefined &&
    requestHost !== undefined &&
    host.toLowerCase() === requestHost.toLowerCase()
  );
}

/**
 * Returns whether the request asks to upgrade to the WebSocket protocol: its Connection header
 * has `upgrade` and its Upgrade header `websocket`, or, over HTTP/2, it is an extended CONNECT
 * whose `:protocol` is `websocket` (RFC 8441). Gorilla: `IsWebSocketUpgrade`.
 */
export function isWebSocketUpgrade(req: UpgradeRequest): boolean {
  if (isHttp2Request(req)) return isWebSocketConnect(req.headers);
  return (
    tokenListContainsValue(headerValue(req.headers, 'connection'), 'upgrade') &&
    tokenListContainsValue(headerValue(req.headers, 'upgrade'), 'websocket')
  );
}

/**
 * Returns the subprotocols the client offers in `Sec-WebSocket-Protocol`, in its order.
 * Gorilla: `Subprotocols`.
 */
export function subprotocols(req: UpgradeRequest): string[] {
  return parseList(headerValue(req.headers, 'sec-websocket-protocol'));
}
