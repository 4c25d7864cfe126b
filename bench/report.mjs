// Turns repetitions into medians, ratios and the tables run.mjs prints.
import { SERVERS } from './scenarios.mjs';

/**
 * @typedef {object} ServerFigures
 * @property {string} label
 * @property {number[]} msgsPerSecond - one per repetition.
 * @property {number[]} mbPerSecond - payload megabytes (10^6 bytes) echoed per second.
 * @property {number} msgs - median messages per second.
 * @property {number} mb - median MB/s.
 * @property {number | null} serverCpu - median server CPU, in percent of one core.
 * @property {number | null} serverCpuPerMsg - median server CPU time per echoed message, in
 *   microseconds: less sensitive than the rates to other processes competing for the cores.
 * @property {number} generatorCpu - median load-generator CPU, in percent of one core.
 * @property {number | null} serverWait - median time the server waited for a core, in percent of
 *   the interval: how much other processes got in its way.
 * @property {number | null} generatorWait - the same for the generator.
 * @property {number} compressed - the share of echoes that came back compressed, in percent.
 * @property {number} wireRatio - echoed wire bytes per payload byte (below 1 when compressed).
 * @property {LoadFigures | null} load - what the server measured of itself, when it was asked to.
 */

/**
 * What a server measured of itself over its repetitions (see servers/load-monitor.mjs): the
 * medians of the typical delays, and the worst of the bounds.
 *
 * @typedef {object} LoadFigures
 * @property {number} loopDelayP50Ms - over the measured interval (after the warm-up): the median
 *   over the repetitions of each one's median delay.
 * @property {number} loopDelayP99Ms - the same of each one's 99th percentile.
 * @property {number} loopDelayMaxMs - the longest delay in any repetition's measured interval.
 * @property {number} loadLoopDelayMaxMs - the longest delay from the first message on (the
 *   warm-up, when every connection sends its first messages at once, included).
 * @property {number} peakRss - the largest peak RSS of any repetition, in bytes.
 * @property {boolean} peakRssExact - whether every repetition's peak came from the kernel's
 *   high-water mark (else some were sampled).
 * @property {number[]} peakRssPerRep - each repetition's peak RSS, in order: memory
 *   that grows with every repetition is memory that is never given back.
 * @property {number} rssAtStart - median RSS when the load started (connections open, no message
 *   yet), in bytes.
 * @property {number} peakExternal - the largest `external` sample of any repetition, in bytes.
 */

/**
 * Summarises one server's repetitions.
 *
 * @param {string} key
 * @param {import('./processes.mjs').GeneratorResult[]} reps
 * @returns {ServerFigures}
 */
export function figures(key, reps) {
  const msgsPerSecond = reps.map((r) => r.messages / r.seconds);
  const mbPerSecond = reps.map((r) => r.payloadBytes / r.seconds / 1e6);
  const serverCpus = reps.filter((r) => r.serverCpuSeconds !== null);
  return {
    label: SERVERS[key].label,
    msgsPerSecond,
    mbPerSecond,
    msgs: median(msgsPerSecond),
    mb: median(mbPerSecond),
    serverCpu:
      serverCpus.length === 0
        ? null
        : median(serverCpus.map((r) => (100 * r.serverCpuSeconds) / r.seconds)),
    serverCpuPerMsg:
      serverCpus.length === 0
        ? null
        : median(serverCpus.map((r) => (1e6 * r.serverCpuSeconds) / Math.max(r.messages, 1))),
    generatorCpu: median(reps.map((r) => (100 * r.generatorCpuSeconds) / r.seconds)),
    serverWait: percentOf(reps, 'serverWaitSeconds'),
    generatorWait: percentOf(reps, 'generatorWaitSeconds'),
    compressed: median(reps.map((r) => (100 * r.compressedMessages) / Math.max(r.messages, 1))),
    wireRatio: median(reps.map((r) => r.wireBytes / Math.max(r.payloadBytes, 1))),
    load: loadFigures(reps),
  };
}

/** @returns {LoadFigures | null} */
function loadFigures(reps) {
  const stats = reps.map((r) => r.serverStats ?? null).filter((s) => s !== null);
  if (stats.length === 0) return null;
  // Without a steady mark (a run shorter than its warm-up cannot lack one), the whole load counts.
  const steady = stats.map((s) => s.steadyLoopDelay ?? s.loopDelay);
  return {
    loopDelayP50Ms: median(steady.map((d) => d.p50Ms)),
    loopDelayP99Ms: median(steady.map((d) => d.p99Ms)),
    loopDelayMaxMs: Math.max(...steady.map((d) => d.maxMs)),
    loadLoopDelayMaxMs: Math.max(...stats.map((s) => s.loopDelay.maxMs)),
    peakRss: Math.max(...stats.map((s) => s.peakRss)),
    peakRssExact: stats.every((s) => s.peakRssExact),
    peakRssPerRep: stats.map((s) => s.peakRss),
    rssAtStart: median(stats.map((s) => s.rssStart)),
    peakExternal: Math.max(...stats.map((s) => s.peakExternal)),
  };
}

/** The median of `field` over `reps`, in percent of each interval; null if never measured. */
function percentOf(reps, field) {
  const known = reps.filter((r) => r[field] !== null);
  return known.length === 0 ? null : median(known.map((r) => (100 * r[field]) / r.seconds));
}

/**
 * The median of `values` (the mean of the middle two for an even count).
 *
 * @param {number[]} values
 * @returns {number}
 */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The table of one scenario, as Markdown (it reads well in a terminal and pastes into README.md).
 *
 * @param {import('./scenarios.mjs').Scenario} scenario
 * @param {Record<string, ServerFigures>} results - by server key, in table order.
 * @returns {string}
 */
export function table(scenario, results) {
  const headline = scenario.unit === 'MB' ? 'mb' : 'msgs';
  const unit = scenario.unit === 'MB' ? 'MB/s' : 'msgs/s';
  const other = scenario.unit === 'MB' ? 'msgs/s' : 'MB/s';
  const baselines = ['ws', 'ws-addons'].filter((key) => key in results);
  const rows = [
    [
      'server',
      `${unit} (median)`,
      other,
      `${unit} per repetition`,
      ...baselines.map((key) => `vs ${SERVERS[key].label}`),
      ...(scenario.deflate ? ['echoes compressed', 'wire/payload'] : []),
      'server CPU',
      'server CPU/msg',
      'generator CPU',
      'waiting for a core (server / generator)',
    ],
  ];
  for (const f of Object.values(results)) {
    const perRep = scenario.unit === 'MB' ? f.mbPerSecond : f.msgsPerSecond;
    rows.push([
      f.label,
      number(f[headline]),
      number(scenario.unit === 'MB' ? f.msgs : f.mb),
      perRep.map(number).join(' / '),
      ...baselines.map((key) => ratio(f[headline], results[key][headline])),
      ...(scenario.deflate ? [`${Math.round(f.compressed)}%`, f.wireRatio.toFixed(2)] : []),
      f.serverCpu === null ? 'n/a' : `${Math.round(f.serverCpu)}%`,
      f.serverCpuPerMsg === null ? 'n/a' : duration(f.serverCpuPerMsg),
      `${Math.round(f.generatorCpu)}%`,
      `${percent(f.serverWait)} / ${percent(f.generatorWait)}`,
    ]);
  }
  return markdown(rows);
}

/**
 * The table of what the servers measured of themselves while loaded: the event loop's delay and
 * peak memory, each with its ratio against `ws` from the same run.
 *
 * @param {Record<string, ServerFigures>} results - by server key, in table order.
 * @returns {string}
 */
export function loadTable(results) {
  const base = results.ws?.load ?? null;
  const vs = base === null ? '' : ' (vs ws)';
  const rows = [
    [
      'server',
      `loop delay p50${vs}`,
      `loop delay p99${vs}`,
      `loop delay max${vs}`,
      `loop delay max, first messages included${vs}`,
      `peak RSS${vs}`,
      'peak RSS per repetition',
      'RSS as the load starts',
      `peak external${vs}`,
    ],
  ];
  for (const f of Object.values(results)) {
    const load = f.load;
    if (load === null) continue;
    const cell = (field, format) =>
      base === null
        ? format(load[field])
        : `${format(load[field])} (${ratio(load[field], base[field])})`;
    rows.push([
      f.label,
      cell('loopDelayP50Ms', milliseconds),
      cell('loopDelayP99Ms', milliseconds),
      cell('loopDelayMaxMs', milliseconds),
      cell('loadLoopDelayMaxMs', milliseconds),
      cell('peakRss', load.peakRssExact ? megabytes : (bytes) => `${megabytes(bytes)} sampled`),
      load.peakRssPerRep.map(megabytes).join(' / '),
      megabytes(load.rssAtStart),
      cell('peakExternal', megabytes),
    ]);
  }
  return markdown(rows);
}

/** Milliseconds with two decimals below 10 ms, one above. */
function milliseconds(ms) {
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
}

/** Bytes as `123 MB` (10^6 bytes). */
export function megabytes(bytes) {
  return `${number(bytes / 1e6)} MB`;
}

/**
 * The lines that say whether the generator had headroom and how the design targets of issue 2
 * stand (at least twice `ws`'s small-message rate; `ws`-with-addons' large-message rate).
 *
 * @param {string} scenarioKey
 * @param {import('./scenarios.mjs').Scenario} scenario
 * @param {Record<string, ServerFigures>} results
 * @returns {string[]}
 */
export function verdicts(scenarioKey, scenario, results) {
  const lines = [];
  const headline = scenario.unit === 'MB' ? 'mb' : 'msgs';
  if ('raw' in results && 'ws' in results) {
    lines.push(
      `Generator headroom: the same generator drives the raw net echo at ` +
        `${ratio(results.raw[headline], results.ws[headline])} the rate of ws.`,
    );
  }
  // A generator that used most of a core may be what limits a server's figure.
  const busy = Object.values(results).filter((f) => f.generatorCpu >= 85 && f !== results.raw);
  for (const f of busy) {
    lines.push(
      `Warning: the generator used ${Math.round(f.generatorCpu)}% of a core against ${f.label}; ` +
        "that figure may be the generator's limit, not the server's.",
    );
  }
  const waits = Object.values(results).map((f) =>
    Math.max(f.serverWait ?? 0, f.generatorWait ?? 0),
  );
  const worst = Math.max(0, ...waits);
  if (worst >= 20) {
    lines.push(
      `Warning: other processes kept a benchmark process waiting for a core up to ` +
        `${Math.round(worst)}% of the time; these figures are noisy, rerun on a quiet machine.`,
    );
  }
  // A server that keeps what earlier repetitions allocated peaks higher with every repetition.
  for (const f of Object.values(results)) {
    const peaks = f.load?.peakRssPerRep ?? [];
    if (peaks.length >= 2 && peaks.at(-1) > 1.25 * peaks[0]) {
      lines.push(
        `Warning: ${f.label}'s peak RSS grew from repetition to repetition ` +
          `(${peaks.map(megabytes).join(', ')}): it kept memory from earlier ones (a leak, or ` +
          'an allocator that does not give freed memory back); more repetitions tell which.',
      );
    }
  }
  if (scenarioKey === 'small' && 'ours' in results && 'ws' in results) {
    const r = results.ours.msgs / results.ws.msgs;
    lines.push(`Design target, at least 2x ws: ${r.toFixed(2)}x, ${r >= 2 ? 'met' : 'not met'}.`);
  }
  if (scenarioKey === 'large' && 'ours' in results && 'ws-addons' in results) {
    const r = results.ours.mb / results['ws-addons'].mb;
    lines.push(
      `Design target, at least ws+addons (no addon of ours): ${r.toFixed(2)}x, ` +
        `${r >= 1 ? 'met' : 'not met'}.`,
    );
  }
  return lines;
}

function percent(value) {
  return value === null ? 'n/a' : `${Math.round(value)}%`;
}

/** `a / b` as `1.23x`. */
export function ratio(a, b) {
  return b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}

/** A figure with thousands separators; three significant digits for fractions below 100. */
export function number(n) {
  if (n >= 100 || Number.isInteger(n)) return Math.round(n).toLocaleString('en-US');
  return n.toPrecision(3);
}

/** Microseconds as `12.3 µs` or, from a millisecond up, `4.56 ms`. */
function duration(us) {
  return us >= 1000 ? `${(us / 1000).toPrecision(3)} ms` : `${us.toPrecision(3)} µs`;
}

/** Rows as a Markdown table with aligned columns. */
export function markdown(rows) {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => String(row[col]).length)));
  const line = (row) =>
    `| ${row.map((cell, col) => String(cell).padEnd(widths[col])).join(' | ')} |`;
  return [
    line(rows[0]),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}
