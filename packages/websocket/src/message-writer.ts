/**
 * The stream {@link Conn.nextWriter} returns (gorilla's `messageWriter`).
 *
 * @module
 */

import { Writable } from 'node:stream';
import { invalidData, toPayload } from './message-data.js';

type WriteCallback = (err?: Error | null) => void;

/** Where a {@link MessageWriter} sends its frames: the connection's write half. */
export interface FragmentSink {
  /**
   * Sends the next frame of the message. Resolves (or returns `undefined` at once) when the
   * socket has taken it within its high-water mark; rejects when the connection cannot write.
   */
  sendFragment(data: Buffer, fin: boolean): Promise<void> | undefined;
  /** The writer is done: it sent its final frame, or was destroyed (`midMessage`: after frames went out). */
  release(midMessage: boolean, err: Error | null): void;
}

/**
 * A `Writable` over one outgoing data message. Each write becomes a frame, sent at the latest on
 * the next tick (a write followed in the same tick by another write or by `end()` is merged into
 * the frame that follows, so `end(data)` sends a single frame). `end()` sends the final frame.
 *
 * Destroying the writer before `end()` leaves the message unfinished, which the protocol cannot
 * express: if frames were already sent, the connection closes with 1011.
 */
export class MessageWriter extends Writable {
  readonly #sink: FragmentSink;
  #held: Buffer | null = null;
  #sentSome = false;
  #finished = false;
  // Frames waiting for the one before them: the held piece goes out on its own tick and may
  // overlap a write's or end()'s frame, and two frames compressing at once on the one deflate
  // stream would collect each other's output.
  readonly #queue: { data: Buffer; fin: boolean; callback: (err?: Error | null) => void }[] = [];
  #sending = false;
  #waiting: (() => void) | null = null; // a write's callback, held until the socket drains
  #released = false;

  /** @param sink - the connection's write half. */
  constructor(sink: FragmentSink) {
    super({ decodeStrings: true });
    this.#sink = sink;
  }

  /**
   * Writes the next piece of the message: a string, or bytes in any form `writeMessage` takes
   * (a `Float32Array` sends its own bytes). Anything else sends nothing: the callback and an
   * `'error'` event get a `TypeError` (the stream is destroyed), instead of a synchronous throw.
   */
  override write(chunk: unknown, callback?: WriteCallback): boolean;
  override write(chunk: unknown, encoding: BufferEncoding, callback?: WriteCallback): boolean;
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    const payload = toPayload(chunk);
    if (payload === undefined) {
      this.#refuse(chunk, typeof encoding === 'function' ? encoding : callback);
      return false;
    }
    return super.write(payload, encoding as BufferEncoding, callback);
  }

  /** Ends the message, after writing `chunk` if given (as {@link MessageWriter.write} takes it). */
  override end(callback?: () => void): this;
  override end(chunk: unknown, callback?: () => void): this;
  override end(chunk: unknown, encoding: BufferEncoding, callback?: () => void): this;
  override end(
    chunk?: unknown,
    encoding?: BufferEncoding | (() => void),
    callback?: () => void,
  ): this {
    if (typeof chunk === 'function' || chunk === undefined || chunk === null) {
      return super.end(chunk as () => void);
    }
    const payload = toPayload(chunk);
    if (payload === undefined) {
      this.#refuse(chunk, typeof encoding === 'function' ? encoding : callback);
      return this;
    }
    return super.end(payload, encoding as BufferEncoding, callback);
  }

  #refuse(chunk: unknown, callback: WriteCallback | undefined): void {
    const err = invalidData(chunk);
    if (callback !== undefined) process.nextTick(callback, err);
    this.destroy(err);
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (err?: Error | null) => void,
  ): void {
    const previous = this.#held;
    this.#held = chunk;
    if (previous === null) {
      // Send the chunk on the next tick unless another write or end() comes first.
      process.nextTick(() => this.#sendHeld());
      // While an earlier frame waits for the socket to drain, this write waits too, so that
      // write() returns false and 'drain' comes when the socket drains (backpressure).
      if (this.#sending) this.#waiting = callback;
      else callback();
      return;
    }
    this.#send(previous, false, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    const last = this.#held ?? Buffer.alloc(0);
    this.#held = null;
    this.#send(last, true, (err) => {
      if (!err) this.#finished = true;
      this.#release(err ?? null);
      callback(err);
    });
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#held = null;
    this.#releaseWaiting();
    this.#release(err);
    callback(err);
  }

  // Sends the held piece when nothing followed it within its tick. While an earlier frame waits for
  // the socket it stays held: the next write or end() may still join it, and it goes once that
  // frame is done.
  #sendHeld(): void {
    const held = this.#held;
    if (held === null || this.#sending || this.writableEnded || this.destroyed) return;
    this.#held = null;
    this.#send(held, false, (err) => {
      if (err) this.destroy(err);
    });
  }

  #send(data: Buffer, fin: boolean, callback: (err?: Error | null) => void): void {
    this.#queue.push({ data, fin, callback });
    if (!this.#sending) this.#sendNext();
  }

  #sendNext(): void {
    const next = this.#queue.shift();
    if (next === undefined) return;
    this.#sending = true;
    const done = (err?: Error | null): void => {
      this.#sending = false;
      next.callback(err);
      if (!this.#sending) this.#sendNext();
      if (!this.#sending) {
        this.#releaseWaiting();
        if (this.#held !== null) process.nextTick(() => this.#sendHeld());
      }
    };
    let pending: Promise<void> | undefined;
    try {
      pending = this.#sink.sendFragment(next.data, next.fin);
    } catch (err) {
      done(err as Error);
      return;
    }
    this.#sentSome = true;
    if (pending === undefined) done();
    else pending.then(() => done(), done);
  }

  #releaseWaiting(): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.();
  }

  #release(err: Error | null): void {
    if (this.#released) return;
    this.#released = true;
    this.#sink.release(this.#sentSome && !this.#finished, err);
  }
}
