/**
 * The WebSocket connection (gorilla's `Conn`), for both roles.
 *
 * @module
 */

import type { AddressInfo } from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { BufferPool } from './buffer-pool.js';
import { formatCloseMessage, parseClosePayload } from './close.js';
import { isCompressionLevel, type Decompressor, type PerMessageDeflate } from './compression.js';
import {
  BinaryMessage,
  CLOSE_TCP_TIMEOUT,
  CloseAbnormalClosure,
  CloseGoingAway,
  CloseInternalServerErr,
  CloseInvalidFramePayloadData,
  CloseMessage,
  CloseNoStatusReceived,
  CloseNormalClosure,
  ClosePolicyViolation,
  CONTROL_WRITE_WAIT,
  DEFAULT_READ_BUFFER_SIZE,
  DEFAULT_READ_LIMIT,
  DEFAULT_WRITE_BUFFER_SIZE,
  MAX_CONTROL_PAYLOAD,
  MAX_MESSAGE_FRAGMENTS,
  OPCODE_CONTINUATION,
  PingMessage,
  PongMessage,
  TextMessage,
  type DataMessageType,
  type MessageType,
} from './constants.js';
import {
  BufferFullError,
  CloseError,
  CloseSentError,
  isCloseError,
  ProtocolError,
  type RateLimitError,
  ReadLimitError,
  TimeoutError,
} from './errors.js';
import { DeadlineTimer } from './deadline.js';
import type { UpgradeRequest } from './http2-server.js';
import { publishClose, publishOpen } from './diagnostics.js';
import {
  Heartbeat,
  keepAliveTiming,
  type HeartbeatHost,
  type KeepAliveOption,
} from './keepalive.js';
import { rateLimiter, type RateLimiter, type RateLimitOption } from './rate-limit.js';
import { FrameReader, type FrameHandler } from './frame-reader.js';
import { FrameWriter } from './frame-writer.js';
import { invalidData, toPayload, type MessageData } from './message-data.js';
import { MessageReader } from './message-reader.js';
import { MessageWriter, type FragmentSink } from './message-writer.js';
import { unmaskedFrame, type PreparedMessage } from './prepared.js';
import { socketTransport, type Transport } from './transport.js';
import { Utf8Validator } from './utf8.js';

/** A data message read from the peer. */
export interface Message {
  /** {@link TextMessage} or {@link BinaryMessage}. */
  type: DataMessageType;
  /** The payload (text messages: valid UTF-8). */
  data: Buffer;
}

/** A data message being read as a stream, from {@link Conn.nextReader}. */
export interface MessageStream {
  /** {@link TextMessage} or {@link BinaryMessage}. */
  type: DataMessageType;
  /** The payload, streamed as frames arrive; ends with the message. */
  reader: Readable;
}

/** Handles a received ping or pong; a throw or rejection fails the read side with that error. */
export type ControlHandler = (data: Buffer) => void | Promise<void>;
/** Handles a received close frame; a throw or rejection fails the read side with that error. */
export type CloseHandler = (code: number, text: string) => void | Promise<void>;
/** A deadline: a `Date`, epoch milliseconds, or `null` for none. */
export type Deadline = Date | number | null;

/** How a connection ended, or is ending: see {@link Conn.closeStatus}. */
export interface CloseStatus {
  /**
   * The close code of the first close frame, whichever side sent it (1005 when it had none);
   * 1006 when the connection ended without one.
   */
  code: number;
  /** That frame's reason, `''` when none. */
  reason: string;
  /** Which side sent that first close frame; `undefined` when none did (1006). */
  initiator: 'peer' | 'local' | undefined;
}

/**
 * The cap on a connection's queued writes, an option of the {@link Upgrader}, the {@link Dialer}
 * and every adapter (globally and per route). It bounds the memory a peer that reads slowly, or
 * not at all, can make this side hold, with the policy users of uWebSockets.js and Bun know.
 */
export interface BufferLimitOptions {
  /**
   * The most bytes a connection holds for the peer: a write that would take
   * {@link Conn.bufferedAmount} past it is refused (it rejects with {@link BufferFullError} and
   * sends nothing), unless nothing at all is buffered, so a message larger than the cap still
   * goes to a peer that keeps up. Close frames are never refused. Default: no cap (`Infinity`).
   */
  maxBufferedAmount?: number;
  /**
   * What a refused write does to the connection: `false` (default) only refuses the write, and
   * the application decides (skip the message, close, wait for `bufferedAmount` to fall); `true`
   * also fails the connection: a 1008 (policy violation) close frame is queued, the TCP
   * connection ends, reads reject with the {@link BufferFullError} and later writes with
   * {@link CloseSentError}.
   */
  closeOnBufferFull?: boolean;
}

/**
 * Checks {@link BufferLimitOptions} where they are given, so a mistake fails at configuration.
 *
 * @throws {RangeError} when `maxBufferedAmount` is not a number above 0.
 * @throws {TypeError} when `closeOnBufferFull` is not a boolean.
 * @internal
 */
export function checkBufferLimitOptions(options: BufferLimitOptions): void {
  const max = options.maxBufferedAmount;
  if (max !== undefined && !(typeof max === 'number' && max > 0)) {
    throw new RangeError('websocket: maxBufferedAmount must be a number above 0');
  }
  const close = options.closeOnBufferFull;
  if (close !== undefined && typeof close !== 'boolean') {
    throw new TypeError('websocket: closeOnBufferFull must be a boolean');
  }
}

/**
 * How a connection was negotiated. Built by the {@link Upgrader} and the {@link Dialer}.
 *
 * @internal
 */
export interface ConnOptions extends BufferLimitOptions {
  isServer: boolean;
  subprotocol?: string;
  extensions?: string;
  readBufferSize?: number;
  writeBufferSize?: number;
  writeBufferPool?: BufferPool;
  readLimit?: number;
  /** The negotiated permessage-deflate state, when compression was negotiated. */
  deflate?: PerMessageDeflate;
  /** Bytes read past the handshake, which start the frame stream. */
  head?: Buffer;
  /** The upgrade request (server side), for the `silverback:connection:open` channel. */
  request?: () => UpgradeRequest;
  /** The URL dialled (client side), for the same channel. */
  url?: string;
  /** The heartbeat's timing, or `false` / undefined for none. */
  keepAlive?: KeepAliveOption;
  /** Limits on what the peer sends, or `false` / undefined for none. */
  rateLimit?: RateLimitOption;
  /** What the socket is, beyond a `Duplex`: by default a TCP socket (or a stand-in for one). */
  transport?: Transport;
}

// A message that has started to arrive.
class Incoming {
  readonly type: DataMessageType;
  chunks: Buffer[] = [];
  length = 0; // bytes held in chunks
  size = 0; // payload bytes received in all
  done = false;
  reader: MessageReader | null = null;
  discarded = false;
  // A large single-frame message a read already waits for is copied into its final buffer as it
  // arrives, while each piece is still in cache, instead of joined at the end.
  assembly: Buffer | null = null;
  assembled = 0;

  constructor(type: DataMessageType) {
    this.type = type;
  }
}

interface ReadWaiter {
  stream: boolean;
  resolve(value: Message | MessageStream): void;
  reject(err: Error): void;
}

// A write that waits for earlier ones: it runs once no message writer is open and no compression
// is in flight; a returned promise holds the queue until the write is in the batch.
interface WriteTask {
  run(): Promise<void> | void;
  fail(err: Error): void;
}

const EMPTY = Buffer.alloc(0);
const RESOLVED = Promise.resolve();
// Unread messages buffered before the socket is paused, whatever their size.
const MAX_QUEUED_MESSAGES = 1024;
// A message held as more than this many pieces has its small pieces merged.
const COMPACT_AT = 1024;
const SMALL_PIECE = 16 * 1024;
// Single-frame messages from this size up are assembled as they arrive (see Incoming.assembly).
const ASSEMBLE_MIN = 64 * 1024;

function toMillis(deadline: Date | number): number {
  return typeof deadline === 'number' ? deadline : deadline.getTime();
}

// The payload size of `data` in bytes.
function byteLength(data: string | Buffer): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

function toBuffer(data: string | Buffer): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

function isDataType(type: number): type is DataMessageType {
  return type === TextMessage || type === BinaryMessage;
}

function isControlType(type: number): boolean {
  return type === CloseMessage || type === PingMessage || type === PongMessage;
}

/**
 * Conn is a WebSocket connection: the `Upgrader` returns one on the server side, the `Dialer`
 * on the client side. Gorilla: `Conn`.
 *
 * Reading: {@link Conn.readMessage} returns whole messages, {@link Conn.nextReader} streams one;
 * `for await (const { type, data } of conn)` iterates messages. The connection reads from the
 * socket only while the application keeps up: once `readBufferSize` bytes (or 1,024 messages)
 * wait unread, it stops reading until the application reads. Control frames are handled as they
 * are parsed (ping answered with pong, close answered with close), so an application that stops
 * reading stops answering pings: the application must read (gorilla's "read is required"). While
 * the socket is backed up only the latest ping is answered, and reading stops once a pong is owed
 * (see the package documentation), so a peer flooding pings cannot queue pongs.
 *
 * Writing: {@link Conn.writeMessage}, {@link Conn.nextWriter}, {@link Conn.writeControl},
 * {@link Conn.writePreparedMessage}. Writes may be called concurrently: they go out in call
 * order, except that control frames pass a data message being streamed by `nextWriter`. A write
 * resolves when the socket has taken the bytes within its high-water mark, so awaiting writes
 * applies backpressure. Buffers passed to writes must not change until their promise resolves.
 *
 * Errors are permanent per direction: once a read fails, every later read fails the same way
 * (after the messages that arrived before the failure); likewise for writes.
 */
export class Conn implements AsyncIterable<Message> {
  readonly #socket: Duplex;
  readonly #transport: Transport;
  readonly #isServer: boolean;
  readonly #subprotocol: string;
  readonly #extensions: string;

  // Read fields.
  readonly #reader: FrameReader;
  readonly #readBufferSize: number;
  #readLimit: number;
  #current: Incoming | null = null; // the message whose frames are arriving
  #currentLimit = 0; // the read limit when #current started
  #fragments = 0; // frames of #current so far
  readonly #utf8 = new Utf8Validator();
  #validating = false; // #current is text
  readonly #queue: Incoming[] = []; // messages not handed out yet, oldest first
  #unreadBytes = 0; // bytes held in #queue
  readonly #waiters: ReadWaiter[] = [];
  #streaming: Incoming | null = null; // the message behind the last nextReader stream
  #readerFull = false; // that stream's buffer is full
  #socketPaused = false;
  #readError: Error | null = null; // final: reported once #queue is drained
  readonly #readDeadline = new DeadlineTimer(() => {
    this.#reader.stop();
    this.#failRead(new TimeoutError('read'), true);
  });
  #decompressor: Decompressor | null = null; // inflating #current
  #inflateBacklog = false; // the inflater's input buffer is full
  #pingHandler: ControlHandler | null = null;
  #pongHandler: ControlHandler | null = null;
  #closeHandler: CloseHandler | null = null;
  #defaultPingHandler: ControlHandler | null = null; // made when asked for
  #defaultCloseHandler: CloseHandler | null = null;
  #pongBacklog = false; // reading stopped until the pong owed is handed to the socket
  #afterPong: (() => void) | null = null;

  // Write fields.
  readonly #writer: FrameWriter;
  readonly #tasks: WriteTask[] = []; // writes waiting for earlier ones
  #taskBytes = 0; // payload bytes of the writes in #tasks
  readonly #maxBuffered: number;
  readonly #closeOnBufferFull: boolean;
  #busy = false; // a task (a compression) holds the queue
  #openWriter: MessageWriter | null = null;
  #openWriterType: DataMessageType = TextMessage;
  #openWriterStarted = false;
  #writeError: Error | null = null; // why writes are refused from now on
  #writeFailure: Error | null = null; // why bytes already accepted may never reach the peer
  #drainSeen: Promise<void> | null = null; // the writer's drain that #acceptedAtDrain follows
  #acceptedAtDrain: Promise<void> = RESOLVED;
  readonly #writeDeadline = new DeadlineTimer(() => {
    // Only writes still waiting fail now; others fail when they are made.
    if (this.#writer.backedUp || this.#tasks.length > 0 || this.#openWriter !== null) {
      this.#failWrite(new TimeoutError('write'));
    }
  });
  readonly #deflate: PerMessageDeflate | null;
  #compressWrites = true;

  // Closing.
  #closeSent = false;
  #closeStatus: CloseStatus | null = null; // from the first close frame, or 1006 at the end
  #closedForWrites: Error | null = null; // what writes after our close frame reject with
  #failure: Error | undefined; // what failed the connection, for the close channel
  #heartbeat: Heartbeat | null = null;
  readonly #limiter: RateLimiter | null;
  #closeReceived = false;
  #draining = false; // closeGracefully is waiting for the peer's close frame
  #socketClosed = false;
  #socketError: Error | undefined;
  #closeTimer: NodeJS.Timeout | null = null;
  readonly #closedPromise: Promise<void>;
  #resolveClosed!: () => void;

  /**
   * Wraps an upgraded socket. Applications get connections from {@link Upgrader.upgrade} and
   * {@link Dialer.dial} rather than constructing them.
   *
   * @internal
   */
  constructor(socket: Duplex, options: ConnOptions) {
    this.#socket = socket;
    this.#transport = options.transport ?? socketTransport(socket);
    this.#isServer = options.isServer;
    this.#subprotocol = options.subprotocol ?? '';
    this.#extensions = options.extensions ?? '';
    this.#readBufferSize = options.readBufferSize ?? DEFAULT_READ_BUFFER_SIZE;
    this.#readLimit = options.readLimit ?? DEFAULT_READ_LIMIT;
    this.#deflate = options.deflate ?? null;
    this.#limiter = rateLimiter(options.rateLimit);
    this.#maxBuffered = options.maxBufferedAmount ?? Infinity;
    this.#closeOnBufferFull = options.closeOnBufferFull ?? false;
    this.#closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#writer = new FrameWriter(
      socket,
      !this.#isServer,
      options.writeBufferSize ?? DEFAULT_WRITE_BUFFER_SIZE,
      options.writeBufferPool,
    );
    this.#reader = new FrameReader(this.#frameHandler(), {
      isServer: this.#isServer,
      allowRsv1: this.#deflate !== null,
    });

    const timing = keepAliveTiming(options.keepAlive);
    if (timing === null) {
      socket.on('data', (chunk: Buffer) => this.#reader.write(chunk));
    } else {
      const heartbeat = new Heartbeat(timing, this.#heartbeatHost());
      this.#heartbeat = heartbeat;
      socket.on('data', (chunk: Buffer) => {
        heartbeat.last = performance.now();
        this.#reader.write(chunk);
      });
    }
    socket.on('end', () => this.#onSocketEnd());
    socket.on('error', (err: Error) => {
      // The 'close' that follows reports the failure, with this as its cause.
      this.#socketError ??= err;
    });
    socket.on('close', () => this.#onSocketClose());
    publishOpen(this, options.request, options.url);
    if (options.head !== undefined && options.head.length > 0) this.#reader.write(options.head);
    // Adding a 'data' listener does not restart a stream that was paused explicitly; one this
    // connection paused itself (the head alone filled the read buffer) stays paused.
    if (socket.isPaused() && !this.#socketPaused) socket.resume();
    if (socket.destroyed) this.#onSocketClose();
  }

  // ---------------------------------------------------------------------------------------------
  // Read methods

  /**
   * Returns the next data message received from the peer. Gorilla: `Conn.ReadMessage`.
   *
   * A message being streamed by an earlier `nextReader` stream is discarded.
   *
   * @throws {CloseError} when the peer closed the connection, or it closed without a close frame
   *   (1006).
   * @throws {ProtocolError} when the peer broke the protocol (the connection failed).
   * @throws {ReadLimitError} when a message exceeded the read limit.
   * @throws {TimeoutError} when the read deadline passed.
   */
  readMessage(): Promise<Message> {
    this.#discardStream();
    if (this.#waiters.length === 0) {
      const head = this.#queue[0];
      if (head !== undefined && head.done) {
        this.#queue.shift();
        this.#unreadBytes -= head.length;
        this.#maybeResume();
        return Promise.resolve({ type: head.type, data: joinChunks(head) });
      }
      if (head === undefined && this.#readError !== null) return Promise.reject(this.#readError);
    }
    return new Promise<Message>((resolve, reject) => {
      this.#waiters.push({ stream: false, resolve: resolve as ReadWaiter['resolve'], reject });
      this.#serveWaiters();
    });
  }

  /**
   * Returns the next data message as a stream that yields each frame's payload as it arrives,
   * in constant memory whatever the message size. Gorilla: `Conn.NextReader`.
   *
   * Only the latest stream is live: calling `nextReader` or `readMessage` again discards the
   * rest of the previous message. The stream fails if the connection fails mid-message, but only
   * once someone consumes it, so awaiting between this call and reading is safe.
   *
   * @throws the same errors as {@link Conn.readMessage}.
   */
  nextReader(): Promise<MessageStream> {
    this.#discardStream();
    return new Promise<MessageStream>((resolve, reject) => {
      this.#waiters.push({ stream: true, resolve: resolve as ReadWaiter['resolve'], reject });
      this.#serveWaiters();
    });
  }

  /**
   * Reads the next message and parses it as JSON. Gorilla: `Conn.ReadJSON`.
   *
   * @throws {SyntaxError} when the message is not JSON (the message is consumed).
   * @throws the same errors as {@link Conn.readMessage}.
   */
  async readJSON<T = unknown>(): Promise<T> {
    const { data } = await this.readMessage();
    return JSON.parse(data.toString('utf8')) as T;
  }

  /**
   * Sets the read deadline: once it passes, reads fail with {@link TimeoutError} (after the
   * messages already received) and the connection reads no more. `null` clears it. Set it again
   * (from a pong handler, say) to extend it. Gorilla: `Conn.SetReadDeadline`.
   *
   * @param deadline - a `Date`, epoch milliseconds, or `null`.
   */
  setReadDeadline(deadline: Deadline): void {
    this.#readDeadline.set(deadline === null ? null : toMillis(deadline));
    if (this.#readError === null) this.#readDeadline.arm();
  }

  /**
   * Sets the maximum size of a message read from the peer, counted after decompression. A larger
   * message fails the connection with 1009 and the read with {@link ReadLimitError}. Applies to
   * every message whose first frame is read after the call. Gorilla: `Conn.SetReadLimit`.
   *
   * @param bytes - the limit; default 64 MiB. `Infinity` removes it.
   */
  setReadLimit(bytes: number): void {
    if (!(bytes > 0)) throw new RangeError('websocket: read limit must be positive');
    this.#readLimit = bytes;
  }

  /**
   * Sets the handler for ping frames. The default (also set by `null`) answers with a pong
   * carrying the same payload. Handlers run as frames are parsed. Gorilla: `Conn.SetPingHandler`.
   */
  setPingHandler(handler: ControlHandler | null): void {
    this.#pingHandler = handler;
  }

  /** Returns the current ping handler. Gorilla: `Conn.PingHandler`. */
  pingHandler(): ControlHandler {
    return this.#pingHandler ?? (this.#defaultPingHandler ??= (data) => this.#answerPing(data));
  }

  /**
   * Sets the handler for pong frames. The default (also set by `null`) does nothing.
   * Gorilla: `Conn.SetPongHandler`.
   */
  setPongHandler(handler: ControlHandler | null): void {
    this.#pongHandler = handler;
  }

  /** Returns the current pong handler. Gorilla: `Conn.PongHandler`. */
  pongHandler(): ControlHandler {
    return this.#pongHandler ?? noop;
  }

  /**
   * Sets the handler for close frames, called with the peer's code (1005 when it sent none) and
   * reason. The default (also set by `null`) answers with a close frame carrying the same code
   * and no reason. Reads fail with {@link CloseError} either way. Gorilla: `Conn.SetCloseHandler`.
   */
  setCloseHandler(handler: CloseHandler | null): void {
    this.#closeHandler = handler;
  }

  /** Returns the current close handler. Gorilla: `Conn.CloseHandler`. */
  closeHandler(): CloseHandler {
    return this.#closeHandler ?? (this.#defaultCloseHandler ??= (code) => this.#answerClose(code));
  }

  /**
   * Iterates the messages received. The iteration ends quietly when the peer closes normally
   * (1000, 1001, or a close frame without a code) and throws any other error.
   */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return {
      next: () =>
        this.readMessage().then(
          (value) => ({ value, done: false }),
          (err: unknown) => {
            if (isCloseError(err, CloseNormalClosure, CloseGoingAway, CloseNoStatusReceived)) {
              return { value: undefined, done: true };
            }
            throw err;
          },
        ),
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Write methods

  /**
   * Writes a message. Text and binary messages are sent as one frame; control types are sent as
   * {@link Conn.writeControl} does. Gorilla: `Conn.WriteMessage`.
   *
   * @param type - the message type.
   * @param data - the payload: a string (sent as UTF-8), a `Buffer`, any `TypedArray` or
   *   `DataView` (its own byte range), an `ArrayBuffer` or a `SharedArrayBuffer`.
   * @throws {TypeError} when `data` is none of those (nothing is sent).
   * @throws {BufferFullError} when the write would pass `maxBufferedAmount`.
   * @throws {CloseSentError} after this side sent its close frame (`closeCode` is its code).
   * @throws {CloseError} after the peer's close frame was answered (`code` is the peer's), or
   *   when the connection has closed (1006).
   * @throws {TimeoutError} when the write deadline passed.
   */
  writeMessage(type: MessageType, data: MessageData): Promise<void> {
    if (!isDataType(type)) return this.writeControl(type, data);
    const bytes = toPayload(data);
    if (bytes === undefined) return Promise.reject(invalidData(data));
    if (this.#writeError !== null) return Promise.reject(this.#writeError);
    if (this.#writeDeadlinePassed()) return Promise.reject(this.#writeError!);
    if (this.#maxBuffered !== Infinity) {
      const full = this.#bufferFull(byteLength(bytes));
      if (full !== null) return Promise.reject(full);
    }
    const deflate = this.#compressorFor(bytes);
    if (deflate !== null) {
      const payload = toBuffer(bytes);
      if (this.#queueIdle()) {
        let pending: Promise<void> | undefined;
        try {
          pending = this.#writeCompressed(deflate, type, payload, true, true);
        } catch (err) {
          return Promise.reject(toError(err));
        }
        if (pending === undefined) return this.#accepted();
        // Compressing in the thread pool: later writes queue behind it.
        return this.#enqueue(() => pending, 0);
      }
      return this.#enqueue(
        () => this.#writeCompressed(deflate, type, payload, true, true),
        payload.length,
      );
    }
    if (this.#queueIdle()) {
      this.#writer.writeFrame(type, true, false, bytes);
      return this.#accepted();
    }
    return this.#enqueue(
      () => this.#writer.writeFrame(type, true, false, bytes),
      byteLength(bytes),
    );
  }

  /**
   * Returns a stream for the next message: each write becomes a frame and `end()` sends the final
   * one. Other data writes wait until it ends; control frames may go out between its frames. The
   * promise resolves when earlier writes are done. Gorilla: `Conn.NextWriter`.
   *
   * @param type - {@link TextMessage} or {@link BinaryMessage}.
   * @throws the same errors as {@link Conn.writeMessage}.
   */
  nextWriter(type: DataMessageType): Promise<Writable> {
    if (!isDataType(type))
      return Promise.reject(new TypeError(`websocket: bad write message type ${String(type)}`));
    if (this.#writeError !== null) return Promise.reject(this.#writeError);
    return new Promise<Writable>((resolve, reject) => {
      const open = (): void => {
        const deflate = this.#compressWrites && this.#deflate?.canCompress ? this.#deflate : null;
        this.#openWriter = new MessageWriter(this.#fragmentSink(deflate));
        this.#openWriterType = type;
        this.#openWriterStarted = false;
        resolve(this.#openWriter);
      };
      if (this.#queueIdle()) open();
      else this.#tasks.push({ run: open, fail: reject });
    });
  }

  /**
   * Writes a control message (close, ping or pong) with an optional deadline, and may be called
   * while a message is being streamed. A close message marks the connection closing: later
   * writes fail with {@link CloseSentError}. Gorilla: `Conn.WriteControl`.
   *
   * @param type - {@link CloseMessage}, {@link PingMessage} or {@link PongMessage}.
   * @param data - at most 125 bytes, in any form `writeMessage` takes; for close, build it with
   *   {@link formatCloseMessage}.
   * @param deadline - when to give up waiting for the socket (`Date` or epoch ms).
   * @throws {RangeError} for another type or a payload over 125 bytes.
   * @throws {TypeError} when `data` is neither text nor bytes (nothing is sent).
   * @throws {BufferFullError} for a ping or pong that would pass `maxBufferedAmount`.
   * @throws {CloseSentError} after this side sent its close frame.
   * @throws {TimeoutError} when `deadline` passes before the socket takes the frame.
   */
  writeControl(
    type: MessageType,
    data: MessageData = EMPTY,
    deadline?: Date | number,
  ): Promise<void> {
    if (!isControlType(type)) {
      return Promise.reject(new RangeError(`websocket: bad control message type ${type}`));
    }
    const bytes = toPayload(data);
    if (bytes === undefined) return Promise.reject(invalidData(data));
    const payload = toBuffer(bytes);
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      return Promise.reject(new RangeError('websocket: control frame payload over 125 bytes'));
    }
    if (this.#closeSent) return Promise.reject(this.#closedForWrites!);
    if (this.#writeError !== null) return Promise.reject(this.#writeError);
    let written: Promise<void>;
    if (type !== CloseMessage) {
      const full = this.#bufferFull(payload.length);
      if (full !== null) return Promise.reject(full);
      this.#writer.writeFrame(type, true, false, payload);
      written = this.#accepted();
    } else if (this.#openWriter === null && (this.#busy || this.#tasks.length > 0)) {
      // A close frame must not overtake messages already being compressed: they would be lost.
      written = this.#ordered(() => this.#writeClose(payload));
    } else {
      written = this.#writeClose(payload);
    }
    if (written === RESOLVED || deadline === undefined) return written;
    return withDeadline(written, toMillis(deadline), 'write');
  }

  #writeClose(payload: Buffer): Promise<void> {
    if (this.#closeSent) return Promise.reject(this.#closedForWrites!);
    if (this.#writeError !== null) return Promise.reject(this.#writeError);
    this.#markCloseSent(payload);
    this.#writer.writeFrame(CloseMessage, true, false, payload);
    this.#afterCloseSent();
    return this.#accepted();
  }

  /**
   * Writes a prepared message, whose frame is built once per kind of connection and shared.
   * Gorilla: `Conn.WritePreparedMessage`.
   *
   * @throws the same errors as {@link Conn.writeMessage}.
   */
  writePreparedMessage(message: PreparedMessage): Promise<void> {
    if (!isDataType(message.type)) return this.writeControl(message.type, message.data);
    if (this.#writeError !== null) return Promise.reject(this.#writeError);
    if (this.#writeDeadlinePassed()) return Promise.reject(this.#writeError!);
    const data = message.data;
    const type = message.type;
    const full = this.#bufferFull(data.length);
    if (full !== null) return Promise.reject(full);
    const deflate = this.#compressorFor(data);
    // Compressed frames are shared only when this side keeps no context between messages; with
    // context takeover each connection would have to compress the message itself, so it goes out
    // uncompressed and shared instead.
    const key = deflate?.preparedKey;
    const write = (): void => {
      if (deflate !== null && key !== undefined) {
        const payload = message.frame(`${key}:payload`, () => deflate.compressAlone(data));
        if (this.#isServer) {
          this.#writer.writeRaw(message.frame(key, () => unmaskedFrame(type, true, payload)));
        } else {
          this.#writer.writeFrame(type, true, true, payload);
        }
      } else if (this.#isServer) {
        this.#writer.writeRaw(message.frame('server', () => unmaskedFrame(type, false, data)));
      } else {
        this.#writer.writeFrame(type, true, false, data);
      }
    };
    if (this.#queueIdle()) {
      write();
      return this.#accepted();
    }
    return this.#enqueue(write, data.length);
  }

  /**
   * Writes `value` as a JSON text message. Gorilla: `Conn.WriteJSON`.
   *
   * @throws {TypeError} when `value` cannot be serialised (undefined, a function, a cycle).
   * @throws the same errors as {@link Conn.writeMessage}.
   */
  writeJSON(value: unknown): Promise<void> {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    if (text === undefined) return Promise.reject(new TypeError('websocket: value is not JSON'));
    return this.writeMessage(TextMessage, text);
  }

  /**
   * Sets the write deadline: a write still waiting for the socket when it passes, and every
   * write after it, fails with {@link TimeoutError}; the connection writes no more. `null`
   * clears it. Gorilla: `Conn.SetWriteDeadline`.
   *
   * @param deadline - a `Date`, epoch milliseconds, or `null`.
   */
  setWriteDeadline(deadline: Deadline): void {
    this.#writeDeadline.set(deadline === null ? null : toMillis(deadline));
    this.#writeDeadline.arm();
  }

  /**
   * Enables or disables compression of subsequent messages, when permessage-deflate was
   * negotiated. Gorilla: `Conn.EnableWriteCompression`.
   */
  enableWriteCompression(enable: boolean): void {
    this.#compressWrites = enable;
  }

  /**
   * Sets the zlib compression level (-1 to 9) of subsequent messages.
   * Gorilla: `Conn.SetCompressionLevel`.
   *
   * @throws {RangeError} for a level outside -1 to 9.
   */
  setCompressionLevel(level: number): void {
    if (!isCompressionLevel(level)) throw new RangeError('websocket: invalid compression level');
    this.#deflate?.setLevel(level);
  }

  // ---------------------------------------------------------------------------------------------
  // Closing

  /**
   * Closes the TCP connection at once, without sending or waiting for a close frame (as gorilla):
   * bytes already written are still delivered. Over HTTP/2 it resets the stream with `CANCEL`
   * (RFC 8441 section 5); the session and its other streams stay. Pending and later reads fail
   * with a 1006 {@link CloseError}. Gorilla: `Conn.Close`.
   */
  close(): void {
    if (this.#socketClosed) return;
    const err = new CloseError(CloseAbnormalClosure, 'connection closed');
    this.#reader.stop();
    this.#failRead(err, false);
    this.#writer.flush();
    this.#failWrite(err);
    // Destroy once the socket has handed everything to the kernel, which still delivers it.
    const socket = this.#socket;
    if (socket.writableLength === 0) {
      this.#transport.abort();
      return;
    }
    socket.once('finish', () => this.#transport.abort());
    this.#endSocket(CLOSE_TCP_TIMEOUT);
  }

  /**
   * Runs the whole closing handshake: sends a close frame (unless one was sent), waits up to
   * `timeoutMs` for the peer's, then ends the TCP connection. Writes queued before the call go
   * out first; unread messages are discarded. Resolves once the TCP connection is closed, in every
   * case, and never rejects.
   *
   * @param code - the close code (default 1000).
   * @param text - the reason.
   * @param timeoutMs - how long to wait for the peer (default 5000).
   */
  async closeGracefully(
    code: number = CloseNormalClosure,
    text = '',
    timeoutMs = 5000,
  ): Promise<void> {
    if (this.#socketClosed) return;
    const timer = setTimeout(() => this.#transport.abort(), timeoutMs);
    timer.unref();
    // Messages still arriving are dropped, so the peer's close frame is not held up behind them.
    this.#draining = true;
    this.#dropUnread();
    if (!this.#closeSent && this.#writeError === null) {
      let payload: Buffer;
      try {
        payload = formatCloseMessage(code, text);
      } catch {
        payload = formatCloseMessage(CloseNormalClosure);
      }
      await this.#ordered(() => this.writeControl(CloseMessage, payload)).catch(noop);
    }
    if (this.#closeReceived) {
      this.#afterCloseSent();
    } else if (this.#readError !== null || !this.#closeSent) {
      // No close frame will come (the read side failed), or ours could not be sent.
      this.#endSocket(CLOSE_TCP_TIMEOUT);
    } else {
      this.#resumeSocket();
    }
    await this.#closedPromise;
    clearTimeout(timer);
  }

  /**
   * Resolves once the TCP connection has closed, for whatever reason.
   */
  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  /**
   * Tells how the connection ended, or is ending: the code and reason of the first close frame
   * sent or received and which side sent it, or code 1006 once the TCP connection closed without
   * any. `undefined` while no close frame has crossed and the connection is open. Adapters log
   * it, so that a handler failing after the peer closed with 1009 is reported as such.
   */
  closeStatus(): CloseStatus | undefined {
    return this.#closeStatus ?? undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Properties

  /**
   * The bytes accepted by writes and not yet taken by the socket: frames waiting to be handed to
   * it, data the socket holds because the peer reads slowly, and messages queued behind a
   * compression or a message being streamed. Cheap to read, so a broadcast may check it for every
   * subscriber and skip the slow ones. Writes are refused past `maxBufferedAmount` (see
   * {@link BufferLimitOptions}). Not in gorilla; the name and meaning are the browser's and `ws`'s.
   */
  get bufferedAmount(): number {
    return this.#taskBytes + this.#writer.bufferedAmount;
  }

  /** Returns the negotiated subprotocol, `''` when none. Gorilla: `Conn.Subprotocol`. */
  subprotocol(): string {
    return this.#subprotocol;
  }

  /** Returns the negotiated `Sec-WebSocket-Extensions` value, `''` when none. */
  extensions(): string {
    return this.#extensions;
  }

  /**
   * Returns the local address, when the connection runs over TCP (over HTTP/2: the session's TCP
   * connection). Gorilla: `Conn.LocalAddr`.
   */
  localAddress(): AddressInfo | undefined {
    return this.#transport.localAddress();
  }

  /**
   * Returns the peer's address, when the connection runs over TCP (over HTTP/2: the session's
   * TCP connection). Gorilla: `Conn.RemoteAddr`.
   */
  remoteAddress(): AddressInfo | undefined {
    return this.#transport.remoteAddress();
  }

  /**
   * Returns the underlying socket: over HTTP/2 (RFC 8441), the `Http2Stream`. Reading from or
   * writing to it directly corrupts the connection. Gorilla: `Conn.UnderlyingConn`.
   */
  underlyingConn(): Duplex {
    return this.#socket;
  }

  // ---------------------------------------------------------------------------------------------
  // Read side internals

  #frameHandler(): FrameHandler {
    return {
      onDataFrame: (opcode, fin, compressed, length) =>
        this.#onDataFrame(opcode, fin, compressed, length),
      onPayload: (piece) => this.#onPayload(piece),
      onDataFrameEnd: (fin) => {
        if (fin) this.#onFinalFrameEnd();
      },
      onControl: (opcode, payload) => this.#onControl(opcode, payload),
      onProtocolError: (problems) => this.#fail(new ProtocolError(problems)),
    };
  }

  #onDataFrame(opcode: number, fin: boolean, compressed: boolean, length: number): void {
    let message = this.#current;
    if (this.#readError !== null) return;
    if (this.#limiter !== null && this.#overLimit(opcode !== OPCODE_CONTINUATION, 0)) return;
    if (opcode !== OPCODE_CONTINUATION) {
      message = new Incoming(opcode as DataMessageType);
      this.#current = message;
      this.#currentLimit = this.#readLimit;
      this.#fragments = 1;
      this.#validating = opcode === TextMessage;
      if (compressed) this.#startInflate(message);
      if (this.#draining) {
        message.discarded = true;
      } else {
        this.#queue.push(message);
        if (this.#waiters.length > 0) {
          const waiter = this.#waiters[0]!;
          if (
            fin &&
            !compressed &&
            !waiter.stream &&
            this.#queue.length === 1 &&
            length >= ASSEMBLE_MIN &&
            length <= this.#currentLimit
          ) {
            message.assembly = Buffer.allocUnsafe(length);
          }
          this.#serveWaiters();
        }
      }
    } else if (++this.#fragments > MAX_MESSAGE_FRAGMENTS) {
      this.#fail(
        new ProtocolError(
          `message of more than ${MAX_MESSAGE_FRAGMENTS} fragments`,
          ClosePolicyViolation,
          'ERR_WS_TOO_MANY_FRAGMENTS',
        ),
      );
      return;
    }
    // A compressed message is measured as it is inflated; a frame past 2^53 bytes is too big for
    // any limit.
    if (
      message !== null &&
      (!Number.isSafeInteger(length) ||
        (this.#decompressor === null && message.size + length > this.#currentLimit))
    ) {
      this.#fail(new ReadLimitError(this.#currentLimit));
    }
  }

  #startInflate(message: Incoming): void {
    this.#decompressor = this.#deflate!.decompressor(
      (piece) => this.#deliver(message, piece),
      (err) =>
        this.#fail(
          new ProtocolError(
            `invalid compressed data: ${err.message}`,
            CloseInvalidFramePayloadData,
            'ERR_WS_COMPRESSION',
          ),
        ),
    );
  }

  #onPayload(piece: Buffer): void {
    const message = this.#current;
    if (message === null) return;
    if (this.#limiter !== null && this.#overLimit(false, piece.length)) return;
    const decompressor = this.#decompressor;
    if (decompressor === null) {
      this.#deliver(message, piece);
    } else if (!decompressor.write(piece)) {
      // The inflater has a backlog: stop reading until it has worked through it.
      this.#inflateBacklog = true;
      this.#pauseSocket();
      decompressor.drained(() => {
        this.#inflateBacklog = false;
        this.#maybeResume();
      });
    }
  }

  // Hands a piece of message data (as received, or inflated) to its reader or queue. Returns
  // false once the connection failed.
  #deliver(message: Incoming, piece: Buffer): boolean {
    message.size += piece.length;
    if (this.#decompressor !== null && message.size > this.#currentLimit) {
      this.#fail(new ReadLimitError(this.#currentLimit));
      return false;
    }
    if (this.#validating && !this.#utf8.write(piece)) {
      this.#failUtf8();
      return false;
    }
    if (message.discarded) return true;
    if (message.reader !== null) {
      if (!message.reader.push(piece)) {
        this.#readerFull = true;
        this.#pauseSocket();
      }
      return true;
    }
    if (message.assembly !== null) {
      piece.copy(message.assembly, message.assembled);
      message.assembled += piece.length;
      return true;
    }
    const chunks = message.chunks;
    chunks.push(piece);
    message.length += piece.length;
    if (chunks.length >= COMPACT_AT) compact(message);
    this.#unreadBytes += piece.length;
    if (this.#unreadBytes > this.#readBufferSize) this.#checkBackpressure();
    return true;
  }

  // The final frame is in; a compressed message ends once its last piece is inflated, and the
  // frames behind it wait so messages stay in order.
  #onFinalFrameEnd(): void {
    const decompressor = this.#decompressor;
    if (decompressor === null) {
      this.#onMessageEnd();
      return;
    }
    this.#reader.pause();
    decompressor.end(() => {
      this.#decompressor = null;
      this.#onMessageEnd();
      this.#reader.resume();
    });
  }

  #onMessageEnd(): void {
    const message = this.#current;
    if (message === null) return;
    // Still #current while failing, so the failure drops it from the queue and fails its reader.
    if (this.#validating && !this.#utf8.end()) {
      this.#failUtf8();
      return;
    }
    this.#current = null;
    message.done = true;
    if (message.reader !== null) {
      message.reader.push(null);
      if (this.#streaming === message) this.#streaming = null;
      this.#readerFull = false;
    } else if (this.#waiters.length > 0) {
      this.#serveWaiters();
    } else if (this.#queue.length > MAX_QUEUED_MESSAGES) {
      this.#checkBackpressure();
    }
  }

  #failUtf8(): void {
    this.#fail(
      new ProtocolError(
        'invalid UTF-8 in text message',
        CloseInvalidFramePayloadData,
        'ERR_WS_INVALID_UTF8',
      ),
    );
  }

  #onControl(opcode: number, payload: Buffer): void {
    if (
      opcode !== CloseMessage &&
      this.#limiter !== null &&
      this.#overLimit(true, payload.length)
    ) {
      return;
    }
    if (opcode === PingMessage) {
      if (this.#pingHandler === null) this.#answerPing(payload);
      else this.#runHandler(this.#pingHandler, payload);
    } else if (opcode === PongMessage) {
      this.#runHandler(this.pongHandler(), payload);
    } else {
      const parsed = parseClosePayload(payload);
      if (!parsed.ok) {
        this.#fail(
          new ProtocolError(
            parsed.reason,
            parsed.closeCode,
            parsed.closeCode === CloseInvalidFramePayloadData
              ? 'ERR_WS_INVALID_UTF8'
              : 'ERR_WS_PROTOCOL',
          ),
        );
        return;
      }
      this.#closeReceived = true;
      this.#noteClose(parsed.code, parsed.text, 'peer');
      this.#reader.stop();
      this.#failRead(new CloseError(parsed.code, parsed.text), true);
      if (this.#closeHandler === null) this.#answerClose(parsed.code);
      else this.#runHandler(this.#closeHandler, parsed.code, parsed.text);
      this.#afterCloseSent();
    }
  }

  #runHandler<A extends unknown[]>(
    handler: (...args: A) => void | Promise<void>,
    ...args: A
  ): void {
    try {
      const result = handler.apply(this, args);
      if (result instanceof Promise) result.catch((err: unknown) => this.#handlerFailed(err));
    } catch (err) {
      this.#handlerFailed(err);
    }
  }

  #handlerFailed(err: unknown): void {
    this.#reader.stop();
    this.#failRead(toError(err), true);
  }

  // The default ping handler: a pong with the same payload. While the socket is still busy with
  // earlier frames only the latest ping is answered (RFC 6455 section 5.5.3), and once a second
  // ping arrives with a pong still owed the connection stops reading until that pong is handed to
  // the socket, as gorilla does by answering inside the read: a peer that floods pings and reads
  // nothing is held back by TCP, and the connection owes at most one pong.
  #answerPing(data: Buffer): void {
    if (this.#closeSent || this.#writeError !== null) return;
    if (this.#writer.writePong(data, (this.#afterPong ??= () => this.#pongSent()))) return;
    this.#pongBacklog = true;
    this.#pauseSocket();
  }

  #pongSent(): void {
    if (!this.#pongBacklog) return;
    this.#pongBacklog = false;
    this.#maybeResume();
  }

  // The default close handler: a close frame with the same code.
  #answerClose(code: number): void {
    this.writeControl(
      CloseMessage,
      formatCloseMessage(code),
      Date.now() + CONTROL_WRITE_WAIT,
    ).catch(noop);
  }

  #serveWaiters(): void {
    const waiters = this.#waiters;
    const queue = this.#queue;
    while (waiters.length > 0) {
      const waiter = waiters[0]!;
      const head = queue[0];
      if (head !== undefined) {
        if (waiter.stream) {
          queue.shift();
          this.#unreadBytes -= head.length;
          waiters.shift();
          waiter.resolve({ type: head.type, reader: this.#openStream(head) });
          continue;
        }
        if (!head.done) break;
        queue.shift();
        this.#unreadBytes -= head.length;
        waiters.shift();
        waiter.resolve({ type: head.type, data: joinChunks(head) });
        continue;
      }
      if (this.#readError === null) break;
      waiters.shift();
      waiter.reject(this.#readError);
    }
    this.#maybeResume();
  }

  #openStream(message: Incoming): MessageReader {
    const reader = new MessageReader(() => {
      if (this.#streaming === message && this.#readerFull) {
        this.#readerFull = false;
        this.#maybeResume();
      }
    });
    message.reader = reader;
    for (const chunk of message.chunks) reader.push(chunk);
    message.chunks = [];
    message.length = 0;
    if (message.done) {
      reader.push(null);
    } else {
      this.#streaming = message;
      if (this.#readError !== null) reader.fail(this.#readError);
    }
    return reader;
  }

  // Gorilla discards the rest of the previous message when the next reader is asked for.
  #discardStream(): void {
    const message = this.#streaming;
    if (message === null) return;
    this.#streaming = null;
    this.#readerFull = false;
    message.discarded = true;
    message.reader?.fail(new Error('websocket: message discarded by a later read'));
    this.#maybeResume();
  }

  #dropUnread(): void {
    this.#discardStream();
    for (const message of this.#queue) message.discarded = true;
    this.#queue.length = 0;
    this.#unreadBytes = 0;
  }

  // Pauses the socket when unread data passes the bounds; the message a reader waits for counts
  // as read.
  #checkBackpressure(): void {
    let unread = this.#unreadBytes;
    const head = this.#queue[0];
    if (this.#waiters.length > 0 && head !== undefined && !head.done) unread -= head.length;
    if (unread > this.#readBufferSize || this.#queue.length > MAX_QUEUED_MESSAGES)
      this.#pauseSocket();
  }

  #maybeResume(): void {
    if (!this.#socketPaused || this.#readerFull || this.#inflateBacklog || this.#pongBacklog) {
      return;
    }
    let unread = this.#unreadBytes;
    const head = this.#queue[0];
    if (this.#waiters.length > 0 && head !== undefined && !head.done) unread -= head.length;
    if (unread <= this.#readBufferSize && this.#queue.length <= MAX_QUEUED_MESSAGES)
      this.#resumeSocket();
  }

  #pauseSocket(): void {
    if (this.#socketPaused) return;
    this.#socketPaused = true;
    this.#socket.pause();
  }

  #resumeSocket(): void {
    if (!this.#socketPaused) return;
    this.#socketPaused = false;
    this.#socket.resume();
  }

  /**
   * Ends the read side with `err`. Messages complete before the failure stay readable when
   * `keepQueued` is set; the message in progress is lost.
   */
  #failRead(err: Error, keepQueued: boolean): void {
    if (this.#readError !== null) return;
    this.#readError = err;
    this.#decompressor?.abort();
    this.#decompressor = null;
    const current = this.#current;
    this.#current = null;
    if (current !== null && !current.done) {
      current.discarded = true;
      const index = this.#queue.indexOf(current);
      if (index >= 0) {
        this.#queue.splice(index, 1);
        this.#unreadBytes -= current.length;
      }
      current.reader?.fail(err);
    }
    this.#streaming = null;
    if (!keepQueued) {
      this.#queue.length = 0;
      this.#unreadBytes = 0;
    }
    this.#readDeadline.stop();
    this.#serveWaiters();
  }

  // ---------------------------------------------------------------------------------------------
  // Write side internals

  // A write's promise: settled now when the socket is below its high-water mark, else at drain.
  // A close frame written meanwhile does not fail it (its bytes go out first); a failure does.
  // Every write waiting for the same drain gets the same promise, so a write that is not awaited
  // costs no promise of its own.
  #accepted(): Promise<void> {
    if (!this.#writer.backedUp) return RESOLVED;
    const drained = this.#writer.drained();
    if (drained !== this.#drainSeen) {
      this.#drainSeen = drained;
      this.#acceptedAtDrain = drained.then(() => {
        if (this.#writeFailure !== null) throw this.#writeFailure;
      });
      this.#writeDeadline.arm();
    }
    return this.#acceptedAtDrain;
  }

  // Whether a write may go straight to the batch: nothing is queued ahead of it.
  #queueIdle(): boolean {
    return this.#openWriter === null && !this.#busy && this.#tasks.length === 0;
  }

  // The compressor for a message of `data`, when it is to be compressed.
  #compressorFor(data: string | Buffer): PerMessageDeflate | null {
    const deflate = this.#deflate;
    if (deflate === null || !this.#compressWrites || !deflate.canCompress) return null;
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    return length >= deflate.threshold ? deflate : null;
  }

  // Refuses a write of `size` bytes that would take bufferedAmount past the cap, unless nothing
  // is buffered; with closeOnBufferFull it also fails the connection with 1008.
  #bufferFull(size: number): BufferFullError | null {
    const max = this.#maxBuffered;
    if (max === Infinity) return null;
    const buffered = this.bufferedAmount;
    if (buffered === 0 || buffered + size <= max) return null;
    const err = new BufferFullError(max);
    if (this.#closeOnBufferFull) this.#fail(err);
    return err;
  }

  // Queues a write of `bytes` payload bytes behind earlier ones; the promise settles as a direct
  // write's would.
  #enqueue(write: () => Promise<void> | void, bytes: number): Promise<void> {
    this.#taskBytes += bytes;
    return new Promise<void>((resolve, reject) => {
      this.#tasks.push({
        run: () => {
          this.#taskBytes -= bytes;
          if (this.#writeError !== null) {
            reject(this.#writeError);
            return;
          }
          let written: Promise<void> | void;
          try {
            written = write();
          } catch (err) {
            reject(toError(err));
            return;
          }
          const settle = (): void => {
            if (this.#writeError !== null) reject(this.#writeError);
            else this.#accepted().then(resolve, reject);
          };
          if (written === undefined) {
            settle();
            return;
          }
          return written.then(settle, (err: unknown) => reject(toError(err)));
        },
        fail: reject,
      });
      this.#runTasks();
    });
  }

  // Compresses a message (or a piece of one) and writes its frame: at once for a small one
  // (returns undefined), else through the thread pool (resolves once the frame is in the batch).
  #writeCompressed(
    deflate: PerMessageDeflate,
    opcode: number,
    data: Buffer,
    first: boolean,
    fin: boolean,
  ): Promise<void> | undefined {
    let out: Buffer | undefined;
    try {
      out = deflate.compressSync(data, fin);
    } catch (err) {
      this.#failWrite(toError(err));
      throw err;
    }
    if (out !== undefined) {
      this.#writer.writeFrame(opcode, fin, first, out);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      deflate.compress(data, fin, (err, out) => {
        if (err !== null) {
          this.#failWrite(err);
          reject(err);
          return;
        }
        if (this.#writeError !== null) {
          reject(this.#writeError);
          return;
        }
        this.#writer.writeFrame(opcode, fin, first, out);
        resolve();
      });
    });
  }

  // Runs `write` after every write queued before it.
  #ordered(write: () => Promise<void>): Promise<void> {
    if (this.#queueIdle()) return write();
    return new Promise<void>((resolve, reject) => {
      this.#tasks.push({
        run: () => void write().then(resolve, reject),
        fail: reject,
      });
    });
  }

  #runTasks(): void {
    const tasks = this.#tasks;
    while (this.#openWriter === null && !this.#busy && tasks.length > 0) {
      const pending = tasks.shift()!.run();
      if (pending !== undefined) {
        this.#busy = true;
        void pending.finally(() => {
          this.#busy = false;
          this.#runTasks();
        });
      }
    }
  }

  #fragmentSink(deflate: PerMessageDeflate | null): FragmentSink {
    return {
      sendFragment: (data, fin) => {
        if (this.#writeError !== null) throw this.#writeError;
        if (this.#writeDeadlinePassed()) throw this.#writeError!;
        const full = this.#bufferFull(data.length);
        if (full !== null) throw full;
        const first = !this.#openWriterStarted;
        const opcode = first ? this.#openWriterType : OPCODE_CONTINUATION;
        this.#openWriterStarted = true;
        if (deflate !== null) {
          const pending = this.#writeCompressed(deflate, opcode, data, first, fin);
          if (pending !== undefined) return pending.then(() => this.#accepted());
        } else {
          this.#writer.writeFrame(opcode, fin, false, data);
        }
        const accepted = this.#accepted();
        return accepted === RESOLVED ? undefined : accepted;
      },
      release: (midMessage, err) => {
        this.#openWriter = null;
        if (midMessage && this.#writeError === null) {
          // The peer holds part of a message that can never be finished.
          this.#fail(
            err instanceof BufferFullError
              ? err
              : new ProtocolError('message writer destroyed mid-message', CloseInternalServerErr),
          );
          return;
        }
        this.#runTasks();
      },
    };
  }

  #writeDeadlinePassed(): boolean {
    if (!this.#writeDeadline.passed()) return false;
    this.#failWrite(new TimeoutError('write'));
    return true;
  }

  #failWrite(err: Error): void {
    this.#writeFailure ??= err;
    if (this.#writeError !== null) return;
    this.#writeError = err;
    this.#taskBytes = 0;
    const tasks = this.#tasks.splice(0);
    for (const task of tasks) task.fail(err);
    destroyWriter(this.#openWriter, err);
    this.#writer.abort();
  }

  // Writes after our close frame fail: with the peer's CloseError when we only answered its close
  // frame, else with CloseSentError; both say who closed, with which code.
  #markCloseSent(payload: Buffer): void {
    this.#closeSent = true;
    const parsed = parseClosePayload(payload);
    if (parsed.ok) this.#noteClose(parsed.code, parsed.text, 'local');
    const status = this.#closeStatus;
    const err =
      status?.initiator === 'peer'
        ? new CloseError(status.code, status.reason, {
            detail: 'the peer closed the connection; nothing can be written after its close frame',
          })
        : new CloseSentError(status?.code, status?.reason);
    this.#closedForWrites = err;
    if (this.#writeError === null) {
      this.#writeError = err;
      this.#taskBytes = 0;
      const tasks = this.#tasks.splice(0);
      for (const task of tasks) task.fail(err);
      const writer = this.#openWriter;
      this.#openWriter = null;
      destroyWriter(writer, err);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Connection end

  /**
   * Fails the connection (RFC 6455 section 7.1.7): sends a close frame with the error's code,
   * stops reading, and ends the TCP connection without waiting for the peer.
   */
  // Whether what arrived (a new message or control frame, and `bytes` of payload) broke the
  // rateLimit option; if so, the connection has failed with 1008.
  #overLimit(message: boolean, bytes: number): boolean {
    const limiter = this.#limiter!;
    const err = message ? limiter.message(bytes) : limiter.bytes(bytes);
    if (err === null) return false;
    this.#fail(err);
    return true;
  }

  #fail(err: ProtocolError | ReadLimitError | BufferFullError | RateLimitError): void {
    this.#failure ??= err;
    this.#reader.stop();
    this.#failRead(err, true);
    if (!this.#closeSent && this.#writeError === null) {
      const payload = formatCloseMessage(err.closeCode);
      this.#markCloseSent(payload);
      this.#writer.writeFrame(CloseMessage, true, false, payload);
    }
    this.#writer.flush();
    this.#endSocket(CLOSE_TCP_TIMEOUT);
  }

  // Once both close frames have crossed, the server ends TCP (RFC 6455 section 7.1.1); the client
  // waits for the server to, then gives up after a while.
  #afterCloseSent(): void {
    if (!this.#closeSent || !this.#closeReceived || this.#socketClosed) return;
    this.#writer.flush();
    if (this.#isServer) this.#endSocket(CLOSE_TCP_TIMEOUT);
    else this.#armCloseTimer(CLOSE_TCP_TIMEOUT);
  }

  #endSocket(timeoutMs: number): void {
    const socket = this.#socket;
    if (!socket.writableEnded) socket.end();
    this.#resumeSocket(); // read on, so the peer's FIN is seen
    this.#armCloseTimer(timeoutMs);
  }

  #armCloseTimer(timeoutMs: number): void {
    if (this.#closeTimer !== null || this.#socketClosed) return;
    this.#closeTimer = setTimeout(() => this.#transport.abort(), timeoutMs);
    this.#closeTimer.unref();
  }

  #onSocketEnd(): void {
    if (!this.#closeReceived) {
      this.#reader.stop();
      this.#failRead(new CloseError(CloseAbnormalClosure, 'unexpected EOF'), true);
    }
    this.#writer.flush();
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  #onSocketClose(): void {
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    this.#reader.stop();
    const cause = this.#socketError;
    const text = cause === undefined ? 'connection closed' : `connection closed: ${cause.message}`;
    this.#failRead(new CloseError(CloseAbnormalClosure, text, { cause }), true);
    this.#failWrite(new CloseError(CloseAbnormalClosure, text, { cause }));
    this.#writer.abort();
    this.#deflate?.close();
    this.#readDeadline.stop();
    this.#writeDeadline.stop();
    if (this.#closeTimer !== null) clearTimeout(this.#closeTimer);
    this.#heartbeat?.stop();
    this.#noteClose(CloseAbnormalClosure, '', undefined);
    const status = this.#closeStatus!;
    // A closing handshake that completed is a clean end, even if TCP was reset after it.
    const error =
      this.#failure ??
      (this.#closeReceived ? undefined : (cause ?? new CloseError(CloseAbnormalClosure, text)));
    this.#resolveClosed();
    publishClose(this, status.code, status.reason, error);
  }

  #heartbeatHost(): HeartbeatHost {
    return {
      ping: () => void this.writeControl(PingMessage, EMPTY).catch(noop),
      readingPaused: () => this.#socketPaused,
      // The peer is gone: reads fail with the keepalive's error, and the socket is dropped.
      expire: (err) => {
        this.#failure ??= err;
        this.#socketError ??= err;
        this.#reader.stop();
        this.#failRead(err, true);
        this.#transport.abort();
      },
    };
  }

  #noteClose(code: number, reason: string, initiator: CloseStatus['initiator']): void {
    this.#closeStatus ??= { code, reason, initiator };
  }
}

function noop(): void {}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

// A writer the application holds fails with `err` only if someone listens for it, so a connection
// that closes under an idle writer cannot crash the process.
function destroyWriter(writer: MessageWriter | null, err: Error): void {
  if (writer === null || writer.destroyed) return;
  writer.destroy(writer.listenerCount('error') > 0 ? err : undefined);
}

function joinChunks(message: Incoming): Buffer {
  if (message.assembly !== null) return message.assembly;
  const chunks = message.chunks;
  if (chunks.length === 1) return chunks[0]!;
  if (chunks.length === 0) return EMPTY;
  return Buffer.concat(chunks, message.length);
}

// Merges the trailing run of small pieces, so a message trickling in as tiny TCP reads holds a
// bounded number of Buffer objects; each byte is copied a bounded number of times.
function compact(message: Incoming): void {
  const chunks = message.chunks;
  let start = chunks.length;
  let bytes = 0;
  while (start > 0 && chunks[start - 1]!.length < SMALL_PIECE) bytes += chunks[--start]!.length;
  if (chunks.length - start < 2) return;
  const merged = Buffer.concat(chunks.slice(start), bytes);
  chunks.length = start;
  chunks.push(merged);
}

function withDeadline(promise: Promise<void>, deadline: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new TimeoutError(what)),
      Math.max(0, deadline - Date.now()),
    );
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(toError(err));
      },
    );
  });
}
