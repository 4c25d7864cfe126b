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
import { HandshakeError, TimeoutError } from './errors.js';
import {
  computeAcceptKey,
  headerValue,
  isValidChallengeKey,
  originHost,
  parseList,
  tokenListContainsValue,
} from './handshake.js';

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
   * It must write synchronously: the socket is ended when it returns.
   */
  error?: UpgradeErrorHandler;
  /**
   * Decides whether the request's origin is allowed; refused requests get 403. The default
   * refuses a request whose `Origin` host differs from its `Host` (gorilla's same-origin rule);
   * `() => true` allows every origin.
   */
  checkOrigin?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /**
   * Whether to negotiate permessage-deflate (RFC 7692) when the client offers it: `true` for the
   * defaults, or {@link CompressionOptions} to set context takeover, window sizes, level and
   * threshold. Offers the server cannot meet are declined and the connection runs uncompressed.
   */
  enableCompression?: boolean | CompressionOptions;
  /** The read limit of each connection, in bytes after decompression. Default 64 MiB. */
  readLimit?: number;
}

/** Headers `upgrade` may add to the 101 answer (cookies, say). */
export type ResponseHeaders = OutgoingHttpHeaders | Record<string, string | string[] | number>;

const EMPTY = Buffer.alloc(0);

/**
 * Upgrader turns HTTP upgrade requests into WebSocket connections. Gorilla: `Upgrader`.
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
  readonly #checkOrigin: (req: IncomingMessage) => boolean | Promise<boolean>;
  readonly #compression: CompressionOptions | undefined;

  /**
   * @param options - see {@link UpgraderOptions}.
   * @throws {RangeError} for invalid compression options or `maxBufferedAmount`.
   * @throws {TypeError} when `closeOnBufferFull` is not a boolean.
   */
  constructor(options: UpgraderOptions = {}) {
    checkBufferLimitOptions(options);
    this.#options = { ...options };
    this.#compression = compressionOptions(options.enableCompression);
    this.#handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    this.#checkOrigin = options.checkOrigin ?? checkSameOrigin;
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
   * @param req - the request from the server's `'upgrade'` event.
   * @param socket - the socket from that event.
   * @param head - the bytes read past the request (the `'upgrade'` event's third argument).
   * @param responseHeaders - headers to add to the 101 answer.
   * @throws {HandshakeError} when the request is refused (`status` is the HTTP status sent).
   * @throws {TimeoutError} when the handshake outlives `handshakeTimeout`.
   */
  upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer = EMPTY,
    responseHeaders?: ResponseHeaders,
  ): Promise<Conn> {
    // A socket error must not crash the process, before the connection takes the socket over
    // (it adds its own listener) nor after a refusal, while the peer may reset the connection
    // before it has read the answer: the listener stays.
    socket.on('error', ignoreSocketError);
    const attempt = this.#handshake(req, socket, head, responseHeaders);
    const timeout = this.#handshakeTimeout;
    let timer: NodeJS.Timeout | undefined;
    const guarded =
      timeout > 0
        ? Promise.race([
            attempt,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                socket.destroy();
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
    const headers = req.headers;
    if (req.method !== 'GET') {
      throw this.#refuse(req, socket, 405, 'request method is not GET', { Allow: 'GET' });
    }
    if (!tokenListContainsValue(headerValue(headers, 'upgrade'), 'websocket')) {
      throw this.#refuse(req, socket, 426, "'websocket' token not found in 'Upgrade' header", {
        Upgrade: 'websocket',
      });
    }
    if (!tokenListContainsValue(headerValue(headers, 'connection'), 'upgrade')) {
      throw this.#refuse(req, socket, 400, "'upgrade' token not found in 'Connection' header");
    }
    if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) {
      throw this.#refuse(req, socket, 400, 'HTTP/1.1 or later required');
    }
    if (headers.host === undefined || headers.host === '') {
      throw this.#refuse(req, socket, 400, "missing 'Host' header");
    }
    if (headerValue(headers, 'sec-websocket-version') !== '13') {
      throw this.#refuse(
        req,
        socket,
        426,
        "unsupported version: 13 not found in 'Sec-WebSocket-Version' header",
        {
          'Sec-WebSocket-Version': '13',
        },
      );
    }
    const key = headerValue(headers, 'sec-websocket-key');
    if (!isValidChallengeKey(key)) {
      throw this.#refuse(
        req,
        socket,
        400,
        "'Sec-WebSocket-Key' header must be Base64 encoded value of 16 bytes",
      );
    }
    let extra: Map<string, HeaderLines>;
    try {
      extra = normalizeHeaders(responseHeaders);
    } catch (err) {
      throw this.#refuse(
        req,
        socket,
        500,
        `invalid response header: ${(err as Error).message}`,
        {},
        err,
      );
    }
    if (extra.has('sec-websocket-extensions')) {
      throw this.#refuse(
        req,
        socket,
        500,
        "application specific 'Sec-WebSocket-Extensions' headers are unsupported",
      );
    }
    let allowed: boolean;
    try {
      allowed = await this.#checkOrigin(req);
    } catch (err) {
      throw this.#refuse(req, socket, 500, `checkOrigin failed: ${(err as Error).message}`);
    }
    if (!allowed) {
      throw this.#refuse(req, socket, 403, 'request origin not allowed by Upgrader.checkOrigin');
    }
    if (socket.destroyed || !socket.writable) {
      throw new HandshakeError('connection closed during the handshake', 0);
    }

    const protocol = this.#selectSubprotocol(req, extra);
    const compression = this.#compression;
    const negotiated =
      compression === undefined
        ? undefined
        : negotiateServer(headerValue(headers, 'sec-websocket-extensions'), compression);
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
    });
  }

  // The client's first offer that the server supports (gorilla v1.5.1 and later), or the
  // application's own answer when no list is configured.
  #selectSubprotocol(req: IncomingMessage, extra: Map<string, HeaderLines>): string {
    const supported = this.#options.subprotocols;
    if (supported === undefined) return extra.get('sec-websocket-protocol')?.values[0] ?? '';
    for (const offer of subprotocols(req)) if (supported.includes(offer)) return offer;
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
 * equals its `Host` header (without regard to ASCII case). Gorilla: `checkSameOrigin`.
 */
export function checkSameOrigin(req: IncomingMessage): boolean {
  const origin = headerValue(req.headers, 'origin');
  if (origin === undefined) return true;
  const host = originHost(origin);
  const requestHost = req.headers.host;
  return (
    host !== undefined &&
    requestHost !== undefined &&
    host.toLowerCase() === requestHost.toLowerCase()
  );
}

/**
 * Returns whether the request asks to upgrade to the WebSocket protocol (its Connection header
 * has `upgrade` and its Upgrade header `websocket`). Gorilla: `IsWebSocketUpgrade`.
 */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (
    tokenListContainsValue(headerValue(req.headers, 'connection'), 'upgrade') &&
    tokenListContainsValue(headerValue(req.headers, 'upgrade'), 'websocket')
  );
}

/**
 * Returns the subprotocols the client offers in `Sec-WebSocket-Protocol`, in its order.
 * Gorilla: `Subprotocols`.
 */
export function subprotocols(req: IncomingMessage): string[] {
  return parseList(headerValue(req.headers, 'sec-websocket-protocol'));
}
