// The part every benchmark server shares: listen on loopback, tell the parent which port, and
// exit cleanly when asked. A clean exit (not a kill) matters under `node --cpu-prof`, which writes
// its profile only when the process exits on its own.
import process from 'node:process';

/**
 * Starts `server` on 127.0.0.1 with an ephemeral port and reports `{ type: 'ready', port, info }`
 * to the parent process over IPC. The process exits on a `{ type: 'stop' }` message or when the
 * parent goes away.
 *
 * @param {import('node:net').Server} server - a `net.Server` or `http.Server`.
 * @param {Record<string, unknown>} [info] - facts the parent checks (which addons loaded, say).
 */
export function serve(server, info = {}) {
  if (process.send === undefined) {
    throw new Error('bench servers run as child processes of bench/run.mjs (no IPC channel)');
  }
  process.on('message', (message) => {
    if (message && message.type === 'stop') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send({ type: 'ready', port: address.port, info });
  });
}
