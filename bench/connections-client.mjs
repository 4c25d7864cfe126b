// The client side of bench/connections.mjs, run as a child process: raw TCP sockets (no WebSocket
// library) that open idle connections, open and drop connections as fast as the server answers,
// flood a server with pings without reading, never read what a server writes, or echo and then
// vanish mid-load. It reports over IPC; the parent measures the server from outside.
import { once } from 'node:events';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { maskedFrame } from './client-frames.mjs';
import { handshake } from './client-handshake.mjs';
import { checkDescriptorLimit, openAll } from './connect-many.mjs';

/**
 * @typedef {object} ClientConfig
 * @property {'idle' | 'handshake' | 'ping-flood' | 'write-flood' | 'churn'} mode
 * @property {number} port
 * @property {number} [connections] - idle, churn: how many to open.
 * @property {boolean} [deflate] - offer permessage-deflate (and require it).
 * @property {number} [durationMs] - handshake, churn: how long to run.
 * @property {number} [concurrency] - handshake: handshakes in flight at once.
 * @property {number} [pings] - ping-flood: how many pings the attacker sends.
 * @property {number} [boundMs] - ping-flood: give up waiting for the server to read them after
 *   this long.
 * @property {string} [path] - write-flood: the path to open.
 * @property {number} [size] - churn: payload bytes of each message.
 */

const send = (message) => process.send(message);

/** @param {ClientConfig} config */
async function main(config) {
  switch (config.mode) {
    case 'idle':
      return idle(config);
    case 'handshake':
      return send({ type: 'result', ...(await handshakes(config, config.durationMs)) });
    case 'ping-flood':
      return pingFlood(config);
    case 'write-flood':
      return writeFlood(config);
    case 'churn':
      return churn(config);
    default:
      throw new Error(`unknown mode ${config.mode}`);
  }
}

/** Opens the connections, says so, and keeps them open (reading nothing) until told to stop. */
async function idle(config) {
  checkDescriptorLimit(config.connections);
  const opened = await openAll(config.connections, () =>
    handshake(config.port, { deflate: config.deflate, path: config.path }),
  );
  send({ type: 'opened', connections: opened.length });
  await once(process, 'message');
  for (const { socket } of opened) socket.destroy();
}

/**
 * Opens connections for `durationMs`, `concurrency` at a time: each one connects, shakes hands
 * (the answer checked), and is reset at once, so the client keeps no TIME_WAIT. Returns how many
 * completed and their latencies (connect to the whole 101 read).
 *
 * @returns {Promise<{ handshakes: number, seconds: number, p50Ms: number, p90Ms: number, p99Ms: number, failures: number }>}
 */
async function handshakes(config, durationMs, stop = null) {
  const latencies = [];
  let failures = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + durationMs;
  const running = () => Date.now() < deadline && (stop === null || !stop.done);
  const worker = async () => {
    while (running()) {
      const t0 = process.hrtime.bigint();
      try {
        const { socket } = await handshake(config.port, { deflate: config.deflate ?? false });
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        socket.resetAndDestroy();
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: config.concurrency ?? 1 }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (p) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    handshakes: latencies.length,
    seconds,
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    failures,
  };
}

/**
 * One attacker sends `pings` masked pings with 125-byte payloads in one write and never reads;
 * meanwhile another client opens connections one after another and times them. Ends when the
 * server has read every ping, or after `boundMs`.
 */
async function pingFlood(config) {
  const { socket } = await handshake(config.port, { deflate: false });
  const ping = maskedFrame(9, Buffer.alloc(125, 'p'), false);
  const flood = Buffer.allocUnsafe(ping.length * config.pings);
  for (let i = 0; i < config.pings; i++) ping.copy(flood, i * ping.length);
  send({ type: 'flooding', bytes: flood.length });
  const stop = { done: false };
  const readAll = new Promise((resolve) => socket.write(flood, resolve));
  const bounded = sleep(config.boundMs).then(() => 'bound');
  const probing = handshakes({ ...config, concurrency: 1 }, config.boundMs, stop);
  const started = Date.now();
  const ended = await Promise.race([readAll.then(() => 'read'), bounded]);
  const seconds = (Date.now() - started) / 1000;
  const unread = socket.writableLength;
  stop.done = true;
  const probe = await probing;
  socket.resetAndDestroy();
  send({ type: 'result', ended, seconds, unreadBytes: unread, bytes: flood.length, probe });
}

/** Opens the flood path and reads nothing until told to stop. */
async function writeFlood(config) {
  const { socket } = await handshake(config.port, { deflate: false, path: config.path });
  send({ type: 'opened', connections: 1 });
  await once(process, 'message');
  socket.resetAndDestroy();
}

/**
 * Opens `connections` connections that each send `size`-byte binary messages as fast as the
 * socket takes them, reading (and dropping) the echoes, then exits without closing anything:
 * every connection vanishes mid-load, as when a client process is killed.
 */
async function churn(config) {
  checkDescriptorLimit(config.connections);
  const opened = await openAll(config.connections, () =>
    handshake(config.port, { deflate: false }),
  );
  const frames = Array.from({ length: 8 }, () =>
    maskedFrame(2, Buffer.alloc(config.size, 'c'), false),
  );
  const block = Buffer.concat(frames);
  for (const { socket } of opened) {
    const pump = () => {
      while (socket.write(block));
    };
    socket.on('drain', pump);
    socket.on('data', () => {});
    socket.resume();
    pump();
  }
  send({ type: 'loading' });
  await sleep(config.durationMs);
  send({ type: 'killed' });
  process.exit(0);
}

process.once('message', (config) => {
  main(config).then(
    () => process.disconnect(),
    (err) => {
      send({ type: 'failed', error: err.message });
      process.disconnect();
    },
  );
});
