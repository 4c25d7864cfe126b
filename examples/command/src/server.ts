/**
 * The command example's server (gorilla's `examples/command`): `/` serves a terminal-like page
 * and `/ws` runs the command once per connection.
 *
 * @module
 */

import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { CloseGoingAway, Upgrader, type Conn, type UpgraderOptions } from '@silverback/websocket';
import { runCommand, type CommandExit } from './session.js';

/** Where the command page lives; `src/` and `dist/` are both one level below it. */
export const commandPagePath = join(__dirname, '..', 'public', 'index.html');

/** Options of {@link startCommand}. */
export interface CommandOptions {
  /** The program to run for each connection, looked up on `PATH` as a shell would. */
  command: string;
  /** Its arguments. */
  args?: readonly string[];
  /** The TCP port; `0` (the default) picks a free one. */
  port?: number;
  /**
   * The address to listen on; default `127.0.0.1`, as gorilla: whoever reaches the page runs the
   * command.
   */
  host?: string;
  /** Options for the {@link Upgrader}; the default same-origin check stays on unless replaced. */
  upgrader?: UpgraderOptions;
  /** Called each time a command exits. */
  onExit?: (exit: CommandExit) => void;
  /** Receives one line per event worth logging; default: silent. */
  log?: (line: string) => void;
}

/** A running command server. */
export interface CommandServer {
  /** The HTTP server. */
  server: Server;
  /** The page's address, `http://<host>:<port>/`. */
  url: string;
  /**
   * Closes every connection with 1001 Going Away (ending their commands), then the server. Calling
   * it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * Starts the command server and resolves once it listens.
 *
 * @throws the `listen` error (`EADDRINUSE`, say) when the port cannot be bound.
 */
export async function startCommand(options: CommandOptions): Promise<CommandServer> {
  const log = options.log ?? (() => {});
  const args = options.args ?? [];
  const page = await readFile(commandPagePath);
  const upgrader = new Upgrader(options.upgrader);
  const sessions = new Map<Conn, Promise<unknown>>();

  const server = createServer((req, res) => {
    if (pathOf(req) !== '/') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n');
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' });
      res.end('Method not allowed\n');
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
    }
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(req) !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    upgrader.upgrade(req, socket, head).then(
      (conn) => {
        const session = runCommand(conn, options.command, args, log).then((exit) => {
          sessions.delete(conn);
          if (exit !== null) options.onExit?.(exit);
        });
        sessions.set(conn, session);
      },
      // The upgrader has answered the HTTP error itself.
      (err: Error) => log(`upgrade: ${err.message}`),
    );
  });

  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let stopping: Promise<void> | undefined;
  return {
    server,
    url: `http://${host}:${address.port}/`,
    close() {
      stopping ??= (async () => {
        const closing = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        const running = [...sessions];
        await Promise.all(running.map(([conn]) => conn.closeGracefully(CloseGoingAway, '', 1000)));
        await Promise.all(running.map(([, session]) => session));
        await closing;
      })();
      return stopping;
    },
  };
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}
