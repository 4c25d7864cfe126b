/**
 * The echo server that Autobahn|Testsuite's fuzzing client (and our own conformance suite in
 * `test/conformance`) judges: every message comes back unchanged, text as text and binary as
 * binary, whatever its fragmentation. Gorilla: `examples/autobahn/server.go`.
 *
 * Two echo loops, by path:
 * - `/` (and any path but `/stream`) reads each message whole with `readMessage` and writes it
 *   back with `writeMessage`, so a text message that turns out to be invalid UTF-8 is never
 *   echoed at all;
 * - `/stream` pipes each message from `nextReader` into `nextWriter` as its frames arrive, in
 *   constant memory whatever the message size.
 *
 * Protocol errors, the closing handshake and the end of TCP are the `Conn`'s own work: when a
 * read fails, the connection has already sent its close frame (or answered the peer's) and ends
 * the TCP connection itself, so the loops just stop.
 *
 * With a certificate (the `tls` option) it serves `wss:` instead, over HTTP/2 and HTTP/1.1 as
 * ALPN decides: a WebSocket over HTTP/2 is an extended CONNECT on a stream (RFC 8441), echoed
 * the same way, so the conformance suite can judge the server over both.
 *
 * @module
 */

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CloseGoingAway, Upgrader, type Conn } from '@silverback/websocket';

/** Where the echo server listens. */
export interface EchoServerOptions {
  /** The TCP port; 0 picks a free one. Default 9001, Autobahn's customary port. */
  port?: number;
  /** The address to listen on. Default `127.0.0.1`. */
  host?: string;
  /**
   * A certificate and its key (PEM): serve `wss:` over HTTP/2 (RFC 8441) and HTTP/1.1, as the
   * client's ALPN offer decides. Default: plain `ws:` over HTTP/1.1.
   */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

/** A listening echo server. */
export interface EchoServer {
  /**
   * The HTTP server whose upgrade requests become echo connections: an HTTP/2 server (with
   * HTTP/1.1 beside it) when `tls` was given.
   */
  readonly server: Server | Http2SecureServer;
  /** The address it listens on. */
  readonly host: string;
  /** The port it listens on (the one picked, when 0 was asked for). */
  readonly port: number;
  /** `ws://host:port` (`wss://` with `tls`), the URL to give a client. */
  readonly url: string;
  /** The connections open now. */
  readonly connections: ReadonlySet<Conn>;
  /**
   * Stops accepting connections, closes every open one with 1001 (Going Away), waiting up to
   * `drainMs` for each closing handshake, and resolves once the server and all its sockets are
   * closed.
   */
  close(drainMs?: number): Promise<void>;
}

/** How long `close()` waits for each peer's close frame by default, in milliseconds. */
const DEFAULT_DRAIN_MS = 1000;

/**
 * Starts the echo server and resolves once it listens.
 *
 * Every connection is independent: a peer that breaks the protocol gets its close code and loses
 * its connection, and no other connection notices. Compression (permessage-deflate) is negotiated
 * when the client offers it, and every origin is allowed, as a conformance run needs.
 *
 * @param options - the port (default 9001) and host (default `127.0.0.1`).
 * @returns the listening server.
 * @throws the `listen` error (`EADDRINUSE`, say) when the port cannot be bound.
 */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const host = options.host ?? '127.0.0.1';
  const upgrader = new Upgrader({ checkOrigin: () => true, enableCompression: true });
  const connections = new Set<Conn>();
  // Every socket, upgraded or not, so close() leaves none behind.
  const sockets = new Set<Socket>();

  const plain = (
    req: IncomingMessage | Http2ServerRequest,
    res: ServerResponse | Http2ServerResponse,
  ): void => {
    // HTTP/2 has no Upgrade header (RFC 9113 section 8.2.2).
    const upgrade = req.httpVersionMajor === 2 ? {} : { Upgrade: 'websocket' };
    res.writeHead(426, { ...upgrade, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('This is a WebSocket echo server: connect with a WebSocket client.\n');
  };
  const server =
    options.tls === undefined
      ? createServer(plain)
      : createSecureServer(
          { ...options.tls, allowHTTP1: true, settings: { enableConnectProtocol: true } },
          plain,
        );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const serve = (accepted: Promise<Conn>, url: string | undefined): void => {
    accepted.then(
      (conn) => {
        connections.add(conn);
        void conn.closed.then(() => connections.delete(conn));
        const echo = isStreamPath(url) ? echoStreams : echoMessages;
        echo(conn).catch(() => {
          // The read or write failed: the connection has sent its close frame (or answered the
          // peer's) and ends TCP by itself.
        });
      },
      () => {
        // The upgrader answered the HTTP error and closed the socket (or the stream).
      },
    );
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    serve(upgrader.upgrade(req, socket, head), req.url);
  });
  // An extended CONNECT on an HTTP/2 stream (RFC 8441) reaches the compatibility API's 'connect'.
  server.on('connect', (req: Http2ServerRequest | IncomingMessage, res: unknown) => {
    if (req.httpVersionMajor !== 2) {
      (res as Duplex).destroy(); // an HTTP/1.1 CONNECT: this is no proxy
      return;
    }
    serve(upgrader.upgrade(req as Http2ServerRequest, res as Http2ServerResponse), req.url);
  });

  server.listen(options.port ?? 9001, host);
  await once(server, 'listening'); // rejects with the server's 'error' (EADDRINUSE, say)
  const port = (server.address() as { port: number }).port;

  return {
    server,
    host,
    port,
    url: `${options.tls === undefined ? 'ws' : 'wss'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    connections,
    async close(drainMs = DEFAULT_DRAIN_MS) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(
        [...connections].map((conn) => conn.closeGracefully(CloseGoingAway, '', drainMs)),
      );
      // Sockets still in their HTTP request or handshake.
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function isStreamPath(url: string | undefined): boolean {
  const path = (url ?? '/').split('?', 1)[0];
  return path === '/stream' || path === '/stream/';
}

/** Echoes whole messages until the connection ends (gorilla's `echoReadAll`). */
async function echoMessages(conn: Conn): Promise<void> {
  for await (const { type, data } of conn) await conn.writeMessage(type, data);
}

/** Echoes each message frame by frame as it arrives (gorilla's `echoCopy`). */
async function echoStreams(conn: Conn): Promise<void> {
  for (;;) {
    const { type, reader } = await conn.nextReader();
    const writer = await conn.nextWriter(type);
    await pipeline(reader, writer);
  }
}
