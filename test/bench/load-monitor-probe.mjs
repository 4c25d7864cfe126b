// Test fixture for bench.test.ts (Jest runs CommonJS and cannot import the bench's ES modules):
// runs a LoadMonitor over a known stimulus and prints what it measured as JSON, with where each
// stimulus lies on the monitor's clock, so that the test can tell which reported stall is which.
//
// The stimulus, in order: the event loop held for FIRST_MS right after the start (before a delay
// histogram's timer first fires, which only the monitor's own timer sees); TOUCH_MB of memory
// written; the steady mark; the loop held for SECOND_MS. Memory is written before the mark so that
// however long the machine takes to write it, that time is not in the steady figures.
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoadMonitor } from '../../bench/servers/load-monitor.mjs';

const FIRST_MS = Number(process.argv[2]);
const SECOND_MS = Number(process.argv[3]);
const TOUCH_MB = Number(process.argv[4]);

const now = () => process.hrtime.bigint();

/** Holding the event loop is the stimulus: at least `ms` of wall time, however busy the machine. */
function hold(ms) {
  const until = now() + BigInt(ms * 1e6);
  while (now() < until) {
    // busy
  }
}

// The monitor's clock starts somewhere inside start(): between these two readings.
const beforeStart = now();
const monitor = new LoadMonitor();
monitor.start();
const afterStart = now();

/**
 * Where the stall that `stimulus` causes must be reported: the monitor's timer is overdue when the
 * stimulus ends, so it fires before a timer set then (the sleep) does. In seconds on the monitor's
 * clock: no earlier than the end (counted from the latest the clock can have started), no later
 * than the wake-up (counted from the earliest).
 */
async function stimulus(label, run) {
  run();
  const ended = now();
  await sleep(30);
  const woke = now();
  return {
    label,
    from: Number(ended - afterStart) / 1e9,
    to: Number(woke - beforeStart) / 1e9,
  };
}

const first = await stimulus('first hold', () => hold(FIRST_MS));
const memory = Buffer.alloc(TOUCH_MB * 1e6, 1);
await sleep(30);
monitor.markSteady();
// Let the steady histogram's timer fire before the second hold, so that it sees that one.
await sleep(30);
const second = await stimulus('second hold', () => hold(SECOND_MS));
const stats = monitor.stop();
process.stdout.write(JSON.stringify({ stats, stimuli: [first, second], held: memory.length }));
