// The load generator, run as a child process of run.mjs: raw TCP sockets that write pre-built
// masked frames and count the echoes by their headers. Each connection keeps `window` messages in
// flight: every echo that comes back sends one more. The run is a warm-up, then a measured
// interval; the parent is told when the load starts (every connection open) and when the interval
// starts and ends (it samples the server's CPU time then) and gets the counts of the interval alone.
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { deflateMessage, FramePool, maskedFrame } from './client-frames.mjs';
import { handshake } from './client-handshake.mjs';
import { checkDescriptorLimit, openAll } from './connect-many.mjs';
import { FrameCounter } from './frame-counter.mjs';

/**
 * @typedef {object} GeneratorConfig
 * @property {number} port - the server's port on 127.0.0.1.
 * @property {number} connections
 * @property {number} window - messages in flight per connection.
 * @property {number} size - payload bytes per message (before compression).
 * @property {number} [smallSize] - with `smallPerLarge`: payload bytes of the small messages.
 * @property {number} [smallPerLarge] - a mix: each `size` message is followed by this many
 *   `smallSize` ones (0 or absent: every message is `size` bytes).
 * @property {'text' | 'binary'} type
 * @property {boolean} deflate - negotiate permessage-deflate and send compressed frames.
 * @property {number} warmupMs
 * @property {number} durationMs
 */

/** @param {GeneratorConfig} config */
async function main(config) {
  const opcode = config.type === 'text' ? 1 : 2;
  const payloads = framePayloads(config);
  const wires = config.deflate ? payloads.map(deflateMessage) : payloads;
  const pool = new FramePool(
    wires.map((wire) => maskedFrame(opcode, wire, config.deflate)),
    payloads.map((payload) => payload.length),
  );
  const expect = {
    opcode,
    // Compressed echoes vary in length; uncompressed ones must be exactly what was sent.
    length: config.deflate ? null : config.size,
    // A server may send a compressed message uncompressed, so RSV1 is not checked then.
    rsv1: config.deflate ? null : false,
  };

  checkDescriptorLimit(config.connections);
  const opened = await openAll(config.connections, () =>
    handshake(config.port, { deflate: config.deflate }),
  );

  let sending = true;
  const errors = [];
  // Set while the measured interval waits for its first echo (see below); called on every echo
  // and on every failure, which ends the wait too.
  let wake = null;
  const nudge = () => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };
  const connections = opened.map(({ socket, rest }, index) => {
    const counter = new FrameCounter(expect);
    // Connections start at different frames so that they do not all send the same message.
    let cursor = (index * config.window) % pool.count;
    // Echoes come back in the order the messages went out: this is the frame the next one echoes.
    let echoCursor = cursor;
    const state = { counter, payloadBytes: 0 };
    const send = (k) => {
      cursor = pool.write(socket, cursor, k);
    };
    const onBytes = (chunk) => {
      let echoed;
      try {
        echoed = counter.feed(chunk);
      } catch (err) {
        errors.push(err.message);
        socket.destroy();
        nudge();
        return;
      }
      if (echoed === 0) return;
      nudge();
      state.payloadBytes += pool.payloadBytes(echoCursor, echoed);
      echoCursor = (echoCursor + echoed) % pool.count;
      if (sending) send(echoed);
    };
    socket.on('data', onBytes);
    socket.on('close', () => {
      if (sending) errors.push('the server closed a connection during the run');
      nudge();
    });
    return { socket, rest, state, onBytes, send };
  });

  process.send({ type: 'mark', phase: 'load' });
  for (const { socket, rest, onBytes, send } of connections) {
    if (rest.length > 0) onBytes(rest);
    socket.resume();
    send(config.window);
  }

  const snapshot = () => ({
    time: process.hrtime.bigint(),
    cpu: process.cpuUsage(),
    messages: connections.reduce((sum, c) => sum + c.state.counter.messages, 0),
    payload: connections.reduce((sum, c) => sum + c.state.payloadBytes, 0),
    bytes: connections.reduce((sum, c) => sum + c.state.counter.payloadBytes, 0),
    compressed: connections.reduce((sum, c) => sum + c.state.counter.compressedMessages, 0),
  });

  await sleep(config.warmupMs);
  const start = snapshot();
  process.send({ type: 'mark', phase: 'start' });
  await sleep(config.durationMs);
  // A rate needs one whole echo: on a slow or busy machine a large message can take longer than
  // the interval, which then lasts until the first echo (or failure) ends it.
  while (snapshot().messages === start.messages && errors.length === 0) {
    await new Promise((resolve) => {
      wake = resolve;
    });
  }
  const end = snapshot();
  process.send({ type: 'mark', phase: 'end' });
  sending = false;
  for (const { socket } of opened) socket.destroy();

  const cpu = process.cpuUsage(start.cpu);
  process.send({
    type: 'result',
    seconds: Number(end.time - start.time) / 1e9,
    messages: end.messages - start.messages,
    wireBytes: end.bytes - start.bytes,
    payloadBytes: end.payload - start.payload,
    compressedMessages: end.compressed - start.compressed,
    generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
    errors: [...new Set(errors)],
  });
}

/**
 * The payloads of the frames each connection cycles through. Compressed messages must differ, or a
 * server's compressor with context takeover would find each one whole in its window and send a
 * few bytes: more distinct messages than a 32 KiB window holds keeps the work honest. Uncompressed,
 * one payload (with fresh keys) will do. A mix is a run of cycles, each one large message and then
 * `smallPerLarge` small ones, every one of them different.
 *
 * @param {GeneratorConfig} config
 * @returns {Buffer[]}
 */
function framePayloads(config) {
  const { size, type, deflate, window } = config;
  const smallPerLarge = config.smallPerLarge ?? 0;
  if (smallPerLarge > 0) {
    const smallSize = config.smallSize ?? size;
    const cycle = 1 + smallPerLarge;
    const cycles = Math.max(8, Math.ceil(window / cycle));
    const payloads = [];
    for (let i = 0; i < cycles; i++) {
      payloads.push(messagePayload(size, type, deflate, i));
      for (let j = 0; j < smallPerLarge; j++) {
        payloads.push(messagePayload(smallSize, type, deflate, cycles + i * smallPerLarge + j));
      }
    }
    return payloads;
  }
  const distinct = deflate ? Math.max(16, Math.ceil(65536 / size)) : 1;
  const messages = Array.from({ length: distinct }, (_, i) =>
    messagePayload(size, type, deflate, i),
  );
  return Array.from({ length: Math.max(window, distinct) }, (_, i) => messages[i % distinct]);
}

/**
 * A message of `size` bytes: ASCII for text (valid UTF-8 of the exact size), arbitrary bytes for
 * binary, and for the compressed scenario JSON-like records drawn from a seeded generator, which
 * compress about as well as real chat or API traffic and differ from seed to seed.
 */
function messagePayload(size, type, compressible, seed) {
  if (compressible) {
    const random = mulberry32(seed + 1);
    const pick = (list) => list[Math.floor(random() * list.length)];
    let text = '[';
    while (text.length < size) {
      const words = Array.from({ length: 3 + Math.floor(random() * 6) }, () => pick(WORDS));
      text +=
        `{"id":${Math.floor(random() * 1e9)},"user":"${pick(WORDS)}${Math.floor(random() * 1000)}",` +
        `"ts":${1700000000000 + Math.floor(random() * 1e10)},"text":"${words.join(' ')}"},`;
    }
    return Buffer.from(text.slice(0, size));
  }
  if (type === 'text') return Buffer.alloc(size, 'abcdefghijklmnopqrstuvwxyz0123456789');
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + 7) & 0xff;
  return bytes;
}

process.once('message', (config) => {
  main(config).then(
    () => process.disconnect(),
    (err) => {
      process.send({ type: 'failed', error: err.message });
      process.disconnect();
    },
  );
});

const WORDS = (
  'the of and to in is you that it he was for on are as with his they at be this have from or ' +
  'one had by word but not what all were we when your can said there use an each which she do ' +
  'how their if will up other about out many then them these so some her would make like him'
).split(' ');

/** A small seeded pseudo-random generator (mulberry32), so every run sends the same messages. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
