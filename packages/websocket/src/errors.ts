/**
 * The errors silverback raises, and gorilla's predicates over close errors.
 *
 * Every error is an instance of {@link WebSocketError}. The classes recognise instances made by
 * another copy of this package (the ESM and CommonJS entries loaded side by side, or two versions
 * in `node_modules`) through a brand registered with `Symbol.for`, so `instanceof` holds across
 * copies.
 *
 * @module
 */

import type { IncomingHttpHeaders } from 'node:http';
import {
  CloseAbnormalClosure,
  CloseGoingAway,
  CloseInternalServerErr,
  CloseInvalidFramePayloadData,
  CloseMandatoryExtension,
  CloseMessageTooBig,
  CloseNoStatusReceived,
  CloseNormalClosure,
  ClosePolicyViolation,
  CloseProtocolError,
  CloseServiceRestart,
  CloseTLSHandshake,
  CloseTryAgainLater,
  CloseUnsupportedData,
} from './constants.js';

const kBrand = Symbol.for('silverback.websocket.error');

type Branded = { [kBrand]?: readonly string[] };

/**
 * The base class of every error silverback raises. Test the kind with `instanceof` or `err.name`.
 */
export class WebSocketError extends Error {
  declare readonly [kBrand]: readonly string[];

  /**
   * @param message - the message, prefixed with `websocket: ` as gorilla's errors are.
   * @param options - `cause`: the lower-level error this one wraps.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    const kinds: string[] = [];
    for (let ctor: unknown = new.target; typeof ctor === 'function' && ctor !== Error;) {
      kinds.push((ctor as { name: string }).name);
      ctor = Object.getPrototypeOf(ctor);
    }
    Object.defineProperty(this, kBrand, { value: kinds });
    Object.defineProperty(this, 'name', {
      value: new.target.name,
      configurable: true,
      writable: true,
    });
  }

  /** Recognises errors made by any loaded copy of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null) return false;
    const kinds = (value as Branded)[kBrand];
    return Array.isArray(kinds) && kinds.includes(this.name);
  }
}

const closeLabels: Record<number, string> = {
  [CloseNormalClosure]: 'normal',
  [CloseGoingAway]: 'going away',
  [CloseProtocolError]: 'protocol error',
  [CloseUnsupportedData]: 'unsupported data',
  [CloseNoStatusReceived]: 'no status',
  [CloseAbnormalClosure]: 'abnormal closure',
  [CloseInvalidFramePayloadData]: 'invalid payload data',
  [ClosePolicyViolation]: 'policy violation',
  [CloseMessageTooBig]: 'message too big',
  [CloseMandatoryExtension]: 'mandatory extension missing',
  [CloseInternalServerErr]: 'internal server error',
  [CloseServiceRestart]: 'service restart',
  [CloseTryAgainLater]: 'try again later',
  [CloseTLSHandshake]: 'TLS handshake error',
};

/** Options of {@link CloseError}: `cause`, and `detail` to say more than the code and reason. */
export interface CloseErrorOptions extends ErrorOptions {
  /** Appended to the message after `; `: who closed, what is refused. */
  detail?: string;
}

/**
 * CloseError reports that the connection closed: the peer sent a close frame with `code` and
 * `text`, or the connection ended without one (`code` 1006). Reads after a close reject with it,
 * and so do writes after the peer's close frame (the message then says the peer closed).
 * Gorilla: `CloseError`.
 */
export class CloseError extends WebSocketError {
  /** The close code: the peer's, 1005 when its close frame had none, 1006 when there was none. */
  readonly code: number;
  /** The peer's close reason, `''` when none. */
  readonly text: string;

  /**
   * @param code - the close code.
   * @param text - the close reason.
   * @param options - `cause`, and `detail` appended to the message.
   */
  constructor(code: number, text = '', options?: CloseErrorOptions) {
    const detail = options?.detail;
    super(
      `websocket: close ${describeCode(code)}${text === '' ? '' : `: ${text}`}${detail === undefined ? '' : `; ${detail}`}`,
      options,
    );
    this.code = code;
    this.text = text;
  }
}

// "1009 (message too big)", as gorilla's messages name close codes.
function describeCode(code: number): string {
  const label = closeLabels[code];
  return `${code}${label === undefined ? '' : ` (${label})`}`;
}

/** What a failed client handshake received from the server. */
export interface HandshakeResponse {
  /** The HTTP status code. */
  status: number;
  /** The HTTP status text. */
  statusText: string;
  /** The response headers, lower-cased as Node's `http` module gives them. */
  headers: IncomingHttpHeaders;
  /** The response body (at most 64 KiB of it). */
  body: Buffer;
}

/**
 * HandshakeError reports a failed opening handshake. On the server, `status` is the HTTP status
 * the upgrader answered with; on the client, the status the server answered with, and `response`
 * holds the server's answer. Gorilla: `HandshakeError` and `ErrBadHandshake`.
 */
export class HandshakeError extends WebSocketError {
  /** Stable code: `'ERR_WS_HANDSHAKE'`. */
  readonly code = 'ERR_WS_HANDSHAKE';
  /** The HTTP status of the refusal (0 when the server's answer was not HTTP). */
  readonly status: number;
  /** The server's answer, for a client handshake the server refused. */
  readonly response: HandshakeResponse | undefined;

  /**
   * @param message - what was wrong, without the `websocket: ` prefix.
   * @param status - the HTTP status.
   * @param response - the server's answer (client side).
   */
  constructor(
    message: string,
    status: number,
    response?: HandshakeResponse,
    options?: ErrorOptions,
  ) {
    super(`websocket: ${message}`, options);
    this.status = status;
    this.response = response;
  }
}

/** Stable codes of {@link ProtocolError}. */
export type ProtocolErrorCode =
  'ERR_WS_PROTOCOL' | 'ERR_WS_INVALID_UTF8' | 'ERR_WS_TOO_MANY_FRAGMENTS' | 'ERR_WS_COMPRESSION';

/**
 * ProtocolError reports that the peer broke RFC 6455 or RFC 7692. The connection failed: this
 * side sent a close frame with `closeCode` (1002; 1007 for invalid UTF-8; 1008 for a message of
 * too many fragments) and closed the TCP connection.
 */
export class ProtocolError extends WebSocketError {
  /** Stable code naming the kind of violation. */
  readonly code: ProtocolErrorCode;
  /** The close code sent to the peer. */
  readonly closeCode: number;

  /**
   * @param message - every violation found, without the `websocket: ` prefix.
   * @param closeCode - the close code sent to the peer.
   * @param code - the stable error code.
   */
  constructor(
    message: string,
    closeCode: number = CloseProtocolError,
    code: ProtocolErrorCode = 'ERR_WS_PROTOCOL',
    options?: ErrorOptions,
  ) {
    super(`websocket: ${message}`, options);
    this.closeCode = closeCode;
    this.code = code;
  }
}

/**
 * ReadLimitError reports a message larger than the read limit (counted after decompression). The
 * connection failed: this side sent a 1009 close frame. Its message names the limit and the
 * option that sets it. Gorilla: `ErrReadLimit`.
 */
export class ReadLimitError extends WebSocketError {
  /** Stable code: `'ERR_WS_READ_LIMIT'`. */
  readonly code = 'ERR_WS_READ_LIMIT';
  /** The close code sent to the peer: 1009. */
  readonly closeCode = CloseMessageTooBig;
  /** The limit that was exceeded, in bytes. */
  readonly limit: number;

  /** @param limit - the read limit in bytes. */
  constructor(limit: number) {
    super(
      `websocket: read limit exceeded: a message passed readLimit, ${formatBytes(limit)}; ` +
        'raise it with the readLimit option or conn.setReadLimit() if such messages are expected',
    );
    this.limit = limit;
  }
}

// "65536 bytes (64 KiB)": the exact figure an option takes, and a readable one.
function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB'];
  let size = bytes;
  let unit = '';
  for (const next of units) {
    if (size < 1024 || size % 1024 !== 0) break;
    size /= 1024;
    unit = next;
  }
  return unit === '' ? `${bytes} bytes` : `${bytes} bytes (${size} ${unit})`;
}

/**
 * CloseSentError reports a write after this side sent its close frame. Gorilla: `ErrCloseSent`.
 * (A write after the peer's close frame rejects with that {@link CloseError} instead.)
 */
export class CloseSentError extends WebSocketError {
  /** Stable code: `'ERR_WS_CLOSE_SENT'`. */
  readonly code = 'ERR_WS_CLOSE_SENT';
  /** The close code this side sent (1005 when its close frame had none or it is unknown). */
  readonly closeCode: number;
  /** The reason this side sent with it, `''` when none. */
  readonly closeText: string;

  /**
   * @param closeCode - the close code this side sent; omitted: unknown.
   * @param closeText - the reason sent with it.
   */
  constructor(closeCode?: number, closeText = '') {
    super(
      closeCode === undefined
        ? 'websocket: close sent'
        : `websocket: close sent: this side closed the connection with ${describeCode(closeCode)}` +
            `${closeText === '' ? '' : ` "${closeText}"`}; nothing can be written after its close frame`,
    );
    this.closeCode = closeCode ?? CloseNoStatusReceived;
    this.closeText = closeText;
  }
}

/**
 * RateLimitError reports a peer that sent faster than the connection's `rateLimit`: more messages
 * or bytes than its rate and burst allow. The connection failed: this side sent a 1008 (policy
 * violation) close frame.
 */
export class RateLimitError extends WebSocketError {
  /** Stable code: `'ERR_WS_RATE_LIMIT'`. */
  readonly code = 'ERR_WS_RATE_LIMIT';
  /** The close code sent to the peer: 1008. */
  readonly closeCode = ClosePolicyViolation;
  /** Which limit was broken. */
  readonly limit: 'messages' | 'bytes';
  /** Its rate, per second. */
  readonly rate: number;
  /** Its burst. */
  readonly burst: number;

  /**
   * @param limit - which limit was broken.
   * @param rate - its rate per second.
   * @param burst - its burst.
   */
  constructor(limit: 'messages' | 'bytes', rate: number, burst: number) {
    const option = limit === 'messages' ? 'messagesPerSecond' : 'bytesPerSecond';
    super(
      `websocket: rate limit exceeded: the peer sent more than ${rate} ${limit} per second ` +
        `(rateLimit.${option}, burst ${burst}); the connection was closed with 1008`,
    );
    this.limit = limit;
    this.rate = rate;
    this.burst = burst;
  }
}

/** Stable codes of {@link TimeoutError}. */
export type TimeoutErrorCode = 'ERR_WS_TIMEOUT' | 'ERR_WS_KEEPALIVE';

/**
 * TimeoutError reports that a deadline passed: a read or write deadline (the connection is no
 * longer usable in that direction), a `writeControl` deadline, a handshake timeout (`code`
 * `'ERR_WS_TIMEOUT'`), or the keepalive's: nothing arrived from the peer in time after a ping, and
 * the connection was closed (`code` `'ERR_WS_KEEPALIVE'`).
 */
export class TimeoutError extends WebSocketError {
  /** Stable code: `'ERR_WS_TIMEOUT'`, or `'ERR_WS_KEEPALIVE'` for a peer found dead. */
  readonly code: TimeoutErrorCode;

  /**
   * @param what - what timed out, such as `'read'` or `'handshake'`.
   * @param code - the stable code (default `'ERR_WS_TIMEOUT'`).
   * @param detail - appended to the message after `: `.
   */
  constructor(what: string, code: TimeoutErrorCode = 'ERR_WS_TIMEOUT', detail?: string) {
    super(`websocket: ${what} timeout${detail === undefined ? '' : `: ${detail}`}`);
    this.code = code;
  }
}

/**
 * BufferFullError reports a write refused because the connection already holds
 * `maxBufferedAmount` bytes that the socket has not taken (the peer reads too slowly, or not at
 * all). Nothing of the refused write was sent. With `closeOnBufferFull`, the connection also
 * failed: this side sent a 1008 (policy violation) close frame and closed the TCP connection.
 */
export class BufferFullError extends WebSocketError {
  /** Stable code: `'ERR_WS_BUFFER_FULL'`. */
  readonly code = 'ERR_WS_BUFFER_FULL';
  /** The close code sent to the peer: 1008 (used when the connection is closed for it). */
  readonly closeCode = ClosePolicyViolation;
  /** The `maxBufferedAmount` that the write would have passed, in bytes. */
  readonly limit: number;

  /** @param limit - the connection's `maxBufferedAmount`. */
  constructor(limit: number) {
    super(`websocket: write buffer full (maxBufferedAmount ${limit} bytes)`);
    this.limit = limit;
  }
}

/**
 * Returns whether `err` is a {@link CloseError} with one of `codes` (any code when none are
 * given). Gorilla: `IsCloseError`.
 *
 * @example
 * if (isCloseError(err, CloseNormalClosure, CloseGoingAway)) return;
 */
export function isCloseError(err: unknown, ...codes: number[]): err is CloseError {
  return err instanceof CloseError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * Returns whether `err` is a {@link CloseError} whose code is not among `expectedCodes`.
 * Gorilla: `IsUnexpectedCloseError`.
 *
 * @example
 * if (isUnexpectedCloseError(err, CloseGoingAway, CloseNormalClosure)) console.error(err);
 */
export function isUnexpectedCloseError(
  err: unknown,
  ...expectedCodes: number[]
): err is CloseError {
  return err instanceof CloseError && !expectedCodes.includes(err.code);
}
