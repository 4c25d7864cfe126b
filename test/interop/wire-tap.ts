/**
 * A TCP relay on 127.0.0.1 that sits between a WebSocket client and server and records what
 * crosses the wire: both handshake heads, then every frame's header (and the payload of control
 * frames). Interop tests use it to see what neither library reports: whether a message went out
 * fragmented, whether its frames were compressed (RSV1), which pings, pongs and close frames
 * each side sent.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { parseFrameHeader } from '../helpers/frames';
import { listenOnLoopback, serverCloser } from '../helpers/listen';

/** `toServer`: written by the client; `toClient`: written by the server. */
export type Direction = 'toServer' | 'toClient';

/** One frame as it crossed the wire. */
export interface TapFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  /** The payload's length on the wire (compressed, if it was). */
  length: number;
  /** The unmasked payload of a control frame; data frames keep only their length. */
  payload: Buffer | undefined;
}

/** One data message as it crossed the wire. */
export interface TapMessage {
  /** The first frame's opcode: 1 text, 2 binary. */
  opcode: number;
  /** How many frames carried it. */
  frames: number;
  /** Whether its first frame had RSV1 set (permessage-deflate compressed it). */
  compressed: boolean;
  /** Whether every frame was masked. */
  masked: boolean;
  /** Its payload bytes on the wire, over all frames. */
  wireLength: number;
}

const CONTROL = 0x8;
const CLOSE = 0x8;

/** Records one direction of a connection: the HTTP head, then frames. */
class DirectionRecorder {
  head = '';
  readonly frames: TapFrame[] = [];
  #inHead = true;
  #pending = Buffer.alloc(0); // bytes of an unfinished head or frame header
  #frame: TapFrame | null = null; // the frame whose payload is arriving
  #remaining = 0;
  #key: Buffer | undefined;
  #control: Buffer[] = [];

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.#inHead) {
      this.#pending = Buffer.concat([this.#pending, data]);
      const end = this.#pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.#pending.subarray(0, end).toString('latin1');
      data = this.#pending.subarray(end + 4);
      this.#pending = Buffer.alloc(0);
      this.#inHead = false;
    }
    while (data.length > 0) {
      if (this.#frame === null) {
        this.#pending = Buffer.concat([this.#pending, data]);
        const header = parseFrameHeader(this.#pending);
        if (header === undefined) return;
        data = this.#pending.subarray(header.headerSize);
        this.#pending = Buffer.alloc(0);
        this.#frame = {
          fin: header.fin,
          rsv1: header.rsv1,
          opcode: header.opcode,
          masked: header.masked,
          length: header.payloadLength,
          payload: undefined,
        };
        this.#remaining = header.payloadLength;
        this.#key = header.maskKey;
        this.#control = [];
        if (this.#remaining === 0) this.#finishFrame();
        continue;
      }
      const n = Math.min(this.#remaining, data.length);
      if ((this.#frame.opcode & CONTROL) !== 0) this.#control.push(data.subarray(0, n));
      this.#remaining -= n;
      data = data.subarray(n);
      if (this.#remaining === 0) this.#finishFrame();
    }
  }

  #finishFrame(): void {
    const frame = this.#frame!;
    if ((frame.opcode & CONTROL) !== 0) {
      const payload = Buffer.concat(this.#control);
      const key = this.#key;
      if (key !== undefined) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
      frame.payload = payload;
    }
    this.frames.push(frame);
    this.#frame = null;
  }
}

/** What crossed one relayed connection so far. */
export class TappedConnection {
  readonly #recorders: Record<Direction, DirectionRecorder> = {
    toServer: new DirectionRecorder(),
    toClient: new DirectionRecorder(),
  };
  /** Resolves once both TCP connections (client side and server side) have closed. */
  readonly closed: Promise<void>;

  /** @internal */
  constructor(client: Socket, upstream: Socket) {
    relay(client, upstream, this.#recorders.toServer);
    relay(upstream, client, this.#recorders.toClient);
    this.closed = Promise.all([once(client, 'close'), once(upstream, 'close')]).then(() => {});
  }

  /** The client's request head (`toServer`) or the server's answer head (`toClient`). */
  head(direction: Direction): string {
    return this.#recorders[direction].head;
  }

  /** A header of the server's handshake answer (the first, if repeated), or `undefined`. */
  responseHeader(name: string): string | undefined {
    const prefix = `${name.toLowerCase()}:`;
    const line = this.head('toClient')
      .split('\r\n')
      .find((l) => l.toLowerCase().startsWith(prefix));
    return line?.slice(prefix.length).trim();
  }

  /** Every frame sent in `direction`, in order. */
  frames(direction: Direction): TapFrame[] {
    return this.#recorders[direction].frames;
  }

  /** The data messages sent in `direction` (a message still being sent is left out). */
  messages(direction: Direction): TapMessage[] {
    const messages: TapMessage[] = [];
    let current: TapMessage | null = null;
    for (const frame of this.frames(direction)) {
      if ((frame.opcode & CONTROL) !== 0) continue;
      if (current === null) {
        current = {
          opcode: frame.opcode,
          frames: 0,
          compressed: frame.rsv1,
          masked: true,
          wireLength: 0,
        };
      }
      current.frames++;
      current.masked &&= frame.masked;
      current.wireLength += frame.length;
      if (frame.fin) {
        messages.push(current);
        current = null;
      }
    }
    return messages;
  }

  /** The control frames with `opcode` sent in `direction`. */
  controls(direction: Direction, opcode: number): TapFrame[] {
    return this.frames(direction).filter((f) => f.opcode === opcode);
  }

  /** The close frames sent in `direction`, decoded. */
  closes(direction: Direction): { code: number | undefined; reason: string }[] {
    return this.controls(direction, CLOSE).map(({ payload }) => ({
      code: payload !== undefined && payload.length >= 2 ? payload.readUInt16BE(0) : undefined,
      reason: payload !== undefined ? payload.subarray(2).toString() : '',
    }));
  }
}

// Forwards `from` to `to`, recording each chunk before passing it on, so a recorded frame has
// always been recorded by the time the far side can answer it. A FIN is passed on as a FIN; a
// connection torn down with an error tears down the other.
function relay(from: Socket, to: Socket, recorder: DirectionRecorder): void {
  from.on('data', (chunk: Buffer) => {
    recorder.push(chunk);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => to.end());
  from.on('error', () => {});
  from.on('close', (hadError) => {
    if (hadError) to.destroy();
    else to.end();
  });
}

/** A listening tap in front of one server. */
export interface WireTap {
  port: number;
  /** `ws://127.0.0.1:<port>` */
  url: string;
  /** Resolves with the next relayed connection, in the order clients connected. */
  nextConnection(): Promise<TappedConnection>;
  /** Destroys every relayed connection and stops listening. */
  close(): Promise<void>;
}

/** Starts a tap on 127.0.0.1 (port 0) relaying to `targetPort` on 127.0.0.1. */
export async function startTap(targetPort: number): Promise<WireTap> {
  const connections: TappedConnection[] = [];
  const waiting: ((c: TappedConnection) => void)[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    client.setNoDelay(true);
    // Writes to `upstream` wait in its buffer until it connects.
    const upstream = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    closer.track(upstream);
    upstream.setNoDelay(true);
    const tapped = new TappedConnection(client, upstream);
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(tapped);
    else connections.push(tapped);
  });
  const closer = serverCloser(server);
  const port = await listenOnLoopback(server);
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    nextConnection() {
      const ready = connections.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close: closer.close,
  };
}
