// Test fixture for bench.test.ts (Jest runs CommonJS and cannot import the bench's ES modules):
// runs a LoadMonitor over a known stimulus (the event loop held for HOLD_MS after the steady mark,
// then TOUCH_MB of memory written) and prints what it measured as JSON.
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoadMonitor } from '../../bench/servers/load-monitor.mjs';

const HOLD_MS = Number(process.argv[2]);
const TOUCH_MB = Number(process.argv[3]);

const monitor = new LoadMonitor();
monitor.start();
// Let the histograms' and the sampler's timers run a few times before the stimulus.
await sleep(30);
monitor.markSteady();
// A delay histogram counts from its timer's first firing: one stretch with none is not measured.
await sleep(30);
const until = performance.now() + HOLD_MS;
while (performance.now() < until) {
  // Holding the event loop is the stimulus.
}
await sleep(30);
const memory = Buffer.alloc(TOUCH_MB * 1e6, 1);
await sleep(30);
const stats = monitor.stop();
process.stdout.write(JSON.stringify({ stats, held: memory.length }));
