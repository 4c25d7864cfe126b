/**
 * The stream {@link Conn.nextReader} returns (gorilla's `messageReader`).
 *
 * @module
 */

import { Readable } from 'node:stream';

/**
 * A `Readable` over one incoming data message. Payload pieces are pushed as frames arrive; the
 * stream ends with the message's final frame.
 *
 * A failure (the connection closing mid-message, a protocol error) is held back until someone
 * consumes the stream (a `read()`, a pipe, a `'data'`, `'readable'` or `'error'` listener, an
 * async iterator), so an application that awaits something between `nextReader()` and reading
 * never meets an unhandled `'error'` event.
 */
export class MessageReader extends Readable {
  readonly #onDemand: () => void;
  #pendingError: Error | null = null;
  #readCalled = false;

  /** @param onDemand - called when the consumer wants more data. */
  constructor(onDemand: () => void) {
    super();
    this.#onDemand = onDemand;
    this.on('newListener', (event: string | symbol) => {
      if (event === 'data' || event === 'readable' || event === 'error') this.#surface();
    });
    this.on('resume', () => this.#surface());
  }

  override _read(): void {
    this.#onDemand();
  }

  override read(size?: number): unknown {
    if (size !== 0) {
      this.#readCalled = true;
      this.#surface();
    }
    return super.read(size);
  }

  /** Fails the stream with `err`, now if someone consumes it, else once someone does. */
  fail(err: Error): void {
    if (this.destroyed || this.readableEnded) return;
    this.#pendingError = err;
    if (this.#consumed()) this.#surface();
  }

  #consumed(): boolean {
    return (
      this.#readCalled ||
      this.readableFlowing === true ||
      this.listenerCount('data') > 0 ||
      this.listenerCount('readable') > 0 ||
      this.listenerCount('error') > 0
    );
  }

  #surface(): void {
    const err = this.#pendingError;
    if (err === null) return;
    this.#pendingError = null;
    // After the current call, so a listener being added is in place when the error comes.
    process.nextTick(() => this.destroy(err));
  }
}
