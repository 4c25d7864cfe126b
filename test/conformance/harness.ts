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
import type { Socket } from 'node:net';
import type { Http2SecureServer } from 'node:http2';
import { startEchoServer, type EchoServer } from '../../examples/autobahn/src/server';
import { settle } from '../helpers/async';
import { frame, type ParsedFrame } from '../helpers/frames';
import { testCertificates } from '../helpers/h2';
import { rawConnect } from '../helpers/raw-client';
import type { TestServerSettings } from '../helpers/server';
import {
  openHttp2Client,
  watchServerStreams,
  type JudgedClient,
  type ServerEnd,
} from './http2-link';
import { overHttp2, transport } from './transport';
import {
  ANSWER_BOUND_MS,
  controlEvent,
  frameBuilders,
  OP,
  within,
  WireJudge,
  type FrameOptions,
  type WireEvent,
} from './wire-judge';

export { asciiPayload, binaryPayload, seededRandom } from '../helpers/payloads';
export { ANSWER_BOUND_MS, echoOf, END_BOUND_MS, OP, show, within } from './wire-judge';

// ---------------------------------------------------------------------------------------------
// Frames a client sends (masked, as RFC 6455 section 5.3 requires, unless told otherwise)

/** A frame with any opcode, for reserved ones. */
export function rawFrame(
  opcode: number,
  payload: Buffer | string = '',
  options: FrameOptions = {},
): Buffer {
  return frame({ opcode, payload, ...options });
}

const clientFrames = frameBuilders(rawFrame);
export const { text, binary, continuation, ping, pong, close, fragmented } = clientFrames;

// ---------------------------------------------------------------------------------------------
// Events the server sends

/** What the server sent, one event per whole message or control frame. */
export type ServerEvent = WireEvent;

/**
 * A raw client of the echo server, reading the server's frames as {@link ServerEvent}s. Every
 * frame the server sends is checked: unmasked (section 5.1), no reserved bits (no extension is
 * negotiated), a known opcode, control frames final and at most 125 bytes, continuations only
 * inside a message (section 5.4). Over HTTP/2 the connection is a stream (RFC 8441).
 */
export class Peer extends WireJudge<ServerEvent> {
  readonly raw: JudgedClient;
  /** The server's end of this connection: its TCP socket, or its HTTP/2 stream. */
  readonly serverSocket: ServerEnd;
  #partial: { kind: 'text' | 'binary'; chunks: Buffer[] } | null = null;

  constructor(raw: JudgedClient, serverSocket: ServerEnd) {
    super(clientFrames, serverSocket, "the server's socket");
    this.raw = raw;
    this.serverSocket = serverSocket;
  }

  protected override write(bytes: Buffer): void {
    this.raw.send(bytes);
  }

  override async next(timeoutMs = ANSWER_BOUND_MS): Promise<ServerEvent | null> {
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
      default:
        return controlEvent(f, what, 'server');
    }
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
    await settle();
    if (socket.bytesWritten !== written) {
      throw new Error(`the server wrote ${socket.bytesWritten - written} bytes; expected none`);
    }
  }

  /** Destroys the client socket. */
  destroy(): void {
    this.raw.destroy();
  }
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
 * closes it after them; destroys every client a test opened after that test. Over HTTP/2 (see
 * `transport.ts`) the server serves `wss:` and each client is a stream of a session of its own.
 */
export function useEchoServer(): EchoFixture {
  let echo: EchoServer | undefined;
  const over = transport();
  const serverSockets = new Map<number, Socket>(); // by the client's port
  let serverStreams: Map<string, ServerEnd> | undefined;
  const peers: Peer[] = [];

  beforeAll(async () => {
    const tls = over === 'http/1.1' ? undefined : testCertificates();
    echo = await startEchoServer({ port: 0, host: '127.0.0.1', tls });
    if (tls !== undefined) serverStreams = watchServerStreams(echo.server as Http2SecureServer);
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
      if (over !== 'http/1.1') {
        const { client, key } = await openHttp2Client(over, echo.port, path);
        const serverStream = serverStreams?.get(key);
        if (serverStream === undefined) {
          client.destroy();
          throw new Error("the server's end of the stream was not seen");
        }
        const peer = new Peer(client, serverStream);
        peers.push(peer);
        return peer;
      }
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

/**
 * Opens a raw client to a test server (`test/helpers/server.ts`) at `port`, over the file's
 * transport: TCP with the HTTP/1.1 handshake, or an HTTP/2 stream (RFC 8441).
 */
export async function connectRaw(
  port: number,
  path = '/',
  headers: Record<string, string> = {},
): Promise<JudgedClient> {
  const over = transport();
  if (over === 'http/1.1') return rawConnect(port, path, headers);
  return (await openHttp2Client(over, port, path, headers)).client;
}

/** The settings that make a test server (`test/helpers/server.ts`) serve the file's transport. */
export function serverSettings(): TestServerSettings {
  return { http2: overHttp2() };
}
