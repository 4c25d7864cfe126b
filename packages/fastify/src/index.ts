/**
 * WebSocket routes for Fastify 5 on silverback's gorilla/websocket API.
 *
 * Register the plugin, then declare websocket routes with the `websocket` route option:
 *
 * ```ts
 * import Fastify from 'fastify';
 * import websocket from '@silverback/fastify';
 *
 * const app = Fastify();
 * await app.register(websocket);
 * app.get('/rooms/:room', { websocket: true }, async (conn, request) => {
 *   for await (const { type, data } of conn) await conn.writeMessage(type, data);
 * });
 * await app.listen({ port: 8080 });
 * ```
 *
 * An upgrade request goes through Fastify's own routing and lifecycle, exactly as an HTTP
 * request does, so:
 *
 * - `onRequest`, `preParsing`, `preValidation` and `preHandler` hooks run before the upgrade, and
 *   any of them can refuse it with any reply: its status, headers and body reach the client, and
 *   the socket is closed;
 * - schema validation of params, query and headers applies (400 for bad input); path params and
 *   the query string are on the request; encapsulation and prefixes work as for any route;
 * - an upgrade to an unknown path gets Fastify's 404; to a plain HTTP route, 426 Upgrade Required
 *   (the route ran; its 2xx answer is replaced); an error answers 500 through Fastify's error
 *   handler;
 * - a plain GET to a websocket-only route answers 426; a route may pair a plain `handler` with a
 *   `wsHandler` to serve both on one path.
 *
 * The handler receives the {@link Conn} and the `FastifyRequest`, with `this` the encapsulated
 * instance. When it throws or rejects, the connection is closed with 1011 and the error logged
 * with `request.log`. The connection holds what the client sends until the handler reads, so a
 * handler that awaits something first loses no message. `fastify.close()` closes every websocket
 * with 1001 Going Away and waits for the closing handshakes (up to `drainMs`).
 * `fastify.injectWS(path)` opens a client `Conn` to a route without a listening port.
 *
 * The plugin must be registered before the routes that use it (`await app.register(websocket)`,
 * or routes declared in a plugin registered after it): Fastify applies `onRoute` hooks as routes
 * are declared.
 *
 * @packageDocumentation
 */

import type { FastifyInstance, FastifyPluginCallback, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Conn } from '@silverback/websocket';
import {
  describeHandlerClose,
  inject as injectUpgrade,
  UpgradeLayer,
  type UpgradeErrorContext,
} from '@silverback/websocket/adapter';
import { checkRoutesOfNewInstances } from './missing-plugin.js';
import { checkUpgraderOptions, websocketRoute } from './route.js';
import type {
  FastifyWebSocket,
  FastifyWebSocketOptions,
  FastifyWebSocketRouteOptions,
  InjectWSOptions,
  WebSocketHandler,
  WebSocketOnlyRouteOptions,
  WebSocketRouteMethod,
} from './types.js';

export type {
  FastifyWebSocket,
  FastifyWebSocketOptions,
  FastifyWebSocketRouteOptions,
  InjectWSOptions,
  WebSocketHandler,
  WebSocketOnlyRouteOptions,
  WebSocketRouteMethod,
};
export type { CloseOptions, ConnectionFilter } from '@silverback/websocket/adapter';

/**
 * The plugin: attaches the upgrade layer to `fastify.server`, adds the `websocket` route option
 * through an `onRoute` hook, decorates `fastify.websocket` and `fastify.injectWS`, and closes
 * the websockets in a `preClose` hook. Wrapped with `fastify-plugin`, so the decorations and the
 * hook reach the scope that registers it and every plugin registered after it there.
 *
 * Fails the registration with a `TypeError` when an option has the wrong type.
 */
const silverbackWebSocket: FastifyPluginCallback<FastifyWebSocketOptions> =
  function silverbackWebSocket(fastify, options, done): void {
    try {
      checkUpgraderOptions(options, 'plugin options');
    } catch (err) {
      done(err as Error);
      return;
    }
    const layer = new UpgradeLayer<FastifyRequest>(
      (req, res) => {
        fastify.routing(req, res);
      },
      { onError: (err, context) => logError(fastify, err, context), ...pluginOptions(options) },
    );
    layer.attach(fastify.server);

    const handle: FastifyWebSocket = {
      connections: (filter) => layer.connections(filter),
      close: (closeOptions) => layer.close(closeOptions),
      layer,
    };
    fastify.decorate('websocket', handle);
    fastify.decorate(
      'injectWS',
      async function injectWS(path = '/', injectOptions?: InjectWSOptions): Promise<Conn> {
        await fastify.ready();
        if (layer.closed) throw new Error('silverback: injectWS after fastify.close()');
        return injectUpgrade(layer.memoryServer(), path, injectOptions);
      },
    );
    fastify.addHook('onRoute', (routeOptions: RouteOptions) => websocketRoute(routeOptions, layer));
    fastify.addHook('preClose', async () => {
      await layer.close();
    });
    done();
  };

/**
 * `@silverback/fastify`: the plugin (`fastify-plugin`, name `@silverback/fastify`, Fastify
 * `5.x`). Register it with the application-wide upgrader options.
 *
 * @example
 * await app.register(websocket, { subprotocols: ['chat'], checkOrigin: (request) => true });
 */
export const websocket = fp(silverbackWebSocket, {
  fastify: '5.x',
  name: '@silverback/fastify',
});

export default websocket;

// A websocket route declared without the plugin fails at its declaration (missing-plugin.ts).
checkRoutesOfNewInstances();

/**
 * Opens a client `Conn` to a websocket route of `app` without a listening port, after the real
 * hooks ran: the shared adapters' `inject`, the same as `app.injectWS(path, options)`.
 *
 * @param app - a Fastify instance with the plugin registered.
 * @param path - the path with its query string.
 * @throws {HandshakeError} when a hook or route refused the upgrade: `status` and `response`
 *   (status, headers, body) carry its answer.
 *
 * @example
 * const conn = await inject(app, '/chat', { headers: { authorization: 'Bearer t' } });
 */
export function inject(app: FastifyInstance, path = '/', options?: InjectWSOptions): Promise<Conn> {
  return app.injectWS(path, options);
}

// Fastify's register() passes its own keys (prefix, logLevel) along with the plugin's options.
function pluginOptions(options: FastifyWebSocketOptions): FastifyWebSocketOptions {
  const {
    prefix: _prefix,
    logLevel: _logLevel,
    logSerializers: _serializers,
    ...rest
  } = options as FastifyWebSocketOptions &
    Record<'prefix' | 'logLevel' | 'logSerializers', unknown>;
  return rest;
}

function logError(
  fastify: FastifyInstance,
  err: unknown,
  context: UpgradeErrorContext<FastifyRequest>,
): void {
  if (context.phase === 'handler' && context.request !== undefined) {
    context.request.log.error(
      { err, closeCode: context.close?.code },
      `websocket handler failed; ${describeHandlerClose(context.close)}`,
    );
    return;
  }
  fastify.log.error({ err, url: context.req.url }, 'websocket upgrade failed');
}
