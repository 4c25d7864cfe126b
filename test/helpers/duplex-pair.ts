/**
 * Two linked in-memory Duplex streams that behave like the two ends of a TCP connection, for
 * `Conn` tests without sockets (gorilla's `fakeNetConn`, ws's `duplex-pair.js`):
 * - each chunk written on one end is copied (a socket hands the peer fresh memory, and the frame
 *   reader unmasks in place) and arrives on the other end;
 * - flow control: a write completes only once the other end's readable buffer has room, so an end
 *   that stops reading makes its peer's writes back up, and the peer's `write()` returns false and
 *   waits for `'drain'`, as with a real socket whose kernel buffers filled;
 * - `end()` is a FIN (the other end sees `'end'`); `destroy()` drops the connection (the other end
 *   sees `'end'`, and its later writes go nowhere).
 * Both ends allow half-open connections, as the sockets an HTTP server upgrades do.
 */
import { Duplex } from 'node:stream';
import { Conn } from '@silverback/websocket';
import { rawPeer, type RawPeer } from './raw-client';

/** One end of a {@link duplexPair}. */
export class PipeEnd extends Duplex {
  #peer: PipeEnd | null = null;
  #eof = false; // we told the peer there is no more data
  #blockedWrite: (() => void) | null = null; // the peer's write waiting for us to read

  /** Bytes this end has handed to its peer so far. */
  bytesSent = 0;

  constructor(highWaterMark?: number) {
    super({ allowHalfOpen: true, highWaterMark });
  }

  /** @internal */
  link(peer: PipeEnd): void {
    this.#peer = peer;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    const peer = this.#peer!;
    if (peer.destroyed || peer.#eofReceived()) {
      callback(); // the connection is gone: the bytes are lost, as on a reset socket
      return;
    }
    this.bytesSent += chunk.length;
    if (peer.push(Buffer.from(chunk))) callback();
    else peer.#blockedWrite = callback;
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

  #eofReceived(): boolean {
    return this.readableEnded || this.#peer!.#eof;
  }

  #sendEof(): void {
    if (this.#eof) return;
    this.#eof = true;
    const peer = this.#peer!;
    if (!peer.destroyed) peer.push(null);
  }
}

/**
 * Returns two linked {@link PipeEnd}s. `highWaterMark` sets both ends' buffer sizes (Node's
 * default, 16 KiB, when omitted).
 */
export function duplexPair(highWaterMark?: number): [PipeEnd, PipeEnd] {
  const a = new PipeEnd(highWaterMark);
  const b = new PipeEnd(highWaterMark);
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
  const [socket, peerSocket] = duplexPair(highWaterMark);
  const conn = new Conn(socket, { isServer: true, ...connOptions });
  return { conn, peer: rawPeer(peerSocket), socket, peerSocket };
}
