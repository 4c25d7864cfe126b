/**
 * Opening handshake helpers (RFC 6455 section 4, gorilla's `util.go`): accept and challenge keys,
 * and header grammar. Header lists are scanned by hand, character by character, never with a
 * regular expression that could backtrack on hostile input.
 *
 * @module
 */

import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { WEBSOCKET_GUID } from './constants.js';

/** Returns the `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`. */
export function computeAcceptKey(challengeKey: string): string {
  return createHash('sha1')
    .update(challengeKey + WEBSOCKET_GUID)
    .digest('base64');
}

/** Returns a fresh `Sec-WebSocket-Key`: 16 random bytes, base64-encoded. */
export function generateChallengeKey(): string {
  return randomBytes(16).toString('base64');
}

function isBase64Char(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2b || // +
    c === 0x2f // /
  );
}

/** Returns whether `key` is the base64 encoding of 16 bytes (RFC 6455 section 4.2.1, item 5). */
export function isValidChallengeKey(key: string | undefined): key is string {
  if (key === undefined || key.length !== 24 || !key.endsWith('==')) return false;
  for (let i = 0; i < 22; i++) if (!isBase64Char(key.charCodeAt(i))) return false;
  // The last character before the padding carries 2 bits of data and 4 zero bits.
  return 'AQgw'.includes(key[21]!);
}

/** Returns a request header as one string (repeated headers joined with commas). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

// RFC 7230 section 3.2.6 tchar.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

function isTokenChar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/** Returns whether `value` is an RFC 7230 token. */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTokenChar(value.charCodeAt(i))) return false;
  return true;
}

/**
 * Returns the trimmed, non-empty items of a comma-separated header list.
 * Gorilla: the loop in `Subprotocols`.
 */
export function parseList(value: string | undefined): string[] {
  const items: string[] = [];
  if (value === undefined) return items;
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i === value.length || value.charCodeAt(i) === 0x2c) {
      let s = start;
      let e = i;
      while (s < e && isWhitespace(value.charCodeAt(s))) s++;
      while (e > s && isWhitespace(value.charCodeAt(e - 1))) e--;
      if (e > s) items.push(value.slice(s, e));
      start = i + 1;
    }
  }
  return items;
}

/**
 * Returns whether a comma-separated header list holds `token`, compared without regard to ASCII
 * case. Gorilla: `tokenListContainsValue`.
 */
export function tokenListContainsValue(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  const wanted = token.toLowerCase();
  return parseList(value).some(
    (item) => item.length === wanted.length && item.toLowerCase() === wanted,
  );
}

/** One offer (or answer) in a `Sec-WebSocket-Extensions` header. */
export interface ExtensionOffer {
  /** The extension name, such as `permessage-deflate`. */
  name: string;
  /** Each parameter's values in order: `true` for a parameter without a value. */
  params: Map<string, (string | true)[]>;
}

/**
 * Parses a `Sec-WebSocket-Extensions` header (RFC 6455 section 9.1): a list of extensions, each
 * with `;`-separated parameters whose values are tokens or quoted strings. Returns `null` when the
 * header is malformed.
 */
export function parseExtensions(value: string | undefined): ExtensionOffer[] | null {
  const offers: ExtensionOffer[] = [];
  if (value === undefined) return offers;
  const n = value.length;
  let i = 0;
  const skipSpace = (): void => {
    while (i < n && isWhitespace(value.charCodeAt(i))) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && isTokenChar(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };
  for (;;) {
    skipSpace();
    if (i < n && value.charCodeAt(i) === 0x2c) {
      i++; // an empty list element
      continue;
    }
    if (i >= n) break;
    const name = readToken();
    if (name === '') return null;
    const params = new Map<string, (string | true)[]>();
    skipSpace();
    while (i < n && value.charCodeAt(i) === 0x3b) {
      i++;
      skipSpace();
      const param = readToken().toLowerCase();
      if (param === '') return null;
      skipSpace();
      let paramValue: string | true = true;
      if (i < n && value.charCodeAt(i) === 0x3d) {
        i++;
        skipSpace();
        if (i < n && value.charCodeAt(i) === 0x22) {
          i++;
          let text = '';
          let closed = false;
          while (i < n) {
            const c = value.charCodeAt(i++);
            if (c === 0x22) {
              closed = true;
              break;
            }
            if (c === 0x5c) {
              if (i >= n) return null;
              text += value[i++];
            } else {
              text += value[i - 1];
            }
          }
          // RFC 6455 section 9.1: a quoted value must be a token once unescaped.
          if (!closed || !isToken(text)) return null;
          paramValue = text;
        } else {
          paramValue = readToken();
          if (paramValue === '') return null;
        }
        skipSpace();
      }
      const values = params.get(param);
      if (values === undefined) params.set(param, [paramValue]);
      else values.push(paramValue);
    }
    offers.push({ name, params });
    if (i >= n) break;
    if (value.charCodeAt(i) !== 0x2c) return null;
    i++;
  }
  return offers;
}

/** Formats one extension and its parameters for a `Sec-WebSocket-Extensions` header. */
export function formatExtension(name: string, params: Iterable<[string, string | true]>): string {
  let out = name;
  for (const [param, value] of params) out += value === true ? `; ${param}` : `; ${param}=${value}`;
  return out;
}

/** Returns the host of an `Origin` value (`scheme://host[:port]`), or `undefined` if it has none. */
export function originHost(origin: string): string | undefined {
  const start = origin.indexOf('://');
  if (start <= 0) return undefined;
  let end = start + 3;
  while (end < origin.length) {
    const c = origin.charCodeAt(end);
    if (c === 0x2f || c === 0x3f || c === 0x23) break; // / ? #
    end++;
  }
  const host = origin.slice(start + 3, end);
  return host === '' ? undefined : host;
}
