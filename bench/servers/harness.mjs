// The part every benchmark server shares: listen on loopback, tell the parent which port, and
// exit cleanly when asked. A clean exit (not a kill) matters under `node --cpu-prof`, which writes
// its profile only when the process exits on its own.
import process from 'node:process';
import { writeHeapSnapshot } from 'node:v8';
import { LoadMonitor } from './load-monitor.mjs';

/**
 * Starts `server` on 127.0.0.1 with an ephemeral port and reports `{ type: 'ready', port, info }`
 * to the parent process over IPC. The process exits on a `{ type: 'stop' }` message or when the
 * parent goes away. `{ type: 'measure', phase: 'start' }` starts a {@link LoadMonitor},
 * `{ type: 'measure', phase: 'steady' }` marks the end of the warm-up in it, and
 * `{ type: 'measure', phase: 'end' }` stops it and answers `{ type: 'measurement', stats }` (or
 * `error`). `{ type: 'gc' }` collects garbage (when the server runs with `--expose-gc`) and
 * `{ type: 'heap-snapshot', path }` writes a heap snapshot; each answers `{ type: '<type>:done' }`.
 *
 * @param {import('node:net').Server} server - a `net.Server` or `http.Server`.
 * @param {Record<string, unknown>} [info] - facts the parent checks (which addons loaded, say).
 */
export function serve(server, info = {}) {
  if (process.send === undefined) {
    throw new Error('bench servers run as child processes of bench/run.mjs (no IPC channel)');
  }
  const monitor = new LoadMonitor();
  process.on('message', (message) => {
    if (message?.type === 'stop') process.exit(0);
    if (message?.type === 'measure' && message.phase === 'start') monitor.start();
    if (message?.type === 'measure' && message.phase === 'steady') monitor.markSteady();
    if (message?.type === 'gc') {
      globalThis.gc?.();
      // Twice: the first pass may leave work (weak callbacks, finalisers) for the next.
      globalThis.gc?.();
      process.send({ type: 'gc:done', collected: globalThis.gc !== undefined });
    }
    if (message?.type === 'heap-snapshot') {
      process.send({ type: 'heap-snapshot:done', path: writeHeapSnapshot(message.path) });
    }
    if (message?.type === 'measure' && message.phase === 'end') {
      try {
        process.send({ type: 'measurement', stats: monitor.stop() });
      } catch (err) {
        process.send({ type: 'measurement', error: err.message });
      }
    }
  });
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send({ type: 'ready', port: address.port, info });
  });
}
