/**
 * Per-connection rate limits on what the peer sends (the `rateLimit` option): messages and bytes
 * per second, each with a burst, as token buckets.
 *
 * @module
 */

import { RateLimitError } from './errors.js';

/**
 * How much a peer may send. Each limit is a token bucket: it holds up to its burst, refills at
 * its rate, and what arrives takes from it; a peer that empties a bucket breaks the limit, and
 * the connection fails with 1008 (policy violation). Limits left out are not enforced.
 */
export interface RateLimitOptions {
  /**
   * Messages per second the peer may send, sustained. Every data message and every control
   * frame (a ping flood is a flood) counts as one.
   */
  messagesPerSecond?: number;
  /** Messages the peer may send at once, above the rate. Default: `messagesPerSecond`. */
  messageBurst?: number;
  /**
   * Payload bytes per second the peer may send, sustained, counted as they arrive (compressed
   * bytes as received, so a large message sent slowly passes).
   */
  bytesPerSecond?: number;
  /**
   * Bytes the peer may send at once, above the rate. Default: `bytesPerSecond`. A message
   * arriving faster than the rate must fit in it.
   */
  byteBurst?: number;
}

/** The `rateLimit` option: the limits, or `false` for none (the default). */
export type RateLimitOption = RateLimitOptions | false;

/** One token bucket. */
class Bucket {
  readonly rate: number; // tokens per millisecond
  readonly burst: number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, burst: number, now: number) {
    this.rate = perSecond / 1000;
    this.burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes `n` tokens; false when there were not enough. */
  take(n: number, now: number): boolean {
    const tokens = Math.min(this.burst, this.#tokens + (now - this.#at) * this.rate);
    this.#at = now;
    this.#tokens = tokens - n;
    return this.#tokens >= 0;
  }
}

/**
 * Checks a `rateLimit` option and returns the limiter for one connection, or `null` for none.
 *
 * @throws {RangeError} when a rate or burst is not a positive number.
 */
export function rateLimiter(option: RateLimitOption | undefined): RateLimiter | null {
  if (option === undefined || option === false) return null;
  if (typeof option !== 'object' || option === null) {
    throw new TypeError('websocket: rateLimit must be an object of limits or false');
  }
  for (const name of [
    'messagesPerSecond',
    'messageBurst',
    'bytesPerSecond',
    'byteBurst',
  ] as const) {
    const value = option[name];
    if (value !== undefined && !(typeof value === 'number' && value > 0)) {
      throw new RangeError(`websocket: rateLimit.${name} must be a number above 0`);
    }
  }
  if (option.messagesPerSecond === undefined && option.bytesPerSecond === undefined) return null;
  return new RateLimiter(option);
}

/**
 * A connection's limiter: the connection tells it what arrives, and fails the connection with
 * the error it returns.
 */
export class RateLimiter {
  readonly #options: RateLimitOptions;
  readonly #messages: Bucket | null;
  readonly #bytes: Bucket | null;

  /** @param options - checked limits, at least one of them set. */
  constructor(options: RateLimitOptions) {
    this.#options = options;
    const now = performance.now();
    const { messagesPerSecond: mps, bytesPerSecond: bps } = options;
    this.#messages = mps === undefined ? null : new Bucket(mps, options.messageBurst ?? mps, now);
    this.#bytes = bps === undefined ? null : new Bucket(bps, options.byteBurst ?? bps, now);
  }

  /** A message (or control frame) of which `bytes` have arrived so far; null when allowed. */
  message(bytes: number): RateLimitError | null {
    const now = performance.now();
    if (this.#messages !== null && !this.#messages.take(1, now)) return this.#error('messages');
    return bytes > 0 ? this.bytes(bytes, now) : null;
  }

  /** `n` more payload bytes arrived; null when allowed. */
  bytes(n: number, now: number = performance.now()): RateLimitError | null {
    if (this.#bytes !== null && !this.#bytes.take(n, now)) return this.#error('bytes');
    return null;
  }

  #error(limit: 'messages' | 'bytes'): RateLimitError {
    const o = this.#options;
    return limit === 'messages'
      ? new RateLimitError(limit, o.messagesPerSecond!, o.messageBurst ?? o.messagesPerSecond!)
      : new RateLimitError(limit, o.bytesPerSecond!, o.byteBurst ?? o.bytesPerSecond!);
  }
}
