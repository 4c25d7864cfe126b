/**
 * Two linked in-memory Duplex streams that behave like the two ends of a TCP connection, for
 * `Conn` tests without sockets (gorilla's `fakeNetConn`, ws's `duplex-pair.js`):
 * - each chunk written on one end is copied (a socket hands the peer fresh memory, and the frame
 *   reader unmasks in place) and arrives on the other end, in slices of at most 16 KiB;
 * - flow control: a write completes only once the other end's readable buffer has room, so an end
 *   that stops reading makes its peer's writes back up, and the peer's `write()` returns false and
 *   waits for `'drain'`, as with a real socket whose kernel buffers filled;
 * - `end()` is a FIN (the other end sees `'end'`); `destroy()` drops the connection (the other end
 *   sees `'end'`, and its later writes go nowhere).
 * By default the first end allows half-open connections, as the sockets an HTTP server upgrades
 * do, and the second does not, as a client socket from `net.connect`: it ends its side as soon as
 * the other end's FIN arrives.
 *
 * Why not `MemorySocket` (`@silverback/websocket/adapter`), the package's own in-memory pair that
 * `inject` uses: it hands each write to the peer whole, so a 1 MiB write lands in the reader's
 * buffer at once and no test could see a reader that stops reading hold its writer back (the
 * `bytesSent` checks in conn-read.test.ts), nor a frame arrive in socket-sized pieces; its two
 * ends are both half-open, with Node's default buffer sizes. Giving it slices, per-end options
 * and a byte count would put test-only knobs into a runtime class and change what `inject`
 * delivers; and the connection tests would then rest on code of the package under test. So this
 * pair stays the tests' own, and `MemorySocket` is tested as part of the adapter layer.
 */
import { Duplex } from 'node:stream';
import { Conn } from '@silverback/websocket';
import { rawPeer, type RawPeer } from './raw-client';

// The most one 'data' event carries, as a socket reads at most so much at a time.
const SLICE = 16 * 1024;

/** One end of a {@link duplexPair}. */
export class PipeEnd extends Duplex {
  #peer: PipeEnd | null = null;
  #eof = false; // we told the peer there is no more data
  #blockedWrite: (() => void) | null = null; // the peer's write waiting for us to read

  /** Bytes this end has handed to its peer so far. */
  bytesSent = 0;

  constructor(highWaterMark: number | undefined, allowHalfOpen: boolean) {
    super({ allowHalfOpen, highWaterMark });
  }

  /** @internal */
  link(peer: PipeEnd): void {
    this.#peer = peer;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#deliver(chunk, 0, callback);
  }

  // Hands `chunk` to the peer a slice at a time, as a socket's reads would, waiting whenever the
  // peer's buffer is full.
  #deliver(chunk: Buffer, offset: number, callback: () => void): void {
    const peer = this.#peer!;
    while (offset < chunk.length) {
      if (peer.destroyed) {
        callback(); // the connection is gone: the bytes are lost, as on a reset socket
        return;
      }
      const end = Math.min(offset + SLICE, chunk.length);
      this.bytesSent += end - offset;
      const more = peer.push(Buffer.from(chunk.subarray(offset, end)));
      offset = end;
      if (!more && offset < chunk.length) {
        peer.#blockedWrite = () => this.#deliver(chunk, offset, callback);
        return;
      }
      if (!more) {
        peer.#blockedWrite = callback;
        return;
      }
    }
    callback();
  }

  override _final(callback: () => void): void {
    this.#sendEof();
    callback();
  }

  override _read(): void {
    const blocked = this.#blockedWrite;
    this.#blockedWrite = null;
    blocked?.();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#sendEof();
    // A write of the peer's waiting for us to read will never be read: let it complete.
    const blocked = this.#blockedWrite;
    this.#blockedWrite = null;
    blocked?.();
    callback(err);
  }

  #sendEof(): void {
    if (this.#eof) return;
    this.#eof = true;
    const peer = this.#peer!;
    if (!peer.destroyed) peer.push(null);
  }
}

/** Options of {@link duplexPair}. */
export interface DuplexPairOptions {
  /** Both ends' buffer sizes (Node's default, 16 KiB, when omitted). */
  highWaterMark?: number;
  /** Whether each end stays writable after the other's FIN; default `[true, false]`. */
  allowHalfOpen?: [boolean, boolean];
}

/** Returns two linked {@link PipeEnd}s. */
export function duplexPair(options: DuplexPairOptions = {}): [PipeEnd, PipeEnd] {
  const [halfOpenA, halfOpenB] = options.allowHalfOpen ?? [true, false];
  const a = new PipeEnd(options.highWaterMark, halfOpenA);
  const b = new PipeEnd(options.highWaterMark, halfOpenB);
  a.link(b);
  b.link(a);
  return [a, b];
}

/** Options of {@link memoryConn}: the connection's own, as the Upgrader or Dialer passes them. */
export type MemoryConnOptions = Partial<ConstructorParameters<typeof Conn>[1]> & {
  /** Both ends' stream buffer size. */
  highWaterMark?: number;
};

/** A `Conn` on one end of a {@link duplexPair}, and a raw peer on the other. */
export interface MemoryConn {
  conn: Conn;
  /** The raw peer: sends exact bytes and parses the frames the connection writes. */
  peer: RawPeer;
  /** The connection's end of the pair. */
  socket: PipeEnd;
  /** The peer's end of the pair (pause it to stop reading). */
  peerSocket: PipeEnd;
}

/**
 * Returns a connection (the server role unless `isServer: false`) talking to a raw peer in
 * memory. Frames the peer sends must be masked when the connection is a server.
 */
export function memoryConn(options: MemoryConnOptions = {}): MemoryConn {
  const { highWaterMark, ...connOptions } = options;
  const [socket, peerSocket] = duplexPair({ highWaterMark });
  const conn = new Conn(socket, { isServer: true, ...connOptions });
  return { conn, peer: rawPeer(peerSocket), socket, peerSocket };
}

/**
 * Returns a `setup` for a test file: each call opens a {@link memoryConn}, and every connection it
 * opened is closed after each test. Call it at the top level of the file.
 */
export function useMemoryConns(): (options?: MemoryConnOptions) => MemoryConn {
  const conns: Conn[] = [];
  afterEach(() => {
    for (const conn of conns.splice(0)) conn.close();
  });
  return (options) => {
    const pair = memoryConn(options);
    conns.push(pair.conn);
    return pair;
  };
}
