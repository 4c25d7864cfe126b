// Counts the messages an echo server sends back by reading frame headers only: the load generator
// must stay cheap, so payload bytes are skipped, never copied, unmasked or inflated.

/** Opcodes (RFC 6455 section 5.2). */
const CONTINUATION = 0x0;
const CLOSE = 0x8;

/**
 * Parses a stream of WebSocket frames fed in arbitrary chunks and counts whole data messages.
 * It accepts masked frames too, because the raw echo server returns the client's frames as they
 * were. Anything an echo of our own messages cannot contain (a close frame, a message of another
 * type or, when `expectLength` is set, another length) is an error: the benchmark must not count
 * messages a server did not echo correctly.
 */
export class FrameCounter {
  /**
   * @param {object} expect
   * @param {number} expect.opcode - the data opcode every echoed message must have (1 or 2).
   * @param {number | null} expect.length - the payload length of every message; `null` when it
   *   varies (compressed echoes).
   * @param {boolean} expect.rsv1 - whether every message's first frame must have RSV1 set
   *   (`null`: either).
   */
  constructor({ opcode, length, rsv1 }) {
    this.expectOpcode = opcode;
    this.expectLength = length;
    this.expectRsv1 = rsv1;
    /** Whole data messages seen. */
    this.messages = 0;
    /** Payload bytes (as sent on the wire) of the whole messages seen. */
    this.payloadBytes = 0;
    /** Whole messages whose first frame had RSV1 set (compressed, RFC 7692). */
    this.compressedMessages = 0;
    /** Frames seen, including fragments. */
    this.frames = 0;
    // Header bytes of a frame whose header was split across chunks.
    this.header = Buffer.alloc(14);
    this.headerHave = 0;
    // Payload bytes of the current frame still to skip.
    this.remaining = 0;
    this.fin = false;
    this.opcode = 0;
    // Payload bytes of the message in progress, across its fragments.
    this.messageLength = 0;
    this.messageRsv1 = false;
    this.inMessage = false;
  }

  /**
   * Consumes one chunk of the byte stream.
   *
   * @param {Buffer} chunk
   * @returns {number} how many messages completed in this chunk.
   * @throws {Error} when the stream holds something an echo of our messages cannot.
   */
  feed(chunk) {
    const before = this.messages;
    const end = chunk.length;
    let at = 0;
    while (at < end) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, end - at);
        this.remaining -= take;
        at += take;
        if (this.remaining === 0) this.#frameDone();
        continue;
      }
      if (this.headerHave === 0 && end - at >= 14) {
        at += this.#parseHeader(chunk, at);
      } else {
        at = this.#collectHeader(chunk, at);
      }
    }
    return this.messages - before;
  }

  /** Copies header bytes of a split header; parses it once complete. Returns the new offset. */
  #collectHeader(chunk, at) {
    const end = chunk.length;
    while (at < end) {
      this.header[this.headerHave++] = chunk[at++];
      if (this.headerHave >= 2 && this.headerHave === headerSize(this.header, 0)) {
        this.#parseHeader(this.header, 0);
        this.headerHave = 0;
        break;
      }
    }
    return at;
  }

  /** Parses a whole header at `buf[at]`; returns its size. */
  #parseHeader(buf, at) {
    const b0 = buf[at];
    const b1 = buf[at + 1];
    const size = headerSize(buf, at);
    const short = b1 & 0x7f;
    let length = short;
    if (short === 126) {
      length = buf.readUInt16BE(at + 2);
    } else if (short === 127) {
      length = buf.readUInt32BE(at + 2) * 0x100000000 + buf.readUInt32BE(at + 6);
    }
    this.fin = (b0 & 0x80) !== 0;
    this.opcode = b0 & 0x0f;
    this.frames++;
    if (this.opcode >= CLOSE) {
      if (this.opcode === CLOSE) throw new Error('the server sent a close frame');
      // A ping or pong between fragments: skipped, it is not part of the message.
    } else if (this.opcode === CONTINUATION) {
      if (!this.inMessage) throw new Error('continuation frame outside a message');
      this.messageLength += length;
    } else {
      if (this.inMessage) throw new Error('new message inside a fragmented one');
      if (this.opcode !== this.expectOpcode) {
        throw new Error(`echoed opcode ${this.opcode}, sent ${this.expectOpcode}`);
      }
      const rsv1 = (b0 & 0x40) !== 0;
      if (this.expectRsv1 !== null && rsv1 !== this.expectRsv1) {
        throw new Error(`echoed a frame with RSV1 ${rsv1 ? 'set' : 'clear'}`);
      }
      this.inMessage = true;
      this.messageRsv1 = rsv1;
      this.messageLength = length;
    }
    this.remaining = length;
    if (length === 0) this.#frameDone();
    return size;
  }

  #frameDone() {
    if (this.opcode >= CLOSE || !this.fin) return;
    if (this.expectLength !== null && this.messageLength !== this.expectLength) {
      throw new Error(`echoed a ${this.messageLength}-byte message, sent ${this.expectLength}`);
    }
    this.inMessage = false;
    this.messages++;
    if (this.messageRsv1) this.compressedMessages++;
    this.payloadBytes += this.messageLength;
  }
}

/** The size of the header starting at `buf[at]` (at least two bytes must be there). */
function headerSize(buf, at) {
  const b1 = buf[at + 1];
  const short = b1 & 0x7f;
  const lengthBytes = short === 126 ? 2 : short === 127 ? 8 : 0;
  return 2 + lengthBytes + ((b1 & 0x80) !== 0 ? 4 : 0);
}
