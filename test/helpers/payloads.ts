/**
 * Deterministic payloads for tests: the same bytes on every run for a given seed, so a failure
 * reproduces.
 */
import { createCipheriv } from 'node:crypto';

/** A deterministic pseudo-random generator (mulberry32) of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `length` pseudo-random bytes covering every byte value: the AES-128-CTR key stream of a key
 * derived from `seed` (native code, so megabytes cost milliseconds).
 */
export function binaryPayload(length: number, seed = 2): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed >>> 0, 0);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** `length` bytes of printable ASCII (valid UTF-8): base64 of pseudo-random bytes. */
export function asciiPayload(length: number, seed = 1): Buffer {
  const text = Buffer.from(binaryPayload(Math.ceil((length * 3) / 4) + 3, seed).toString('base64'));
  return text.subarray(0, length);
}
