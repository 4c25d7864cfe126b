/**
 * A client that reconnects: `redial(url)` yields a connected `Conn`, and when it has ended, the
 * next one, with exponential backoff and jitter between failed attempts.
 *
 * @module
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { Dialer, type DialerOptions, type RequestHeaders } from './client.js';
import type { Conn } from './conn.js';
import { CloseNormalClosure } from './constants.js';

/** What {@link RedialOptions.onRetry} is told before each wait. */
export interface RetryInfo {
  /**
   * Failed attempts in a row so far: dials that failed, and connections that ended before
   * `resetAfter`. 0 when a connection that lasted has just ended.
   */
  attempt: number;
  /** How long (ms) redial waits before the next dial. */
  delay: number;
  /** Why the last dial failed; `undefined` when a connection ended. */
  error: unknown;
}

/** Options of {@link redial}: the {@link Dialer}'s, and how to retry. */
export interface RedialOptions extends DialerOptions {
  /**
   * The Dialer to dial with. When given, the Dialer options here are ignored. By default a Dialer
   * is made from them, with a 10 s `handshakeTimeout` (a reconnecting client should not hang 45 s
   * on a server that accepts the TCP connection but never answers) and `keepAlive: { interval:
   * 30_000, timeout: 10_000 }` (a dead connection is found, so a new one can be made).
   */
  dialer?: Dialer;
  /** Headers for each dial, or a function called before each (to refresh a token, say). */
  headers?: RequestHeaders | (() => RequestHeaders | Promise<RequestHeaders>);
  /** The first retry's delay (ms), before jitter; it doubles with each failure. Default 500. */
  minDelay?: number;
  /** The longest delay (ms) between attempts. Default 30,000. */
  maxDelay?: number;
  /**
   * How long (ms) a connection must have lasted for its end to reset the backoff. A connection
   * that ends sooner counts as a failed attempt, so a server that accepts and drops at once is not
   * hammered. Default 10,000.
   */
  resetAfter?: number;
  /**
   * Stops redialling: the current connection is closed with 1000, a dial or wait in progress is
   * abandoned, and the iteration ends quietly.
   */
  signal?: AbortSignal;
  /** Called before each wait, to log or count reconnections. */
  onRetry?: (info: RetryInfo) => void;
}

const DEFAULT_MIN_DELAY = 500;
const DEFAULT_MAX_DELAY = 30_000;
const DEFAULT_RESET_AFTER = 10_000;
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_KEEPALIVE = { interval: 30_000, timeout: 10_000 };

/**
 * The wait before attempt number `attempt` (1 for the first retry after a failure): exponential
 * backoff, `minDelay * 2^(attempt - 1)` capped at `maxDelay`, with "equal jitter": a random point
 * in the upper half of that, so that clients dropped together do not come back together, and the
 * delay still grows. Attempt 0 (a connection that lasted just ended) waits a random time below
 * `minDelay`, to spread the reconnections of many clients after a server restart.
 *
 * @param random - a number in [0, 1); `Math.random` by default.
 */
export function backoffDelay(
  attempt: number,
  minDelay: number,
  maxDelay: number,
  random: () => number = Math.random,
): number {
  if (attempt <= 0) return Math.floor(random() * minDelay);
  const base = Math.min(maxDelay, minDelay * 2 ** Math.min(attempt - 1, 52));
  return Math.floor(base / 2 + random() * (base / 2));
}

/**
 * Connects to `url` and keeps reconnecting. Each iteration yields a connected {@link Conn}; the
 * loop body owns it, and when the body is done with it (or it has closed, whichever comes
 * first), redial makes the next connection: at once after the first, with backoff and jitter
 * between failed attempts (see {@link backoffDelay}), the backoff reset after a connection that
 * lasted `resetAfter`. A connection still open when the body returns is closed with 1000;
 * breaking out of the loop does the same and ends the iteration. Aborting `signal` closes the
 * current connection with 1000 and ends the iteration quietly, whatever it was doing.
 *
 * What was sent into a connection that failed is the application's to resend: see the outbox
 * pattern in the README.
 *
 * @param url - the WebSocket URL, as {@link Dialer.dial} takes it.
 * @throws {TypeError} for a malformed URL or headers (at the first iteration); a dial's other
 *   failures (network errors, refusals, timeouts) are retried, never thrown.
 *
 * @example
 * const stop = new AbortController();
 * for await (const conn of redial('wss://example.com/feed', { signal: stop.signal })) {
 *   try {
 *     for await (const { data } of conn) console.log(data.toString());
 *   } catch (err) {
 *     console.warn('connection lost:', err);
 *   }
 * }
 */
export async function* redial(
  url: string | URL,
  options: RedialOptions = {},
): AsyncGenerator<Conn, void, undefined> {
  const {
    dialer: given,
    headers,
    minDelay = DEFAULT_MIN_DELAY,
    maxDelay = DEFAULT_MAX_DELAY,
    resetAfter = DEFAULT_RESET_AFTER,
    signal,
    onRetry,
    ...dialerOptions
  } = options;
  for (const [name, value] of Object.entries({ minDelay, maxDelay, resetAfter })) {
    if (!(value >= 0)) throw new RangeError(`websocket: redial ${name} must not be negative`);
  }
  const dialer =
    given ??
    new Dialer({
      handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT,
      keepAlive: DEFAULT_KEEPALIVE,
      ...dialerOptions,
    });
  // Ours to abort when the iteration ends; follows the caller's signal.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(signal?.reason);
  if (signal?.aborted === true) return;
  signal?.addEventListener('abort', onAbort, { once: true });

  let failures = 0;
  let current: Conn | null = null;
  let following: Promise<Conn | null> | null = null;
  const closeCurrent = (): void => {
    void current?.closeGracefully(CloseNormalClosure);
  };
  stop.signal.addEventListener('abort', closeCurrent, { once: true });

  // Waits `delay`, then dials until a dial succeeds; null once stopped. `retry`: not the first.
  const connect = async (retry: boolean, delay: number): Promise<Conn | null> => {
    let error: unknown;
    for (;;) {
      if (retry) onRetry?.({ attempt: failures, delay, error });
      retry = true;
      try {
        if (delay > 0) await sleep(delay, undefined, { signal: stop.signal });
        const extra = typeof headers === 'function' ? await headers() : headers;
        const { conn } = await dialer.dial(url, extra, { signal: stop.signal });
        return conn;
      } catch (err) {
        if (stop.signal.aborted) return null;
        if (err instanceof TypeError || err instanceof RangeError) throw err;
        error = err;
        failures += 1;
        delay = backoffDelay(failures, minDelay, maxDelay);
      }
    }
  };

  try {
    let upcoming = connect(false, 0);
    for (;;) {
      const conn = await upcoming;
      if (conn === null) return;
      current = conn;
      const openedAt = performance.now();
      // The next connection is made once this one has ended, or the body is done with it.
      let next: Promise<Conn | null> | null = null;
      const follow = (): Promise<Conn | null> => {
        if (next !== null) return next;
        const lasted = performance.now() - openedAt;
        failures = lasted >= resetAfter ? 0 : failures + 1;
        next = connect(true, backoffDelay(failures, minDelay, maxDelay));
        following = next;
        return next;
      };
      void conn.closed.then(follow);
      yield conn;
      closeCurrent();
      upcoming = follow();
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stop.abort();
    // A connection made meanwhile for a loop that has ended is closed too.
    const pending = following as Promise<Conn | null> | null;
    if (pending !== null) void pending.then((conn) => conn?.closeGracefully(CloseNormalClosure));
  }
}
