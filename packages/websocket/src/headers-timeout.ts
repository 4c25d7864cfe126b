/**
 * A bound on the time from a new TCP connection to its first complete request head, on the
 * servers the upgrade layer attaches to (its `headersTimeout` option).
 *
 * Node has its own bound (`server.headersTimeout`, 60 s), but checks it only every
 * `connectionsCheckingInterval` (30 s, fixed when the server is created): sockets sending an
 * upgrade request a byte at a time are held for up to 90 s, a thousand of them as long, and no
 * option of a server made by `app.listen()` can change that afterwards.
 *
 * @module
 */

import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { writeHttpError } from './server.js';

const kTimer = Symbol('silverback.headersTimer');

interface Watched {
  [kTimer]?: NodeJS.Timeout;
}

/**
 * Starts bounding how long each new connection to `server` may take to send its first request
 * head (request line and headers): a connection that has not finished it within `timeoutMs` of
 * connecting (of its TLS handshake completing, on an HTTPS server) is answered 408 Request
 * Timeout and closed. Plain requests are seen through a `'request'` listener; the caller's
 * `'upgrade'` listener must call {@link headersArrived} for upgrade requests (adding an
 * `'upgrade'` listener here would change how Node treats upgrades on a server that had none).
 * One timer per connection, while it sends its head; keep-alive and upgraded connections are
 * not watched.
 *
 * @param timeoutMs - the bound in milliseconds; 0 or less watches nothing.
 * @returns a function that stops watching new connections.
 * @internal
 */
export function watchHeadersTime(server: HttpServer | HttpsServer, timeoutMs: number): () => void {
  if (!(timeoutMs > 0)) return noop;
  const watch = (socket: Duplex): void => {
    const timer = setTimeout(expire, timeoutMs, socket);
    timer.unref();
    (socket as Watched)[kTimer] = timer;
    socket.once('close', () => headersArrived(socket));
  };
  const onRequest = (req: IncomingMessage): void => headersArrived(req.socket);
  // An HTTPS server's requests arrive on the TLS socket, which exists once TLS is set up.
  const event = 'setSecureContext' in server ? 'secureConnection' : 'connection';
  server.on(event, watch);
  server.prependListener('request', onRequest);
  return () => {
    server.off(event, watch);
    server.off('request', onRequest);
  };
}

/**
 * Tells the watch that `socket` has sent its request head: its timer stops.
 *
 * @internal
 */
export function headersArrived(socket: Duplex | null): void {
  const watched = socket as Watched | null;
  const timer = watched?.[kTimer];
  if (timer === undefined) return;
  clearTimeout(timer);
  delete watched![kTimer];
}

function expire(socket: Duplex): void {
  delete (socket as Watched)[kTimer];
  if (!socket.destroyed) writeHttpError(socket, 408);
}

function noop(): void {}
