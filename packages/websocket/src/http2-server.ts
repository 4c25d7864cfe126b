/**
 * The server side of RFC 8441: the opening handshake of a WebSocket carried by an HTTP/2 stream.
 * The client sends an extended CONNECT (`:method CONNECT`, `:protocol websocket`) where RFC 6455
 * has a GET with `Upgrade`; the server answers 200 on the stream instead of 101, and from then
 * on the stream carries RFC 6455's frames as a TCP connection would. `Sec-WebSocket-Key` and
 * `Sec-WebSocket-Accept` are not used: the `:protocol` pseudo-header supersedes them. The
 * {@link Upgrader} runs the checks and answers here, and shares everything else (origin,
 * subprotocols, permessage-deflate) with HTTP/1.1.
 *
 * A server must advertise `SETTINGS_ENABLE_CONNECT_PROTOCOL` (Node: `settings: {
 * enableConnectProtocol: true }`) before a client may send an extended CONNECT.
 *
 * @module
 */

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import {
  constants as http2Constants,
  Http2ServerRequest,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { STATUS_CODES } from 'node:http';
import { headerValue } from './handshake.js';

/**
 * The request of an upgrade: Node's `IncomingMessage` for HTTP/1.1, its `Http2ServerRequest`
 * for an extended CONNECT over HTTP/2 (RFC 8441). Both carry `headers`, `method` and `url`.
 */
export type UpgradeRequest = IncomingMessage | Http2ServerRequest;

/** A refused request: the status to answer, why, and headers the answer carries. */
export interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

// Header fields HTTP/2 forbids (RFC 9113 section 8.2.2); RFC 8441 section 5 names Connection and
// Upgrade for the CONNECT request.
const CONNECTION_SPECIFIC = ['connection', 'upgrade', 'keep-alive', 'proxy-connection'];

/**
 * Returns whether HTTP/2 request headers open a WebSocket: an extended CONNECT (RFC 8441 section
 * 4) whose `:protocol` is `websocket`. For the `'stream'` event of an HTTP/2 server.
 *
 * @example
 * server.on('stream', (stream, headers) => {
 *   if (isWebSocketConnect(headers)) void upgrader.upgradeStream(stream, headers).then(serve);
 * });
 */
export function isWebSocketConnect(headers: IncomingHttpHeaders): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket';
}

/** Returns whether a request came over HTTP/2 (its headers hold pseudo-header fields). */
export function isHttp2Request(req: UpgradeRequest): req is Http2ServerRequest {
  return req.httpVersionMajor === 2;
}

/**
 * Checks an extended CONNECT as RFC 8441 section 5 requires of a WebSocket handshake, and
 * returns the refusal, or `undefined` when it passes: `:method` CONNECT (405 otherwise, with
 * `Allow: CONNECT`), `:protocol` websocket, `:scheme` http or https, `:path` and `:authority`
 * present, no `Connection` or `Upgrade` field (400 otherwise), `sec-websocket-version` 13 (400
 * with `sec-websocket-version: 13` otherwise). `Sec-WebSocket-Key` is not processed.
 */
export function checkExtendedConnect(headers: IncomingHttpHeaders): Refusal | undefined {
  if (headers[':method'] !== 'CONNECT') {
    return { status: 405, message: 'request method is not CONNECT', headers: { allow: 'CONNECT' } };
  }
  if (headers[':protocol'] !== 'websocket') {
    return { status: 400, message: "':protocol' pseudo-header is not 'websocket'" };
  }
  const scheme = headers[':scheme'];
  if (scheme !== 'https' && scheme !== 'http') {
    return { status: 400, message: "':scheme' pseudo-header is not 'https' or 'http'" };
  }
  const path = headers[':path'];
  if (path === undefined || path === '') {
    return { status: 400, message: "missing ':path' pseudo-header" };
  }
  const authority = headers[':authority'];
  if (authority === undefined || authority === '') {
    return { status: 400, message: "missing ':authority' pseudo-header" };
  }
  for (const name of CONNECTION_SPECIFIC) {
    if (headers[name] !== undefined) {
      return { status: 400, message: `'${name}' header field is not allowed in HTTP/2` };
    }
  }
  if (headerValue(headers, 'sec-websocket-version') !== '13') {
    return {
      status: 400,
      message: "unsupported version: 13 not found in 'Sec-WebSocket-Version' header",
      headers: { 'sec-websocket-version': '13' },
    };
  }
  return undefined;
}

/**
 * Returns the header names of `headers` that HTTP/2 forbids in an answer (RFC 9113 section
 * 8.2.2), so the upgrader can refuse them as it refuses other bad response headers.
 */
export function forbiddenInHttp2(names: Iterable<string>): string | undefined {
  for (const name of names) {
    if (CONNECTION_SPECIFIC.includes(name) || name === 'transfer-encoding') return name;
  }
  return undefined;
}

/**
 * Answers a refused handshake on the stream: the status, `headers`, and the status text as a
 * plain-text body, then the end of the stream. The session stays open for its other streams.
 */
export function refuseStream(
  stream: ServerHttp2Stream,
  status: number,
  headers: Record<string, string> = {},
): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(http2Constants.NGHTTP2_CANCEL);
    return;
  }
  const body = STATUS_CODES[status] ?? 'Error';
  stream.respond({
    ...headers,
    ':status': status,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  stream.end(body);
}

/**
 * Answers an accepted handshake: 200 with `headers` (RFC 8441 section 5: any 2xx; no
 * `Sec-WebSocket-Accept`), leaving the stream open for the frames.
 */
export function acceptStream(stream: ServerHttp2Stream, headers: OutgoingHttpHeaders): void {
  stream.respond({ ...headers, ':status': 200 });
}

/**
 * Returns a compatibility-API request for a stream from the `'stream'` event, so `checkOrigin`
 * receives the same kind of object whichever API delivered the request. Made only when a custom
 * `checkOrigin` asks for it.
 */
export function compatRequest(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): Http2ServerRequest {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const each of Array.isArray(value) ? value : [value]) raw.push(name, String(each));
  }
  return new Http2ServerRequest(stream, headers, {}, raw);
}
