/**
 * The framer (RFC 6455 section 5.2): frame headers, client masking, and the write queue.
 *
 * Frames written in one tick are gathered and handed to the socket together at the next tick: small
 * frames are copied, header and payload, into a batch buffer; a large payload goes to the socket
 * as it is (masked into a copy on the client side, as the payload is not ours to change). The
 * socket then sees one write, or one corked `writev`, per tick instead of two per frame.
 *
 * While the socket still holds an earlier write (the peer reads slowly, or not at all), new frames
 * are not handed to it one tick at a time: they keep filling the batch, and go together once that
 * write completes. So the memory held for queued frames stays within a small constant of their
 * bytes however they are written: batch buffers start small (a lone small frame does not take a
 * `writeBufferSize` buffer) and grow with the batch up to `writeBufferSize`, and the socket's
 * own queue holds one entry per batch, not per frame. The default ping handler's pong goes into a
 * slot of its own while the socket is backed up: a later ping's pong replaces it (RFC 6455
 * section 5.5.3 allows answering only the latest ping), so a ping flood cannot queue pongs.
 *
 * Only `Duplex` features are used (`write` callbacks, `cork`, `writableLength`), so any stream
 * will do: a TCP or TLS socket, an HTTP/2 stream, an in-memory pair.
 *
 * @module
 */

import type { Duplex } from 'node:stream';
import type { BufferPool } from './buffer-pool.js';
import { maskInPlace, newMaskKey } from './mask.js';

const RESOLVED = Promise.resolve();
function noop(): void {}
const PONG_OPCODE = 10;
const CLOSE_OPCODE = 8;

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

/** The first batch buffer of a tick: room for a few dozen small frames. */
const FIRST_BATCH = 1024;
/** The largest control frame: a 2-byte header, a mask key, 125 bytes of payload. */
const MAX_CONTROL_FRAME = 2 + 4 + 125;

/**
 * Writes frames to a socket: batches those written in the same tick, and those written while the
 * socket is still busy with an earlier batch.
 */
export class FrameWriter {
  readonly #socket: Duplex;
  readonly #masked: boolean;
  readonly #bufferSize: number;
  readonly #pool: BufferPool | undefined;

  #batch: Buffer | null = null; // the buffer being filled
  #batchLength = 0;
  #nextBatchSize = FIRST_BATCH; // batch buffers double up to #bufferSize within one flush
  #chunks: Buffer[] | null = null; // sealed pieces waiting for the flush, in order
  #pooled: Buffer[] | null = null; // pool buffers among them, given back once written
  #pending = 0; // bytes gathered and not yet handed to the socket
  #scheduled = false;
  #writing = false; // a batch is in the socket; what comes meanwhile waits for it
  #written: Buffer[] | null = null; // the pool buffers of that batch
  #onWritten: (() => void) | null = null; // the socket's callback for it, made once
  #drain: Promise<void> | null = null;
  #resolveDrain: (() => void) | null = null;
  #pong: Buffer | null = null; // the payload of the pong owed while the socket is busy
  #pongLength = 0;
  #afterPong: (() => void) | null = null; // called once the owed pong is handed to the socket

  /**
   * @param socket - the connection's socket.
   * @param masked - whether frames are masked (the client side).
   * @param bufferSize - the largest batch buffer; larger frames bypass batching.
   * @param pool - where batch buffers of `bufferSize` come from and return to.
   */
  constructor(socket: Duplex, masked: boolean, bufferSize: number, pool: BufferPool | undefined) {
    this.#socket = socket;
    this.#masked = masked;
    // A control frame must fit in one batch buffer, however small it was set.
    this.#bufferSize = Math.max(bufferSize, MAX_CONTROL_FRAME);
    this.#pool = pool;
  }

  /** Bytes of frames gathered and not yet taken by the socket: ours, then the socket's own. */
  get bufferedAmount(): number {
    return this.#pending + this.#socket.writableLength;
  }

  /** Whether the socket holds more than its high-water mark, counting what is not yet handed over. */
  get backedUp(): boolean {
    const socket = this.#socket;
    return socket.writableLength + this.#pending > socket.writableHighWaterMark;
  }

  /**
   * Adds a frame to the batch. `payload` may be a string, encoded as UTF-8 straight into the
   * batch. Large binary payloads are sent as they are: the caller must not change them afterwards.
   */
  writeFrame(
    opcode: number,
    fin: boolean,
    rsv1: boolean,
    payload: Uint8Array | string,
    length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length,
  ): void {
    // A close frame is the last: the pong owed goes before it.
    if (opcode === CLOSE_OPCODE && this.#pong !== null) this.#emitPong();
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
      this.#push(data);
    }
    this.#pending += headerSize + length;
    this.#schedule();
  }

  /** Adds preformatted frame bytes (a prepared message) to the batch, without copying large ones. */
  writeRaw(frame: Buffer): void {
    if (frame.length <= this.#bufferSize) {
      const batch = this.#room(frame.length);
      frame.copy(batch, this.#batchLength);
      this.#batchLength += frame.length;
    } else {
      this.#seal();
      this.#push(frame);
    }
    this.#pending += frame.length;
    this.#schedule();
  }

  /**
   * Queues a pong answering a ping (the default ping handler). While the socket is free it is an
   * ordinary frame; while it is busy with an earlier batch the pong waits in a slot of its own,
   * where a later ping's pong replaces it. Returns false when it replaced one: control replies are
   * backed up, and `resume` is called once the pong owed is handed to the socket.
   */
  writePong(payload: Buffer, resume: () => void): boolean {
    if (!this.#writing && this.#pong === null) {
      this.writeFrame(PONG_OPCODE, true, false, payload);
      return true;
    }
    const replaced = this.#pong !== null;
    if (replaced) this.#pending -= this.#pongSize();
    this.#pong ??= Buffer.allocUnsafeSlow(125);
    this.#pongLength = payload.copy(this.#pong);
    this.#pending += this.#pongSize();
    this.#afterPong = resume;
    return !replaced;
  }

  /** Hands everything gathered to the socket now, even while it is busy (to end it, say). */
  flush(): void {
    if (this.#pong !== null) this.#emitPong();
    this.#seal();
    const chunks = this.#chunks;
    if (chunks === null || chunks.length === 0) return;
    const socket = this.#socket;
    const pooled = this.#pooled;
    this.#chunks = null;
    this.#pooled = null;
    this.#pending = 0;
    this.#nextBatchSize = FIRST_BATCH;
    if (socket.destroyed || !socket.writable) {
      if (pooled !== null) for (const buffer of pooled) this.#pool!.put(buffer);
      return;
    }
    let onWritten: () => void;
    if (this.#writing) {
      // Forced while an earlier batch is in the socket: this one gives back its own buffers.
      const pool = this.#pool;
      onWritten = pooled === null ? noop : () => pooled.forEach((buffer) => pool!.put(buffer));
    } else {
      this.#writing = true;
      this.#written = pooled;
      onWritten = this.#onWritten ??= () => this.#afterWrite();
    }
    const last = chunks.length - 1;
    if (last === 0) {
      socket.write(chunks[0], onWritten);
    } else {
      socket.cork();
      for (let i = 0; i < last; i++) socket.write(chunks[i]);
      socket.write(chunks[last], onWritten);
      socket.uncork();
    }
  }

  /**
   * Resolves once the socket holds no more than its high-water mark, counting what is not yet
   * handed to it (or once the socket has closed). Writes waiting on the same drain share one
   * promise.
   */
  drained(): Promise<void> {
    if (!this.backedUp) return RESOLVED;
    this.#drain ??= new Promise((resolve) => {
      this.#resolveDrain = resolve;
    });
    return this.#drain;
  }

  /** Drops what is not yet written and releases drain waiters, once the socket has closed. */
  abort(): void {
    this.#scheduled = false;
    this.#writing = false;
    this.#batch = null;
    this.#batchLength = 0;
    this.#chunks = null;
    this.#pending = 0;
    this.#pong = null;
    this.#afterPong = null;
    const pool = this.#pool;
    if (pool !== undefined) {
      for (const buffer of this.#pooled ?? []) pool.put(buffer);
      for (const buffer of this.#written ?? []) pool.put(buffer);
    }
    this.#pooled = null;
    this.#written = null;
    this.#releaseDrain();
  }

  // The socket took the last batch: give its pool buffers back, send what came meanwhile, and
  // tell the writers waiting for a drain.
  #afterWrite(): void {
    this.#writing = false;
    const written = this.#written;
    if (written !== null) {
      this.#written = null;
      for (const buffer of written) this.#pool!.put(buffer);
    }
    if (this.#pending > 0) this.flush();
    if (this.#drain !== null && !this.backedUp) this.#releaseDrain();
  }

  #releaseDrain(): void {
    const resolve = this.#resolveDrain;
    this.#drain = null;
    this.#resolveDrain = null;
    resolve?.();
  }

  #emitPong(): void {
    const pong = this.#pong!;
    const resume = this.#afterPong!;
    // Counted in #pending when it was owed; writeFrame counts it again.
    this.#pending -= this.#pongSize();
    this.#pong = null;
    this.#afterPong = null;
    this.writeFrame(PONG_OPCODE, true, false, pong.subarray(0, this.#pongLength));
    resume();
  }

  #pongSize(): number {
    return frameHeaderLength(this.#pongLength, this.#masked) + this.#pongLength;
  }

  #push(chunk: Buffer): void {
    (this.#chunks ??= []).push(chunk);
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    process.nextTick(() => {
      this.#scheduled = false;
      // A batch still in the socket (a forced flush) takes what came meanwhile when it is written.
      if (!this.#writing) this.flush();
    });
  }

  /** Returns the batch buffer with room for `size` more bytes, sealing a full one first. */
  #room(size: number): Buffer {
    let batch = this.#batch;
    if (batch !== null && this.#batchLength + size <= batch.length) return batch;
    this.#seal();
    const bufferSize = this.#bufferSize;
    const want = Math.min(bufferSize, Math.max(size, this.#nextBatchSize));
    this.#nextBatchSize = Math.min(bufferSize, want * 2);
    batch = want === bufferSize ? this.#take() : Buffer.allocUnsafe(want);
    this.#batch = batch;
    this.#batchLength = 0;
    return batch;
  }

  // A full-size batch buffer: from the pool when there is one (it goes back once written).
  #take(): Buffer {
    const pool = this.#pool;
    if (pool === undefined) return Buffer.allocUnsafe(this.#bufferSize);
    const pooled = pool.get();
    const buffer =
      pooled !== undefined && pooled.length >= this.#bufferSize
        ? pooled
        : Buffer.allocUnsafeSlow(this.#bufferSize);
    (this.#pooled ??= []).push(buffer);
    return buffer;
  }

  // Moves the filled part of the batch buffer to the chunk list.
  #seal(): void {
    const batch = this.#batch;
    if (batch === null) return;
    const length = this.#batchLength;
    this.#batch = null;
    this.#batchLength = 0;
    if (length > 0) {
      this.#push(batch.subarray(0, length));
    } else if (this.#pooled !== null && this.#pooled.at(-1) === batch) {
      this.#pooled.pop();
      this.#pool!.put(batch);
    }
  }
}
