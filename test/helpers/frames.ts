/**
 * Exact-byte frame building and parsing for tests: what a peer puts on the wire, written out by
 * hand so the tests do not depend on the code they test.
 */

/** A frame to build. */
export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean; // default true
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Mask with this key (a client frame); `true` for a fixed key; default: masked. */
  mask?: Buffer | boolean;
  /** Force the 16-bit (126) or 64-bit (127) length form. */
  lengthForm?: 126 | 127;
}

const DEFAULT_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Builds a frame's bytes. */
export function frame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string'
      ? Buffer.from(spec.payload)
      : (spec.payload ?? Buffer.alloc(0));
  const key = spec.mask === false ? null : Buffer.isBuffer(spec.mask) ? spec.mask : DEFAULT_KEY;
  const len = payload.length;
  const form = spec.lengthForm ?? (len < 126 ? 0 : len < 65536 ? 126 : 127);
  const header: number[] = [
    ((spec.fin ?? true) ? 0x80 : 0) |
      (spec.rsv1 ? 0x40 : 0) |
      (spec.rsv2 ? 0x20 : 0) |
      (spec.rsv3 ? 0x10 : 0) |
      spec.opcode,
  ];
  const maskBit = key ? 0x80 : 0;
  if (form === 0) header.push(maskBit | len);
  else if (form === 126) header.push(maskBit | 126, len >> 8, len & 0xff);
  else {
    header.push(maskBit | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(len));
    header.push(...big);
  }
  const body = Buffer.from(payload);
  if (key) {
    header.push(...key);
    for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
  }
  return Buffer.concat([Buffer.from(header), body]);
}

/** A close frame payload: code plus reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

/** The flags and opcode of a frame's first two bytes. */
export interface FrameFlags {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
}

/** A frame's header: everything before the payload. */
export interface FrameHeader extends FrameFlags {
  /** The masking key, when masked. */
  maskKey: Buffer | undefined;
  /** The payload's length, as the header states it. */
  payloadLength: number;
  /** The header's size in bytes: the payload starts here. */
  headerSize: number;
}

/**
 * Parses the header of the frame at the start of `buf`, or returns `undefined` when `buf` holds
 * less than a whole header. For readers that stream payloads instead of holding whole frames.
 */
export function parseFrameHeader(buf: Buffer): FrameHeader | undefined {
  if (buf.length < 2) return undefined;
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  let len = b1 & 0x7f;
  let p = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    p = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    p = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  let maskKey: Buffer | undefined;
  if (masked) {
    if (buf.length < p + 4) return undefined;
    maskKey = Buffer.from(buf.subarray(p, p + 4));
    p += 4;
  }
  return {
    fin: (b0 & 0x80) !== 0,
    rsv1: (b0 & 0x40) !== 0,
    rsv2: (b0 & 0x20) !== 0,
    rsv3: (b0 & 0x10) !== 0,
    opcode: b0 & 0x0f,
    masked,
    maskKey,
    payloadLength: len,
    headerSize: p,
  };
}

/** A parsed frame, its payload unmasked. */
export interface ParsedFrame extends FrameFlags {
  payload: Buffer;
}

/**
 * Parses one frame at the start of `buf`; returns it and its size, or `undefined` when `buf` holds
 * less than a whole frame.
 */
export function parseFrame(buf: Buffer): { frame: ParsedFrame; size: number } | undefined {
  const header = parseFrameHeader(buf);
  if (header === undefined) return undefined;
  const { headerSize: p, payloadLength: len, maskKey: key, ...flags } = header;
  if (buf.length < p + len) return undefined;
  const payload = Buffer.from(buf.subarray(p, p + len));
  if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
  return { frame: { ...flags, payload }, size: p + len };
}
