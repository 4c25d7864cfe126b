// The connections bench (issue 9): what a connection costs and what an abusive peer can make a
// server hold, measured from outside each server process (its /proc entry), against `ws` and a
// bare `net` server in the same run. See bench/README.md; `node bench/connections.mjs --help`.
//
// Modes:
// - idle: RSS per connection with 10,000 connections open and idle, with and without
//   permessage-deflate negotiated;
// - handshake: opening handshakes per second, connections opened and dropped at once;
// - ping-flood: a peer that sends 200,000 pings and never reads: the server's peak RSS growth,
//   and the handshake latency other clients see meanwhile;
// - write-flood: 500,000 unawaited small writes to a peer that never reads: peak RSS growth;
// - churn: 500 clients echoing, killed mid-load: RSS once the server has settled.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer } from './processes.mjs';
import { markdown, median, number, ratio } from './report.mjs';
import { DEFLATE, SERVERS } from './scenarios.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** Each mode: the servers it compares by default and how one repetition runs. */
const MODES = {
  idle: { servers: ['raw', 'ws', 'ours'], run: idleRep },
  'idle-deflate': { servers: ['ws', 'ours'], run: (s, o) => idleRep(s, o, true) },
  handshake: { servers: ['raw', 'ws', 'ours'], run: handshakeRep },
  'ping-flood': { servers: ['ws', 'ours'], run: pingFloodRep },
  'write-flood': { servers: ['ws', 'ours'], run: writeFloodRep },
  churn: { servers: ['ws', 'ours'], run: churnRep },
};

const USAGE = `Usage: node bench/connections.mjs [options]   (needs packages/websocket/dist built)

  --modes=LIST        comma-separated: ${Object.keys(MODES).join(', ')} (default: all)
  --servers=LIST      comma-separated: raw, ws, ours (default: each mode's own; raw is idle and
                      handshake only)
  --reps=N            repetitions per server, each in a fresh server process (default 3)
  --connections=N     idle: connections held (default 10000); churn: clients (default 500)
  --duration=S        handshake: seconds measured (default 3); churn: seconds of load (default 2)
  --concurrency=N     handshake: handshakes in flight (default 32)
  --pings=N           ping-flood: pings sent (default 200000)
  --writes=N          write-flood: messages written (default 500000)
  --heap-snapshot     idle: write a heap snapshot of each server at full load (bench/profiles/)
  --json=FILE         also write every figure to FILE
  --help              this text
`;

const { values } = parseArgs({
  strict: true,
  options: {
    modes: { type: 'string' },
    servers: { type: 'string' },
    reps: { type: 'string', default: '3' },
    connections: { type: 'string' },
    duration: { type: 'string' },
    concurrency: { type: 'string', default: '32' },
    pings: { type: 'string', default: '200000' },
    writes: { type: 'string', default: '500000' },
    'heap-snapshot': { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const modes = values.modes?.split(',') ?? Object.keys(MODES);
for (const mode of modes) {
  if (!(mode in MODES)) {
    process.stderr.write(`unknown mode ${JSON.stringify(mode)}\n\n${USAGE}`);
    process.exit(2);
  }
}
const options = {
  reps: Number(values.reps),
  connections: values.connections === undefined ? null : Number(values.connections),
  durationMs: values.duration === undefined ? null : Number(values.duration) * 1000,
  concurrency: Number(values.concurrency),
  pings: Number(values.pings),
  writes: Number(values.writes),
  heapSnapshot: values['heap-snapshot'],
};

const log = (line) => process.stderr.write(`${line}\n`);
const out = (line = '') => process.stdout.write(`${line}\n`);

/** A server process's resident set size now (VmRSS) and at most so far (VmHWM), in bytes. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** Resets the kernel's peak RSS of `pid` to its current RSS (Linux 4.0 and later). */
function resetPeak(pid) {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** The machine's load, to print beside the figures: the machine is shared. */
function loadAverage() {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

/** Starts a client process with `config` and returns it, with its messages as a queue. */
function startClient(config) {
  const child = fork(`${HERE}connections-client.mjs`, [], { stdio: 'inherit' });
  const messages = [];
  const waiters = [];
  child.on('message', (message) => {
    if (message.type === 'failed') log(`  client failed: ${message.error}`);
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else messages.push(message);
  });
  const exited = once(child, 'exit');
  child.send(config);
  return {
    child,
    exited,
    /** The next message of `type` (others before it are dropped); rejects if the client exits. */
    async next(type) {
      for (;;) {
        const message =
          messages.shift() ??
          (await Promise.race([
            new Promise((resolve) => waiters.push(resolve)),
            exited.then(() => ({ type: 'exited' })),
          ]));
        if (message.type === type) return message;
        if (message.type === 'failed' || message.type === 'exited') {
          throw new Error(`client: ${message.error ?? 'exited early'}`);
        }
      }
    },
  };
}

async function withServer(key, deflate, body) {
  const server = await startServer(key, SERVERS[key], {
    deflate,
    profileDir: null,
    profileName: '',
    execArgv: ['--expose-gc'],
  });
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

// Lets a server settle after connections opened or closed: timers and garbage collection run.
const SETTLE_MS = 1500;

async function idleRep(key, opts, deflate = false) {
  const connections = opts.connections ?? 10_000;
  return withServer(key, deflate ? DEFLATE : null, async (server) => {
    await server.ask({ type: 'gc' });
    await sleep(500);
    const before = memoryOf(server.pid).rss;
    const client = startClient({ mode: 'idle', port: server.port, connections, deflate });
    await client.next('opened');
    await sleep(SETTLE_MS);
    const held = memoryOf(server.pid).rss;
    await server.ask({ type: 'gc' });
    await sleep(500);
    const collected = memoryOf(server.pid).rss;
    if (opts.heapSnapshot) {
      mkdirSync(`${HERE}profiles`, { recursive: true });
      const path = `${HERE}profiles/idle${deflate ? '-deflate' : ''}-${key}-${Date.now()}.heapsnapshot`;
      await server.ask({ type: 'heap-snapshot', path });
      log(`  heap snapshot: ${path}`);
    }
    client.child.send({ type: 'stop' });
    await client.exited;
    return {
      connections,
      baseRss: before,
      perConnection: (held - before) / connections,
      perConnectionAfterGc: (collected - before) / connections,
    };
  });
}

async function handshakeRep(key, opts) {
  return withServer(key, null, async (server) => {
    const client = startClient({
      mode: 'handshake',
      port: server.port,
      durationMs: opts.durationMs ?? 3000,
      concurrency: opts.concurrency,
    });
    const result = await client.next('result');
    await client.exited;
    return { ...result, perSecond: result.handshakes / result.seconds };
  });
}

async function pingFloodRep(key, opts) {
  return withServer(key, null, async (server) => {
    await server.ask({ type: 'gc' });
    await sleep(500);
    const before = memoryOf(server.pid).rss;
    resetPeak(server.pid);
    const client = startClient({
      mode: 'ping-flood',
      port: server.port,
      pings: opts.pings,
      boundMs: 15_000,
    });
    const result = await client.next('result');
    await client.exited;
    const { peak } = memoryOf(server.pid);
    return { ...result, baseRss: before, peakGrowth: peak - before };
  });
}

async function writeFloodRep(key, opts) {
  return withServer(key, null, async (server) => {
    await server.ask({ type: 'gc' });
    await sleep(500);
    const before = memoryOf(server.pid).rss;
    resetPeak(server.pid);
    const done = server.next('write-flood:done');
    const client = startClient({
      mode: 'write-flood',
      port: server.port,
      path: `/write-flood?count=${opts.writes}&size=32`,
    });
    await client.next('opened');
    const { bufferedAmount } = await done;
    await sleep(SETTLE_MS);
    const { peak } = memoryOf(server.pid);
    client.child.send({ type: 'stop' });
    await client.exited;
    return { baseRss: before, peakGrowth: peak - before, bufferedAmount };
  });
}

async function churnRep(key, opts) {
  return withServer(key, null, async (server) => {
    await server.ask({ type: 'gc' });
    await sleep(500);
    const before = memoryOf(server.pid).rss;
    resetPeak(server.pid);
    const client = startClient({
      mode: 'churn',
      port: server.port,
      connections: opts.connections ?? 500,
      durationMs: opts.durationMs ?? 2000,
      size: 4096,
    });
    await client.next('killed');
    await client.exited;
    const peak = memoryOf(server.pid).peak;
    await sleep(3000);
    const settled = memoryOf(server.pid).rss;
    await server.ask({ type: 'gc' });
    await sleep(500);
    const collected = memoryOf(server.pid).rss;
    return { baseRss: before, peak, settled, collected };
  });
}

const kib = (bytes) => `${(bytes / 1024).toFixed(2)} KiB`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

/** How each mode is reported: its figures per server, the median over repetitions. */
const REPORTS = {
  idle: idleTable,
  'idle-deflate': idleTable,
  handshake(reps, keys) {
    const rows = [['server', 'handshakes/s (median)', 'per repetition', 'vs ws', 'p50 latency']];
    const base = median(reps.ws?.map((r) => r.perSecond) ?? [NaN]);
    for (const key of keys) {
      const rates = reps[key].map((r) => r.perSecond);
      rows.push([
        SERVERS[key].label,
        number(median(rates)),
        rates.map(number).join(' / '),
        ratio(median(rates), base),
        `${median(reps[key].map((r) => r.p50Ms)).toFixed(2)} ms`,
      ]);
    }
    return rows;
  },
  'ping-flood'(reps, keys) {
    const rows = [
      [
        'server',
        'peak RSS growth (median)',
        'per repetition',
        'vs ws',
        'server read the flood',
        'other handshakes p50 / p99 meanwhile',
      ],
    ];
    const base = median(reps.ws?.map((r) => r.peakGrowth) ?? [NaN]);
    for (const key of keys) {
      const r = reps[key];
      rows.push([
        SERVERS[key].label,
        mb(median(r.map((x) => x.peakGrowth))),
        r.map((x) => mb(x.peakGrowth)).join(' / '),
        ratio(median(r.map((x) => x.peakGrowth)), base),
        r
          .map((x) =>
            x.ended === 'read'
              ? `all in ${x.seconds.toFixed(1)} s`
              : `${mb(x.bytes - x.unreadBytes)} of ${mb(x.bytes)}`,
          )
          .join(' / '),
        `${median(r.map((x) => x.probe.p50Ms)).toFixed(1)} ms / ${median(r.map((x) => x.probe.p99Ms)).toFixed(1)} ms (${number(median(r.map((x) => x.probe.handshakes)))} handshakes)`,
      ]);
    }
    return rows;
  },
  'write-flood'(reps, keys) {
    const rows = [
      ['server', 'peak RSS growth (median)', 'per repetition', 'vs ws', 'bufferedAmount'],
    ];
    const base = median(reps.ws?.map((r) => r.peakGrowth) ?? [NaN]);
    for (const key of keys) {
      const r = reps[key];
      rows.push([
        SERVERS[key].label,
        mb(median(r.map((x) => x.peakGrowth))),
        r.map((x) => mb(x.peakGrowth)).join(' / '),
        ratio(median(r.map((x) => x.peakGrowth)), base),
        mb(median(r.map((x) => x.bufferedAmount))),
      ]);
    }
    return rows;
  },
  churn(reps, keys) {
    const rows = [
      ['server', 'RSS settled (median)', 'per repetition', 'vs ws', 'after GC', 'peak', 'before'],
    ];
    const base = median(reps.ws?.map((r) => r.settled) ?? [NaN]);
    for (const key of keys) {
      const r = reps[key];
      rows.push([
        SERVERS[key].label,
        mb(median(r.map((x) => x.settled))),
        r.map((x) => mb(x.settled)).join(' / '),
        ratio(median(r.map((x) => x.settled)), base),
        mb(median(r.map((x) => x.collected))),
        mb(median(r.map((x) => x.peak))),
        mb(median(r.map((x) => x.baseRss))),
      ]);
    }
    return rows;
  },
};

function idleTable(reps, keys) {
  const rows = [
    [
      'server',
      'RSS per connection (median)',
      'per repetition',
      'vs ws',
      'after GC',
      'after GC vs ws',
    ],
  ];
  const base = median(reps.ws?.map((r) => r.perConnection) ?? [NaN]);
  const baseGc = median(reps.ws?.map((r) => r.perConnectionAfterGc) ?? [NaN]);
  for (const key of keys) {
    const r = reps[key];
    const held = median(r.map((x) => x.perConnection));
    const gc = median(r.map((x) => x.perConnectionAfterGc));
    rows.push([
      SERVERS[key].label,
      kib(held),
      r.map((x) => kib(x.perConnection)).join(' / '),
      ratio(held, base),
      kib(gc),
      ratio(gc, baseGc),
    ]);
  }
  return rows;
}

const report = {
  date: new Date().toISOString(),
  command: `node bench/connections.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  node: process.version,
  cpu: `${os.cpus()[0]?.model ?? 'unknown'} x ${os.availableParallelism()}`,
  modes: {},
};
out(`# connections bench, ${report.date}`);
out();
out(`\`${report.command}\`, Node ${report.node}, ${report.cpu}`);
for (const mode of modes) {
  const keys =
    values.servers?.split(',').filter((k) => MODES[mode].servers.includes(k)) ??
    MODES[mode].servers;
  const reps = Object.fromEntries(keys.map((k) => [k, []]));
  const loads = [loadAverage()];
  for (let rep = 0; rep < options.reps; rep++) {
    // Rotate the order so that no server always runs first.
    const order = keys.map((_, i) => keys[(i + rep) % keys.length]);
    for (const key of order) {
      log(`${mode}: ${key}, repetition ${rep + 1} of ${options.reps} (load ${loadAverage()})`);
      reps[key].push(await MODES[mode].run(key, options));
    }
    loads.push(loadAverage());
  }
  report.modes[mode] = { reps, loads };
  out();
  out(`## ${mode}`);
  out();
  out(markdown(REPORTS[mode](reps, keys)));
  out();
  out(`Load average (1, 5, 15 min) before and after each repetition: ${loads.join(' | ')}`);
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(report, null, 2));
