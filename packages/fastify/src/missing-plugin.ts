/**
 * A websocket route declared where the plugin is not registered fails at its declaration, naming
 * the missing call: without this, Fastify ignores the `websocket` option it does not know, and
 * the route answers an upgrade with a 500 ("conn.writeMessage is not a function") or a 200.
 *
 * Fastify publishes each new instance on the `fastify.initialization` diagnostics channel; once
 * this package is loaded, every instance created after gets an `onRoute` hook that checks.
 *
 * @module
 */

import { subscribe } from 'node:diagnostics_channel';
import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * The check itself, as an `onRoute` hook: throws when a route asks for a websocket (`websocket`
 * or `wsHandler`) and the scope it is declared in has no `@silverback/fastify` (nor
 * `@fastify/websocket`, whose routes are its own business).
 *
 * @throws {Error} naming `app.register(websocket)`.
 */
export function requirePlugin(this: FastifyInstance, routeOptions: RouteOptions): void {
  const { websocket, wsHandler } = routeOptions;
  if ((websocket === undefined || websocket === false) && wsHandler === undefined) return;
  if (this.hasDecorator('websocket') || this.hasDecorator('websocketServer')) return;
  const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method];
  const option = wsHandler === undefined ? '{ websocket: true }' : 'a wsHandler';
  throw new Error(
    `silverback: route ${methods.join(', ')} ${routeOptions.url} has ${option}, but ` +
      '@silverback/fastify is not registered in its scope: `await app.register(websocket)` (import ' +
      "websocket from '@silverback/fastify') before declaring websocket routes",
  );
}

/** Adds {@link requirePlugin} to every Fastify instance created from now on; idempotent. */
export function checkRoutesOfNewInstances(): void {
  const holder = globalThis as { [kSubscribed]?: true };
  if (holder[kSubscribed] === true) return;
  holder[kSubscribed] = true;
  subscribe('fastify.initialization', (message) => {
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook('onRoute', requirePlugin);
  });
}

// One subscription per process, whichever copies of this package (ESM, CommonJS) are loaded.
const kSubscribed = Symbol.for('silverback.fastify.checkRoutes');
