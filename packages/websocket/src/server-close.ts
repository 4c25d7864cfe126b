/**
 * A hook on `server.close()`, which the upgrade layer needs to close its WebSockets when the
 * application's server shuts down.
 *
 * @module
 */

import type { UpgradeServer } from './upgrade-layer.js';

type CloseHooks = Map<object, () => void>;
const closeHooks = new WeakMap<UpgradeServer, CloseHooks>();

/**
 * Calls `hook` when `server.close()` is called. Node emits no event at that moment (`'close'`
 * comes only once every connection has ended, which open WebSockets never do by themselves), so
 * the server's `close` method is wrapped once, on the instance, and the wrapper runs every
 * registered hook before the original.
 */
export function onServerClose(server: UpgradeServer, owner: object, hook: () => void): void {
  let hooks = closeHooks.get(server);
  if (hooks === undefined) {
    hooks = new Map();
    closeHooks.set(server, hooks);
    const registered = hooks;
    const close = server.close.bind(server) as (...args: unknown[]) => UpgradeServer;
    server.close = (...args: unknown[]) => {
      for (const run of [...registered.values()]) run();
      return close(...args);
    };
  }
  hooks.set(owner, hook);
}

/** Removes the hook `owner` registered with {@link onServerClose}. */
export function offServerClose(server: UpgradeServer, owner: object): void {
  closeHooks.get(server)?.delete(owner);
}
