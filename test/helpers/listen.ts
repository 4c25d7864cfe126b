/**
 * Test servers on the loopback interface: listening on an ephemeral port, and closing with every
 * connection they accepted (a server waits for open connections before it reports itself closed,
 * and WebSockets stay open until told otherwise).
 */
import { once } from 'node:events';
import type { Server } from 'node:net';
import type { Duplex } from 'node:stream';

/** Listens on 127.0.0.1 with an ephemeral port and resolves with the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** Ends a test server together with its connections. */
export interface ServerCloser {
  /** Destroys `socket` too on close (a connection the server opened itself, say). */
  track(socket: Duplex): void;
  /** Destroys every tracked socket still open, then closes the server if it is listening. */
  close(): Promise<void>;
}

/** Tracks every connection `server` accepts from now on, for {@link ServerCloser.close}. */
export function serverCloser(server: Server): ServerCloser {
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  return {
    track,
    async close() {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
