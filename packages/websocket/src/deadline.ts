/**
 * Deadlines (gorilla's `SetReadDeadline` / `SetWriteDeadline`) kept with one lazy timer.
 *
 * @module
 */

/**
 * A point in time after which something expires. Moving the deadline later leaves the running
 * timer alone and re-arms it when it fires, so an application that extends its read deadline on
 * every pong causes no timer churn; moving it earlier re-arms at once. The timer never keeps the
 * process alive.
 */
export class DeadlineTimer {
  readonly #onExpire: () => void;
  #at: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = 0;

  /** @param onExpire - called once the deadline has passed (while armed). */
  constructor(onExpire: () => void) {
    this.#onExpire = onExpire;
  }

  /** The deadline in epoch milliseconds, or `null` for none. */
  get at(): number | null {
    return this.#at;
  }

  /** Whether the deadline is set and has passed. */
  passed(): boolean {
    return this.#at !== null && Date.now() >= this.#at;
  }

  /** Sets the deadline (`null` clears it) without arming the timer. */
  set(at: number | null): void {
    this.#at = at;
    if (at === null) this.stop();
  }

  /** Makes sure the timer will fire at the deadline (when one is set). */
  arm(): void {
    const at = this.#at;
    if (at === null) return;
    if (this.#timer !== null) {
      if (this.#timerAt <= at) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - Date.now()));
    this.#timer.unref();
  }

  /** Cancels the timer; the deadline stays as set. */
  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #fire(): void {
    this.#timer = null;
    const at = this.#at;
    if (at === null) return;
    if (Date.now() < at) this.arm();
    else this.#onExpire();
  }
}
