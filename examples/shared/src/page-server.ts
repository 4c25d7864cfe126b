/**
 * The HTTP side of the plain examples (echo, chat, command, filewatch): one HTML page at `/`, one
 * WebSocket endpoint, and plain refusals for everything else.
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Options of {@link createPageServer}. */
export interface PageServerOptions {
  /**
   * The HTML served at `/` to GET and HEAD requests: the page itself, or a function rendering it
   * for each request.
   */
  page: string | Buffer | (() => Promise<string | Buffer>);
  /** The path (without the query) of the WebSocket endpoint. */
  socketPath: string;
  /**
   * Handles each upgrade request for {@link PageServerOptions.socketPath}: the example's own
   * WebSocket part. It owns `socket` from then on.
   */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/**
 * Creates (without listening) an HTTP server that serves the page at `/` (404 for any other path,
 * 405 for methods other than GET and HEAD) and hands upgrade requests for the socket path to
 * `upgrade`; an upgrade request for any other path is answered 404 and its connection closed.
 * A page function that rejects is answered 500.
 */
export function createPageServer(options: PageServerOptions): Server {
  const { page, socketPath, upgrade } = options;
  const server = createServer((req, res) => {
    if (pathOf(req) !== '/') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n');
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' });
      res.end('Method not allowed\n');
    } else if (typeof page === 'function') {
      page().then(
        (html) => res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html),
        () => res.writeHead(500, { 'Content-Type': 'text/plain' }).end('Internal server error\n'),
      );
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
    }
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(req) !== socketPath) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    upgrade(req, socket, head);
  });
  return server;
}

/** The path of a request's URL, without the query. */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}
