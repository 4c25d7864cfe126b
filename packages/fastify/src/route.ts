/**
 * Websocket routes: the plugin's `onRoute` hook turns a route declared with `{ websocket: true }`
 * (or with a `wsHandler`) into a Fastify route whose handler either upgrades the request or
 * answers it as plain HTTP. Everything before the handler (routing, `onRequest`, `preParsing`,
 * `preValidation` with schema validation, `preHandler`) is Fastify's own, so it runs for an
 * upgrade request exactly as for any request, and can refuse it with any reply.
 *
 * @module
 */

import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Conn } from '@silverback/websocket';
import { pendingUpgrade, type UpgradeLayer } from '@silverback/websocket/adapter';
import type { FastifyWebSocketRouteOptions } from './types.js';

/** The body of the 426 answer to a plain request on a websocket-only route. */
const UPGRADE_REQUIRED_BODY = 'Upgrade Required\n';

type AnyWebSocketHandler = (
  this: FastifyInstance,
  conn: Conn,
  request: FastifyRequest,
) => void | Promise<unknown>;

type AnyRouteHandler = (
  this: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
) => unknown;

/**
 * The plugin's `onRoute` hook: leaves plain routes alone and rewrites the handler of websocket
 * routes. A route is a websocket route when it sets `websocket` (then `handler` is the websocket
 * handler, unless a `wsHandler` is given too) or `wsHandler` (then `handler` answers plain GETs).
 *
 * @throws {TypeError} when a websocket route uses another method than GET (or the HEAD route
 *   Fastify adds beside it), when its websocket handler is not a function, or when its
 *   `websocket` options are malformed. Fastify lets the error out of the route's declaration.
 */
export function websocketRoute(
  routeOptions: RouteOptions,
  layer: UpgradeLayer<FastifyRequest>,
): void {
  const { websocket, wsHandler } = routeOptions;
  if ((websocket === undefined || websocket === false) && wsHandler === undefined) return;
  const url = routeOptions.url;

  const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method];
  const refused = methods.filter((method) => method !== 'GET' && method !== 'HEAD');
  if (refused.length > 0) {
    throw new TypeError(
      `silverback: websocket route ${refused.join(', ')} ${url}: a WebSocket handshake is a GET ` +
        'request (RFC 6455 section 4.1); declare the route with GET',
    );
  }
  const socketHandler = (wsHandler ?? routeOptions.handler) as unknown;
  if (typeof socketHandler !== 'function') {
    throw new TypeError(`silverback: websocket route GET ${url}: the handler must be a function`);
  }
  const plainHandler: AnyRouteHandler | undefined =
    wsHandler === undefined ? undefined : routeOptions.handler;
  const options = routeUpgraderOptions(websocket, url);
  // Built now, so that options the upgrader cannot use fail at registration, not per request.
  layer.upgrader(options);

  const handler = socketHandler as AnyWebSocketHandler;
  routeOptions.handler = function silverbackWebSocketRoute(
    this: FastifyInstance,
    request: FastifyRequest,
    reply: FastifyReply,
  ): unknown {
    const pending =
      request.raw.method === 'GET' ? pendingUpgrade<FastifyRequest>(request.raw) : undefined;
    if (pending !== undefined && pending.state === 'routing') {
      // Headers the hooks set through the reply (a session cookie, say) go out with the 101.
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined) pending.response.setHeader(name, value);
      }
      // From here the layer owns the socket: Fastify must not answer, nor wait for an answer.
      reply.hijack();
      pending.accept(request, { options, route: url }).then(
        // The layer only looks at whether the result is a promise, never at its value.
        (conn) => pending.run(conn, request, (c, r) => handler.call(this, c, r) as Promise<void>),
        () => {
          // Refused: the upgrader answered the HTTP error (403, 400...) and closed the socket.
        },
      );
      return undefined;
    }
    if (plainHandler !== undefined) return plainHandler.call(this, request, reply);
    // A plain request (or HEAD) on a websocket-only route (RFC 7231 section 6.5.15).
    return reply
      .code(426)
      .header('upgrade', 'websocket')
      .type('text/plain; charset=utf-8')
      .send(UPGRADE_REQUIRED_BODY);
  };
}

// The route's upgrader options: undefined for `websocket: true` (the plugin's own apply), the
// object itself otherwise, so that the GET and HEAD routes Fastify derives share one upgrader.
function routeUpgraderOptions(
  websocket: RouteOptions['websocket'],
  url: string,
): FastifyWebSocketRouteOptions | undefined {
  if (websocket === undefined || typeof websocket === 'boolean') return undefined;
  if (typeof websocket !== 'object' || websocket === null) {
    throw new TypeError(
      `silverback: websocket route GET ${url}: the websocket option is true or an options object`,
    );
  }
  checkUpgraderOptions(websocket, `websocket route GET ${url}`);
  return websocket;
}

/**
 * Checks the shape of upgrader options given to the plugin or a route, so that a mistake fails
 * at registration with a message that says where.
 *
 * @throws {TypeError} when an option has the wrong type.
 */
export function checkUpgraderOptions(options: object, where: string): void {
  const record = options as Record<string, unknown>;
  for (const name of ['checkOrigin', 'error', 'shouldHandle', 'onError']) {
    if (record[name] !== undefined && typeof record[name] !== 'function') {
      throw new TypeError(`silverback: ${where}: ${name} must be a function`);
    }
  }
  const subprotocols = record.subprotocols;
  if (
    subprotocols !== undefined &&
    !(Array.isArray(subprotocols) && subprotocols.every((p) => typeof p === 'string'))
  ) {
    throw new TypeError(`silverback: ${where}: subprotocols must be an array of strings`);
  }
  for (const name of ['readLimit', 'handshakeTimeout', 'drainMs', 'headersTimeout']) {
    const value = record[name];
    if (value !== undefined && !(typeof value === 'number' && value >= 0)) {
      throw new TypeError(`silverback: ${where}: ${name} must be a number >= 0`);
    }
  }
  const max = record.maxBufferedAmount;
  if (max !== undefined && !(typeof max === 'number' && max > 0)) {
    throw new TypeError(`silverback: ${where}: maxBufferedAmount must be a number > 0`);
  }
  if (record.closeOnBufferFull !== undefined && typeof record.closeOnBufferFull !== 'boolean') {
    throw new TypeError(`silverback: ${where}: closeOnBufferFull must be a boolean`);
  }
}
