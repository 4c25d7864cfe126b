/**
 * Starting and stopping an example's HTTP server: listen, name the page's address, and a `close()`
 * that ends the WebSocket connections before the server.
 *
 * @module
 */

import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of {@link listen}. */
export interface ListenOptions {
  /** The TCP port; `0` (the default) picks a free one. */
  port?: number;
  /** The address to listen on; default: every interface. */
  host?: string;
  /**
   * Whether {@link Listening.url} names `127.0.0.1` when the server listens on every interface
   * (`::` or `0.0.0.0`), an address a browser on this machine can open; otherwise the URL names
   * the address the server listens on, as it is. Default `false`.
   */
  loopbackForWildcard?: boolean;
}

/** A listening server. */
export interface Listening {
  /** The port it listens on (the one picked, when `0` was asked for). */
  port: number;
  /** The page's address, `http://<host>:<port>/` (IPv6 addresses in brackets). */
  url: string;
  /**
   * Stops accepting connections, ends the HTTP connections, runs `closeConnections`, and resolves
   * once that and the server's closing are done. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * Makes `server` listen and resolves once it does.
 *
 * @param closeConnections - closes the example's WebSocket connections (which the HTTP server no
 *   longer tracks once upgraded) when {@link Listening.close} runs.
 * @throws the `listen` error (`EADDRINUSE`, say) when the port cannot be bound.
 */
export async function listen(
  server: Server,
  options: ListenOptions,
  closeConnections: () => Promise<unknown>,
): Promise<Listening> {
  server.listen(options.port ?? 0, options.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;

  let stopping: Promise<void> | undefined;
  return {
    port: address.port,
    url: pageUrl(address, options.loopbackForWildcard ?? false),
    close() {
      stopping ??= (async () => {
        const closing = closeServer(server);
        server.closeAllConnections();
        await closeConnections();
        await closing;
      })();
      return stopping;
    },
  };
}

/**
 * The address of the page a server listening at `address` serves: `http://<host>:<port>/`, the
 * host in brackets when it is IPv6, and `127.0.0.1` for a wildcard address (`::`, `0.0.0.0`) when
 * `loopbackForWildcard` is set.
 */
export function pageUrl(address: AddressInfo, loopbackForWildcard: boolean): string {
  const wildcard = address.address === '::' || address.address === '0.0.0.0';
  const host =
    wildcard && loopbackForWildcard
      ? '127.0.0.1'
      : address.family === 'IPv6'
        ? `[${address.address}]`
        : address.address;
  return `http://${host}:${address.port}/`;
}

/**
 * Closes `server` (`server.close()`) and resolves once it has closed: once every connection it
 * still has has ended. Resolves as well when the server was not listening.
 */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
