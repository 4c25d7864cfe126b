// The frames the load generator sends, built once before a run: masked as RFC 6455 requires of a
// client, and for the compressed scenario deflated ahead of time, so sending costs one write.
import { randomBytes } from 'node:crypto';
import { constants, deflateRawSync } from 'node:zlib';

/** The deflate tail RFC 7692 section 7.2.1 strips from every compressed message. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Builds one masked client frame with FIN set.
 *
 * @param {number} opcode - 1 text, 2 binary.
 * @param {Buffer} payload - the payload as it goes on the wire (already compressed if `rsv1`).
 * @param {boolean} rsv1 - set RSV1 (a compressed message, RFC 7692).
 * @returns {Buffer}
 */
export function maskedFrame(opcode, payload, rsv1) {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + length);
  frame[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (lengthBytes === 0) {
    frame[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  const keyAt = 2 + lengthBytes;
  randomBytes(4).copy(frame, keyAt);
  const key = frame.subarray(keyAt, keyAt + 4);
  const body = keyAt + 4;
  for (let i = 0; i < length; i++) frame[body + i] = payload[i] ^ key[i & 3];
  return frame;
}

/**
 * Compresses one message on its own (a fresh LZ77 window, as a client without context takeover
 * would), ending with a sync flush and without the tail, as RFC 7692 section 7.2.1 says. A
 * message compressed alone is valid for a server that keeps its inflate context, so the same
 * frame can be sent again and again.
 *
 * @param {Buffer} payload
 * @returns {Buffer}
 */
export function deflateMessage(payload) {
  const out = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
  if (!out.subarray(out.length - 4).equals(DEFLATE_TAIL)) {
    throw new Error('a sync-flushed deflate stream must end with 00 00 ff ff');
  }
  return out.subarray(0, out.length - 4);
}

/**
 * Frames laid back to back in one buffer, sent in turn: each connection keeps a cursor, and `k`
 * echoes send the next `k` frames (slices of the buffer, no copy), wrapping at the end.
 */
export class FramePool {
  /**
   * @param {Buffer[]} frames
   * @param {number[]} payloadSizes - each frame's message size before compression, which is what
   *   the throughput counts.
   */
  constructor(frames, payloadSizes) {
    this.block = Buffer.concat(frames);
    this.count = frames.length;
    /** Where frame `i` starts; `offsets[count]` is the end. */
    this.offsets = [0];
    for (const frame of frames) this.offsets.push(this.offsets.at(-1) + frame.length);
    /** The payload bytes of frames `0` to `i - 1`; `payloadBefore[count]` is a whole round. */
    this.payloadBefore = [0];
    for (const size of payloadSizes) this.payloadBefore.push(this.payloadBefore.at(-1) + size);
  }

  /**
   * Writes `k` frames starting at frame `cursor`; returns the cursor after them.
   *
   * @param {import('node:net').Socket} socket
   * @param {number} cursor
   * @param {number} k
   * @returns {number}
   */
  write(socket, cursor, k) {
    while (k > 0) {
      const n = Math.min(k, this.count - cursor);
      socket.write(this.block.subarray(this.offsets[cursor], this.offsets[cursor + n]));
      cursor = (cursor + n) % this.count;
      k -= n;
    }
    return cursor;
  }

  /**
   * The payload bytes of the `k` frames from frame `cursor` on, wrapping at the end.
   *
   * @param {number} cursor
   * @param {number} k
   * @returns {number}
   */
  payloadBytes(cursor, k) {
    const before = this.payloadBefore;
    const rounds = Math.floor(k / this.count);
    const end = cursor + (k % this.count);
    const rest =
      end <= this.count
        ? before[end] - before[cursor]
        : before[this.count] - before[cursor] + before[end - this.count];
    return rounds * before[this.count] + rest;
  }
}
