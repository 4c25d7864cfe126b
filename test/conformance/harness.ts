/**
 * The judge of the conformance suite: a raw client that writes exact bytes to the autobahn
 * example's echo server (`examples/autobahn`) and reads the server's answer back as events
 * (whole messages, pings, pongs, close frames), checking every frame the server sends on the way.
 *
 * Every case ends as RFC 6455 requires: the expected echo or close code, and then the TCP
 * connection closed by the server (its FIN seen by the client, and its socket closed on the
 * server's side) within a bound. Bounds are deadlines that fail a test, never waits that stand
 * in for an event.
 */
import { createCipheriv } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { startEchoServer, type EchoServer } from '../../examples/autobahn/src/server';
import { closePayload, frame, type FrameSpec, type ParsedFrame } from '../helpers/frames';
import { rawConnect, type RawClient } from '../helpers/raw-client';

/** Opcodes (RFC 6455 section 5.2). */
export const OP = {
  continuation: 0,
  text: 1,
  binary: 2,
  close: 8,
  ping: 9,
  pong: 10,
} as const;

/** How long one answer from the server may take before the case fails. */
export const ANSWER_BOUND_MS = 5000;
/**
 * How long the server may take to end TCP after the close frames crossed. It ends TCP at once;
 * its fallback, destroying a socket whose peer never sends its FIN, fires after one second.
 */
export const END_BOUND_MS = 3000;

// ---------------------------------------------------------------------------------------------
// Frames a client sends (masked, as RFC 6455 section 5.3 requires, unless told otherwise)

type Options = Omit<FrameSpec, 'opcode' | 'payload'>;

/** A text frame (final unless `fin: false`). */
export function text(payload: Buffer | string = '', options: Options = {}): Buffer {
  return frame({ opcode: OP.text, payload, ...options });
}

/** A binary frame (final unless `fin: false`). */
export function binary(payload: Buffer | string = '', options: Options = {}): Buffer {
  return frame({ opcode: OP.binary, payload, ...options });
}

/** A continuation frame (final unless `fin: false`). */
export function continuation(payload: Buffer | string = '', options: Options = {}): Buffer {
  return frame({ opcode: OP.continuation, payload, ...options });
}

/** A ping frame. */
export function ping(payload: Buffer | string = '', options: Options = {}): Buffer {
  return frame({ opcode: OP.ping, payload, ...options });
}

/** A pong frame. */
export function pong(payload: Buffer | string = '', options: Options = {}): Buffer {
  return frame({ opcode: OP.pong, payload, ...options });
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
  return frame({ opcode: OP.close, payload, ...options });
}

/** A frame with any opcode, for reserved ones. */
export function rawFrame(opcode: number, payload: Buffer | string = '', options: Options = {}) {
  return frame({ opcode, payload, ...options });
}

/**
 * Splits `payload` into a fragmented message of `size`-byte frames: the first carries `opcode`,
 * the rest are continuations, the last is final.
 */
export function fragmented(opcode: number, payload: Buffer, size: number): Buffer[] {
  const frames: Buffer[] = [];
  let offset = 0;
  do {
    const piece = payload.subarray(offset, offset + size);
    offset += piece.length;
    frames.push(
      frame({
        opcode: frames.length === 0 ? opcode : OP.continuation,
        payload: piece,
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

/**
 * `length` deterministic pseudo-random bytes covering every byte value: the AES-128-CTR key
 * stream of a key derived from `seed` (native code, so megabytes cost milliseconds).
 */
export function binaryPayload(length: number, seed = 2): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed >>> 0, 0);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** `length` deterministic bytes of printable ASCII (valid UTF-8): base64 of pseudo-random bytes. */
export function asciiPayload(length: number, seed = 1): Buffer {
  const text = Buffer.from(binaryPayload(Math.ceil((length * 3) / 4) + 3, seed).toString('base64'));
  return text.subarray(0, length);
}

// ---------------------------------------------------------------------------------------------
// Events the server sends

/** What the server sent, one event per whole message or control frame. */
export type ServerEvent =
  | { kind: 'text' | 'binary'; data: Buffer }
  | { kind: 'ping' | 'pong'; data: Buffer }
  | { kind: 'close'; code: number | undefined; reason: Buffer };

/** A short description of an event for failure messages. */
export function show(event: ServerEvent | null): string {
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

/** Lets the event loop turn once, so the server reads what was written so far on its own. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A raw client of the echo server, reading the server's frames as {@link ServerEvent}s. Every
 * frame the server sends is checked: unmasked (section 5.1), no reserved bits (no extension is
 * negotiated), a known opcode, control frames final and at most 125 bytes, continuations only
 * inside a message (section 5.4).
 */
export class Peer {
  readonly raw: RawClient;
  /** The server's end of this connection. */
  readonly serverSocket: Socket;
  #partial: { kind: 'text' | 'binary'; chunks: Buffer[] } | null = null;

  constructor(raw: RawClient, serverSocket: Socket) {
    this.raw = raw;
    this.serverSocket = serverSocket;
  }

  /** Writes frames (or any bytes) in one write. */
  send(...chunks: Buffer[]): void {
    this.raw.send(Buffer.concat(chunks));
  }

  /**
   * Writes `bytes` in pieces whose sizes `size` gives (a number, or a function of the piece's
   * index), letting the event loop turn between them so the server reads each on its own.
   */
  async sendChopped(bytes: Buffer, size: number | ((index: number) => number)): Promise<void> {
    let offset = 0;
    for (let index = 0; offset < bytes.length; index++) {
      const n = Math.max(1, typeof size === 'number' ? size : size(index));
      this.raw.send(bytes.subarray(offset, offset + n));
      offset += n;
      await turn();
    }
  }

  /**
   * Resolves with the server's next event, or `null` once the server ended TCP with nothing more
   * to say. Fails the case when no event comes within `timeoutMs` or a frame breaks the rules.
   */
  async next(timeoutMs = ANSWER_BOUND_MS): Promise<ServerEvent | null> {
    for (;;) {
      const f = await within(this.raw.nextFrame(), timeoutMs, 'frame from the server');
      if (f === null) return null;
      const event = this.#accept(f);
      if (event !== undefined) return event;
    }
  }

  #accept(f: ParsedFrame): ServerEvent | undefined {
    const what = `server frame (opcode ${f.opcode})`;
    if (f.masked) throw new Error(`${what} is masked`);
    if (f.rsv1 || f.rsv2 || f.rsv3) throw new Error(`${what} has reserved bits set`);
    if (f.opcode >= OP.close) {
      if (!f.fin) throw new Error(`${what} is a fragmented control frame`);
      if (f.payload.length > 125) throw new Error(`${what} carries ${f.payload.length} bytes`);
    }
    switch (f.opcode) {
      case OP.text:
      case OP.binary: {
        if (this.#partial !== null) throw new Error(`${what} starts a message inside another`);
        const kind = f.opcode === OP.text ? 'text' : 'binary';
        if (f.fin) return { kind, data: f.payload };
        this.#partial = { kind, chunks: [f.payload] };
        return undefined;
      }
      case OP.continuation: {
        const partial = this.#partial;
        if (partial === null) throw new Error(`${what} continues no message`);
        partial.chunks.push(f.payload);
        if (!f.fin) return undefined;
        this.#partial = null;
        return { kind: partial.kind, data: Buffer.concat(partial.chunks) };
      }
      case OP.ping:
        return { kind: 'ping', data: f.payload };
      case OP.pong:
        return { kind: 'pong', data: f.payload };
      case OP.close: {
        if (f.payload.length === 1) throw new Error('server close frame of one byte');
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
        return { kind: 'close', code, reason: f.payload.subarray(2) };
      }
      default:
        throw new Error(`${what} uses a reserved opcode`);
    }
  }

  /** Expects the next event to be this data message. */
  async expectMessage(
    kind: 'text' | 'binary',
    data: Buffer | string,
    timeoutMs = ANSWER_BOUND_MS,
  ): Promise<void> {
    const expected = typeof data === 'string' ? Buffer.from(data) : data;
    const event = await this.next(timeoutMs);
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
   * Sends `bytes` and proves the server read them all and answered nothing: waits until the
   * server's socket has read every byte this client wrote, lets the event loop turn so that any
   * answer would have been written, then checks that the server's socket wrote nothing. For bytes
   * that no ping can follow, such as the first part of a frame's payload.
   */
  async sendExpectingSilence(bytes: Buffer): Promise<void> {
    const socket = this.serverSocket;
    const written = socket.bytesWritten;
    this.raw.send(bytes);
    const total = this.raw.socket.bytesWritten;
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (socket.bytesRead < total) return;
          socket.off('data', check);
          resolve();
        };
        socket.on('data', check);
        check();
      }),
      ANSWER_BOUND_MS,
      `read of all ${total} bytes by the server`,
    );
    await turn();
    if (socket.bytesWritten !== written) {
      throw new Error(`the server wrote ${socket.bytesWritten - written} bytes; expected none`);
    }
  }

  /**
   * Expects the server's close frame with `code` (`undefined`: a close frame without a code) as
   * the next event, and then the end of the connection: no frame after it, the server's FIN, and
   * the server's socket closed, each within its bound. Returns the close frame's reason.
   */
  async expectClose(
    code: number | undefined,
    timeoutMs = ANSWER_BOUND_MS,
  ): Promise<{ reason: Buffer }> {
    const event = await this.next(timeoutMs);
    if (event === null || event.kind !== 'close' || event.code !== code) {
      throw new Error(`expected close ${code ?? '(no code)'}, got ${show(event)}`);
    }
    await this.expectEnd();
    return { reason: event.reason };
  }

  /**
   * Expects no further frame, the server's FIN, and the server's socket closed, within
   * {@link END_BOUND_MS}.
   */
  async expectEnd(): Promise<void> {
    const after = await this.next(END_BOUND_MS);
    if (after !== null) throw new Error(`expected the end of TCP, got ${show(after)}`);
    await this.expectServerSocketClosed();
  }

  /** Expects the server's end of this connection to close within {@link END_BOUND_MS}. */
  async expectServerSocketClosed(): Promise<void> {
    const socket = this.serverSocket;
    if (socket.closed) return;
    await within(once(socket, 'close'), END_BOUND_MS, "close of the server's socket");
  }

  /**
   * Runs the closing handshake from the client's side: sends close 1000 and expects the server
   * to answer 1000, then to end the connection.
   */
  async closeNormally(): Promise<void> {
    this.send(close(1000));
    await this.expectClose(1000);
  }

  /**
   * Reads events until the close frame: `optional` messages may come first (in order, each at
   * most once, as when a server fails before echoing what preceded the bad frame), then close
   * with `code` and the end of the connection.
   */
  async expectCloseAfter(optional: ServerEvent[], code: number | undefined): Promise<void> {
    let index = 0;
    for (;;) {
      const event = await this.next();
      if (event?.kind === 'close') {
        if (event.code !== code) {
          throw new Error(`expected close ${code ?? '(no code)'}, got ${show(event)}`);
        }
        await this.expectEnd();
        return;
      }
      while (index < optional.length && !sameEvent(optional[index]!, event)) index++;
      if (index === optional.length) {
        throw new Error(`expected close ${code ?? '(no code)'}, got ${show(event)}`);
      }
      index++;
    }
  }

  /** Destroys the client socket. */
  destroy(): void {
    this.raw.destroy();
  }
}

function sameEvent(a: ServerEvent, b: ServerEvent | null): boolean {
  if (b === null || a.kind !== b.kind) return false;
  if (a.kind === 'close' || b.kind === 'close') return false;
  return a.data.equals(b.data);
}

// ---------------------------------------------------------------------------------------------
// The server under test

/** The echo server of one test file, and a way to open raw connections to it. */
export interface EchoFixture {
  /** The running server. */
  server(): EchoServer;
  /** Opens a raw connection to `path` (`/` whole-message echo, `/stream` streaming echo). */
  connect(path?: string): Promise<Peer>;
}

/**
 * Starts the autobahn example's echo server on 127.0.0.1 port 0 before the file's tests and
 * closes it after them; destroys every client a test opened after that test.
 */
export function useEchoServer(): EchoFixture {
  let echo: EchoServer | undefined;
  const serverSockets = new Map<number, Socket>(); // by the client's port
  const peers: Peer[] = [];

  beforeAll(async () => {
    echo = await startEchoServer({ port: 0, host: '127.0.0.1' });
    echo.server.on('connection', (socket: Socket) => {
      const port = socket.remotePort;
      if (port === undefined) return;
      serverSockets.set(port, socket);
      socket.once('close', () => serverSockets.delete(port));
    });
  });
  afterEach(() => {
    for (const peer of peers.splice(0)) peer.destroy();
  });
  afterAll(async () => {
    await echo?.close(100);
  });

  return {
    server() {
      if (echo === undefined) throw new Error('the echo server is not running');
      return echo;
    },
    async connect(path = '/') {
      if (echo === undefined) throw new Error('the echo server is not running');
      const raw = await rawConnect(echo.port, path);
      const serverSocket = serverSockets.get(raw.socket.localPort!);
      if (serverSocket === undefined) {
        raw.destroy();
        throw new Error("the server's end of the connection was not seen");
      }
      const peer = new Peer(raw, serverSocket);
      peers.push(peer);
      return peer;
    },
  };
}

/** The echo server's paths: whole-message echo and streaming echo. */
export const ECHO_PATHS = [
  ['whole-message echo', '/'],
  ['streaming echo', '/stream'],
] as const;
