/**
 * The echo example's server (gorilla's `examples/echo`): `/` serves a page that opens a socket
 * from the browser, and `/echo` sends every message back as it came, text as text and binary as
 * binary.
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import {
  CloseGoingAway,
  TextMessage,
  Upgrader,
  type Conn,
  type UpgraderOptions,
} from '@silverback/websocket';
import { createPageServer, listen } from '@silverback/example-shared';

/** Where the echo page lives; `src/` and `dist/` are both one level below it. */
export const echoPagePath = join(__dirname, '..', 'public', 'index.html');

/** Options of {@link startEcho}. */
export interface EchoOptions {
  /** The TCP port; `0` (the default) picks a free one. */
  port?: number;
  /** The address to listen on; default `127.0.0.1`, as gorilla's `localhost:8081`. */
  host?: string;
  /** Options for the {@link Upgrader}; permessage-deflate is on unless this says otherwise. */
  upgrader?: UpgraderOptions;
  /** Receives one line per event worth logging; default: silent. */
  log?: (line: string) => void;
}

/** A running echo server. */
export interface EchoServer {
  /** The HTTP server. */
  server: Server;
  /** The page's address, `http://<host>:<port>/`. */
  url: string;
  /** The connections being echoed. */
  conns: ReadonlySet<Conn>;
  /**
   * Closes every connection with 1001 Going Away, then the server. Calling it again returns the
   * same promise.
   */
  close(): Promise<void>;
}

/**
 * Starts the echo server and resolves once it listens.
 *
 * @throws the `listen` error (`EADDRINUSE`, say) when the port cannot be bound.
 */
export async function startEcho(options: EchoOptions = {}): Promise<EchoServer> {
  const log = options.log ?? (() => {});
  const page = await readFile(echoPagePath);
  const upgrader = new Upgrader({ enableCompression: true, ...options.upgrader });
  const conns = new Set<Conn>();

  const server = createPageServer({
    page,
    socketPath: '/echo',
    upgrade(req, socket, head) {
      upgrader.upgrade(req, socket, head).then(
        (conn) => {
          conns.add(conn);
          void echo(conn, log).finally(() => conns.delete(conn));
        },
        // The upgrader has answered the HTTP error itself.
        (err: Error) => log(`upgrade: ${err.message}`),
      );
    },
  });

  const { url, close } = await listen(
    server,
    { port: options.port, host: options.host ?? '127.0.0.1' },
    () => Promise.all([...conns].map((conn) => conn.closeGracefully(CloseGoingAway, '', 1000))),
  );
  return { server, url, conns, close };
}

/** Echoes every message back with its type until the connection ends, then closes it. */
async function echo(conn: Conn, log: (line: string) => void): Promise<void> {
  try {
    for await (const { type, data } of conn) {
      log(`recv: ${type === TextMessage ? data.toString('utf8') : `${data.length} bytes`}`);
      await conn.writeMessage(type, data);
    }
  } catch (err) {
    // The iteration ends quietly on a normal close; anything else is worth a line.
    log(`read: ${(err as Error).message}`);
  } finally {
    await conn.closeGracefully();
  }
}
