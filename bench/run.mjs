// The benchmark: starts each server in its own process, drives it with the load generator (another
// process), and prints messages and megabytes per second with ratios against `ws` from the same
// run. See bench/README.md; `node bench/run.mjs --help` lists the options.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseOptions, USAGE } from './options.mjs';
import { runGenerator, startServer } from './processes.mjs';
import { formatStretches, longestStretches } from './profile-stalls.mjs';
import { formatSummary, summarize } from './profile-summary.mjs';
import { figures, loadTable, megabytes, number, table, verdicts } from './report.mjs';
import { DEFLATE, SCENARIOS, SERVERS } from './scenarios.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PROFILES = `${HERE}profiles`;

let options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!existsSync(`${HERE}../packages/websocket/dist/index.js`)) {
  process.stderr.write('packages/websocket/dist is missing: run `npx turbo run build` first.\n');
  process.exit(2);
}

const log = (line) => process.stderr.write(`${line}\n`);
const out = (line = '') => process.stdout.write(`${line}\n`);
const started = Date.now();
let failed = false;
const report = {
  date: new Date().toISOString(),
  command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  node: process.version,
  cpu: `${os.cpus()[0]?.model ?? 'unknown'} x ${os.availableParallelism()}`,
  ws: JSON.parse(readFileSync(`${HERE}../node_modules/ws/package.json`, 'utf8')).version,
  scenarios: {},
};

out(`# silverback echo benchmark, ${report.date.slice(0, 10)}`);
out();
out(`Command: \`${report.command}\``);
out(`Node ${report.node}, ws ${report.ws}, ${report.cpu}.`);
out(
  `${options.reps} repetition(s) of ${options.durationMs / 1000} s, each after ` +
    `${options.warmupMs / 1000} s of warm-up; medians.`,
);

for (const scenarioKey of options.scenarios) {
  const scenario = { ...SCENARIOS[scenarioKey], ...options.overrides };
  // The raw echo server speaks no extension, so it cannot take part in a compressed run.
  const keys = (options.servers ?? scenario.servers).filter(
    (key) => !(scenario.deflate && key === 'raw'),
  );
  if (keys.length === 0) continue;
  out();
  out(`## ${scenario.title} (${scenarioKey})`);
  out();
  const mix =
    (scenario.smallPerLarge ?? 0) > 0
      ? `, each followed by ${scenario.smallPerLarge} of ${number(scenario.smallSize)} bytes`
      : '';
  out(
    `${number(scenario.size)}-byte ${scenario.type} messages${mix}, ` +
      `${number(scenario.connections)} connections, ` +
      `${scenario.window} in flight per connection` +
      (scenario.deflate
        ? `; permessage-deflate, zlib level ${DEFLATE.level}, threshold ${DEFLATE.threshold} bytes.`
        : '.'),
  );

  const servers = [];
  const profiles = new Map();
  try {
    for (const key of keys) {
      const profileName = `${scenarioKey}-${key}-${Date.now()}.cpuprofile`;
      const profiled = options.profile.includes(key);
      if (profiled) {
        mkdirSync(PROFILES, { recursive: true });
        profiles.set(key, `${PROFILES}/${profileName}`);
      }
      servers.push(
        await startServer(key, SERVERS[key], {
          deflate: scenario.deflate ? DEFLATE : null,
          profileDir: profiled ? PROFILES : null,
          profileName,
        }),
      );
    }
    const reps = new Map(keys.map((key) => [key, []]));
    const errors = new Map();
    for (let rep = 0; rep < options.reps; rep++) {
      // Rotate the order so no server always runs first (or right after the heaviest one).
      const order = servers.map((_, i) => servers[(i + rep) % servers.length]);
      for (const server of order) {
        if (errors.has(server.key)) continue;
        const result = await runGenerator(
          server,
          {
            connections: scenario.connections,
            window: scenario.window,
            size: scenario.size,
            smallSize: scenario.smallSize,
            smallPerLarge: scenario.smallPerLarge,
            type: scenario.type,
            deflate: scenario.deflate,
            warmupMs: options.warmupMs,
            durationMs: options.durationMs,
          },
          { serverStats: scenario.serverStats === true },
        );
        if (result.errors.length > 0) {
          errors.set(server.key, result.errors.join('; '));
          log(
            `${scenarioKey} ${rep + 1}/${options.reps} ${server.key}: FAILED ${result.errors[0]}`,
          );
          continue;
        }
        reps.get(server.key).push(result);
        const rate =
          scenario.unit === 'MB'
            ? `${number(result.payloadBytes / result.seconds / 1e6)} MB/s`
            : `${number(result.messages / result.seconds)} msgs/s`;
        const stats = result.serverStats;
        const load =
          stats === null
            ? ''
            : `; loop delay p99 ${(stats.steadyLoopDelay ?? stats.loopDelay).p99Ms.toFixed(1)} ms,` +
              ` max ${(stats.steadyLoopDelay ?? stats.loopDelay).maxMs.toFixed(1)} ms` +
              ` (${stats.loopDelay.maxMs.toFixed(1)} ms with the first messages),` +
              ` peak RSS ${megabytes(stats.peakRss)}; longest stalls ` +
              stats.longestStalls
                .map((stall) => `${stall.ms.toFixed(0)} ms at ${stall.atSeconds.toFixed(1)} s`)
                .join(', ');
        log(`${scenarioKey} ${rep + 1}/${options.reps} ${server.key}: ${rate}${load}`);
      }
    }
    const results = {};
    for (const key of keys) {
      if (!errors.has(key)) results[key] = figures(key, reps.get(key));
      if (profiles.has(key) && key in results) results[key].label += ' (profiled)';
    }
    out();
    out(table(scenario, results));
    if (scenario.serverStats && Object.keys(results).length > 0) {
      out();
      out(loadTable(results));
    }
    for (const [key, error] of errors) {
      failed = true;
      out();
      out(`${SERVERS[key].label} FAILED: ${error}`);
    }
    const notes = verdicts(scenarioKey, scenario, results);
    if (notes.length > 0) out();
    for (const line of notes) out(line);
    report.scenarios[scenarioKey] = { scenario, results, errors: Object.fromEntries(errors) };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  for (const [key, file] of profiles) {
    out();
    out(`### CPU profile of ${SERVERS[key].label} (${file.slice(HERE.length - 'bench/'.length)})`);
    out();
    const profile = JSON.parse(readFileSync(file, 'utf8'));
    out(formatSummary(summarize(profile, options.top)));
    // Where the servers measure their event loop, say what held it.
    if (scenario.serverStats) {
      out();
      out(`#### The longest stretches without idle time (the event loop held)`);
      out();
      out(formatStretches(longestStretches(profile, 3, 10)));
    }
  }
}

out();
out(`Total time ${((Date.now() - started) / 1000).toFixed(0)} s.`);
if (options.json !== null) writeFileSync(options.json, JSON.stringify(report, null, 2) + '\n');
process.exitCode = failed ? 1 : 0;
