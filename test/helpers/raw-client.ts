/**
 * A raw WebSocket client over a plain TCP socket: it performs the opening handshake by hand,
 * then writes exact bytes and reads the server's frames one by one. For conformance tests that
 * must send what no well-behaved library would.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseFrame, parseFrameHeader, type ParsedFrame } from './frames';
import { upgradeRequestHead } from './upgrade-request';

/** A raw WebSocket peer over any byte stream: exact bytes out, parsed frames in. */
export interface RawPeer {
  /** Writes bytes as they are. */
  send(bytes: Buffer | Buffer[]): void;
  /** Resolves with the next whole frame, or `null` once the other side closed with none left. */
  nextFrame(): Promise<ParsedFrame | null>;
  /** Resolves once the other side has closed the connection (its FIN arrived). */
  ended: Promise<void>;
  /** Destroys the stream. */
  destroy(): void;
}

/** What the raw client saw when the connection ended. */
export interface RawClient extends RawPeer {
  socket: Socket;
  /** The server's handshake answer (status line and headers). */
  response: string;
}

/**
 * Wraps a stream whose WebSocket handshake is done (or was never needed, in memory): `initial`
 * holds bytes already read past the handshake.
 */
export function rawPeer(socket: Duplex, initial: Buffer = Buffer.alloc(0)): RawPeer {
  // Chunks wait in a list and are joined once the next frame is whole, so a large frame that
  // arrives in many small pieces (HTTP/2 DATA frames are 16 KiB) is copied once, not once a piece.
  let buffer = initial;
  const pending: Buffer[] = [];
  let pendingLength = 0;
  let ended = false;
  let notify: (() => void) | null = null;
  const wake = (): void => {
    const n = notify;
    notify = null;
    n?.();
  };
  socket.on('data', (chunk: Buffer) => {
    pending.push(chunk);
    pendingLength += chunk.length;
    wake();
  });
  // Joins the pending chunks unless the next frame's header is in and its payload still is not.
  const gather = (): void => {
    if (pending.length === 0) return;
    const header = parseFrameHeader(buffer);
    const needed = header === undefined ? 0 : header.headerSize + header.payloadLength;
    if (buffer.length + pendingLength < needed && !ended) return;
    buffer = Buffer.concat([buffer, ...pending]);
    pending.length = 0;
    pendingLength = 0;
  };
  const endedPromise = new Promise<void>((resolve) => {
    const done = (): void => {
      ended = true;
      wake();
      resolve();
    };
    socket.once('end', done);
    socket.once('close', done);
  });
  socket.on('error', () => {});
  return {
    send(bytes) {
      socket.write(Array.isArray(bytes) ? Buffer.concat(bytes) : bytes);
    },
    async nextFrame() {
      for (;;) {
        gather();
        const parsed = parseFrame(buffer);
        if (parsed) {
          buffer = buffer.subarray(parsed.size);
          return parsed.frame;
        }
        if (ended) return null;
        await new Promise<void>((resolve) => (notify = resolve));
      }
    },
    ended: endedPromise,
    destroy() {
      socket.destroy();
    },
  };
}

/**
 * Connects to `port`, sends an upgrade request for `path` with `headers` added, and resolves once
 * the server's answer is in. Rejects if the server answers with anything but 101.
 */
export async function rawConnect(
  port: number,
  path = '/',
  headers: Record<string, string> = {},
): Promise<RawClient> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(upgradeRequestHead(port, path, headers));

  // Read up to the end of the answer's head; the rest belongs to the frame stream.
  let buffer = Buffer.alloc(0);
  let headerEnd: number;
  while ((headerEnd = buffer.indexOf('\r\n\r\n')) < 0) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (data: Buffer): void => {
        socket.off('end', onEnd);
        socket.pause();
        resolve(data);
      };
      const onEnd = (): void => {
        socket.off('data', onData);
        resolve(null);
      };
      socket.once('data', onData);
      socket.once('end', onEnd);
      socket.resume();
    });
    if (chunk === null) throw new Error('connection closed during handshake');
    buffer = Buffer.concat([buffer, chunk]);
  }
  const response = buffer.subarray(0, headerEnd).toString('latin1');
  if (!response.startsWith('HTTP/1.1 101')) {
    socket.destroy();
    throw new Error(`handshake refused: ${response.split('\r\n')[0]}`);
  }
  const peer = rawPeer(socket, buffer.subarray(headerEnd + 4));
  socket.resume();
  return { ...peer, socket, response };
}
