/**
 * Close frame payloads: building them (gorilla's `FormatCloseMessage`) and checking received
 * ones (RFC 6455 sections 5.5.1 and 7.4).
 *
 * @module
 */

import { CloseNoStatusReceived, MAX_CONTROL_PAYLOAD } from './constants.js';
import { isValidUtf8 } from './utf8.js';

const EMPTY = Buffer.alloc(0);

/**
 * Returns the payload of a close message: the two-byte `code` followed by `text`. Code 1005
 * (no status) yields an empty payload, as gorilla does. The text is cut at a character boundary
 * so the payload fits a control frame's 125 bytes. Gorilla: `FormatCloseMessage`.
 *
 * @param code - the close code.
 * @param text - the reason, UTF-8 encoded into at most 123 bytes.
 * @throws {RangeError} when `code` is not an integer between 0 and 65535.
 */
export function formatCloseMessage(code: number, text = ''): Buffer {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) {
    throw new RangeError(`websocket: invalid close code ${code}`);
  }
  if (code === CloseNoStatusReceived) return EMPTY;
  const reason = truncateUtf8(Buffer.from(text, 'utf8'), MAX_CONTROL_PAYLOAD - 2);
  const payload = Buffer.allocUnsafe(2 + reason.length);
  payload.writeUInt16BE(code, 0);
  reason.copy(payload, 2);
  return payload;
}

/** Cuts UTF-8 bytes to at most `max` bytes without splitting a character. */
function truncateUtf8(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Returns whether a peer may send `code` in a close frame (RFC 6455 section 7.4, with the codes
 * IANA registered since: 1012 to 1014). 1004 to 1006 and 1015 are reserved, never sent.
 */
export function isValidReceivedCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/** The outcome of parsing a received close payload. */
export type ParsedClose =
  { ok: true; code: number; text: string } | { ok: false; reason: string; closeCode: number };

/**
 * Parses a received close payload: empty (code 1005), or a valid code followed by UTF-8 text.
 * A one-byte payload or an invalid code is a protocol error (1002), an invalid reason 1007.
 */
export function parseClosePayload(payload: Buffer): ParsedClose {
  if (payload.length === 0) return { ok: true, code: CloseNoStatusReceived, text: '' };
  if (payload.length === 1) {
    return { ok: false, reason: 'close frame payload of one byte', closeCode: 1002 };
  }
  const code = payload.readUInt16BE(0);
  if (!isValidReceivedCloseCode(code)) {
    return { ok: false, reason: `invalid close code ${code}`, closeCode: 1002 };
  }
  const reason = payload.subarray(2);
  if (!isValidUtf8(reason)) {
    return { ok: false, reason: 'invalid UTF-8 in close reason', closeCode: 1007 };
  }
  return { ok: true, code, text: reason.toString('utf8') };
}
