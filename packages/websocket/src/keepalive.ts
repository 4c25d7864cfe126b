/**
 * The heartbeat behind the `keepAlive` option: ping a peer that has gone quiet, and end the
 * connection when nothing comes back in time. It replaces the ping ticker, read deadline and pong
 * handler that gorilla's examples write by hand for every connection.
 *
 * @module
 */

import { TimeoutError } from './errors.js';

/** How often to check on a quiet peer, and how long to wait for it to answer. */
export interface KeepAliveOptions {
  /**
   * Milliseconds of silence from the peer after which a ping is sent. Anything received from
   * the peer (a frame, or part of one) counts; what this side sends does not.
   */
  interval: number;
  /**
   * Milliseconds to wait, after the ping, for anything from the peer. Past it the connection is
   * closed: pending and later reads reject with a {@link TimeoutError} whose `code` is
   * `'ERR_WS_KEEPALIVE'`, and the connection ends with 1006.
   */
  timeout: number;
}

/** The `keepAlive` option: the heartbeat's timing, or `false` for none. */
export type KeepAliveOption = KeepAliveOptions | false;

/**
 * The adapters' default heartbeat: a ping after 30 s of silence (under the 60 s after which
 * common proxies and load balancers drop an idle connection), and 30 s for the answer, so a dead
 * peer is found within a minute of its last word.
 */
export const DEFAULT_ADAPTER_KEEPALIVE: KeepAliveOptions = Object.freeze({
  interval: 30_000,
  timeout: 30_000,
});

/**
 * Checks a `keepAlive` option and returns the heartbeat's timing, or `null` for none.
 *
 * @throws {RangeError} when `interval` or `timeout` is not a positive finite number.
 */
export function keepAliveTiming(option: KeepAliveOption | undefined): KeepAliveOptions | null {
  if (option === undefined || option === false) return null;
  if (typeof option !== 'object' || option === null) {
    throw new TypeError('websocket: keepAlive must be { interval, timeout } or false');
  }
  for (const name of ['interval', 'timeout'] as const) {
    const value = option[name];
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(
        `websocket: keepAlive.${name} must be a positive number of milliseconds`,
      );
    }
  }
  return { interval: option.interval, timeout: option.timeout };
}

/** What the heartbeat needs of its connection. */
export interface HeartbeatHost {
  /** Sends a ping; a failure to send is ignored (the timeout still runs). */
  ping(): void;
  /** Whether the connection has stopped reading the socket because the application lags. */
  readingPaused(): boolean;
  /** Ends the connection: the peer stayed silent after a ping. */
  expire(err: TimeoutError): void;
}

/**
 * One connection's heartbeat, on one timer. The connection stamps {@link Heartbeat.last} as data
 * arrives; the timer is not moved then, but looks at the stamp when it fires and sleeps for the
 * rest of the interval, so a busy connection costs one timer firing per interval.
 *
 * While the connection itself has stopped reading (the application has not consumed what
 * arrived), the peer's answers cannot be seen: the heartbeat still pings, which keeps proxies
 * from dropping the connection, but does not count the silence against the peer.
 */
export class Heartbeat {
  /** When data last arrived from the peer (`performance.now()`); the connection sets it. */
  last: number;
  readonly #interval: number;
  readonly #timeout: number;
  readonly #host: HeartbeatHost;
  #pingAt = -1; // when the unanswered ping went out; -1: none
  #timer: NodeJS.Timeout | null = null;
  #confirming: NodeJS.Immediate | null = null;

  /** Starts the heartbeat: the first check comes `interval` ms from now. */
  constructor(timing: KeepAliveOptions, host: HeartbeatHost) {
    this.#interval = timing.interval;
    this.#timeout = timing.timeout;
    this.#host = host;
    this.last = performance.now();
    this.#arm(timing.interval);
  }

  /** Stops the heartbeat for good (the connection closed). */
  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#confirming !== null) clearImmediate(this.#confirming);
    this.#timer = null;
    this.#confirming = null;
    this.#pingAt = -1;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), Math.max(1, Math.ceil(ms)));
    this.#timer.unref();
  }

  // `confirmed`: this is the second look, after the event loop polled the sockets once more.
  #check(confirmed = false): void {
    this.#timer = null;
    this.#confirming = null;
    const now = performance.now();
    const host = this.#host;
    if (this.#pingAt >= 0) {
      if (this.last >= this.#pingAt) {
        this.#pingAt = -1; // answered (or something else came)
      } else if (host.readingPaused()) {
        this.#pingAt = -1; // not the peer's silence: we are not reading
        this.last = now;
      } else if (now - this.#pingAt >= this.#timeout) {
        if (!confirmed) {
          // Timers run before the event loop reads the sockets: after a stall (a long task, a
          // GC pause) the answer may be waiting unread in the kernel. Look again once it is read.
          this.#confirming = setImmediate(() => this.#check(true));
          this.#confirming.unref();
          return;
        }
        host.expire(
          new TimeoutError(
            'keepalive',
            'ERR_WS_KEEPALIVE',
            `nothing received from the peer within ${this.#timeout} ms of a ping ` +
              `(keepAlive: { interval: ${this.#interval}, timeout: ${this.#timeout} })`,
          ),
        );
        return;
      } else {
        this.#arm(this.#pingAt + this.#timeout - now);
        return;
      }
    }
    const silence = now - this.last;
    if (silence < this.#interval) {
      this.#arm(this.#interval - silence);
      return;
    }
    host.ping();
    if (host.readingPaused()) {
      this.last = now;
      this.#arm(this.#interval);
      return;
    }
    this.#pingAt = now;
    // Look again by the interval at the latest, so that an answered ping is followed by the next
    // one an interval after the answer, however long the timeout.
    this.#arm(Math.min(this.#timeout, this.#interval));
  }
}
