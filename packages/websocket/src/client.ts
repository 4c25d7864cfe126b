/**
 * The client side of the opening handshake (RFC 6455 section 4.1): gorilla's `Dialer`.
 *
 * @module
 */

import { validateHeaderName, validateHeaderValue, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { BufferPool } from './buffer-pool.js';
import {
  acceptServerResponse,
  clientOffer,
  compressionOptions,
  PerMessageDeflate,
  type CompressionOptions,
} from './compression.js';
import { checkBufferLimitOptions, Conn, type BufferLimitOptions } from './conn.js';
import { keepAliveTiming, type KeepAliveOption } from './keepalive.js';
import { rateLimiter, type RateLimitOption } from './rate-limit.js';
import { HandshakeError, TimeoutError, type HandshakeResponse } from './errors.js';
import {
  computeAcceptKey,
  generateChallengeKey,
  isToken,
  parseList,
  tokenListContainsValue,
} from './handshake.js';
import { readResponseBody, readResponseHead } from './http-response.js';
import { Http2Sessions, type DialRequest } from './http2-client.js';
import { connectThroughProxy, hostAndPort, resolveProxy, type ProxyOption } from './proxy.js';
import { http2StreamTransport, type Transport } from './transport.js';

/** Options of a {@link Dialer}. Gorilla: the fields of `Dialer`. */
export interface DialerOptions extends BufferLimitOptions {
  /**
   * How long the handshake may take, in milliseconds, from the call to `dial` to the server's
   * 101 answer: connecting, the proxy's tunnel and TLS included. Past it the connection is
   * destroyed and `dial` rejects with {@link TimeoutError}. Default 45,000 (gorilla's
   * `DefaultDialer`); 0 for none.
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
   * The subprotocols to offer in `Sec-WebSocket-Protocol`, in order of preference. Each must be
   * an HTTP token. The server's choice is `conn.subprotocol()`.
   */
  subprotocols?: string[];
  /**
   * Whether to offer permessage-deflate (RFC 7692): `true` for the defaults, or
   * {@link CompressionOptions} to ask for context takeover and window sizes and to set the level
   * and threshold. The server may decline; `conn.extensions()` tells what was agreed.
   */
  enableCompression?: boolean | CompressionOptions;
  /** The read limit of each connection, in bytes after decompression. Default 64 MiB. */
  readLimit?: number;
  /**
   * The heartbeat: `{ interval, timeout }` sends a ping after `interval` ms in which nothing
   * arrived from the peer, and closes the connection when nothing arrives within `timeout` ms of
   * it (reads then reject with a {@link TimeoutError} whose `code` is `'ERR_WS_KEEPALIVE'`; the
   * connection ends with 1006). It works whether or not the application is reading, on one
   * timer per connection. Default `false` (none); `redial` defaults to
   * `{ interval: 30_000, timeout: 10_000 }`.
   */
  keepAlive?: KeepAliveOption;
  /**
   * Limits on what the peer may send: `{ messagesPerSecond, messageBurst, bytesPerSecond,
   * byteBurst }` (see `RateLimitOptions`). A peer past a limit fails the connection with
   * 1008 (policy violation) and reads reject with a {@link RateLimitError}. Default `false`
   * (none).
   */
  rateLimit?: RateLimitOption;
  /**
   * TLS options for `wss:` URLs, passed to `tls.connect` (`ca`, `cert`, `key`,
   * `rejectUnauthorized`, `servername`, ...). SNI is set to the URL's host unless it is an IP
   * address or `servername` is given. Gorilla: `TLSClientConfig`.
   */
  tls?: ConnectionOptions;
  /**
   * An HTTP proxy to tunnel through with CONNECT: a URL (`http://user:pass@proxy:3128`), or a
   * function choosing one per WebSocket URL (`undefined`: connect directly). Pass
   * {@link proxyFromEnvironment} to honour `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY`; by
   * default no proxy is used. Gorilla: `Proxy`.
   */
  proxy?: ProxyOption;
  /**
   * Opens the byte stream to `url`'s host, instead of a TCP connection: the WebSocket URL, or
   * the proxy's URL when a proxy is used. Any `Duplex` will do (an in-memory pair, say). For
   * `wss:` URLs the dialer runs TLS over the stream it returns. Gorilla: `NetDial`.
   */
  netDial?: (url: URL) => Promise<Duplex>;
  /**
   * Whether to open `wss:` WebSockets as streams of an HTTP/2 connection (RFC 8441) where the
   * server offers it: the TLS handshake offers ALPN `h2` beside `http/1.1`, and a server that
   * picks `h2` and advertises `SETTINGS_ENABLE_CONNECT_PROTOCOL` gets an extended CONNECT on a
   * stream, answered 200 instead of 101. Every WebSocket this dialer opens to an origin shares
   * one session while it has room under the server's stream limit; the session closes with its
   * last WebSocket. A server that picks `http/1.1` is dialled over HTTP/1.1 on the same
   * connection, one that speaks HTTP/2 without the setting over a new HTTP/1.1 connection, and
   * either is remembered for ten minutes. `ws:` URLs always use HTTP/1.1. Default `false`.
   */
  http2?: boolean;
}

/** Options of one {@link Dialer.dial} call. */
export interface DialOptions {
  /**
   * Aborts the handshake: `dial` rejects with the signal's reason and the connection is
   * destroyed. It has no effect once `dial` has resolved.
   */
  signal?: AbortSignal;
}

/**
 * Extra headers for the opening handshake request: cookies, authorization, `Origin`, a `Host`
 * that differs from the URL's. Headers the handshake owns are refused.
 */
export type RequestHeaders = Record<string, string | number | readonly string[] | undefined>;

/** What a successful {@link Dialer.dial} returns. */
export interface DialResult {
  /** The connection (client role). */
  conn: Conn;
  /** The server's 101 answer: status, status text, headers (`set-cookie`, say); empty body. */
  response: HandshakeResponse;
}

/** The default handshake timeout: gorilla's `DefaultDialer.HandshakeTimeout`. */
const DEFAULT_DIAL_TIMEOUT = 45_000;
/** The most of a refusal's body kept in the {@link HandshakeError}. */
const BODY_LIMIT = 64 * 1024;
/** How long to wait for the body of a refusal once its head has arrived. */
const BODY_TIMEOUT = 2000;
const EMPTY = Buffer.alloc(0);

// Headers the handshake sets itself (gorilla refuses them too).
const OWN_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
]);

function noop(): void {}

/** A WebSocket URL, checked. */
interface Target {
  url: URL;
  secure: boolean;
}

function parseTarget(input: string | URL): Target {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError(`websocket: malformed ws or wss URL ${JSON.stringify(String(input))}`);
  }
  const scheme = url.protocol;
  let secure: boolean;
  // http: and https: are taken as the WHATWG WebSocket constructor takes them.
  if (scheme === 'ws:' || scheme === 'http:') secure = false;
  else if (scheme === 'wss:' || scheme === 'https:') secure = true;
  else throw new TypeError(`websocket: malformed ws or wss URL: scheme '${scheme}'`);
  if (url.username !== '' || url.password !== '') {
    throw new TypeError('websocket: malformed ws or wss URL: user info is not allowed');
  }
  // RFC 6455 section 3: fragment identifiers "MUST NOT be used on these URIs".
  if (url.hash !== '' || url.href.endsWith('#')) {
    throw new TypeError('websocket: malformed ws or wss URL: fragments are not allowed');
  }
  if (url.hostname === '') throw new TypeError('websocket: malformed ws or wss URL: no host');
  url.protocol = secure ? 'wss:' : 'ws:';
  return { url, secure };
}

/**
 * One dial in progress: the streams it opened, its deadline and its abort signal. The first
 * failure wins; it destroys every stream, and every later step sees it.
 */
class Attempt {
  readonly #streams: Duplex[] = [];
  readonly #signal: AbortSignal | undefined;
  readonly #cancelled: Promise<never>;
  #cancel!: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #deadline = Infinity;
  failed = false;
  error: unknown;

  constructor(timeoutMs: number, signal: AbortSignal | undefined) {
    this.#cancelled = new Promise<never>((_, reject) => {
      this.#cancel = reject;
    });
    this.#cancelled.catch(noop);
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      this.#deadline = Date.now() + timeoutMs;
      this.#timer = setTimeout(() => this.fail(new TimeoutError('handshake')), timeoutMs);
    }
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => {
    this.fail(this.#signal!.reason);
  };

  readonly #onError = (err: Error): void => {
    this.fail(err);
  };

  /** Adopts a stream: destroyed if the dial fails, its errors fail the dial. */
  track<T extends Duplex>(stream: T): T {
    if (this.failed) {
      stream.destroy();
      throw this.error;
    }
    this.#streams.push(stream);
    stream.on('error', this.#onError);
    return stream;
  }

  /** Lets a stream go: it now belongs to someone else (an HTTP/2 session). */
  untrack(stream: Duplex): void {
    const index = this.#streams.indexOf(stream);
    if (index < 0) return;
    this.#streams.splice(index, 1);
    stream.off('error', this.#onError);
  }

  /** Settles with `promise`, unless the dial fails first. */
  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.#cancelled]);
  }

  fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.error = err;
    this.#release();
    for (const stream of this.#streams) stream.destroy();
    this.#cancel(err);
  }

  /**
   * The server has answered with an HTTP error: the deadline stops, and its body may take at
   * most the returned time (what was left of the deadline, and at most {@link BODY_TIMEOUT}).
   */
  answered(): number {
    clearTimeout(this.#timer);
    return Math.max(0, Math.min(BODY_TIMEOUT, this.#deadline - Date.now()));
  }

  /** The handshake succeeded: `final` now belongs to the connection. */
  succeed(final: Duplex): void {
    this.#release();
    for (const stream of this.#streams) {
      stream.off('error', this.#onError);
      // A stream under TLS is the TLS socket's now, whose errors the connection sees.
      if (stream !== final) stream.on('error', noop);
    }
  }

  #release(): void {
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}

/**
 * Dialer opens client connections: it connects (directly, through an HTTP proxy, or over a
 * stream of the application's), runs TLS for `wss:` URLs, performs the opening handshake and
 * checks the server's answer strictly. It is safe to dial many connections with one Dialer.
 * Gorilla: `Dialer`.
 *
 * @example
 * const dialer = new Dialer({ subprotocols: ['chat'], enableCompression: true });
 * const { conn, response } = await dialer.dial('wss://example.com/chat', {
 *   Authorization: `Bearer ${token}`,
 * });
 * await conn.writeMessage(TextMessage, 'hello');
 */
export class Dialer {
  readonly #options: DialerOptions;
  readonly #handshakeTimeout: number;
  readonly #subprotocols: readonly string[];
  readonly #compression: CompressionOptions | undefined;
  readonly #offer: string | undefined;
  readonly #sessions: Http2Sessions | undefined;

  /**
   * @param options - see {@link DialerOptions}.
   * @throws {TypeError} when a subprotocol is not an HTTP token or is repeated, or
   *   `closeOnBufferFull` is not a boolean.
   * @throws {RangeError} for invalid compression options, a negative timeout, invalid keepAlive
   *   timing or rate limits, or a `maxBufferedAmount` not above 0.
   */
  constructor(options: DialerOptions = {}) {
    checkBufferLimitOptions(options);
    keepAliveTiming(options.keepAlive);
    rateLimiter(options.rateLimit);
    this.#options = { ...options };
    const timeout = options.handshakeTimeout ?? DEFAULT_DIAL_TIMEOUT;
    if (!(timeout >= 0)) throw new RangeError('websocket: handshakeTimeout must not be negative');
    this.#handshakeTimeout = timeout;
    const subprotocols = options.subprotocols ?? [];
    for (const protocol of subprotocols) {
      if (!isToken(protocol)) {
        throw new TypeError(`websocket: invalid subprotocol ${JSON.stringify(protocol)}`);
      }
    }
    if (new Set(subprotocols).size !== subprotocols.length) {
      throw new TypeError('websocket: subprotocols must not repeat');
    }
    this.#subprotocols = [...subprotocols];
    this.#compression = compressionOptions(options.enableCompression);
    this.#offer = this.#compression === undefined ? undefined : clientOffer(this.#compression);
    this.#sessions = options.http2 === true ? new Http2Sessions() : undefined;
  }

  /**
   * Opens a connection to `url` (`ws:` or `wss:`; `http:` and `https:` are taken as those) and
   * performs the opening handshake. Gorilla: `Dialer.DialContext`.
   *
   * @param url - the WebSocket URL; it may not carry user info or a fragment.
   * @param headers - extra request headers (cookies, authorization, `Origin`; `Host` replaces
   *   the URL's). `Upgrade`, `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version` and
   *   `Sec-WebSocket-Extensions` are the handshake's own, as is `Sec-WebSocket-Protocol` when
   *   the dialer has `subprotocols`.
   * @param options - `signal`: an `AbortSignal` that cancels the handshake.
   * @returns the connection and the server's 101 answer.
   * @throws {TypeError} for a malformed URL or headers, or a header the handshake owns.
   * @throws {HandshakeError} when the server (or the proxy) refuses: any status but 101, or a
   *   101 that fails RFC 6455 section 4.1's checks (`Upgrade`, `Connection`,
   *   `Sec-WebSocket-Accept`, a subprotocol or extension that was not offered); `status` and
   *   `response` (status, headers, up to 64 KiB of body) tell what the server said. `status` is
   *   0 when the answer was not HTTP or the connection closed before it.
   * @throws {TimeoutError} when the handshake outlives `handshakeTimeout`.
   * @throws the signal's reason when `signal` aborts.
   * @throws Node's own error for network and TLS failures (`code` such as `'ECONNREFUSED'`,
   *   `'ENOTFOUND'`, `'UNABLE_TO_VERIFY_LEAF_SIGNATURE'`, `'ERR_TLS_CERT_ALTNAME_INVALID'`).
   */
  async dial(
    url: string | URL,
    headers?: RequestHeaders,
    options: DialOptions = {},
  ): Promise<DialResult> {
    const target = parseTarget(url);
    const { request, offered } = this.#request(target, headers);
    options.signal?.throwIfAborted();
    const attempt = new Attempt(this.#handshakeTimeout, options.signal);
    try {
      let stream: Duplex | undefined;
      const sessions = this.#sessions;
      if (sessions !== undefined && target.secure) {
        const route = await sessions.dial(target.url, request, attempt, (alpn) =>
          this.#open(target, attempt, alpn),
        );
        if ('stream' in route) {
          const checked = this.#checkNegotiation(route.response.headers, offered);
          if (typeof checked === 'string') {
            throw new HandshakeError(`bad handshake: ${checked}`, route.response.status, {
              ...route.response,
            });
          }
          attempt.succeed(route.stream);
          const transport = http2StreamTransport(route.stream);
          const conn = this.#connection(
            route.stream,
            checked,
            undefined,
            transport,
            target.url.href,
          );
          return { conn, response: route.response };
        }
        stream = route.http1;
      }
      stream ??= await this.#open(target, attempt);
      const key = generateChallengeKey();
      return await attempt.race(
        this.#exchange(stream, formatRequest(request, key), key, offered, attempt, target.url.href),
      );
    } catch (err) {
      attempt.fail(err);
      throw attempt.error;
    }
  }

  /**
   * The HTTP/2 sessions this dialer keeps (RFC 8441), by origin (`host:port`): for tests and
   * diagnostics.
   *
   * @internal
   */
  http2Sessions(): Http2Sessions | undefined {
    return this.#sessions;
  }

  /** Builds the request; returns it with the subprotocols offered. */
  #request(
    target: Target,
    headers: RequestHeaders | undefined,
  ): { request: DialRequest; offered: readonly string[] } {
    const url = target.url;
    let host = url.host;
    let offered = this.#subprotocols;
    const extra: [string, string][] = [];
    for (const [name, value] of Object.entries(headers ?? {})) {
      if (value === undefined) continue;
      const lower = name.toLowerCase();
      if (
        OWN_HEADERS.has(lower) ||
        (lower === 'sec-websocket-protocol' && this.#subprotocols.length > 0)
      ) {
        throw new TypeError(`websocket: duplicate header not allowed: ${name}`);
      }
      validateHeaderName(name);
      const values = (typeof value === 'object' ? [...value] : [value]).map(String);
      for (const v of values) validateHeaderValue(name, v);
      if (lower === 'host') {
        if (values.length !== 1) throw new TypeError('websocket: one Host header is allowed');
        host = values[0]!;
        continue;
      }
      if (lower === 'sec-websocket-protocol') offered = parseList(values.join(', '));
      for (const v of values) extra.push([name, v]);
    }
    const offers: [string, string][] = [];
    if (this.#subprotocols.length > 0) {
      offers.push(['Sec-WebSocket-Protocol', this.#subprotocols.join(', ')]);
    }
    if (this.#offer !== undefined) offers.push(['Sec-WebSocket-Extensions', this.#offer]);
    const path = `${url.pathname}${url.search}`;
    return { request: { authority: host, path, offers, headers: extra }, offered };
  }

  /**
   * Opens the stream the handshake runs over: TCP or netDial, a proxy's tunnel, TLS (offering
   * `alpn` when given).
   */
  async #open(target: Target, attempt: Attempt, alpn?: string[]): Promise<Duplex> {
    const proxy = resolveProxy(this.#options.proxy, target.url);
    let stream: Duplex;
    if (proxy !== undefined) {
      stream = await this.#transport(proxy, attempt);
      const { port } = hostAndPort(target.url);
      await attempt.race(
        connectThroughProxy(stream, proxy, `${target.url.hostname}:${port}`, () =>
          attempt.answered(),
        ),
      );
    } else if (target.secure && this.#options.netDial === undefined) {
      return this.#startTls(hostAndPort(target.url), target, attempt, alpn);
    } else {
      stream = await this.#transport(target.url, attempt);
    }
    return target.secure ? this.#startTls({ socket: stream }, target, attempt, alpn) : stream;
  }

  /** Connects to `url`'s host: with `netDial`, or over TCP. */
  async #transport(url: URL, attempt: Attempt): Promise<Duplex> {
    const netDial = this.#options.netDial;
    if (netDial !== undefined) {
      const pending = new Promise<Duplex>((resolve) => resolve(netDial(new URL(url.href))));
      // A stream that arrives after the dial failed is not wanted.
      pending.then((stream) => attempt.failed && stream.destroy(), noop);
      return attempt.track(await attempt.race(pending));
    }
    const socket = attempt.track(netConnect(hostAndPort(url)));
    await attempt.race(new Promise((resolve) => socket.once('connect', resolve)));
    return socket;
  }

  /** Runs TLS over `socket`, or over a new TCP connection to `host` and `port`. */
  async #startTls(
    base: { host: string; port: number } | { socket: Duplex },
    target: Target,
    attempt: Attempt,
    alpn: string[] | undefined,
  ): Promise<Duplex> {
    const { host } = hostAndPort(target.url);
    const options: ConnectionOptions = { ...this.#options.tls, ...base, host };
    if (alpn !== undefined) options.ALPNProtocols = alpn;
    // RFC 6066 section 3: SNI carries host names only, never IP addresses.
    const servername = this.#options.tls?.servername ?? (isIP(host) === 0 ? host : undefined);
    if (servername === undefined) delete options.servername;
    else options.servername = servername;
    const socket = attempt.track(tlsConnect(options));
    await attempt.race(new Promise((resolve) => socket.once('secureConnect', resolve)));
    return socket;
  }

  /** Sends the request and checks the answer; the connection is made as the answer arrives. */
  #exchange(
    stream: Duplex,
    request: string,
    key: string,
    offered: readonly string[],
    attempt: Attempt,
    url: string,
  ): Promise<DialResult> {
    return new Promise<DialResult>((resolve, reject) => {
      readResponseHead(
        stream,
        ({ head, rest }) => {
          if (attempt.failed) return;
          const { status, statusText, headers } = head;
          if (status !== 101) {
            void readResponseBody(stream, head, rest, BODY_LIMIT, attempt.answered()).then(
              (body) => {
                const response = { status, statusText, headers, body };
                const text = `${status} ${statusText}`.trimEnd();
                reject(
                  new HandshakeError(
                    `bad handshake: the server answered ${text}`,
                    status,
                    response,
                  ),
                );
              },
            );
            return;
          }
          const response: HandshakeResponse = { status, statusText, headers, body: EMPTY };
          const checked = this.#checkAnswer(head.headers, key, offered);
          if (typeof checked === 'string') {
            reject(new HandshakeError(`bad handshake: ${checked}`, status, response));
            return;
          }
          // Synchronously, in the 'data' event that completed the answer: the next chunk goes
          // to the connection's own listener.
          attempt.succeed(stream);
          resolve({ conn: this.#connection(stream, checked, rest, undefined, url), response });
        },
        reject,
      );
      stream.write(request);
    });
  }

  /**
   * Checks a 101 answer as RFC 6455 section 4.1 (and RFC 7692 section 5) require of a client.
   * Returns what was negotiated, or why the client must fail the connection.
   */
  #checkAnswer(
    headers: IncomingHttpHeaders,
    key: string,
    offered: readonly string[],
  ): string | Negotiated {
    if (!tokenListContainsValue(headers.upgrade, 'websocket')) {
      return "'websocket' token not found in 'Upgrade' header";
    }
    if (!tokenListContainsValue(headers.connection, 'upgrade')) {
      return "'upgrade' token not found in 'Connection' header";
    }
    if (headers['sec-websocket-accept'] !== computeAcceptKey(key)) {
      return "'Sec-WebSocket-Accept' does not match the key sent";
    }
    return this.#checkNegotiation(headers, offered);
  }

  /**
   * Checks the subprotocol and extensions of an answer, as both protocols carry them (RFC 8441
   * section 5 keeps RFC 6455's headers for them). Returns what was negotiated, or why the client
   * must fail the connection.
   */
  #checkNegotiation(headers: IncomingHttpHeaders, offered: readonly string[]): string | Negotiated {
    const protocol = headers['sec-websocket-protocol'];
    if (protocol !== undefined && !offered.includes(protocol)) {
      return `the server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`;
    }
    const answer = headers['sec-websocket-extensions'];
    const negotiated = acceptServerResponse(answer, this.#compression);
    if (typeof negotiated === 'string') return `invalid extension negotiation: ${negotiated}`;
    if (negotiated === undefined || this.#compression === undefined) {
      return { subprotocol: protocol ?? '', extensions: '' };
    }
    return {
      subprotocol: protocol ?? '',
      extensions: answer!.trim(),
      deflate: new PerMessageDeflate(negotiated, false, this.#compression),
    };
  }

  #connection(
    stream: Duplex,
    negotiated: Negotiated,
    head: Buffer | undefined,
    transport: Transport | undefined,
    url: string,
  ): Conn {
    return new Conn(stream, {
      isServer: false,
      subprotocol: negotiated.subprotocol,
      extensions: negotiated.extensions,
      deflate: negotiated.deflate,
      readBufferSize: this.#options.readBufferSize,
      writeBufferSize: this.#options.writeBufferSize,
      writeBufferPool: this.#options.writeBufferPool,
      readLimit: this.#options.readLimit,
      maxBufferedAmount: this.#options.maxBufferedAmount,
      closeOnBufferFull: this.#options.closeOnBufferFull,
      head,
      transport,
      url,
      keepAlive: this.#options.keepAlive,
      rateLimit: this.#options.rateLimit,
    });
  }
}

/** What an answer negotiated. */
interface Negotiated {
  subprotocol: string;
  extensions: string;
  deflate?: PerMessageDeflate;
}

/** The HTTP/1.1 request head of RFC 6455 section 4.1 for `request`, with `key`. */
function formatRequest(request: DialRequest, key: string): string {
  // The capitalisation of RFC 6455's examples: some servers depend on it.
  const lines = [
    `GET ${request.path} HTTP/1.1`,
    `Host: ${request.authority}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];
  for (const [name, value] of [...request.offers, ...request.headers]) {
    lines.push(`${name}: ${value}`);
  }
  lines.push('', '');
  return lines.join('\r\n');
}

/**
 * A Dialer with the default options: 45 s handshake timeout, no proxy (pass
 * {@link proxyFromEnvironment} to a Dialer of your own for environment proxies), no compression.
 * Gorilla: `DefaultDialer`.
 */
export const defaultDialer: Dialer = new Dialer();

/**
 * Dials `url` with {@link defaultDialer}. See {@link Dialer.dial} for the arguments and errors.
 *
 * @example
 * const { conn } = await dial('wss://example.com/feed');
 * for await (const { data } of conn) console.log(data.toString());
 */
export function dial(
  url: string | URL,
  headers?: RequestHeaders,
  options?: DialOptions,
): Promise<DialResult> {
  return defaultDialer.dial(url, headers, options);
}
