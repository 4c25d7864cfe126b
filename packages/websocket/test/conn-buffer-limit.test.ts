/**
 * `bufferedAmount` and the write cap (`maxBufferedAmount`, `closeOnBufferFull`): what a write
 * holds, the refusal, and the close policy, against raw peers that stop reading.
 */
import {
  BinaryMessage,
  BufferFullError,
  CloseMessage,
  CloseSentError,
  Dialer,
  formatCloseMessage,
  PingMessage,
  TextMessage,
  Upgrader,
  WebSocketError,
  type Conn,
} from '@silverback/websocket';
import { rejection, settle } from '../../../test/helpers/async';
import { useCleanups } from '../../../test/helpers/cleanups';
import { useMemoryConns } from '../../../test/helpers/duplex-pair';
import { closePayload, type ParsedFrame } from '../../../test/helpers/frames';
import { rawConnect, type RawClient } from '../../../test/helpers/raw-client';
import { startServer } from '../../../test/helpers/server';

const setup = useMemoryConns();
const cleanups = useCleanups();

const KIB64 = Buffer.alloc(64 * 1024, 7);

async function frames(peer: { nextFrame(): Promise<ParsedFrame | null> }, n: number) {
  const out: ParsedFrame[] = [];
  for (let i = 0; i < n; i++) out.push((await peer.nextFrame())!);
  return out;
}

/** A server connection with `options` and a raw TCP client that does not read. */
async function unreadPeer(
  options: ConstructorParameters<typeof Upgrader>[0],
): Promise<{ conn: Conn; client: RawClient }> {
  const server = await startServer(undefined, options);
  cleanups.push(server.close);
  const client = await rawConnect(server.port);
  client.socket.pause();
  return { conn: await server.nextConn(), client };
}

/**
 * Writes 64 KiB messages, letting the socket take what it will between them, until one is
 * refused; returns how many were accepted and the refusal.
 */
async function writeUntilRefused(conn: Conn): Promise<{ accepted: number; refusal: unknown }> {
  for (let accepted = 0; ; accepted++) {
    const outcome = await Promise.race([
      conn.writeMessage(BinaryMessage, KIB64).then(
        () => undefined,
        (err: unknown) => ({ err }),
      ),
      // The write waits for the socket to drain: go on writing meanwhile.
      settle().then(() => undefined),
    ]);
    if (outcome !== undefined) return { accepted, refusal: outcome.err };
    if (accepted > 10_000) throw new Error('never refused');
  }
}

describe('bufferedAmount', () => {
  test('counts the bytes written and not yet taken by the socket, down to 0 once read', async () => {
    const { conn, peer, peerSocket } = setup();
    expect(conn.bufferedAmount).toBe(0);
    peerSocket.pause();
    const written = conn.writeMessage(BinaryMessage, Buffer.alloc(100_000));
    // The frame is 100,010 bytes (a 10-byte header); the peer's buffer may have taken some.
    expect(conn.bufferedAmount).toBeGreaterThan(100_010 - 64 * 1024);
    expect(conn.bufferedAmount).toBeLessThanOrEqual(100_010);
    await settle();
    expect(conn.bufferedAmount).toBeGreaterThan(0);
    peerSocket.resume();
    await written;
    expect((await peer.nextFrame())!.payload.length).toBe(100_000);
    expect(conn.bufferedAmount).toBe(0);
  });

  test('counts messages queued behind a streamed one', async () => {
    const { conn, peerSocket } = setup();
    peerSocket.pause();
    const writer = await conn.nextWriter(TextMessage);
    const queued = conn.writeMessage(TextMessage, 'é'.repeat(500)); // waits for the writer
    expect(conn.bufferedAmount).toBe(1000);
    writer.end();
    peerSocket.resume();
    await queued;
  });
});

describe('maxBufferedAmount', () => {
  test('a peer that stops reading: writes past the cap are refused, nothing of them is sent, and the connection goes on', async () => {
    const { conn, client } = await unreadPeer({ maxBufferedAmount: 256 * 1024 });
    const { accepted, refusal } = await writeUntilRefused(conn);
    expect(refusal).toBeInstanceOf(BufferFullError);
    expect(refusal).toBeInstanceOf(WebSocketError);
    expect(refusal).toMatchObject({ code: 'ERR_WS_BUFFER_FULL', limit: 256 * 1024 });
    expect(conn.bufferedAmount).toBeLessThanOrEqual(256 * 1024);
    // Refused again while nothing has drained.
    await expect(conn.writeMessage(TextMessage, 'x'.repeat(256 * 1024))).rejects.toThrow(
      BufferFullError,
    );
    client.socket.resume();
    const received = await frames(client, accepted);
    expect(received.every((f) => f.opcode === 2 && f.payload.equals(KIB64))).toBe(true);
    // Once the peer has read everything, writes go again.
    expect(conn.bufferedAmount).toBe(0);
    await conn.writeMessage(TextMessage, 'end');
    expect(await client.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('end') });
  });

  test('writes in one tick are counted before the socket sees them', async () => {
    const { conn, peer } = setup({ maxBufferedAmount: 100_000 });
    const first = conn.writeMessage(BinaryMessage, KIB64);
    const second = conn.writeMessage(BinaryMessage, KIB64);
    await expect(second).rejects.toThrow(BufferFullError);
    await first;
    expect((await peer.nextFrame())!.payload.length).toBe(KIB64.length);
  });

  test('a message larger than the cap goes when nothing is buffered', async () => {
    const { conn, peer } = setup({ maxBufferedAmount: 1024 });
    const large = conn.writeMessage(BinaryMessage, KIB64);
    await expect(conn.writeMessage(TextMessage, 'small')).rejects.toThrow(BufferFullError);
    await large;
    expect((await peer.nextFrame())!.payload.length).toBe(KIB64.length);
    // Everything was taken: the next small write goes.
    expect(conn.bufferedAmount).toBe(0);
    await conn.writeMessage(TextMessage, 'small');
    expect((await peer.nextFrame())!.payload.toString()).toBe('small');
  });

  test('pings and pongs count against the cap; a close frame is never refused', async () => {
    const { conn, peer } = setup({ maxBufferedAmount: 1024 });
    void conn.writeMessage(BinaryMessage, KIB64);
    await expect(conn.writeControl(PingMessage, 'p')).rejects.toThrow(BufferFullError);
    await conn.writeControl(CloseMessage, formatCloseMessage(1000, 'bye'));
    const [data, close] = await frames(peer, 2);
    expect(data!.opcode).toBe(2);
    expect(close).toMatchObject({ opcode: 8, payload: closePayload(1000, 'bye') });
  });

  test('a refused fragment fails the stream, and the connection when the message had begun', async () => {
    const { conn, peer, peerSocket } = setup({ maxBufferedAmount: 1024 });
    peerSocket.pause();
    const large = conn.writeMessage(BinaryMessage, KIB64);
    const writer = await conn.nextWriter(TextMessage);
    const failed = new Promise((resolve) => writer.on('error', resolve));
    writer.write('refused');
    expect(await failed).toBeInstanceOf(BufferFullError);
    peerSocket.resume();
    await large;
    // Nothing of the message went out, so the connection still works.
    await conn.writeMessage(TextMessage, 'after');
    const [data, after] = await frames(peer, 2);
    expect(data!.opcode).toBe(2);
    expect(after).toMatchObject({ opcode: 1, payload: Buffer.from('after') });
  });

  test('closeOnBufferFull: the connection fails with 1008 once a write passes the cap', async () => {
    const { conn, client } = await unreadPeer({
      maxBufferedAmount: 256 * 1024,
      closeOnBufferFull: true,
    });
    const reading = rejection(conn.readMessage());
    const { accepted, refusal } = await writeUntilRefused(conn);
    expect(refusal).toBeInstanceOf(BufferFullError);
    expect(await reading).toBe(refusal);
    await expect(conn.writeMessage(TextMessage, 'late')).rejects.toThrow(CloseSentError);
    client.socket.resume();
    // What was accepted still arrives, then the close frame.
    const received = await frames(client, accepted + 1);
    expect(received.slice(0, accepted).every((f) => f.opcode === 2)).toBe(true);
    expect(received[accepted]).toMatchObject({ opcode: 8, payload: closePayload(1008) });
    await client.ended;
    await conn.closed;
  });

  test('a Dialer passes the cap to its connections', async () => {
    const server = await startServer(async (conn) => {
      for await (const _ of conn); // reads and drops every message
    });
    cleanups.push(server.close);
    const { conn } = await new Dialer({ maxBufferedAmount: 1024 }).dial(server.url);
    cleanups.push(() => conn.close());
    // More than the kernel takes in one write, so that much stays buffered.
    const large = conn.writeMessage(BinaryMessage, Buffer.alloc(16 << 20));
    await expect(conn.writeMessage(TextMessage, 'small')).rejects.toThrow(BufferFullError);
    await large;
  });

  test('options are checked where they are given', () => {
    expect(() => new Upgrader({ maxBufferedAmount: 0 })).toThrow(RangeError);
    expect(() => new Upgrader({ maxBufferedAmount: Number.NaN })).toThrow(RangeError);
    expect(() => new Dialer({ maxBufferedAmount: -5 })).toThrow(RangeError);
    expect(() => new Dialer({ closeOnBufferFull: 1 as unknown as boolean })).toThrow(TypeError);
    expect(
      () => new Upgrader({ maxBufferedAmount: Infinity, closeOnBufferFull: true }),
    ).not.toThrow();
  });
});
