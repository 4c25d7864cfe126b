/**
 * What the two conformance judges share. The server suite's `Peer` (`harness.ts`) plays a client
 * against our server; the client suite's `Judge` (`client/harness.ts`) plays a server against our
 * Dialer. Each writes exact frames, reads the frames of the side under test back as events,
 * checking every one, and ends each case as RFC 6455 requires. Bounds are deadlines that fail a
 * test, never waits that stand in for an event.
 */
import { once } from 'node:events';
import { settle } from '../helpers/async';
import { closePayload, type FrameSpec, type ParsedFrame } from '../helpers/frames';

/** Opcodes (RFC 6455 section 5.2). */
export const OP = {
  continuation: 0,
  text: 1,
  binary: 2,
  close: 8,
  ping: 9,
  pong: 10,
} as const;

/** How long one answer from the side under test may take before the case fails. */
export const ANSWER_BOUND_MS = 5000;
/**
 * How long the side under test may take to end TCP once the closing is settled. It ends TCP at
 * once; its fallback, destroying a socket whose peer never sends its FIN, fires after one second.
 */
export const END_BOUND_MS = 3000;

// ---------------------------------------------------------------------------------------------
// Frames a judge sends

/** How a frame differs from the plain one: FIN, reserved bits, masking, length form. */
export type FrameOptions = Omit<FrameSpec, 'opcode' | 'payload'>;

/** Builds a frame with any opcode, as the judge's role sends it unless `options` say otherwise. */
export type BuildFrame = (
  opcode: number,
  payload?: Buffer | string,
  options?: FrameOptions,
) => Buffer;

/** The frames a judge sends, each built by its {@link BuildFrame}. */
export interface FrameBuilders {
  /** A frame with any opcode, for reserved ones. */
  frame: BuildFrame;
  /** A text frame (final unless `fin: false`). */
  text: (payload?: Buffer | string, options?: FrameOptions) => Buffer;
  /** A binary frame (final unless `fin: false`). */
  binary: (payload?: Buffer | string, options?: FrameOptions) => Buffer;
  /** A continuation frame (final unless `fin: false`). */
  continuation: (payload?: Buffer | string, options?: FrameOptions) => Buffer;
  /** A ping frame. */
  ping: (payload?: Buffer | string, options?: FrameOptions) => Buffer;
  /** A pong frame. */
  pong: (payload?: Buffer | string, options?: FrameOptions) => Buffer;
  /** A close frame: no payload without a code, else the code and the reason. */
  close: (code?: number, reason?: Buffer | string, options?: FrameOptions) => Buffer;
  /**
   * Splits `payload` into a fragmented message of `size`-byte frames: the first carries `opcode`,
   * the rest are continuations, the last is final.
   */
  fragmented: (opcode: number, payload: Buffer, size: number) => Buffer[];
}

/** Returns the frame builders of a role, given how it builds one frame. */
export function frameBuilders(build: BuildFrame): FrameBuilders {
  return {
    frame: build,
    text: (payload = '', options = {}) => build(OP.text, payload, options),
    binary: (payload = '', options = {}) => build(OP.binary, payload, options),
    continuation: (payload = '', options = {}) => build(OP.continuation, payload, options),
    ping: (payload = '', options = {}) => build(OP.ping, payload, options),
    pong: (payload = '', options = {}) => build(OP.pong, payload, options),
    close: (code, reason = '', options = {}) => {
      let payload: Buffer = Buffer.alloc(0);
      if (code !== undefined) {
        payload =
          typeof reason === 'string'
            ? closePayload(code, reason)
            : Buffer.concat([closePayload(code), reason]);
      }
      return build(OP.close, payload, options);
    },
    fragmented: (opcode, payload, size) => {
      const frames: Buffer[] = [];
      let offset = 0;
      do {
        const piece = payload.subarray(offset, offset + size);
        offset += piece.length;
        frames.push(
          build(frames.length === 0 ? opcode : OP.continuation, piece, {
            fin: offset >= payload.length,
          }),
        );
      } while (offset < payload.length);
      return frames;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Events the side under test sends

/** What the side under test sent, one event per whole message or control frame. */
export type WireEvent =
  | { kind: 'text' | 'binary'; data: Buffer }
  | { kind: 'ping' | 'pong'; data: Buffer }
  | { kind: 'close'; code: number | undefined; reason: Buffer };

/** The control frames among the events. */
export type ControlEvent = Exclude<WireEvent, { kind: 'text' | 'binary' }>;

/** The data messages among a judge's events. */
export type DataEventOf<TEvent extends WireEvent> = Extract<TEvent, { kind: 'text' | 'binary' }>;

/** The echo of a text message, for the messages a failing side may have echoed first. */
export function echoOf(data: string): WireEvent {
  return { kind: 'text', data: Buffer.from(data) };
}

/** A short description of an event for failure messages. */
export function show(event: WireEvent | null): string {
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

/**
 * The event of a control frame, after the rules every endpoint's control frames obey: final, at
 * most 125 bytes (RFC 6455 section 5.5), a close payload of no or at least two bytes (section
 * 5.5.1). Any other opcode here is a reserved one, which fails the case.
 *
 * @param what - the frame, as failure messages name it.
 * @param sender - `'server'` or `'client'`.
 */
export function controlEvent(f: ParsedFrame, what: string, sender: string): ControlEvent {
  if (f.opcode >= OP.close) {
    if (!f.fin) throw new Error(`${what} is a fragmented control frame`);
    if (f.payload.length > 125) throw new Error(`${what} carries ${f.payload.length} bytes`);
  }
  switch (f.opcode) {
    case OP.ping:
      return { kind: 'ping', data: f.payload };
    case OP.pong:
      return { kind: 'pong', data: f.payload };
    case OP.close: {
      if (f.payload.length === 1) throw new Error(`${sender} close frame of one byte`);
      const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
      return { kind: 'close', code, reason: f.payload.subarray(2) };
    }
    default:
      throw new Error(`${what} uses a reserved opcode`);
  }
}

function sameEvent(a: WireEvent, b: WireEvent | null): boolean {
  if (b === null || a.kind !== b.kind) return false;
  if (a.kind === 'close' || b.kind === 'close') return false;
  return a.data.equals(b.data);
}

// ---------------------------------------------------------------------------------------------
// The judge

/** The end of a connection whose close ends a case: a socket, or an HTTP/2 stream's end. */
export interface WatchedEnd extends NodeJS.EventEmitter {
  readonly closed: boolean;
}

/**
 * One judged connection: sends frames, reads the events of the side under test, and holds the
 * expectations every case is written in.
 *
 * @typeParam TEvent - the events the subclass reads.
 */
export abstract class WireJudge<TEvent extends WireEvent> {
  /** The frames this judge's role sends. */
  readonly frames: FrameBuilders;
  readonly #watched: WatchedEnd;
  readonly #watchedName: string;

  /**
   * @param frames - the frames of the judge's role.
   * @param watched - the socket whose close ends a case.
   * @param watchedName - that socket, as failure messages name it.
   */
  constructor(frames: FrameBuilders, watched: WatchedEnd, watchedName: string) {
    this.frames = frames;
    this.#watched = watched;
    this.#watchedName = watchedName;
  }

  /**
   * Resolves with the next event of the side under test, or `null` once it ended TCP with
   * nothing more to say. Fails the case when no event comes within `timeoutMs` or a frame breaks
   * the rules.
   */
  abstract next(timeoutMs?: number): Promise<TEvent | null>;

  /** Writes bytes to the side under test. */
  protected abstract write(bytes: Buffer): void;

  /**
   * Called once the close frames crossed, before the end of the connection is awaited: a server
   * ends TCP here (RFC 6455 section 7.1.1), a client waits for the server to.
   */
  protected closeFramesCrossed(): void {}

  /** Writes frames (or any bytes) in one write. */
  send(...chunks: Buffer[]): void {
    this.write(Buffer.concat(chunks));
  }

  /**
   * Writes `bytes` in pieces whose sizes `size` gives (a number, or a function of the piece's
   * index), letting the event loop turn between them so the side under test reads each alone.
   */
  async sendChopped(bytes: Buffer, size: number | ((index: number) => number)): Promise<void> {
    let offset = 0;
    for (let index = 0; offset < bytes.length; index++) {
      const n = Math.max(1, typeof size === 'number' ? size : size(index));
      this.write(bytes.subarray(offset, offset + n));
      offset += n;
      await settle(); // the side under test reads each piece alone
    }
  }

  /** Expects the next event to be this data message, and returns it. */
  async expectMessage(
    kind: 'text' | 'binary',
    data: Buffer | string,
    timeoutMs = ANSWER_BOUND_MS,
  ): Promise<DataEventOf<TEvent>> {
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
    return event as DataEventOf<TEvent>;
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
    this.send(this.frames.ping(token));
    await this.expectPong(token);
  }

  /**
   * Expects the close frame with `code` (`undefined`: a close frame without a code) as the next
   * event, and then the end of the connection: no frame after it, the FIN of the side under test,
   * and the watched socket closed, each within its bound. Returns the close frame's reason.
   */
  async expectClose(
    code: number | undefined,
    timeoutMs = ANSWER_BOUND_MS,
  ): Promise<{ reason: Buffer }> {
    const event = await this.next(timeoutMs);
    if (event === null || event.kind !== 'close' || event.code !== code) {
      throw new Error(`expected close ${code ?? '(no code)'}, got ${show(event)}`);
    }
    this.closeFramesCrossed();
    await this.expectEnd();
    return { reason: event.reason };
  }

  /**
   * Expects the side under test to close on its own: its close frame with `code` (`undefined`: no
   * code) as the next event after the `optional` messages (each at most once and in order, as
   * when it fails before echoing what preceded a bad frame), then its own end of TCP without
   * waiting for the judge's, and the watched socket closed.
   */
  async expectCloseAfter(
    optional: readonly (WireEvent | TEvent)[],
    code: number | undefined,
  ): Promise<void> {
    let index = 0;
    for (;;) {
      const event = await this.next();
      if (event?.kind === 'close') {
        if (event.code !== code) {
          throw new Error(`expected close ${code ?? '(no code)'}, got ${show(event)}`);
        }
        break;
      }
      while (index < optional.length && !sameEvent(optional[index]!, event)) index++;
      if (index === optional.length) {
        throw new Error(`expected close ${code ?? '(no code)'}, got ${show(event)}`);
      }
      index++;
    }
    await this.expectEnd();
  }

  /**
   * Expects the side under test to fail the connection (RFC 6455 section 7.1.7) with `code`,
   * after the `optional` messages it may have echoed before the bad frame: see
   * {@link WireJudge.expectCloseAfter}.
   */
  async expectFailure(code: number, optional: readonly (WireEvent | TEvent)[] = []): Promise<void> {
    await this.expectCloseAfter(optional, code);
  }

  /** Runs the closing handshake from the judge's side: sends close 1000 and expects 1000 back. */
  async closeNormally(): Promise<void> {
    this.send(this.frames.close(1000));
    await this.expectClose(1000);
  }

  /**
   * Expects no further frame, the FIN of the side under test, and the watched socket closed,
   * within {@link END_BOUND_MS}.
   */
  async expectEnd(): Promise<void> {
    const after = await this.next(END_BOUND_MS);
    if (after !== null) throw new Error(`expected the end of TCP, got ${show(after)}`);
    await this.expectSocketClosed();
  }

  /** Expects the watched socket to close within {@link END_BOUND_MS}. */
  async expectSocketClosed(): Promise<void> {
    const socket = this.#watched;
    if (socket.closed) return;
    await within(once(socket, 'close'), END_BOUND_MS, `close of ${this.#watchedName}`);
  }
}
