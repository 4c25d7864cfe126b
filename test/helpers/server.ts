/**
 * Test servers on 127.0.0.1 with an ephemeral port, closed (with every socket) by `close()`.
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions } from 'node:http';
import type { Http2SecureServer, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import {
  Upgrader,
  type Conn,
  type ResponseHeaders,
  type UpgraderOptions,
} from '@silverback/websocket';
import { queue } from './async';
import { startH2Server } from './h2';
import { listenOnLoopback, serverCloser } from './listen';

/** A listening test server. */
export interface TestServer {
  server: Server | Http2SecureServer;
  port: number;
  /** `ws://127.0.0.1:<port>` (`wss://localhost:<port>` over HTTP/2) */
  url: string;
  /** Connections upgraded so far, in order. */
  conns: Conn[];
  /** Resolves with the next upgraded connection. */
  nextConn(): Promise<Conn>;
  /** Resolves with the error of the next upgrade that failed (the upgrader's rejection). */
  nextFailure(): Promise<unknown>;
  /** Destroys every socket and closes the server. */
  close(): Promise<void>;
}

/** How the test server itself is set up, beyond the upgrader's options. */
export interface TestServerSettings {
  /** Headers passed to every `upgrade()` call. */
  responseHeaders?: ResponseHeaders;
  /**
   * Also hands requests that Node does not treat as upgrades (no `Connection: upgrade`, say) to
   * the upgrader, which must refuse them with an HTTP error.
   */
  upgradeEveryRequest?: boolean;
  /** Options of the HTTP server. */
  http?: ServerOptions;
  /**
   * Serve `wss:` over HTTP/2 instead (RFC 8441, the `'stream'` API, `testCertificates()`): each
   * extended CONNECT goes to `upgradeStream`; the connection's request is undefined.
   */
  http2?: boolean;
}

/**
 * Starts an HTTP server whose upgrade requests go through an {@link Upgrader} with `options`,
 * and hands each connection to `handler` (if given).
 */
export async function startServer(
  handler?: (conn: Conn, req: IncomingMessage) => void | Promise<void>,
  options: UpgraderOptions = {},
  settings: TestServerSettings = {},
): Promise<TestServer> {
  const upgrader = new Upgrader(options);
  const conns: Conn[] = [];
  const upgraded = queue<Conn>();
  const failures = queue<unknown>();
  const serve = (accepted: Promise<Conn>, req: IncomingMessage | undefined): void => {
    accepted.then(
      (conn) => {
        conns.push(conn);
        upgraded.push(conn);
        if (handler) {
          Promise.resolve(handler(conn, req!)).catch(() => conn.close());
        }
      },
      (err: unknown) => failures.push(err),
    );
  };
  if (settings.http2 === true) {
    const h2 = await startH2Server();
    h2.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      serve(upgrader.upgradeStream(stream, headers, settings.responseHeaders), undefined);
    });
    return {
      server: h2.server,
      port: h2.port,
      url: `wss://${h2.authority}`,
      conns,
      nextConn: upgraded.next,
      nextFailure: failures.next,
      close: h2.close,
    };
  }
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    serve(upgrader.upgrade(req, socket, head, settings.responseHeaders), req);
  };
  const server = createServer(settings.http ?? {}, (req, res) => {
    if (settings.upgradeEveryRequest) upgrade(req, req.socket, Buffer.alloc(0));
    else res.writeHead(404).end();
  });
  const closer = serverCloser(server);
  server.on('upgrade', upgrade);
  const port = await listenOnLoopback(server);
  return {
    server,
    port,
    url: `ws://127.0.0.1:${port}`,
    conns,
    nextConn: upgraded.next,
    nextFailure: failures.next,
    close: closer.close,
  };
}

/** Echoes every message back with its type, until the connection ends. */
export async function echo(conn: Conn): Promise<void> {
  try {
    for await (const { type, data } of conn) await conn.writeMessage(type, data);
  } catch {
    // the connection failed; the test checks how
  }
}
