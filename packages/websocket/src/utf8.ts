/**
 * UTF-8 validation: whole payloads with Node's native `buffer.isUtf8`, fragmented ones with an
 * incremental validator that fails at the first byte that cannot start or continue a valid
 * sequence, whatever the fragment boundaries.
 *
 * @module
 */

import { isUtf8 } from 'node:buffer';

/** Returns whether `data` is entirely valid UTF-8. */
export function isValidUtf8(data: Uint8Array): boolean {
  return data.length === 0 || isUtf8(data);
}

/** The length of the sequence a lead byte starts; 0 for a byte that cannot lead. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xc2) return 0; // continuation byte, or overlong C0/C1
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf5) return 4;
  return 0;
}

/**
 * Returns whether `bytes[0..length)` can begin a valid sequence: RFC 3629 narrows the second
 * byte after E0 (no overlongs), ED (no surrogates), F0 (no overlongs) and F4 (nothing past
 * U+10FFFF).
 */
function isValidPrefix(bytes: Uint8Array, length: number): boolean {
  const lead = bytes[0]!;
  if (sequenceLength(lead) < 2) return false;
  if (length >= 2) {
    const second = bytes[1]!;
    let low = 0x80;
    let high = 0xbf;
    if (lead === 0xe0) low = 0xa0;
    else if (lead === 0xed) high = 0x9f;
    else if (lead === 0xf0) low = 0x90;
    else if (lead === 0xf4) high = 0x8f;
    if (second < low || second > high) return false;
  }
  for (let i = 2; i < length; i++) {
    if ((bytes[i]! & 0xc0) !== 0x80) return false;
  }
  return true;
}

/**
 * Validates UTF-8 text that arrives in pieces. `write` returns false as soon as the text seen so
 * far cannot be the start of valid UTF-8; `end` returns false when the text stops inside a
 * sequence.
 */
export class Utf8Validator {
  // The bytes of a sequence split across pieces (at most three), and its full length.
  readonly #partial = new Uint8Array(4);
  #partialLength = 0;
  #sequenceLength = 0;

  /** Validates the next piece; false once the text is known to be invalid. */
  write(chunk: Uint8Array): boolean {
    let start = 0;
    if (this.#partialLength > 0) {
      const take = Math.min(this.#sequenceLength - this.#partialLength, chunk.length);
      this.#partial.set(chunk.subarray(0, take), this.#partialLength);
      this.#partialLength += take;
      if (!isValidPrefix(this.#partial, this.#partialLength)) return false;
      if (this.#partialLength < this.#sequenceLength) return true;
      this.#partialLength = 0;
      start = take;
    }
    // Find a sequence cut off by the end of the piece: a lead byte among the last three bytes
    // whose sequence needs more bytes than remain.
    let end = chunk.length;
    for (let i = end - 1; i >= start && i >= end - 3; i--) {
      const byte = chunk[i]!;
      if ((byte & 0xc0) === 0x80) continue; // a continuation byte: keep looking for its lead
      const need = sequenceLength(byte);
      if (need > end - i) {
        if (!isValidPrefix(chunk.subarray(i), end - i)) return false;
        this.#partial.set(chunk.subarray(i, end));
        this.#partialLength = end - i;
        this.#sequenceLength = need;
        end = i;
      }
      break;
    }
    return end === start || isUtf8(chunk.subarray(start, end));
  }

  /** Reports whether the text ended on a sequence boundary, and resets for the next message. */
  end(): boolean {
    const complete = this.#partialLength === 0;
    this.#partialLength = 0;
    return complete;
  }
}
