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

/**
 * CloseError reports that the connection closed: the peer sent a close frame with `code` and
 * `text`, or the connection ended without one (`code` 1006). Reads after a close reject with it.
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
   */
  constructor(code: number, text = '', options?: ErrorOptions) {
    const label = closeLabels[code];
    super(
      `websocket: close ${code}${label === undefined ? '' : ` (${label})`}${text === '' ? '' : `: ${text}`}`,
      options,
    );
    this.code = code;
    this.text = text;
  }
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
 * connection failed: this side sent a 1009 close frame. Gorilla: `ErrReadLimit`.
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
    super(`websocket: read limit exceeded (${limit} bytes)`);
    this.limit = limit;
  }
}

/**
 * CloseSentError reports a write after this side sent its close frame. Gorilla: `ErrCloseSent`.
 */
export class CloseSentError extends WebSocketError {
  /** Stable code: `'ERR_WS_CLOSE_SENT'`. */
  readonly code = 'ERR_WS_CLOSE_SENT';

  constructor() {
    super('websocket: close sent');
  }
}

/**
 * TimeoutError reports that a deadline passed: a read or write deadline (the connection is no
 * longer usable in that direction), a `writeControl` deadline, or a handshake timeout.
 */
export class TimeoutError extends WebSocketError {
  /** Stable code: `'ERR_WS_TIMEOUT'`. */
  readonly code = 'ERR_WS_TIMEOUT';

  /** @param what - what timed out, such as `'read'` or `'handshake'`. */
  constructor(what: string) {
    super(`websocket: ${what} timeout`);
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
