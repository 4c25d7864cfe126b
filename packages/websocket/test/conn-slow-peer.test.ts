/**
 * Peers that read slowly or not at all, from raw TCP sockets: what they can make a connection
 * hold. A ping flood leaves at most one pong owed and stops the connection reading; unawaited
 * writes are held in memory within a small constant of their bytes.
 */
import { TextMessage, type Conn } from '@silverback/websocket';
import { settle } from '../../../test/helpers/async';
import { useCleanups } from '../../../test/helpers/cleanups';
import { rawConnect, type RawClient } from '../../../test/helpers/raw-client';
import { startServer } from '../../../test/helpers/server';

const cleanups = useCleanups();

/** A server connection (nobody reads its messages) and a raw TCP client that does not read. */
async function unreadPeer(): Promise<{ conn: Conn; client: RawClient }> {
  const server = await startServer();
  cleanups.push(server.close);
  const client = await rawConnect(server.port);
  client.socket.pause();
  return { conn: await server.nextConn(), client };
}

/**
 * `count` masked pings of 125 bytes, back to back; ping `i` carries `i` in its first four bytes.
 * The mask key is zero, so the payload is written as it is.
 */
function pings(count: number): Buffer {
  const size = 2 + 4 + 125;
  const flood = Buffer.alloc(size * count);
  for (let i = 0; i < count; i++) {
    const at = i * size;
    flood[at] = 0x89; // FIN, ping
    flood[at + 1] = 0x80 | 125; // masked, 125 bytes
    flood.writeUInt32BE(i, at + 6);
  }
  return flood;
}

/**
 * Reads the client's socket until the pong answering ping `last` arrives; returns the index each
 * pong carried. Fails on any other frame.
 */
function pongIndices(client: RawClient, last: number): Promise<number[]> {
  const socket = client.socket;
  socket.removeAllListeners('data'); // the raw client's own parser keeps every byte
  const indices: number[] = [];
  let rest: Buffer = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      let bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      while (bytes.length >= 2) {
        const length = bytes[1]! & 0x7f;
        if (bytes[0] !== 0x8a || length > 125) {
          reject(new Error(`not a pong: ${bytes.subarray(0, 2).toString('hex')}`));
          return;
        }
        if (bytes.length < 2 + length) break;
        indices.push(bytes.readUInt32BE(2));
        bytes = bytes.subarray(2 + length);
      }
      rest = bytes;
      if (indices.at(-1) === last) resolve(indices);
    });
    socket.resume();
  });
}

/** Lets the event loop turn until `condition` holds (a bounded number of times). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn > 100_000) throw new Error(`never: ${what}`);
    await settle();
  }
}

test('a ping flood from a peer that never reads: one pong owed at most, reading stops, the latest ping is answered', async () => {
  const { conn, client } = await unreadPeer();
  const count = 200_000; // 26 MB of pings, far more than the kernel's buffers hold of pongs
  client.socket.write(pings(count));
  const serverSocket = conn.underlyingConn();
  // Once pongs back up, the connection owes one and stops reading the flood.
  await until(() => serverSocket.isPaused(), 'the server stops reading');
  // What it holds for the peer is the batch the socket is writing (pongs for one read of pings)
  // and the one pong owed, not a pong per ping.
  expect(conn.bufferedAmount).toBeLessThan(256 * 1024);
  for (let i = 0; i < 10; i++) await settle();
  expect(serverSocket.isPaused()).toBe(true);
  expect(conn.bufferedAmount).toBeLessThan(256 * 1024);

  // The peer reads at last: every frame is a pong, answering pings in order, and the last ping
  // of the flood is answered; pings that came while a pong was owed were answered by a later one.
  // (Frames are scanned here as they come: tens of megabytes through the raw client's parser
  // would take minutes.)
  const indices = await pongIndices(client, count - 1);
  const outOfOrder = indices.findIndex((index, i) => i > 0 && index <= indices[i - 1]!);
  expect(outOfOrder).toBe(-1);
  expect(indices.at(-1)).toBe(count - 1);
  const pongs = indices.length;
  expect(pongs).toBeLessThan(count);
});

test('unawaited writes to a peer that never reads: bufferedAmount counts them, memory stays within a small constant of their bytes', async () => {
  const { conn, client } = await unreadPeer();
  const count = 100_000;
  const message = 'm'.repeat(32); // a 34-byte frame
  const allocated: number[] = [];
  const spies = [jest.spyOn(Buffer, 'allocUnsafe'), jest.spyOn(Buffer, 'allocUnsafeSlow')];
  const promises = new Set<Promise<void>>();
  try {
    for (let i = 0; i < count; i++) promises.add(conn.writeMessage(TextMessage, message));
    for (const spy of spies) for (const [size] of spy.mock.calls) allocated.push(size);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  const queued = count * 34;
  expect(conn.bufferedAmount).toBe(queued);
  // No write allocated on its own account: batch buffers grow to 16 KiB and are filled.
  expect(allocated.length).toBeLessThan(queued / 8192);
  expect(allocated.reduce((sum, size) => sum + size, 0)).toBeLessThan(queued + 64 * 1024);
  // Nor a promise of its own: the writes waiting for the socket to drain share one.
  expect(promises.size).toBeLessThanOrEqual(2);

  client.socket.resume();
  for (let i = 0; i < count; i++) {
    const frame = (await client.nextFrame())!;
    if (frame.opcode !== 1 || frame.payload.toString() !== message) {
      throw new Error(`frame ${i} is not the message written`);
    }
  }
  await Promise.all(promises);
  expect(conn.bufferedAmount).toBe(0);
});
