/**
 * Write buffer pools (gorilla's `BufferPool`).
 *
 * @module
 */

/**
 * A pool of write buffers shared by connections. A connection gathers the frames it writes in a
 * tick (or while its socket is busy) in batch buffers that grow from 1 KiB; once a batch reaches
 * `writeBufferSize` it takes its buffers from the pool, and gives them back once the socket has
 * taken the bytes. Idle connections hold no write buffer. Buffers handed to `put` come from `get`
 * or were allocated at the upgrader's or dialer's `writeBufferSize`. Gorilla: `BufferPool`.
 */
export interface BufferPool {
  /** Returns a buffer from the pool, or `undefined` to have the connection allocate one. */
  get(): Buffer | undefined;
  /** Returns a buffer to the pool. */
  put(buffer: Buffer): void;
}

/**
 * A simple {@link BufferPool}: a free list of at most `maxIdle` buffers.
 *
 * @example
 * const upgrader = new Upgrader({ writeBufferPool: new SimpleBufferPool(), writeBufferSize: 8192 });
 */
export class SimpleBufferPool implements BufferPool {
  readonly #free: Buffer[] = [];
  readonly #maxIdle: number;

  /** @param maxIdle - the most buffers kept for reuse (default 1024). */
  constructor(maxIdle = 1024) {
    this.#maxIdle = maxIdle;
  }

  /** Returns an idle buffer, if any. */
  get(): Buffer | undefined {
    return this.#free.pop();
  }

  /** Keeps `buffer` for reuse unless the pool is full. */
  put(buffer: Buffer): void {
    if (this.#free.length < this.#maxIdle) this.#free.push(buffer);
  }
}
