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
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Dialer, type Conn, type DialerOptions } from '@silverback/websocket';
import { queue, type Queue } from '../../helpers/async';
import { PeerDeflater, PeerInflater } from '../../helpers/deflate';
import { frame, parseFrame, type ParsedFrame } from '../../helpers/frames';
import { startH2Server, testCertificates, type H2TestServer } from '../../helpers/h2';
import { startRawServer, switchingProtocols, type RawServer } from '../../helpers/raw-server';
import { overHttp2 } from '../transport';
import {
  ANSWER_BOUND_MS,
  controlEvent,
  frameBuilders,
  OP,
  within,
  WireJudge,
  type ControlEvent,
  type DataEventOf,
  type FrameOptions,
} from '../wire-judge';

export { asciiPayload, binaryPayload, seededRandom } from '../../helpers/payloads';
export { ANSWER_BOUND_MS, echoOf, END_BOUND_MS, OP, show, within } from '../wire-judge';

// ---------------------------------------------------------------------------------------------
// Frames a server sends (unmasked, as RFC 6455 section 5.1 requires, unless told otherwise)

/** A frame with any opcode, unmasked unless `mask` says otherwise. */
export function serverFrame(
  opcode: number,
  payload: Buffer | string = '',
  options: FrameOptions = {},
): Buffer {
  return frame({ opcode, payload, mask: false, ...options });
}

const serverFrames = frameBuilders(serverFrame);
export const { text, binary, continuation, ping, pong, close, fragmented } = serverFrames;

// ---------------------------------------------------------------------------------------------
// Events the client sends

/** What the client sent, one event per whole message or control frame. */
export type ClientEvent =
  | { kind: 'text' | 'binary'; data: Buffer; compressed: boolean; wireLength?: number }
  | ControlEvent;

/** A data message the client sent. */
export type DataEvent = DataEventOf<ClientEvent>;

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

/**
 * One connection from the client under test, judged from the server's side. Over HTTP/2 the
 * connection is a stream (RFC 8441), which the judge uses as it uses TCP.
 */
export class Judge extends WireJudge<ClientEvent> {
  /** The server's end of the TCP connection, or of the HTTP/2 stream. */
  readonly socket: Duplex;
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
    socket: Duplex,
    rest: Buffer,
    conn: Conn,
    mode: ClientMode,
    offer: string | undefined,
    compression: JudgeCompression | undefined,
  ) {
    super(serverFrames, socket, 'the TCP connection');
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
    (socket as Partial<Socket>).setNoDelay?.(true);
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

  protected override write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Ends TCP as a server does once the close frames crossed (RFC 6455 section 7.1.1). */
  protected override closeFramesCrossed(): void {
    this.socket.end();
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

  override async next(timeoutMs = ANSWER_BOUND_MS): Promise<ClientEvent | null> {
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
      default:
        return controlEvent(f, what, 'client');
    }
  }

  async #finish(): Promise<ClientEvent> {
    const { kind, chunks, compressed } = this.#partial!;
    this.#partial = null;
    const payload = Buffer.concat(chunks);
    const data = compressed ? await this.#inflater!.decompress(payload) : payload;
    return { kind, data, compressed, wireLength: payload.length };
  }

  /** Frees the connection. */
  destroy(): void {
    this.conn.close();
    this.socket.destroy();
    this.#inflater?.close();
    this.#deflater?.close();
  }
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
 * connection a test opened after that test. Over HTTP/2 (see `transport.ts`) the judge is an
 * HTTP/2 server that answers the Dialer's extended CONNECT with 200 by hand.
 */
export function useJudge(): JudgeFixture {
  let raw: RawServer | undefined;
  let h2: { server: H2TestServer; streams: Queue<ConnectStream> } | undefined;
  const judges: Judge[] = [];
  beforeAll(async () => {
    if (!overHttp2()) {
      raw = await startRawServer();
      return;
    }
    const server = await startH2Server();
    const streams = queue<ConnectStream>();
    server.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      stream.on('error', () => {});
      streams.push({ stream, headers });
    });
    h2 = { server, streams };
  });
  afterEach(() => {
    for (const judge of judges.splice(0)) judge.destroy();
  });
  afterAll(async () => {
    await raw?.close();
    await h2?.server.close();
  });
  return {
    server() {
      if (raw === undefined) throw new Error('the raw server is not running');
      return raw;
    },
    async connect(options = {}) {
      if (h2 !== undefined) {
        const judge = await connectOverHttp2(h2.server, h2.streams, options);
        judges.push(judge);
        return judge;
      }
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

/** An extended CONNECT the HTTP/2 judge received. */
interface ConnectStream {
  stream: ServerHttp2Stream;
  headers: IncomingHttpHeaders;
}

// Dials the HTTP/2 judge with our Dialer (http2: true), answers 200 with the test's headers, and
// judges the stream as the TCP judge judges its socket.
async function connectOverHttp2(
  server: H2TestServer,
  streams: Queue<ConnectStream>,
  options: ConnectOptions,
): Promise<Judge> {
  const dialer = new Dialer({
    ...options.dialer,
    http2: true,
    tls: { ca: testCertificates().ca, ...options.dialer?.tls },
  });
  const dialing = dialer.dial(`wss://${server.authority}/`);
  const { stream, headers } = await streams.next();
  const answer: Record<string, string | number> = { ':status': 200 };
  for (const line of options.headers ?? []) {
    const colon = line.indexOf(':');
    answer[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (options.compression !== undefined) {
    answer['sec-websocket-extensions'] = options.compression.answer;
  }
  stream.respond(answer);
  const { conn } = await dialing;
  const offer = headers['sec-websocket-extensions'];
  return new Judge(
    stream,
    Buffer.alloc(0),
    conn,
    options.mode ?? 'whole-message echo',
    Array.isArray(offer) ? offer.join(', ') : offer,
    options.compression,
  );
}
