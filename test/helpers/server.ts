/**
 * Test servers on 127.0.0.1 with an ephemeral port, closed (with every socket) by `close()`.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Upgrader, type Conn, type UpgraderOptions } from '@silverback/websocket';

/** A listening test server. */
export interface TestServer {
  server: Server;
  port: number;
  /** `ws://127.0.0.1:<port>` */
  url: string;
  /** Connections upgraded so far, in order. */
  conns: Conn[];
  /** Resolves with the next upgraded connection. */
  nextConn(): Promise<Conn>;
  /** Destroys every socket and closes the server. */
  close(): Promise<void>;
}

/**
 * Starts an HTTP server whose upgrade requests go through an {@link Upgrader} with `options`,
 * and hands each connection to `handler` (if given).
 */
export async function startServer(
  handler?: (conn: Conn, req: IncomingMessage) => void | Promise<void>,
  options: UpgraderOptions = {},
): Promise<TestServer> {
  const upgrader = new Upgrader(options);
  const server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const sockets = new Set<Duplex>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const conns: Conn[] = [];
  const waiting: ((conn: Conn) => void)[] = [];
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrader.upgrade(req, socket, head).then(
      (conn) => {
        conns.push(conn);
        waiting.shift()?.(conn);
        if (handler) {
          Promise.resolve(handler(conn, req)).catch(() => conn.close());
        }
      },
      () => {},
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  let seen = 0;
  return {
    server,
    port,
    url: `ws://127.0.0.1:${port}`,
    conns,
    nextConn() {
      if (seen < conns.length) return Promise.resolve(conns[seen++]!);
      return new Promise((resolve) => {
        waiting.push((conn) => {
          seen++;
          resolve(conn);
        });
      });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
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
