/**
 * A peer's side of permessage-deflate for tests, written on zlib directly: a compressor and a
 * decompressor that keep (or drop) their context between messages, as RFC 7692 describes.
 */
import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  type InflateRaw,
} from 'node:zlib';

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function drain(stream: DeflateRaw | InflateRaw, input: Buffer[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      out.push(chunk);
    };
    stream.on('data', onData);
    stream.once('error', reject);
    for (const piece of input) stream.write(piece);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', reject);
      resolve(Buffer.concat(out));
    });
  });
}

/** Compresses messages as a permessage-deflate peer does. */
export class PeerDeflater {
  #stream: DeflateRaw;
  readonly #windowBits: number;
  readonly #noContextTakeover: boolean;

  constructor(options: { windowBits?: number; noContextTakeover?: boolean } = {}) {
    this.#windowBits = options.windowBits ?? 15;
    this.#noContextTakeover = options.noContextTakeover ?? false;
    this.#stream = createDeflateRaw({ windowBits: this.#windowBits });
  }

  /** Returns the payload of one compressed message (sync flush, trailer removed). */
  async compress(data: Buffer | string): Promise<Buffer> {
    const out = await drain(this.#stream, [Buffer.from(data)]);
    if (this.#noContextTakeover) this.#stream.reset();
    return out.subarray(0, out.length - 4);
  }

  close(): void {
    this.#stream.close();
  }
}

/** Decompresses messages as a permessage-deflate peer does. */
export class PeerInflater {
  readonly #stream: InflateRaw;
  readonly #noContextTakeover: boolean;

  constructor(options: { windowBits?: number; noContextTakeover?: boolean } = {}) {
    this.#stream = createInflateRaw({ windowBits: Math.max(9, options.windowBits ?? 15) });
    this.#noContextTakeover = options.noContextTakeover ?? false;
  }

  /** Returns the data of one compressed message, given its frames' payloads joined. */
  async decompress(payload: Buffer): Promise<Buffer> {
    const out = await drain(this.#stream, [payload, TRAILER]);
    if (this.#noContextTakeover) this.#stream.reset();
    return out;
  }

  close(): void {
    this.#stream.close();
  }
}
