/**
 * What silverback publishes on `node:diagnostics_channel`, for APM tools, metrics and logs.
 * Node's own HTTP channels never fire for an upgraded request, so without these a WebSocket
 * connection is invisible to them.
 *
 * Every publication is guarded by `hasSubscribers`: with nobody subscribed, no message object is
 * built and nothing else happens.
 *
 * @module
 */

import { channel, tracingChannel } from 'node:diagnostics_channel';
import type { Duplex } from 'node:stream';
import type { Conn } from './conn.js';
import type { UpgradeRequest } from './http2-server.js';

/** The channels' names, as `diagnostics_channel.subscribe(name, ...)` takes them. */
export const channels = {
  /** A connection opened: {@link ConnectionOpenMessage}. */
  open: 'silverback:connection:open',
  /** A connection's TCP connection closed: {@link ConnectionCloseMessage}. */
  close: 'silverback:connection:close',
  /** A server refused or failed an opening handshake: {@link HandshakeRefusedMessage}. */
  refused: 'silverback:handshake:refused',
  /**
   * The tracing channel of `Upgrader.upgrade` (`tracing:silverback:upgrade:start`, `:end`,
   * `:asyncStart`, `:asyncEnd`, `:error`): {@link UpgradeTraceContext}.
   */
  upgrade: 'silverback:upgrade',
} as const;

/** Published on `silverback:connection:open` by a server: the upgrade succeeded. */
export interface ServerOpenMessage {
  /** The new connection. */
  conn: Conn;
  /**
   * The upgrade request, Node's own (also when an adapter upgraded it): an `IncomingMessage`, or
   * over HTTP/2 an `Http2ServerRequest`.
   */
  request: UpgradeRequest;
}

/** Published on `silverback:connection:open` by a client: the handshake succeeded. */
export interface ClientOpenMessage {
  /** The new connection. */
  conn: Conn;
  /** The URL dialled, as normalised (`ws:` or `wss:`). */
  url: string;
}

/** The message of `silverback:connection:open`: a server's or a client's. */
export type ConnectionOpenMessage = ServerOpenMessage | ClientOpenMessage;

/** Published on `silverback:connection:close` once the connection's TCP connection closed. */
export interface ConnectionCloseMessage {
  /** The connection. */
  conn: Conn;
  /**
   * The close code that ended the connection: the first close frame's, whichever side sent it
   * (so the peer's 1009 when the peer closed with 1009 and this side echoed it); 1006 when no
   * close frame crossed.
   */
  code: number;
  /** That close frame's reason, `''` when none. */
  reason: string;
  /**
   * What ended the connection when it did not end cleanly: the `ProtocolError`,
   * `ReadLimitError`, keepalive `TimeoutError` or rate-limit error this side failed it with, the
   * socket's error, or a `CloseError` (1006) when the TCP connection closed without the peer's
   * close frame. `undefined` when the peer's close frame was received and nothing failed.
   */
  error: Error | undefined;
}

/**
 * Published on `silverback:handshake:refused` when a server did not upgrade a request: the
 * upgrader refused it (400, 403, 405, 426, 500), an adapter's pipeline answered it with an HTTP
 * status instead (a 401 from an auth hook, a 404, a 503 while shutting down), or it failed
 * without an HTTP answer (status 0: the handshake timed out, or the socket closed during it).
 */
export interface HandshakeRefusedMessage {
  /** The upgrade request, Node's own (`IncomingMessage`, or `Http2ServerRequest`). */
  request: UpgradeRequest;
  /** The HTTP status answered; 0 when none was. */
  status: number;
  /** A `HandshakeError` (or a `TimeoutError`) saying why. */
  error: Error;
}

/**
 * The context object of the `silverback:upgrade` tracing channel: `request` and `socket` at
 * start; `result` (the `Conn`) at `asyncEnd`, or `error` at `error` and `asyncEnd`.
 */
export interface UpgradeTraceContext {
  /** The upgrade request (`IncomingMessage`, or `Http2ServerRequest`). */
  request: UpgradeRequest;
  /** Its socket (any `Duplex`; an HTTP/2 stream over HTTP/2). */
  socket: Duplex;
  /** The connection, once the upgrade succeeded. */
  result?: Conn;
  /** Why the upgrade failed. */
  error?: unknown;
}

const openChannel = channel(channels.open);
const closeChannel = channel(channels.close);
const refusedChannel = channel(channels.refused);
const upgradeTracing = tracingChannel<unknown, UpgradeTraceContext>(channels.upgrade);

/**
 * Publishes a connection's opening, when someone listens.
 *
 * @internal
 */
export function publishOpen(conn: Conn, request?: () => UpgradeRequest, url?: string): void {
  if (!openChannel.hasSubscribers) return;
  openChannel.publish(
    request !== undefined ? { conn, request: request() } : { conn, url: url ?? '' },
  );
}

/**
 * Publishes a connection's end, when someone listens.
 *
 * @internal
 */
export function publishClose(
  conn: Conn,
  code: number,
  reason: string,
  error: Error | undefined,
): void {
  if (!closeChannel.hasSubscribers) return;
  const message: ConnectionCloseMessage = { conn, code, reason, error };
  closeChannel.publish(message);
}

/**
 * Publishes a refused handshake, when someone listens.
 *
 * @internal
 */
export function publishRefused(
  request: UpgradeRequest | (() => UpgradeRequest),
  status: number,
  error: Error,
): void {
  if (!refusedChannel.hasSubscribers) return;
  const message: HandshakeRefusedMessage = {
    request: typeof request === 'function' ? request() : request,
    status,
    error,
  };
  refusedChannel.publish(message);
}

// TracingChannel#hasSubscribers arrived in Node 20.13; asking each channel works on every 20.x.
function tracing(): boolean {
  const t = upgradeTracing;
  return (
    t.start.hasSubscribers ||
    t.end.hasSubscribers ||
    t.asyncStart.hasSubscribers ||
    t.asyncEnd.hasSubscribers ||
    t.error.hasSubscribers
  );
}

/**
 * Runs an upgrade under the `silverback:upgrade` tracing channel when someone listens, else
 * just runs it.
 *
 * @internal
 */
export function traceUpgrade(
  request: () => UpgradeRequest,
  socket: Duplex,
  upgrade: () => Promise<Conn>,
): Promise<Conn> {
  if (!tracing()) return upgrade();
  const context: UpgradeTraceContext = { request: request(), socket };
  return upgradeTracing.tracePromise(upgrade, context);
}
