// Test fixture for bench.test.ts (Jest runs CommonJS and cannot import the bench's ES modules):
// runs a LoadMonitor over a known stimulus and prints what it measured as JSON. The stimulus: the
// event loop held for twice HOLD_MS right after the start (before a delay histogram's timer first
// fires, which only the monitor's own timer sees), for HOLD_MS after the steady mark, then TOUCH_MB
// of memory written.
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoadMonitor } from '../../bench/servers/load-monitor.mjs';

const HOLD_MS = Number(process.argv[2]);
const TOUCH_MB = Number(process.argv[3]);

/** Holding the event loop is the stimulus. */
function hold(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

const monitor = new LoadMonitor();
monitor.start();
hold(2 * HOLD_MS);
await sleep(30);
monitor.markSteady();
// Let the steady histogram's timer fire before the second hold, so that it sees that one.
await sleep(30);
hold(HOLD_MS);
await sleep(30);
const memory = Buffer.alloc(TOUCH_MB * 1e6, 1);
await sleep(30);
const stats = monitor.stop();
process.stdout.write(JSON.stringify({ stats, held: memory.length }));
