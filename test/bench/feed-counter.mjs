// Test fixture for bench.test.ts (Jest runs CommonJS and cannot import the bench's ES modules):
// reads `{ expect, runs }` as JSON on stdin, where each run is a list of base64 chunks; feeds each
// run's chunks to a fresh FrameCounter and prints, per run, what it counted or the error it threw.
import { text } from 'node:stream/consumers';
import process from 'node:process';
import { FrameCounter } from '../../bench/frame-counter.mjs';

const { expect, runs } = JSON.parse(await text(process.stdin));
const results = runs.map((chunks) => {
  const counter = new FrameCounter(expect);
  const perChunk = [];
  let error = null;
  try {
    for (const chunk of chunks) perChunk.push(counter.feed(Buffer.from(chunk, 'base64')));
  } catch (err) {
    error = err.message;
  }
  const { messages, frames, payloadBytes } = counter;
  return { messages, frames, payloadBytes, perChunk, error };
});
process.stdout.write(JSON.stringify(results));
