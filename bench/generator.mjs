// The load generator, run as a child process of run.mjs: raw TCP sockets that write pre-built
// masked frames and count the echoes by their headers. Each connection keeps `window` messages in
// flight: every echo that comes back sends one more. The run is a warm-up, then a measured
// interval; the parent is told when the interval starts and ends (it samples the server's CPU time
// then) and gets the counts of the interval alone.
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { deflateMessage, frameBlock, maskedFrame } from './client-frames.mjs';
import { handshake } from './client-handshake.mjs';
import { FrameCounter } from './frame-counter.mjs';

/**
 * @typedef {object} GeneratorConfig
 * @property {number} port - the server's port on 127.0.0.1.
 * @property {number} connections
 * @property {number} window - messages in flight per connection.
 * @property {number} size - payload bytes per message (before compression).
 * @property {'text' | 'binary'} type
 * @property {boolean} deflate - negotiate permessage-deflate and send compressed frames.
 * @property {number} warmupMs
 * @property {number} durationMs
 */

/** @param {GeneratorConfig} config */
async function main(config) {
  const opcode = config.type === 'text' ? 1 : 2;
  const payload = messagePayload(config.size, config.type, config.deflate);
  const wire = config.deflate ? deflateMessage(payload) : payload;
  const { block, frameSize } = frameBlock(config.window, () =>
    maskedFrame(opcode, wire, config.deflate),
  );
  const expect = {
    opcode,
    // Compressed echoes vary in length; uncompressed ones must be exactly what was sent.
    length: config.deflate ? null : payload.length,
    // A server may send a compressed message uncompressed, so RSV1 is not checked then.
    rsv1: config.deflate ? null : false,
  };

  const opened = await Promise.all(
    Array.from({ length: config.connections }, () =>
      handshake(config.port, { deflate: config.deflate }),
    ),
  );

  let sending = true;
  const errors = [];
  const counters = opened.map(({ socket, rest }) => {
    const counter = new FrameCounter(expect);
    const send = (k) => {
      while (k > 0) {
        const n = Math.min(k, config.window);
        socket.write(n === config.window ? block : block.subarray(0, n * frameSize));
        k -= n;
      }
    };
    const onBytes = (chunk) => {
      let echoed;
      try {
        echoed = counter.feed(chunk);
      } catch (err) {
        errors.push(err.message);
        socket.destroy();
        return;
      }
      if (sending && echoed > 0) send(echoed);
    };
    socket.on('data', onBytes);
    socket.on('close', () => {
      if (sending) errors.push('the server closed a connection during the run');
    });
    if (rest.length > 0) onBytes(rest);
    socket.resume();
    send(config.window);
    return counter;
  });

  const snapshot = () => ({
    time: process.hrtime.bigint(),
    cpu: process.cpuUsage(),
    messages: counters.reduce((sum, c) => sum + c.messages, 0),
    bytes: counters.reduce((sum, c) => sum + c.payloadBytes, 0),
  });

  await sleep(config.warmupMs);
  const start = snapshot();
  process.send({ type: 'mark', phase: 'start' });
  await sleep(config.durationMs);
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
    payloadBytes: (end.messages - start.messages) * payload.length,
    generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
    errors: [...new Set(errors)],
  });
}

/**
 * The message every connection sends: ASCII for text (valid UTF-8 of the exact size), random bytes
 * for binary, and JSON-like records for the compressed scenario (compressible as real traffic is).
 */
function messagePayload(size, type, compressible) {
  if (compressible) {
    const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
    let text = '';
    for (let i = 0; text.length < size; i++) {
      text += `{"id":${i * 7919},"user":"${words[i % 8]}-${i % 97}","text":"${words[(i * 3) % 8]} ${words[(i * 5) % 8]}"},`;
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
