/**
 * Prepared messages: a message encoded once and sent to many connections (gorilla's
 * `PreparedMessage`).
 *
 * @module
 */

import {
  CloseMessage,
  MAX_CONTROL_PAYLOAD,
  PingMessage,
  PongMessage,
  type MessageType,
} from './constants.js';
import { frameHeaderLength, writeFrameHeader } from './frame-writer.js';
import { invalidData, toPayload, type MessageData } from './message-data.js';

/**
 * PreparedMessage caches the wire form of a message so that broadcasting it to many connections
 * encodes it once per kind of connection rather than once per connection: unmasked frames (the
 * server side) are shared as they are; client frames, masked with a fresh key per frame, share the
 * payload. Gorilla: `PreparedMessage` / `NewPreparedMessage`.
 *
 * @example
 * const message = new PreparedMessage(TextMessage, JSON.stringify(update));
 * await Promise.all(clients.map((conn) => conn.writePreparedMessage(message)));
 */
export class PreparedMessage {
  /** The message type. */
  readonly type: MessageType;
  /** The payload (a copy of the data given). */
  readonly data: Buffer;
  readonly #frames = new Map<string, Buffer>();

  /**
   * @param type - the message type.
   * @param data - the payload, in any form `writeMessage` takes; a string is encoded as UTF-8.
   *   It is copied.
   * @throws {RangeError} for an unknown type, or a control payload over 125 bytes.
   * @throws {TypeError} when `data` is neither text nor bytes.
   */
  constructor(type: MessageType, data: MessageData) {
    if (![1, 2, CloseMessage, PingMessage, PongMessage].includes(type)) {
      throw new RangeError(`websocket: bad message type ${String(type)}`);
    }
    const payload = toPayload(data);
    if (payload === undefined) throw invalidData(data);
    this.type = type;
    this.data = Buffer.from(payload);
    if (type >= CloseMessage && this.data.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError('websocket: control frame payload over 125 bytes');
    }
  }

  /**
   * Returns the bytes cached for a kind of connection (a whole frame, or a compressed payload),
   * building them with `build` the first time.
   *
   * @internal
   */
  frame(kind: string, build: () => Buffer): Buffer {
    let frame = this.#frames.get(kind);
    if (frame === undefined) {
      frame = build();
      this.#frames.set(kind, frame);
    }
    return frame;
  }
}

/**
 * Returns a whole unmasked final frame (the server side's form): header and payload in one
 * buffer, ready to be shared between connections.
 */
export function unmaskedFrame(opcode: number, rsv1: boolean, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderLength(payload.length, false) + payload.length);
  const offset = writeFrameHeader(frame, 0, opcode, true, rsv1, payload.length, null);
  payload.copy(frame, offset);
  return frame;
}
