/**
 * {@link inject}: a client connection to an application without a listening port, and the
 * registry through which adapters tell it which server serves an application object.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { Server as NetServer } from 'node:net';
import { Dialer, type DialerOptions, type RequestHeaders } from './client.js';
import type { Conn } from './conn.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from './constants.js';
import { memorySocketPair } from './memory-socket.js';
import type { UpgradeServer } from './upgrade-layer.js';

/** Options of {@link inject}. */
export interface InjectOptions {
  /** Request headers (cookies, authorization, origin...). */
  headers?: RequestHeaders;
  /** Subprotocols to offer, in order of preference. */
  subprotocols?: string[];
  /** Whether to offer permessage-deflate, as the Dialer's `enableCompression`. Default off. */
  enableCompression?: DialerOptions['enableCompression'];
  /** How long (ms) the handshake may take. Default 10,000. */
  handshakeTimeout?: number;
  /** The client connection's read limit, in bytes. Default 64 MiB. */
  readLimit?: number;
}

const injectTargets = new WeakMap<object, () => UpgradeServer>();

/**
 * Lets {@link inject} find the server for an application object: adapters register each app
 * (or plugin instance) they serve with a function returning a server attached to its layer,
 * usually {@link UpgradeLayer.memoryServer}.
 */
export function registerInjectTarget(target: object, server: () => UpgradeServer): void {
  injectTargets.set(target, server);
}

/**
 * Opens a client {@link Conn} to `path` on an application or server without a listening port:
 * the upgrade request travels over an in-memory socket pair into the real server, through the
 * real upgrade layer and the application's whole middleware stack, exactly as a request from the
 * network would. The client side is a {@link Dialer} whose `netDial` hands it the pair's other
 * end, so the server's answer is checked as strictly as any.
 *
 * @param target - an application an adapter serves (Express app, Fastify instance, Koa app), or an
 *   `http.Server` (listening or not) with a layer attached.
 * @param path - the request target, with its query string.
 * @returns the client side of the connection (it masks its frames).
 * @throws {HandshakeError} when the server refused: `status` and `response` (status, headers,
 *   body) carry its answer; also when its 101 answer is invalid.
 * @throws {TimeoutError} when no answer came within `handshakeTimeout`.
 * @throws {TypeError} when `target` is neither a server nor an application an adapter serves.
 *
 * @example
 * const conn = await inject(app, '/rooms/42?user=ann', { headers: { authorization: 'Bearer t' } });
 * await conn.writeMessage(TextMessage, 'hi');
 */
export async function inject(
  target: object,
  path: string,
  options: InjectOptions = {},
): Promise<Conn> {
  const server = resolveInjectTarget(target);
  const dialer = new Dialer({
    subprotocols: options.subprotocols,
    enableCompression: options.enableCompression,
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    readLimit: options.readLimit,
    netDial: () => {
      const [client, serverEnd] = memorySocketPair();
      serverEnd.on('error', noop);
      server.emit('connection', serverEnd);
      return Promise.resolve(client);
    },
  });
  const { conn } = await dialer.dial(new URL(path, 'ws://localhost/'), options.headers);
  return conn;
}

function resolveInjectTarget(target: object): UpgradeServer {
  const registered = injectTargets.get(target);
  if (registered !== undefined) return registered();
  if (target instanceof NetServer && target instanceof EventEmitter) {
    return target as UpgradeServer;
  }
  throw new TypeError(
    'inject: the target is neither an http.Server nor an application served by a silverback adapter',
  );
}

function noop(): void {}
