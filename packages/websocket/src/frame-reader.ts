/**
 * The incremental frame parser (RFC 6455 section 5.2). It reads frames straight out of the
 * socket's chunks, whatever their boundaries: payloads are handed on as views of those chunks,
 * unmasked in place, and only a frame header split across chunks is copied (into 14 bytes).
 *
 * @module
 */

import {
  CloseMessage,
  MAX_CONTROL_PAYLOAD,
  OPCODE_CONTINUATION,
  PingMessage,
  PongMessage,
} from './constants.js';
import { maskInPlace } from './mask.js';

/** What the parser reports, in wire order. */
export interface FrameHandler {
  /**
   * The header of a data frame: `opcode` is text or binary for a message's first frame and 0 for
   * a continuation; `compressed` is the RSV1 bit (first frames only); `length` the payload size.
   */
  onDataFrame(opcode: number, fin: boolean, compressed: boolean, length: number): void;
  /** The next piece of the current data frame's payload, unmasked. */
  onPayload(piece: Buffer): void;
  /** The end of the current data frame; `fin` ends the message. */
  onDataFrameEnd(fin: boolean): void;
  /** A whole control frame (close, ping or pong) with its unmasked payload. */
  onControl(opcode: number, payload: Buffer): void;
  /** A frame broke the protocol; the parser has stopped. `problems` lists every violation. */
  onProtocolError(problems: string): void;
}

/** How a parser checks the frames it reads. */
export interface FrameReaderOptions {
  /** Server side: frames must be masked. Client side: they must not be. */
  isServer: boolean;
  /** Whether an extension (permessage-deflate) gave RSV1 a meaning. */
  allowRsv1: boolean;
}

const EMPTY = Buffer.alloc(0);
const MAX_HEADER = 14;

/** The size of a frame header given its second byte. */
function headerLength(second: number): number {
  const code = second & 0x7f;
  return 2 + (code === 126 ? 2 : code === 127 ? 8 : 0) + (second & 0x80 ? 4 : 0);
}

/**
 * Parses WebSocket frames from a byte stream and reports them to a {@link FrameHandler}.
 *
 * `pause()` (from within a handler call, or outside) stops the parser after the current event and
 * keeps the unparsed bytes; `resume()` goes on with them. `stop()` ignores everything after.
 */
export class FrameReader {
  readonly #handler: FrameHandler;
  readonly #isServer: boolean;
  readonly #allowRsv1: boolean;

  // A header split across chunks, gathered here.
  readonly #header = Buffer.allocUnsafe(MAX_HEADER);
  #headerLength = 0;

  // The frame being read.
  #inPayload = false;
  #opcode = 0;
  #fin = false;
  #masked = false;
  readonly #maskKey = new Uint8Array(4);
  #maskPosition = 0;
  #remaining = 0;
  #control: Buffer | null = null; // a control payload split across chunks
  #controlLength = 0;

  #inMessage = false; // a fragmented data message has started and not finished

  #paused = false;
  #stopped = false;
  #parsing = false;
  readonly #held: Buffer[] = [];

  constructor(handler: FrameHandler, options: FrameReaderOptions) {
    this.#handler = handler;
    this.#isServer = options.isServer;
    this.#allowRsv1 = options.allowRsv1;
  }

  /** Whether `pause()` is in effect. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Parses the next chunk of the stream. */
  write(chunk: Buffer): void {
    if (this.#stopped || chunk.length === 0) return;
    if (this.#paused || this.#held.length > 0) {
      this.#held.push(chunk);
      return;
    }
    this.#parse(chunk);
  }

  /** Stops parsing after the current event; later chunks are held. */
  pause(): void {
    this.#paused = true;
  }

  /** Goes on parsing the held chunks. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#parsing) return; // the running loop sees the flag
    while (this.#held.length > 0 && !this.#paused && !this.#stopped) {
      this.#parse(this.#held.shift()!);
    }
  }

  /** Ignores all further input (after a close frame, or once the connection failed). */
  stop(): void {
    this.#stopped = true;
    this.#held.length = 0;
  }

  #parse(chunk: Buffer): void {
    this.#parsing = true;
    const end = chunk.length;
    let pos = 0;
    try {
      while (pos < end && !this.#paused && !this.#stopped) {
        if (this.#inPayload) {
          pos = this.#readPayload(chunk, pos, end);
          continue;
        }
        if (this.#headerLength === 0 && end - pos >= 2) {
          const size = headerLength(chunk[pos + 1]!);
          if (end - pos >= size) {
            this.#readHeader(chunk, pos);
            pos += size;
            continue;
          }
        }
        // The header is split across chunks: gather it.
        const header = this.#header;
        if (this.#headerLength < 2) {
          const take = Math.min(2 - this.#headerLength, end - pos);
          chunk.copy(header, this.#headerLength, pos, pos + take);
          this.#headerLength += take;
          pos += take;
          if (this.#headerLength < 2) break;
        }
        const size = headerLength(header[1]!);
        const take = Math.min(size - this.#headerLength, end - pos);
        chunk.copy(header, this.#headerLength, pos, pos + take);
        this.#headerLength += take;
        pos += take;
        if (this.#headerLength === size) {
          this.#headerLength = 0;
          this.#readHeader(header, 0);
        }
      }
    } finally {
      this.#parsing = false;
    }
    if (pos < end && !this.#stopped) this.#held.unshift(chunk.subarray(pos));
  }

  // Steps 2 and 3 of gorilla's advanceFrame: read the header, then check it, collecting every
  // violation so the error names them all.
  #readHeader(buf: Buffer, p: number): void {
    const b0 = buf[p]!;
    const b1 = buf[p + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let q = p + 2;
    const problems: string[] = [];
    if (length === 126) {
      length = (buf[q]! << 8) | buf[q + 1]!;
      q += 2;
    } else if (length === 127) {
      const high = buf.readUInt32BE(q);
      const low = buf.readUInt32BE(q + 4);
      q += 8;
      // The high bit is a protocol error (RFC 6455 section 5.2); a length past 2^53 is valid but
      // no message that large can be held, so it reaches the handler as an unsafe integer and
      // fails there as too big (1009).
      if (high >= 0x80000000) problems.push('64-bit payload length with the high bit set');
      length = high * 0x100000000 + low;
    }
    if (b0 & 0x20) problems.push('RSV2 set');
    if (b0 & 0x10) problems.push('RSV3 set');
    const isControl = opcode >= CloseMessage;
    switch (opcode) {
      case OPCODE_CONTINUATION:
        if (!this.#inMessage) problems.push('continuation frame without a message to continue');
        if (rsv1) problems.push('RSV1 set on a continuation frame');
        break;
      case 1:
      case 2:
        if (this.#inMessage) problems.push('new data message before the last one finished');
        if (rsv1 && !this.#allowRsv1) problems.push('RSV1 set without a negotiated extension');
        break;
      case CloseMessage:
      case PingMessage:
      case PongMessage:
        if (!fin) problems.push('fragmented control frame');
        if (length > MAX_CONTROL_PAYLOAD) problems.push(`control frame payload of ${length} bytes`);
        if (rsv1) problems.push('RSV1 set on a control frame');
        break;
      default:
        problems.push(`reserved opcode ${opcode}`);
    }
    if (masked !== this.#isServer) {
      problems.push(this.#isServer ? 'unmasked client frame' : 'masked server frame');
    }
    if (problems.length > 0) {
      this.stop();
      this.#handler.onProtocolError(problems.join(', '));
      return;
    }

    this.#masked = masked;
    if (masked) {
      const key = this.#maskKey;
      key[0] = buf[q]!;
      key[1] = buf[q + 1]!;
      key[2] = buf[q + 2]!;
      key[3] = buf[q + 3]!;
      this.#maskPosition = 0;
    }
    this.#opcode = opcode;
    this.#fin = fin;
    this.#remaining = length;
    if (isControl) {
      if (length === 0) this.#handler.onControl(opcode, EMPTY);
      else this.#inPayload = true;
      return;
    }
    this.#inMessage = !fin;
    this.#handler.onDataFrame(opcode, fin, rsv1, length);
    if (length === 0) this.#handler.onDataFrameEnd(fin);
    else this.#inPayload = true;
  }

  #readPayload(chunk: Buffer, pos: number, end: number): number {
    const n = Math.min(this.#remaining, end - pos);
    const piece = chunk.subarray(pos, pos + n);
    if (this.#masked) this.#maskPosition = maskInPlace(piece, this.#maskKey, this.#maskPosition);
    this.#remaining -= n;
    const done = this.#remaining === 0;
    if (done) this.#inPayload = false;
    if (this.#opcode >= CloseMessage) {
      this.#readControlPiece(piece, done);
    } else {
      this.#handler.onPayload(piece);
      if (done) this.#handler.onDataFrameEnd(this.#fin);
    }
    return pos + n;
  }

  #readControlPiece(piece: Buffer, done: boolean): void {
    if (done && this.#control === null) {
      this.#handler.onControl(this.#opcode, piece);
      return;
    }
    // A control payload split across chunks is at most 125 bytes: copy it together.
    this.#control ??= Buffer.allocUnsafe(MAX_CONTROL_PAYLOAD);
    piece.copy(this.#control, this.#controlLength);
    this.#controlLength += piece.length;
    if (done) {
      const payload = this.#control.subarray(0, this.#controlLength);
      this.#control = null;
      this.#controlLength = 0;
      this.#handler.onControl(this.#opcode, payload);
    }
  }
}
