/**
 * The framer (RFC 6455 section 5.2): frame headers, client masking, and the write batch.
 *
 * Frames written in one tick are gathered and handed to the socket together at the next tick: small
 * frames are copied, header and payload, into one write buffer; a large payload goes to the socket
 * as it is (masked into a copy on the client side, as the payload is not ours to change). The
 * socket then sees one write, or one corked `writev`, per tick instead of two per frame.
 *
 * @module
 */

import type { Duplex } from 'node:stream';
import type { BufferPool } from './buffer-pool.js';
import { maskInPlace, newMaskKey } from './mask.js';

/** The size of a frame header for a payload of `length` bytes. */
export function frameHeaderLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header into `target` at `offset`, with the minimal length encoding RFC 6455
 * section 5.2 requires, and returns its size. `maskKey`, when given, sets the MASK bit and follows
 * the length.
 */
export function writeFrameHeader(
  target: Buffer,
  offset: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  length: number,
  maskKey: Uint8Array | null,
): number {
  let p = offset;
  target[p++] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey === null ? 0 : 0x80;
  if (length < 126) {
    target[p++] = maskBit | length;
  } else if (length < 0x10000) {
    target[p++] = maskBit | 126;
    target[p++] = length >>> 8;
    target[p++] = length & 0xff;
  } else {
    target[p++] = maskBit | 127;
    target.writeUInt32BE(Math.floor(length / 0x100000000), p);
    target.writeUInt32BE(length >>> 0, p + 4);
    p += 8;
  }
  if (maskKey !== null) {
    target[p++] = maskKey[0]!;
    target[p++] = maskKey[1]!;
    target[p++] = maskKey[2]!;
    target[p++] = maskKey[3]!;
  }
  return p - offset;
}

/** Writes frames to a socket, batching those written in the same tick. */
export class FrameWriter {
  readonly #socket: Duplex;
  readonly #masked: boolean;
  readonly #bufferSize: number;
  readonly #pool: BufferPool | undefined;

  #batch: Buffer | null = null; // the write buffer being filled
  #batchLength = 0;
  #spare: Buffer | null = null; // a write buffer back from the socket, kept when there is no pool
  readonly #chunks: Buffer[] = []; // sealed pieces waiting for the flush, in order
  readonly #owners: (Buffer | null)[] = []; // per chunk, the write buffer it fills, if any
  #pending = 0; // bytes gathered and not yet handed to the socket
  #scheduled = false;
  #drain: Promise<void> | null = null;
  #resolveDrain: (() => void) | null = null;

  /**
   * @param socket - the connection's socket.
   * @param masked - whether frames are masked (the client side).
   * @param bufferSize - the write buffer size; larger frames bypass it.
   * @param pool - where write buffers come from and return to.
   */
  constructor(socket: Duplex, masked: boolean, bufferSize: number, pool: BufferPool | undefined) {
    this.#socket = socket;
    this.#masked = masked;
    // A frame header (at most 14 bytes) must fit in one write buffer, however small it was set.
    this.#bufferSize = Math.max(bufferSize, 14);
    this.#pool = pool;
    socket.on('drain', () => this.#onDrain());
  }

  /** Bytes of frames gathered and not yet taken by the socket: ours, then the socket's own. */
  get bufferedAmount(): number {
    return this.#pending + this.#socket.writableLength;
  }

  /** Whether the socket holds more than its high-water mark, counting what is not yet flushed. */
  get backedUp(): boolean {
    const socket = this.#socket;
    return socket.writableLength + this.#pending > socket.writableHighWaterMark;
  }

  /**
   * Adds a frame to the batch. `payload` may be a string, encoded as UTF-8 straight into the
   * write buffer. Large binary payloads are sent as they are: the caller must not change them
   * afterwards.
   */
  writeFrame(
    opcode: number,
    fin: boolean,
    rsv1: boolean,
    payload: Uint8Array | string,
    length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length,
  ): void {
    const key = this.#masked ? newMaskKey() : null;
    const headerSize = frameHeaderLength(length, key !== null);
    if (headerSize + length <= this.#bufferSize) {
      const batch = this.#room(headerSize + length);
      let p = this.#batchLength;
      p += writeFrameHeader(batch, p, opcode, fin, rsv1, length, key);
      if (typeof payload === 'string') batch.write(payload, p, 'utf8');
      else batch.set(payload, p);
      if (key !== null && length > 0) maskInPlace(batch.subarray(p, p + length), key, 0);
      this.#batchLength = p + length;
    } else {
      const batch = this.#room(headerSize);
      this.#batchLength += writeFrameHeader(
        batch,
        this.#batchLength,
        opcode,
        fin,
        rsv1,
        length,
        key,
      );
      this.#seal();
      let data: Buffer;
      if (typeof payload === 'string') data = Buffer.from(payload, 'utf8');
      else if (key !== null)
        data = Buffer.from(payload); // the caller's bytes: mask a copy
      else if (Buffer.isBuffer(payload)) data = payload;
      else data = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
      if (key !== null) maskInPlace(data, key, 0);
      this.#push(data, null);
    }
    this.#pending += headerSize + length;
    this.#schedule();
  }

  /** Adds preformatted frame bytes (a prepared message) to the batch, without copying them. */
  writeRaw(frame: Buffer): void {
    if (frame.length <= this.#bufferSize) {
      const batch = this.#room(frame.length);
      frame.copy(batch, this.#batchLength);
      this.#batchLength += frame.length;
    } else {
      this.#seal();
      this.#push(frame, null);
    }
    this.#pending += frame.length;
    this.#schedule();
  }

  /** Hands everything gathered to the socket now. */
  flush(): void {
    this.#scheduled = false;
    this.#seal();
    const chunks = this.#chunks;
    const owners = this.#owners;
    if (chunks.length === 0) return;
    const socket = this.#socket;
    this.#pending = 0;
    if (socket.destroyed || !socket.writable) {
      this.#discard();
      return;
    }
    if (chunks.length === 1) {
      this.#writeChunk(chunks[0]!, owners[0]!);
    } else {
      socket.cork();
      for (let i = 0; i < chunks.length; i++) this.#writeChunk(chunks[i]!, owners[i]!);
      socket.uncork();
    }
    chunks.length = 0;
    owners.length = 0;
  }

  /** Resolves once the socket drains below its high-water mark (or closes). */
  drained(): Promise<void> {
    if (!this.backedUp) return Promise.resolve();
    this.flush();
    // A single write the kernel takes whole never sets the socket's needDrain, so no 'drain'
    // follows it: only wait when the socket still holds more than its high-water mark.
    if (!this.backedUp) return Promise.resolve();
    this.#drain ??= new Promise((resolve) => {
      this.#resolveDrain = resolve;
    });
    return this.#drain;
  }

  /** Releases waiters for a drain that will never come, once the socket has closed. */
  abort(): void {
    this.#onDrain();
    this.#seal();
    this.#discard();
  }

  #discard(): void {
    for (const owner of this.#owners) if (owner !== null) this.#giveBack(owner);
    this.#chunks.length = 0;
    this.#owners.length = 0;
    this.#pending = 0;
  }

  #push(chunk: Buffer, owner: Buffer | null): void {
    this.#chunks.push(chunk);
    this.#owners.push(owner);
  }

  #onDrain(): void {
    const resolve = this.#resolveDrain;
    this.#drain = null;
    this.#resolveDrain = null;
    resolve?.();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(() => {
      if (this.#scheduled) this.flush();
    });
  }

  /** Returns the write buffer with room for `size` more bytes, sealing a full one first. */
  #room(size: number): Buffer {
    if (this.#batch !== null && this.#batchLength + size > this.#batch.length) this.#seal();
    if (this.#batch === null) {
      this.#batch = this.#take();
      this.#batchLength = 0;
    }
    return this.#batch;
  }

  #take(): Buffer {
    const pooled = this.#pool?.get();
    if (pooled !== undefined && pooled.length >= this.#bufferSize) return pooled;
    const spare = this.#spare;
    if (spare !== null) {
      this.#spare = null;
      return spare;
    }
    return Buffer.allocUnsafeSlow(this.#bufferSize);
  }

  // Moves the filled part of the write buffer to the chunk list; the buffer itself returns to the
  // pool once the socket has written it.
  #seal(): void {
    const batch = this.#batch;
    if (batch === null) return;
    if (this.#batchLength > 0) this.#push(batch.subarray(0, this.#batchLength), batch);
    else this.#giveBack(batch);
    this.#batch = null;
    this.#batchLength = 0;
  }

  #writeChunk(chunk: Buffer, owner: Buffer | null): void {
    if (owner === null) this.#socket.write(chunk);
    else this.#socket.write(chunk, () => this.#giveBack(owner));
  }

  #giveBack(buffer: Buffer): void {
    if (this.#pool !== undefined) this.#pool.put(buffer);
    else this.#spare ??= buffer;
  }
}
