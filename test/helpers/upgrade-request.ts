/**
 * Upgrade requests from a real HTTP client over TCP, for the adapters' refusal tests: resolves
 * with the server's whole answer (status, headers, body) whether it is a 101 or an HTTP error,
 * and with the upgraded socket when it is a 101.
 */
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { connect } from 'node:net';

/** The server's answer to an upgrade request. */
export interface UpgradeAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body of an HTTP error answer (empty for a 101). */
  body: string;
  /** The upgraded socket, for a 101 (the caller destroys it). */
  socket?: Duplex;
  /** Bytes after the 101 head. */
  head?: Buffer;
}

/** The key of RFC 6455's example handshake (section 1.3): a valid `Sec-WebSocket-Key`. */
export const TEST_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** The `Sec-WebSocket-Accept` value for {@link TEST_KEY}, from the same example. */
export const TEST_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** The headers that make a GET a valid WebSocket upgrade request (RFC 6455 section 4.1). */
export const UPGRADE_HEADERS = {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Key': TEST_KEY,
  'Sec-WebSocket-Version': '13',
};

/**
 * Sends `GET path` with the WebSocket upgrade headers (plus `headers`) to 127.0.0.1:`port` and
 * resolves with the answer once it is complete (for an error, once the server closed the
 * connection or the body ended).
 */
export function upgradeRequest(
  port: number,
  path: string,
  headers: OutgoingHttpHeaders = {},
): Promise<UpgradeAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      agent: false,
      headers: { ...UPGRADE_HEADERS, ...headers },
    });
    req.on('error', reject);
    req.on('upgrade', (res, socket, head) => {
      socket.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', socket, head });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        });
      });
    });
    req.end();
  });
}

/**
 * Resolves once the server closed the connection of an answer: its FIN arrived (or the socket
 * closed).
 */
export async function serverClosed(socket: Duplex): Promise<void> {
  if (socket.readableEnded || socket.destroyed) return;
  socket.resume();
  await Promise.race([once(socket, 'end'), once(socket, 'close')]);
}

/**
 * Sends an upgrade request over a raw TCP socket and resolves with everything the server wrote
 * once the server has closed its side (its FIN arrived): proves that a refused upgrade is answered
 * and its socket closed, not left hanging.
 */
export async function rawUpgradeAnswer(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; head: string; body: string }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(upgradeRequestHead(port, path, headers));
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'end');
  socket.destroy();
  const text = Buffer.concat(chunks).toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const raw = split < 0 ? '' : text.slice(split + 4);
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
    head,
    body: /\r\ntransfer-encoding: chunked\r\n/i.test(`${head}\r\n`) ? unchunk(raw) : raw,
  };
}

/**
 * The head of `GET path` to 127.0.0.1:`port` with the WebSocket upgrade headers, then `headers`
 * (added, never replacing), as a client that writes its request by hand sends it.
 */
export function upgradeRequestHead(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    ...[...Object.entries(UPGRADE_HEADERS), ...Object.entries(headers)].map(
      ([name, value]) => `${name}: ${value}`,
    ),
    '',
    '',
  ];
  return lines.join('\r\n');
}

// Decodes a chunked body (RFC 9112 section 7.1), ignoring chunk extensions and trailers.
function unchunk(raw: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return out;
    const size = parseInt(raw.slice(at, lineEnd), 16);
    if (!(size > 0)) return out;
    out += raw.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}
