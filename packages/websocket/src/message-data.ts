/**
 * The data the write methods take: a string, or bytes in any of the forms Node and the web
 * platform hold them in.
 *
 * @module
 */

import { isAnyArrayBuffer } from 'node:util/types';

/**
 * Data accepted by the write methods: a string (sent as UTF-8), or bytes: a `Buffer`, any
 * `TypedArray` or `DataView` (its own byte range, whatever its element size), an `ArrayBuffer`
 * or a `SharedArrayBuffer`.
 */
export type MessageData = string | ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

/**
 * Returns `data` as a string or as a `Buffer` over the same bytes (no copy), or `undefined` when
 * it is neither text nor bytes.
 */
export function toPayload(data: unknown): string | Buffer | undefined {
  if (typeof data === 'string' || Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (isAnyArrayBuffer(data)) return Buffer.from(data);
  return undefined;
}

/** The error for data that is neither text nor bytes, naming what was given. */
export function invalidData(data: unknown): TypeError {
  const kind =
    data === null
      ? 'null'
      : typeof data === 'object'
        ? ((Object.getPrototypeOf(data) as { constructor?: { name?: string } } | null)?.constructor
            ?.name ?? 'object')
        : typeof data;
  return new TypeError(
    `websocket: message data must be a string, Buffer, TypedArray, DataView, ArrayBuffer or SharedArrayBuffer, not ${kind}`,
  );
}
