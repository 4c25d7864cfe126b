/**
 * The judge of the client-side conformance suite, the mirror of the server suite: a raw server
 * (`test/helpers/raw-server.ts`) answers our `Dialer`'s handshake by hand, then writes exact,
 * unmasked frames, while the client under test echoes every message (as Autobahn's client
 * tests have it), and the judge reads the client's frames back as events.
 *
 * Every frame the client sends is checked: masked with a key that differs from the previous
 * frame's (RFC 6455 section 5.3: fresh and unpredictable), the minimal length encoding (section
 * 5.2), no reserved bits unless compression was negotiated (and then RSV1 only on a message's
 * first frame), a known opcode, control frames final and at most 125 bytes, continuations only
 * inside a message. Every case ends as the RFC requires, within bounds that fail the test, never
 * waits that stand in for an event.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Dialer, type Conn, type DialerOptions } from '@silverback/websocket';
import { PeerDeflater, PeerInflater } from '../../helpers/deflate';
import {
  closePayload,
  frame,
  parseFrame,
  type FrameSpec,
  type ParsedFrame,
} from '../../helpers/frames';
import { startRawServer, switchingProtocols, type RawServer } from '../../helpers/raw-server';

/** Opcodes (RFC 6455 section 5.2). */
export const OP = {
  continuation: 0,
  text: 1,
  binary: 2,
  close: 8,
  ping: 9,
  pong: 10,
} as const;

/** How long one answer from the client may take before the case fails. */
export const ANSWER_BOUND_MS = 5000;
/**
 * How long the client may take to close TCP once the closing is settled: at once when it failed
 * the connection or saw our FIN; its fallback destroys the socket after one second.
 */
export const END_BOUND_MS = 3000;

// ---------------------------------------------------------------------------------------------
// Frames a server sends (unmasked, as RFC 6455 section 5.1 requires, unless told otherwise)

type Options = Omit<FrameSpec, 'opcode' | 'payload'>;

/** A frame with any opcode, unmasked unless `mask` says otherwise. */
export function serverFrame(
  opcode: number,
  payload: Buffer | string = '',
  options: Options = {},
): Buffer {
  return frame({ opcode, payload, mask: false, ...options });
}

/** A text frame (final unless `fin: false`). */
export function text(payload: Buffer | string = '', options: Options = {}): Buffer {
  return serverFrame(OP.text, payload, options);
}

/** A binary frame (final unless `fin: false`). */
export function binary(payload: Buffer | string = '', options: Options = {}): Buffer {
  return serverFrame(OP.binary, payload, options);
}

/** A continuation frame (final unless `fin: false`). */
export function continuation(payload: Buffer | string = '', options: Options = {}): Buffer {
  return serverFrame(OP.continuation, payload, options);
}

/** A ping frame. */
export function ping(payload: Buffer | string = '', options: Options = {}): Buffer {
  return serverFrame(OP.ping, payload, options);
}

/** A pong frame. */
export function pong(payload: Buffer | string = '', options: Options = {}): Buffer {
  return serverFrame(OP.pong, payload, options);
}

/** A close frame: no payload without a code, else the code and the reason. */
export function close(code?: number, reason: Buffer | string = '', options: Options = {}): Buffer {
  let payload: Buffer = Buffer.alloc(0);
  if (code !== undefined) {
    payload =
      typeof reason === 'string'
        ? closePayload(code, reason)
        : Buffer.concat([closePayload(code), reason]);
  }
  return serverFrame(OP.close, payload, options);
}

/** Splits `payload` into a fragmented message of `size`-byte unmasked frames. */
export function fragmented(opcode: number, payload: Buffer, size: number): Buffer[] {
  const frames: Buffer[] = [];
  let offset = 0;
  do {
    const piece = payload.subarray(offset, offset + size);
    offset += piece.length;
    frames.push(
      serverFrame(frames.length === 0 ? opcode : OP.continuation, piece, {
        fin: offset >= payload.length,
      }),
    );
  } while (offset < payload.length);
  return frames;
}

// ---------------------------------------------------------------------------------------------
// Payloads

/** A deterministic pseudo-random generator (mulberry32), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` bytes of printable ASCII (valid UTF-8). */
export function asciiPayload(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  const random = seededRandom(seed);
  for (let i = 0; i < length; i++) out[i] = 0x21 + Math.floor(random() * 94);
  return out;
}

/** `length` bytes covering every byte value. */
export function binaryPayload(length: number, seed = 2): Buffer {
  const out = Buffer.allocUnsafe(length);
  const random = seededRandom(seed);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Events the client sends

/** What the client sent, one event per whole message or control frame. */
export type ClientEvent =
  | { kind: 'text' | 'binary'; data: Buffer; compressed: boolean; wireLength?: number }
  | { kind: 'ping' | 'pong'; data: Buffer }
  | { kind: 'close'; code: number | undefined; reason: Buffer };

/** A data message the client sent. */
export type DataEvent = Extract<ClientEvent, { kind: 'text' | 'binary' }>;

/** A short description of an event for failure messages. */
export function show(event: ClientEvent | null): string {
  if (event === null) return 'the end of the TCP connection';
  if (event.kind === 'close') {
    return `close ${event.code ?? '(no code)'} ${JSON.stringify(event.reason.toString())}`;
  }
  const data = event.data.length > 40 ? `${event.data.length} bytes` : event.data.toString('hex');
  return `${event.kind} [${data}]`;
}

/** Resolves with `promise`, or rejects once `ms` pass without it. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lets the event loop turn once, so the client reads what was written so far on its own. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** How the client under test handles messages. */
export type ClientMode = 'whole-message echo' | 'streaming echo' | 'none';

/** Both echo modes, for `describe.each`. */
export const ECHO_MODES = [['whole-message echo'], ['streaming echo']] as const;

/**
 * Runs an echo loop on the client connection; resolves with the error that ended it (a
 * `CloseError` after a normal close, a `ProtocolError` when the client failed the connection).
 */
function runEcho(conn: Conn, mode: ClientMode): Promise<unknown> {
  const loop = async (): Promise<never> => {
    for (;;) {
      if (mode === 'whole-message echo') {
        const { type, data } = await conn.readMessage();
        await conn.writeMessage(type, data);
      } else {
        const { type, reader } = await conn.nextReader();
        const writer = await conn.nextWriter(type);
        await pipeline(reader, writer);
      }
    }
  };
  return loop().catch((err: unknown) => err);
}

/** The negotiated compression, as the judge (the server) sees it. */
export interface JudgeCompression {
  /** The answer sent in `Sec-WebSocket-Extensions`. */
  answer: string;
  /** The server's window (for the judge's compressor). */
  serverMaxWindowBits?: number;
  serverNoContextTakeover?: boolean;
  /** The client's window (for the judge's decompressor). */
  clientMaxWindowBits?: number;
  clientNoContextTakeover?: boolean;
}

/** One connection from the client under test, judged from the server's side. */
export class Judge {
  /** The server's end of the TCP connection. */
  readonly socket: Socket;
  /** The client's connection under test. */
  readonly conn: Conn;
  /** The error that ended the client's echo loop (pending while it runs). */
  readonly clientDone: Promise<unknown>;
  /** The client's `Sec-WebSocket-Extensions` offer. */
  readonly offer: string | undefined;
  /** Mask keys of every frame the client sent, in order. */
  readonly maskKeys: Buffer[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  #notify: (() => void) | null = null;
  #partial: { kind: 'text' | 'binary'; chunks: Buffer[]; compressed: boolean } | null = null;
  readonly #compressed: boolean;
  readonly #inflater: PeerInflater | null;
  readonly #deflater: PeerDeflater | null;

  constructor(
    socket: Socket,
    rest: Buffer,
    conn: Conn,
    mode: ClientMode,
    offer: string | undefined,
    compression: JudgeCompression | undefined,
  ) {
    this.socket = socket;
    this.conn = conn;
    this.offer = offer;
    this.#buffer = rest;
    this.#compressed = compression !== undefined;
    this.#inflater =
      compression === undefined
        ? null
        : new PeerInflater({
            windowBits: compression.clientMaxWindowBits,
            noContextTakeover: compression.clientNoContextTakeover,
          });
    this.#deflater =
      compression === undefined
        ? null
        : new PeerDeflater({
            windowBits: compression.serverMaxWindowBits,
            noContextTakeover: compression.serverNoContextTakeover,
          });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    const ended = (): void => {
      this.#ended = true;
      this.#wake();
    };
    socket.once('end', ended);
    socket.once('close', ended);
    socket.resume();
    this.clientDone = mode === 'none' ? new Promise(() => {}) : runEcho(conn, mode);
  }

  #wake(): void {
    const notify = this.#notify;
    this.#notify = null;
    notify?.();
  }

  /** Writes frames (or any bytes) in one write. */
  send(...chunks: Buffer[]): void {
    this.socket.write(Buffer.concat(chunks));
  }

  /** Writes `bytes` in pieces of `size` bytes, letting the event loop turn between them. */
  async sendChopped(bytes: Buffer, size: number | ((index: number) => number)): Promise<void> {
    let offset = 0;
    for (let index = 0; offset < bytes.length; index++) {
      const n = Math.max(1, typeof size === 'number' ? size : size(index));
      this.socket.write(bytes.subarray(offset, offset + n));
      offset += n;
      await turn();
    }
  }

  /** A compressed data frame (RSV1 set) carrying `data`, compressed with the server's context. */
  async compressedFrame(opcode: number, data: Buffer | string): Promise<Buffer> {
    return serverFrame(opcode, await this.compress(data), { rsv1: true });
  }

  /** Compresses one message's data with the server's context (the payload of its frames). */
  async compress(data: Buffer | string): Promise<Buffer> {
    if (this.#deflater === null) throw new Error('compression was not negotiated');
    return this.#deflater.compress(data);
  }

  async #nextFrame(): Promise<{ frame: ParsedFrame; header: Buffer } | null> {
    for (;;) {
      const parsed = parseFrame(this.#buffer);
      if (parsed !== undefined) {
        const header = this.#buffer.subarray(0, parsed.size - parsed.frame.payload.length);
        this.#buffer = this.#buffer.subarray(parsed.size);
        return { frame: parsed.frame, header: Buffer.from(header) };
      }
      if (this.#ended) {
        if (this.#buffer.length > 0) throw new Error('the client ended TCP inside a frame');
        return null;
      }
      await new Promise<void>((resolve) => (this.#notify = resolve));
    }
  }

  /**
   * Resolves with the client's next event, or `null` once the client ended TCP with nothing more
   * to say. Fails the case when no event comes within `timeoutMs` or a frame breaks the rules.
   */
  async next(timeoutMs = ANSWER_BOUND_MS): Promise<ClientEvent | null> {
    for (;;) {
      const got = await within(this.#nextFrame(), timeoutMs, 'frame from the client');
      if (got === null) return null;
      const event = await this.#accept(got.frame, got.header);
      if (event !== undefined) return event;
    }
  }

  async #accept(f: ParsedFrame, header: Buffer): Promise<ClientEvent | undefined> {
    const what = `client frame (opcode ${f.opcode})`;
    if (!f.masked) throw new Error(`${what} is not masked`);
    const key = header.subarray(header.length - 4);
    const previous = this.maskKeys[this.maskKeys.length - 1];
    if (previous !== undefined && previous.equals(key)) {
      throw new Error(`${what} reuses the previous frame's mask key`);
    }
    this.maskKeys.push(key);
    const lengthField = header[1]! & 0x7f;
    const minimal =
      f.payload.length < 126 ? f.payload.length : f.payload.length < 65536 ? 126 : 127;
    if (lengthField !== minimal) throw new Error(`${what} does not use the minimal length`);
    if (f.rsv2 || f.rsv3) throw new Error(`${what} has RSV2 or RSV3 set`);
    if (f.rsv1) {
      if (!this.#compressed) throw new Error(`${what} has RSV1 set without compression`);
      if (f.opcode !== OP.text && f.opcode !== OP.binary) {
        throw new Error(`${what} has RSV1 set on a frame that does not start a message`);
      }
    }
    if (f.opcode >= OP.close) {
      if (!f.fin) throw new Error(`${what} is a fragmented control frame`);
      if (f.payload.length > 125) throw new Error(`${what} carries ${f.payload.length} bytes`);
    }
    switch (f.opcode) {
      case OP.text:
      case OP.binary: {
        if (this.#partial !== null) throw new Error(`${what} starts a message inside another`);
        const kind = f.opcode === OP.text ? 'text' : 'binary';
        this.#partial = { kind, chunks: [f.payload], compressed: f.rsv1 };
        return f.fin ? this.#finish() : undefined;
      }
      case OP.continuation: {
        if (this.#partial === null) throw new Error(`${what} continues no message`);
        this.#partial.chunks.push(f.payload);
        return f.fin ? this.#finish() : undefined;
      }
      case OP.ping:
        return { kind: 'ping', data: f.payload };
      case OP.pong:
        return { kind: 'pong', data: f.payload };
      case OP.close: {
        if (f.payload.length === 1) throw new Error('client close frame of one byte');
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
        return { kind: 'close', code, reason: f.payload.subarray(2) };
      }
      default:
        throw new Error(`${what} uses a reserved opcode`);
    }
  }

  async #finish(): Promise<ClientEvent> {
    const { kind, chunks, compressed } = this.#partial!;
    this.#partial = null;
    const payload = Buffer.concat(chunks);
    const data = compressed ? await this.#inflater!.decompress(payload) : payload;
    return { kind, data, compressed, wireLength: payload.length };
  }

  /** Expects the next event to be this data message. */
  async expectMessage(kind: 'text' | 'binary', data: Buffer | string): Promise<DataEvent> {
    const expected = typeof data === 'string' ? Buffer.from(data) : data;
    const event = await this.next();
    if (event === null || event.kind !== kind) {
      throw new Error(`expected a ${kind} message, got ${show(event)}`);
    }
    if (!event.data.equals(expected)) {
      throw new Error(
        `${kind} message differs: ${event.data.length} bytes, expected ${expected.length}` +
          (expected.length <= 40
            ? ` (${event.data.toString('hex')} != ${expected.toString('hex')})`
            : ''),
      );
    }
    return event;
  }

  /** Expects the next event to be a pong carrying `data`. */
  async expectPong(data: Buffer | string = ''): Promise<void> {
    const expected = typeof data === 'string' ? Buffer.from(data) : data;
    const event = await this.next();
    if (event === null || event.kind !== 'pong' || !event.data.equals(expected)) {
      throw new Error(`expected pong [${expected.toString('hex')}], got ${show(event)}`);
    }
  }

  /**
   * Proves the connection is open and every earlier frame was handled: sends a ping with a fresh
   * payload and expects its pong as the very next event.
   */
  async expectOpen(): Promise<void> {
    const token = Buffer.from(`open? ${Math.random()}`);
    this.send(ping(token));
    await this.expectPong(token);
  }

  /**
   * Expects the client to fail the connection (RFC 6455 section 7.1.7): its close frame with
   * `code` as the next event (after the `optional` messages, each at most once and in order, that
   * it may have echoed before the bad frame), then its own end of TCP without waiting for ours,
   * and its socket closed.
   */
  async expectFailure(code: number, optional: ClientEvent[] = []): Promise<void> {
    let index = 0;
    for (;;) {
      const event = await this.next();
      if (event?.kind === 'close') {
        if (event.code !== code) throw new Error(`expected close ${code}, got ${show(event)}`);
        break;
      }
      while (index < optional.length && !sameEvent(optional[index]!, event)) index++;
      if (index === optional.length) throw new Error(`expected close ${code}, got ${show(event)}`);
      index++;
    }
    const after = await this.next(END_BOUND_MS);
    if (after !== null) throw new Error(`expected the client's FIN, got ${show(after)}`);
    await this.expectSocketClosed();
  }

  /**
   * Expects the client's close frame with `code` (`undefined`: no code) as the next event, then
   * ends TCP as a server does once the close frames crossed, and expects the client to close.
   * Returns the close frame's reason.
   */
  async expectCloseReply(code: number | undefined): Promise<Buffer> {
    const event = await this.next();
    if (event === null || event.kind !== 'close' || event.code !== code) {
      throw new Error(`expected close ${code ?? '(no code)'}, got ${show(event)}`);
    }
    this.socket.end();
    const after = await this.next(END_BOUND_MS);
    if (after !== null) throw new Error(`expected the end of TCP, got ${show(after)}`);
    await this.expectSocketClosed();
    return event.reason;
  }

  /** Runs the closing handshake from the server's side with 1000. */
  async closeNormally(): Promise<void> {
    this.send(close(1000));
    await this.expectCloseReply(1000);
  }

  /** Expects the TCP connection to close within {@link END_BOUND_MS}. */
  async expectSocketClosed(): Promise<void> {
    if (this.socket.closed) return;
    await within(once(this.socket, 'close'), END_BOUND_MS, 'close of the TCP connection');
  }

  /** Frees the connection. */
  destroy(): void {
    this.conn.close();
    this.socket.destroy();
    this.#inflater?.close();
    this.#deflater?.close();
  }
}

function sameEvent(a: ClientEvent, b: ClientEvent | null): boolean {
  if (b === null || a.kind !== b.kind) return false;
  if (a.kind === 'close' || b.kind === 'close') return false;
  return a.data.equals(b.data);
}

/** How a test connects the client under test. */
export interface ConnectOptions {
  /** How the client handles messages (default: whole-message echo). */
  mode?: ClientMode;
  /** The Dialer's options. */
  dialer?: DialerOptions;
  /** Extra lines for the 101 answer. */
  headers?: string[];
  /** The compression the judge answers with (its `answer` goes in the 101). */
  compression?: JudgeCompression;
}

/** The raw server of one test file, and a way to connect the client under test to it. */
export interface JudgeFixture {
  server(): RawServer;
  /** Dials the raw server with our Dialer, answers 101, and judges the connection. */
  connect(options?: ConnectOptions): Promise<Judge>;
}

/**
 * Starts the raw server before the file's tests and closes it after them; frees every
 * connection a test opened after that test.
 */
export function useJudge(): JudgeFixture {
  let raw: RawServer | undefined;
  const judges: Judge[] = [];
  beforeAll(async () => {
    raw = await startRawServer();
  });
  afterEach(() => {
    for (const judge of judges.splice(0)) judge.destroy();
  });
  afterAll(async () => {
    await raw?.close();
  });
  return {
    server() {
      if (raw === undefined) throw new Error('the raw server is not running');
      return raw;
    },
    async connect(options = {}) {
      if (raw === undefined) throw new Error('the raw server is not running');
      const dialing = new Dialer(options.dialer).dial(raw.url);
      const req = await raw.nextRequest();
      const headers = [...(options.headers ?? [])];
      if (options.compression !== undefined) {
        headers.push(`Sec-WebSocket-Extensions: ${options.compression.answer}`);
      }
      req.respond(switchingProtocols(req.headers['sec-websocket-key'] ?? '', headers));
      const { conn } = await dialing;
      const judge = new Judge(
        req.socket,
        req.rest,
        conn,
        options.mode ?? 'whole-message echo',
        req.headers['sec-websocket-extensions'],
        options.compression,
      );
      judges.push(judge);
      return judge;
    },
  };
}
