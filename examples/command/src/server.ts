/**
 * The command example's server (gorilla's `examples/command`): `/` serves a terminal-like page
 * and `/ws` runs the command once per connection.
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { CloseGoingAway, Upgrader, type Conn, type UpgraderOptions } from '@silverback/websocket';
import { createPageServer, listen } from '@silverback/example-shared';
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

  const server = createPageServer({
    page,
    socketPath: '/ws',
    upgrade(req, socket, head) {
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
    },
  });

  const { url, close } = await listen(
    server,
    { port: options.port, host: options.host ?? '127.0.0.1' },
    async () => {
      const running = [...sessions];
      await Promise.all(running.map(([conn]) => conn.closeGracefully(CloseGoingAway, '', 1000)));
      await Promise.all(running.map(([, session]) => session));
    },
  );
  return { server, url, close };
}
