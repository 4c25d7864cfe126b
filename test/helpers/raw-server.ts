/**
 * A raw WebSocket server over plain TCP, the mirror of `raw-client.ts`: it reads each client's
 * upgrade request by hand and lets the test answer it with exact bytes (a correct 101, a broken
 * one, an HTTP error, nothing at all), then write exact frames and read the client's frames. For
 * client tests that need a server no well-behaved library would be.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { queue } from './async';
import { listenOnLoopback, serverCloser } from './listen';
import { rawPeer, type RawPeer } from './raw-client';

/** The GUID of RFC 6455 section 1.3, written out here so tests do not use the code under test. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The `Sec-WebSocket-Accept` value for a key, computed as RFC 6455 section 4.2.2 says. */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/**
 * A correct 101 answer to a request with `key`: Upgrade, Connection and the accept value, plus
 * `headers` (whole lines).
 */
export function switchingProtocols(key: string, headers: string[] = []): string {
  return [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptFor(key)}`,
    ...headers,
    '',
    '',
  ].join('\r\n');
}

/** An upgrade request the raw server received, waiting for the test's answer. */
export interface RawRequest {
  /** The request line's method. */
  method: string;
  /** The request target (path and query). */
  target: string;
  /** The HTTP version of the request line, such as `HTTP/1.1`. */
  version: string;
  /** Header names lower-cased; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The request head as received. */
  head: string;
  /** The TCP connection (paused until the test reads from it). */
  socket: Socket;
  /** Bytes that arrived after the request head. */
  rest: Buffer;
  /**
   * Answers with a correct 101 (Upgrade, Connection and the accept value for the request's key)
   * plus `headers` (whole lines, such as `Sec-WebSocket-Protocol: chat`), followed in the same
   * write by `after` (frames, say), and returns the raw peer for the frames that follow.
   */
  accept(headers?: string[], after?: Buffer): RawPeer;
  /** Writes `bytes` as they are (any answer at all). */
  respond(bytes: Buffer | string): void;
}

/** A listening raw server. */
export interface RawServer {
  server: Server;
  port: number;
  /** `ws://127.0.0.1:<port>` */
  url: string;
  /** Resolves with the next upgrade request. */
  nextRequest(): Promise<RawRequest>;
  /** Resolves with the next TCP connection, before any request arrives on it. */
  nextSocket(): Promise<Socket>;
  /** Destroys every connection and closes the server. */
  close(): Promise<void>;
}

function parseRequest(socket: Socket, head: string, rest: Buffer): RawRequest {
  const lines = head.split('\r\n');
  const [method = '', target = '', version = ''] = (lines[0] ?? '').split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return {
    method,
    target,
    version,
    headers,
    head,
    socket,
    rest,
    accept(extra = [], after) {
      const answer = switchingProtocols(headers['sec-websocket-key'] ?? '', extra);
      socket.write(after ? Buffer.concat([Buffer.from(answer), after]) : answer);
      const peer = rawPeer(socket, rest);
      socket.resume();
      return peer;
    },
    respond(bytes) {
      socket.write(bytes);
    },
  };
}

/** Starts a raw server on 127.0.0.1 port 0. */
export async function startRawServer(): Promise<RawServer> {
  const requests = queue<RawRequest>();
  const connections = queue<Socket>();
  const server = createServer((socket) => {
    socket.on('error', () => {});
    connections.push(socket);
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const head = buffer.subarray(0, end).toString('latin1');
      requests.push(parseRequest(socket, head, buffer.subarray(end + 4)));
    };
    socket.on('data', onData);
  });
  const closer = serverCloser(server);
  const port = await listenOnLoopback(server);
  return {
    server,
    port,
    url: `ws://127.0.0.1:${port}`,
    nextRequest: () => requests.next(),
    nextSocket: () => connections.next(),
    close: closer.close,
  };
}
