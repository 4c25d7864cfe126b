// Child processes of a run: the servers (one process each) and the load generator, plus the CPU
// time each used, read from /proc so that a busy server need not answer a question to be measured.
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/**
 * @typedef {object} RunningServer
 * @property {string} key
 * @property {number} pid
 * @property {number} port
 * @property {Record<string, unknown>} info - what the server reported about itself.
 * @property {() => void} startMeasuring - starts the server's own load monitor.
 * @property {() => void} markSteady - tells it the warm-up is over.
 * @property {() => Promise<import('./servers/load-monitor.mjs').LoadStats>} stopMeasuring - stops
 *   it and resolves to what it measured.
 * @property {(message: { type: string }) => Promise<Record<string, unknown>>} ask - sends a
 *   request (`gc`, `heap-snapshot`) and resolves with its answer (`<type>:done`).
 * @property {(type: string) => Promise<Record<string, unknown>>} next - resolves with the next
 *   message of `type` the server sends of its own accord.
 * @property {() => Promise<void>} stop - asks the server to exit (which writes its CPU profile,
 *   if it runs under --cpu-prof) and waits for it.
 */

/**
 * Starts one benchmark server and waits until it listens.
 *
 * @param {string} key
 * @param {import('./scenarios.mjs').ServerSpec} spec
 * @param {object} options
 * @param {{ level: number, threshold: number } | null} options.deflate - compression settings, or
 *   null for none.
 * @param {string | null} options.profileDir - run under `node --cpu-prof`, writing here.
 * @param {string} options.profileName - the profile's file name.
 * @param {string[]} [options.execArgv] - more Node options for the server (`--expose-gc`).
 * @returns {Promise<RunningServer>}
 * @throws {Error} when the server exits before it listens, or reports other facts than `spec`
 *   expects (a ws variant that did or did not load its addon).
 */
export async function startServer(key, spec, { deflate, profileDir, profileName, execArgv = [] }) {
  const nodeOptions =
    profileDir === null
      ? [...execArgv]
      : [
          ...execArgv,
          '--cpu-prof',
          `--cpu-prof-dir=${profileDir}`,
          `--cpu-prof-name=${profileName}`,
        ];
  const env = { ...process.env, ...spec.env };
  // The `ws` variants differ only by these variables: never let the caller's shell decide.
  if (!('WS_NO_BUFFER_UTIL' in spec.env)) delete env.WS_NO_BUFFER_UTIL;
  if (!('WS_NO_UTF_8_VALIDATE' in spec.env)) delete env.WS_NO_UTF_8_VALIDATE;
  env.BENCH_DEFLATE = deflate === null ? '' : `${deflate.level},${deflate.threshold}`;
  const child = fork(HERE + spec.script, [], { execArgv: nodeOptions, env, stdio: 'inherit' });
  const exited = once(child, 'exit');
  const ready = await Promise.race([
    once(child, 'message').then(([message]) => message),
    exited.then(([code]) => {
      throw new Error(`server ${key} exited with code ${code} before listening`);
    }),
  ]);
  for (const [fact, value] of Object.entries(spec.expect ?? {})) {
    if (ready.info[fact] !== value) {
      child.kill();
      throw new Error(`server ${key}: expected ${fact} = ${value}, it reports ${ready.info[fact]}`);
    }
  }
  // The server answers each stop of its monitor in order; a server that exits answers none.
  const measurements = [];
  const waiting = new Map(); // message type -> resolvers, oldest first
  const next = (type) =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`server ${key} has exited`));
        return;
      }
      if (!waiting.has(type)) waiting.set(type, []);
      waiting.get(type).push({ resolve, reject });
    });
  child.on('message', (message) => {
    const waiters = waiting.get(message?.type);
    if (waiters !== undefined && waiters.length > 0) waiters.shift().resolve(message);
    if (message?.type !== 'measurement') return;
    const waiter = measurements.shift();
    if (message.error === undefined) waiter?.resolve(message.stats);
    else waiter?.reject(new Error(`server ${key}: ${message.error}`));
  });
  void exited.then(() => {
    for (const waiter of measurements.splice(0)) {
      waiter.reject(new Error(`server ${key} exited while measuring`));
    }
    for (const waiters of waiting.values()) {
      for (const waiter of waiters.splice(0)) waiter.reject(new Error(`server ${key} exited`));
    }
  });
  return {
    key,
    pid: child.pid,
    port: ready.port,
    info: ready.info,
    startMeasuring() {
      child.send({ type: 'measure', phase: 'start' });
    },
    markSteady() {
      child.send({ type: 'measure', phase: 'steady' });
    },
    stopMeasuring() {
      return new Promise((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          reject(new Error(`server ${key} exited while measuring`));
          return;
        }
        measurements.push({ resolve, reject });
        child.send({ type: 'measure', phase: 'end' });
      });
    },
    ask(message) {
      const answer = next(`${message.type}:done`);
      child.send(message);
      return answer;
    },
    next,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * @typedef {object} GeneratorResult
 * @property {number} seconds - length of the measured interval.
 * @property {number} messages - messages echoed in it.
 * @property {number} payloadBytes - their payload bytes (uncompressed size).
 * @property {number} wireBytes - their payload bytes as echoed (compressed size, if compressed).
 * @property {number} compressedMessages - how many of them came back compressed (RSV1).
 * @property {number} generatorCpuSeconds - the generator's CPU time in the interval.
 * @property {number | null} serverCpuSeconds - the server's CPU time in the interval (all its
 *   threads: zlib work on the thread pool counts).
 * @property {number | null} serverWaitSeconds - how long the server's main thread was ready to
 *   run but waited for a core (other processes competing), or null without /proc.
 * @property {number | null} generatorWaitSeconds - the same for the generator.
 * @property {import('./servers/load-monitor.mjs').LoadStats | null} serverStats - what the server
 *   measured of itself from the start of the load to the end of the measured interval, when
 *   asked for.
 * @property {string[]} errors - what went wrong, if anything.
 */

/**
 * Runs the load generator once against `server` and returns the measured interval's counts.
 *
 * @param {RunningServer} server
 * @param {import('./generator.mjs').GeneratorConfig} config - without `port`.
 * @param {object} [options]
 * @param {boolean} [options.serverStats] - have the server measure its event loop and memory from
 *   the moment the load starts (every connection open) to the end of the measured interval, and
 *   its event loop over the measured interval alone.
 * @returns {Promise<GeneratorResult>}
 */
export async function runGenerator(server, config, { serverStats = false } = {}) {
  const child = fork(HERE + 'generator.mjs', [], { execArgv: [], stdio: 'inherit' });
  const exited = once(child, 'exit');
  const marks = {};
  let result = null;
  let failure = null;
  let measured = null;
  child.on('message', (message) => {
    if (message.type === 'mark') {
      marks[message.phase] = {
        serverCpu: cpuSeconds(server.pid),
        serverWait: waitSeconds(server.pid),
        generatorWait: waitSeconds(child.pid),
      };
      if (serverStats && message.phase === 'load') server.startMeasuring();
      if (serverStats && message.phase === 'start') server.markSteady();
      if (serverStats && message.phase === 'end' && marks.load !== undefined) {
        measured = server.stopMeasuring();
        // Awaited below; a failure must not count as unhandled meanwhile.
        measured.catch(() => {});
      }
    }
    if (message.type === 'result') result = message;
    if (message.type === 'failed') failure = message.error;
  });
  child.send({ ...config, port: server.port });
  await exited;
  if (result === null) {
    throw new Error(`load generator failed: ${failure ?? `exited with ${child.exitCode}`}`);
  }
  const delta = (name) =>
    marks.start?.[name] != null && marks.end?.[name] != null
      ? marks.end[name] - marks.start[name]
      : null;
  return {
    ...result,
    serverCpuSeconds: delta('serverCpu'),
    serverWaitSeconds: delta('serverWait'),
    generatorWaitSeconds: delta('generatorWait'),
    serverStats: measured === null ? null : await measured,
  };
}

/**
 * How long the main thread of process `pid` has waited, ready to run, for a core so far (the
 * second field of /proc/<pid>/schedstat), in seconds; null where that file is not available.
 *
 * @param {number} pid
 * @returns {number | null}
 */
export function waitSeconds(pid) {
  try {
    const wait = Number(readFileSync(`/proc/${pid}/schedstat`, 'latin1').split(' ')[1]);
    return Number.isFinite(wait) ? wait / 1e9 : null;
  } catch {
    return null;
  }
}

let ticksPerSecond;

/**
 * The CPU time (user + system) process `pid` has used so far, in seconds, or null where /proc is
 * not available.
 *
 * @param {number} pid
 * @returns {number | null}
 */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'latin1' }));
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}
