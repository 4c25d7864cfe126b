// What a benchmark server measures of itself while loaded, since only its own process can see it:
// how late its event loop ran (perf_hooks' delay histogram) and how much memory it held (the
// kernel's peak RSS where Linux keeps it, samples otherwise).
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { getHeapStatistics } from 'node:v8';

/**
 * The histogram's timer is due every millisecond; each sample is how long it took from one firing
 * to the next, so the loop's delay is that minus this.
 */
const RESOLUTION_MS = 1;
/** How often memory is sampled. A peak shorter than this may be missed. */
const SAMPLE_MS = 10;
/** The longest stalls kept, with when they happened. */
const STALLS_KEPT = 5;

/**
 * The event loop's delay over one stretch of time, in milliseconds.
 *
 * @typedef {object} LoopDelay
 * @property {number} samples - how many delays were recorded.
 * @property {number} p50Ms - the median delay.
 * @property {number} p99Ms - the 99th percentile.
 * @property {number} maxMs - the longest: the longest the loop was held. A delay histogram does not
 *   count the stretch before its timer first fires, which under load may be a long one (the
 *   monitor starts as the first messages arrive), so the memory sampler's timer, running since
 *   `start()`, is asked too: this is the larger of the two.
 */

/**
 * @typedef {object} LoadStats
 * @property {number} seconds - how long the monitor ran.
 * @property {LoopDelay} loopDelay - from `start()` to `stop()`: the whole load, with its first
 *   messages.
 * @property {LoopDelay | null} steadyLoopDelay - from `markSteady()` to `stop()` (the measured
 *   interval, after the warm-up); null when it was not marked.
 * @property {number} rssStart - resident set size, in bytes, when the monitor started.
 * @property {number} rssEnd - ... and when it stopped.
 * @property {number} peakRss - the largest RSS: the kernel's high-water mark (VmHWM, reset at the
 *   start) on Linux, else the largest sample.
 * @property {boolean} peakRssExact - whether `peakRss` is the kernel's mark, not a sample.
 * @property {number} peakExternal - the largest `external` sample (memory outside the JavaScript
 *   heap that V8 is told of: Buffers above all; on Node 20 not zlib's own contexts, which only
 *   RSS shows), in bytes.
 * @property {number} peakHeapUsed - the largest JavaScript heap in use, in bytes.
 * @property {{ atSeconds: number, ms: number }[]} longestStalls - the longest times the memory
 *   sampler's timer ran late, longest first, with when each ended (seconds after the start): the
 *   histograms say how long the loop was held, this says when.
 */

/**
 * Measures the event loop's delay and samples memory from `start()` until `stop()`.
 */
export class LoadMonitor {
  #whole = null;
  #steady = null;
  #timer = null;
  #started = 0n;
  #lastTick = 0n;
  #peaks = { rss: 0, external: 0, heapUsed: 0 };
  #rssStart = 0;
  #stalls = [];
  #lateMax = 0; // the sampler timer's longest lateness, since start()...
  #steadyLateMax = null; // ...and since markSteady()
  #kernelPeak = false; // the kernel keeps the peak RSS for us

  /** Starts (or restarts, dropping what was measured) the measurement. */
  start() {
    this.#reset();
    this.#whole = startHistogram();
    this.#kernelPeak = resetPeakRss();
    this.#rssStart = process.memoryUsage.rss();
    this.#sample();
    this.#started = process.hrtime.bigint();
    this.#lastTick = this.#started;
    this.#timer = setInterval(() => this.#tick(), SAMPLE_MS);
  }

  /**
   * Starts the second histogram, of the steady state (no-op when not started). Like any delay
   * histogram it counts from its timer's first firing, a millisecond on unless the loop is held.
   */
  markSteady() {
    if (this.#whole === null) return;
    this.#steady?.disable();
    this.#steady = startHistogram();
    this.#steadyLateMax = 0;
  }

  /**
   * Ends the measurement.
   *
   * @returns {LoadStats}
   * @throws {Error} when it was not started.
   */
  stop() {
    const whole = this.#whole;
    if (whole === null) throw new Error('the load monitor was not started');
    const steady = this.#steady;
    this.#sample();
    const rssEnd = process.memoryUsage.rss();
    const kernelPeak = this.#kernelPeak ? peakRss() : null;
    const stats = {
      seconds: Number(process.hrtime.bigint() - this.#started) / 1e9,
      loopDelay: delays(whole, this.#lateMax),
      steadyLoopDelay: steady === null ? null : delays(steady, this.#steadyLateMax ?? 0),
      rssStart: this.#rssStart,
      rssEnd,
      peakRss: Math.max(kernelPeak ?? 0, this.#peaks.rss, rssEnd),
      peakRssExact: kernelPeak !== null,
      peakExternal: this.#peaks.external,
      peakHeapUsed: this.#peaks.heapUsed,
      longestStalls: this.#stalls,
    };
    this.#reset();
    return stats;
  }

  #reset() {
    this.#whole?.disable();
    this.#steady?.disable();
    clearInterval(this.#timer ?? undefined);
    this.#whole = null;
    this.#steady = null;
    this.#timer = null;
    this.#peaks = { rss: 0, external: 0, heapUsed: 0 };
    this.#stalls = [];
    this.#lateMax = 0;
    this.#steadyLateMax = null;
  }

  #tick() {
    const now = process.hrtime.bigint();
    const lateMs = Number(now - this.#lastTick) / 1e6 - SAMPLE_MS;
    this.#lastTick = now;
    this.#lateMax = Math.max(this.#lateMax, lateMs);
    if (this.#steadyLateMax !== null) this.#steadyLateMax = Math.max(this.#steadyLateMax, lateMs);
    const stalls = this.#stalls;
    if (stalls.length < STALLS_KEPT || lateMs > stalls.at(-1).ms) {
      stalls.push({ atSeconds: Number(now - this.#started) / 1e9, ms: lateMs });
      stalls.sort((a, b) => b.ms - a.ms);
      if (stalls.length > STALLS_KEPT) stalls.pop();
    }
    this.#sample();
  }

  #sample() {
    // Not process.memoryUsage(), nor its rss() where the kernel keeps the peak: in a loaded
    // server with 2,000 connections each took over a hundred microseconds a call (reading
    // /proc/self/stat; 1.6% to 1.8% of the busy time in profiles); the heap's figures take two.
    const peaks = this.#peaks;
    if (!this.#kernelPeak) peaks.rss = Math.max(peaks.rss, process.memoryUsage.rss());
    const heap = getHeapStatistics();
    if (heap.external_memory > peaks.external) peaks.external = heap.external_memory;
    if (heap.used_heap_size > peaks.heapUsed) peaks.heapUsed = heap.used_heap_size;
  }
}

/** Resets the kernel's peak RSS of this process to its current RSS; false where it cannot. */
function resetPeakRss() {
  try {
    // "5" resets the peak resident set size (Linux 4.0 and later, proc(5)).
    writeFileSync('/proc/self/clear_refs', '5');
    return peakRss() !== null;
  } catch {
    return false;
  }
}

/** The kernel's peak RSS of this process (VmHWM), in bytes, or null. */
function peakRss() {
  try {
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1];
    return kib === undefined ? null : Number(kib) * 1024;
  } catch {
    return null;
  }
}

function startHistogram() {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  return histogram;
}

/**
 * @param {import('node:perf_hooks').IntervalHistogram} histogram
 * @param {number} lateMaxMs - the sampler timer's longest lateness over the same stretch.
 * @returns {LoopDelay}
 */
function delays(histogram, lateMaxMs) {
  histogram.disable();
  const samples = histogram.count;
  const delay = (ns) => (samples === 0 ? 0 : Math.max(0, ns / 1e6 - RESOLUTION_MS));
  return {
    samples,
    p50Ms: delay(histogram.percentile(50)),
    p99Ms: delay(histogram.percentile(99)),
    maxMs: Math.max(delay(histogram.max), lateMaxMs),
  };
}
