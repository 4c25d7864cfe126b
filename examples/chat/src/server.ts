/**
 * The chat example's server (gorilla's `examples/chat/main.go`): `/` serves the chat page and
 * `/ws` hands each connection to the {@link Hub}.
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Upgrader, type UpgraderOptions } from '@silverback/websocket';
import { createPageServer, listen } from '@silverback/example-shared';
import { Hub, type HubOptions } from './hub.js';

/**
 * Where the chat page lives (`src/` and `dist/` are both one level below it), for servers that
 * serve it themselves, such as the framework chat examples.
 */
export const chatPagePath = join(__dirname, '..', 'public', 'index.html');

/** Options of {@link startChat}. */
export interface ChatOptions {
  /** The TCP port; `0` (the default) picks a free one. */
  port?: number;
  /** The address to listen on; default: every interface, as gorilla's `:8080`. */
  host?: string;
  /** The hub to serve, or options for a new one. */
  hub?: Hub | HubOptions;
  /**
   * Options for the {@link Upgrader}; by default gorilla's 1024-byte buffers, same-origin check
   * and permessage-deflate on.
   */
  upgrader?: UpgraderOptions;
  /** Receives one line per event worth logging; default: silent. */
  log?: (line: string) => void;
}

/** A running chat server. */
export interface ChatServer {
  /** The HTTP server. */
  server: Server;
  /** The hub its connections join. */
  hub: Hub;
  /** The port it listens on. */
  port: number;
  /** The page's address on the loopback interface, `http://127.0.0.1:<port>/` or similar. */
  url: string;
  /**
   * Closes every client with 1001 Going Away, then the server. Calling it again returns the same
   * promise.
   */
  close(): Promise<void>;
}

/**
 * Starts the chat server and resolves once it listens.
 *
 * @throws the `listen` error (`EADDRINUSE`, say) when the port cannot be bound.
 */
export async function startChat(options: ChatOptions = {}): Promise<ChatServer> {
  const log = options.log ?? (() => {});
  const page = await readFile(chatPagePath);
  const hub = options.hub instanceof Hub ? options.hub : new Hub(options.hub);
  const upgrader = new Upgrader({
    readBufferSize: 1024,
    writeBufferSize: 1024,
    enableCompression: true,
    ...options.upgrader,
  });

  const server = createPageServer({
    page,
    socketPath: '/ws',
    upgrade(req, socket, head) {
      upgrader.upgrade(req, socket, head).then(
        (conn) => void hub.serve(conn),
        // The upgrader has answered the HTTP error itself.
        (err: Error) => log(`upgrade: ${err.message}`),
      );
    },
  });
  const onRegister = (): void => log(`joined (${hub.clients.size} online)`);
  const onUnregister = (_client: unknown, reason: string): void =>
    log(`left: ${reason} (${hub.clients.size} online)`);
  hub.on('register', onRegister);
  hub.on('unregister', onUnregister);

  const { port, url, close } = await listen(
    server,
    { port: options.port, host: options.host, loopbackForWildcard: true },
    async () => {
      await hub.close();
      hub.off('register', onRegister);
      hub.off('unregister', onUnregister);
    },
  );
  return { server, hub, port, url, close };
}
