/**
 * An in-memory socket pair that behaves like a TCP connection, for {@link inject}: an HTTP server
 * accepts one end as a connection, a client dials over the other.
 *
 * @module
 */

import { Duplex } from 'node:stream';

/** A stream callback: Node's `Writable` write, final and destroy callbacks. */
export type StreamCallback = (err?: Error | null) => void;

/**
 * One end of a {@link memorySocketPair}: a Duplex that behaves like a TCP socket whose peer is the
 * other end.
 */
export class MemorySocket extends Duplex {
  #peer: MemorySocket | null = null;
  #finSent = false;
  #peerWrite: StreamCallback | null = null; // the peer's write, waiting until we read

  /** @internal */
  constructor() {
    // Half-open like the sockets an HTTP server hands out: each side ends its own direction.
    super({ allowHalfOpen: true });
  }

  /** @internal */
  link(peer: MemorySocket): void {
    this.#peer = peer;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: StreamCallback): void {
    const peer = this.#peer;
    if (peer === null || peer.destroyed || this.#finSent) {
      callback(); // the connection is gone; the bytes are lost, as on a reset socket
      return;
    }
    // A copy, as a socket hands its peer fresh memory: the receiving side unmasks in place, and
    // the sender reuses its pooled batch buffers as soon as the write completes.
    if (peer.push(Buffer.from(chunk))) callback();
    else peer.#peerWrite = callback;
  }

  override _final(callback: StreamCallback): void {
    this.#sendFin();
    callback();
  }

  override _read(): void {
    const waiting = this.#peerWrite;
    this.#peerWrite = null;
    waiting?.();
  }

  override _destroy(err: Error | null, callback: StreamCallback): void {
    this.#sendFin();
    const waiting = this.#peerWrite;
    this.#peerWrite = null;
    waiting?.();
    callback(err);
  }

  #sendFin(): void {
    if (this.#finSent) return;
    this.#finSent = true;
    const peer = this.#peer;
    if (peer !== null && !peer.destroyed && !peer.readableEnded) peer.push(null);
  }

  // What a net.Socket offers that HTTP code may call.
  /** Does nothing: there is no Nagle delay in memory. */
  setNoDelay(): this {
    return this;
  }
  /** Does nothing: in-memory sockets have no idle timeout. */
  setTimeout(): this {
    return this;
  }
  /** Does nothing: there is no TCP keep-alive in memory. */
  setKeepAlive(): this {
    return this;
  }
  /** Does nothing. */
  ref(): this {
    return this;
  }
  /** Does nothing. */
  unref(): this {
    return this;
  }
}

/**
 * Returns two linked {@link MemorySocket}s: bytes written to one arrive, copied, on the other;
 * `end()` on one is a FIN the other reads as `'end'`; `destroy()` on one ends the other's input.
 * A write completes when the other end's buffer has room, so backpressure works as on TCP.
 */
export function memorySocketPair(): [MemorySocket, MemorySocket] {
  const a = new MemorySocket();
  const b = new MemorySocket();
  a.link(b);
  b.link(a);
  return [a, b];
}
