import { CloseError, CloseMessage, formatCloseMessage, TextMessage } from '@silverback/websocket';
import { settle } from '../../../test/helpers/async';
import { useMemoryConns } from '../../../test/helpers/duplex-pair';
import { closePayload, frame, type ParsedFrame } from '../../../test/helpers/frames';
import type { RawPeer } from '../../../test/helpers/raw-client';

const setup = useMemoryConns();

/** Every frame until the connection ends. */
async function framesUntilEnd(peer: RawPeer): Promise<ParsedFrame[]> {
  const frames: ParsedFrame[] = [];
  for (let next = await peer.nextFrame(); next !== null; next = await peer.nextFrame()) {
    frames.push(next);
  }
  return frames;
}

const close = (code: number, reason = ''): Buffer =>
  frame({ opcode: 8, payload: closePayload(code, reason) });

describe('close()', () => {
  test('closes TCP at once without a close frame; reads and writes fail with 1006', async () => {
    const { conn, peer } = setup();
    const pendingRead = conn.readMessage();
    conn.close();
    await expect(pendingRead).rejects.toMatchObject({ code: 1006 });
    await expect(conn.readMessage()).rejects.toBeInstanceOf(CloseError);
    await expect(conn.writeMessage(TextMessage, 'x')).rejects.toMatchObject({ code: 1006 });
    expect(await framesUntilEnd(peer)).toEqual([]);
    await conn.closed;
    expect(conn.underlyingConn().destroyed).toBe(true);
  });

  test('bytes written before close() are still delivered', async () => {
    const { conn, peer } = setup();
    void conn.writeMessage(TextMessage, 'last words');
    conn.close();
    const frames = await framesUntilEnd(peer);
    expect(frames.map((f) => f.payload.toString())).toEqual(['last words']);
  });

  test('unread messages are dropped', async () => {
    const { conn, peer } = setup();
    peer.send(frame({ opcode: 1, payload: 'unread' }));
    await settle();
    conn.close();
    await expect(conn.readMessage()).rejects.toMatchObject({ code: 1006 });
  });

  test('close() twice, or after the peer left, is harmless', async () => {
    const { conn, peer } = setup();
    peer.destroy();
    await conn.closed;
    conn.close();
    conn.close();
    await expect(conn.readMessage()).rejects.toMatchObject({ code: 1006 });
  });
});

describe('closeGracefully()', () => {
  test('peer answers: close frame sent, answer awaited, TCP closed, then it resolves', async () => {
    const { conn, peer } = setup();
    const closing = conn.closeGracefully(4000, 'shutting down');
    const sent = await peer.nextFrame();
    expect(sent).toMatchObject({ opcode: 8, payload: closePayload(4000, 'shutting down') });
    let resolved = false;
    void closing.then(() => (resolved = true));
    await settle();
    expect(resolved).toBe(false);
    peer.send(close(4000));
    await closing;
    expect(conn.underlyingConn().destroyed).toBe(true);
    await peer.ended;
    await expect(conn.readMessage()).rejects.toMatchObject({ code: 4000 });
  });

  test('peer silent: it resolves once the timeout passes, the socket destroyed', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const { conn, peer } = setup();
      let resolved = false;
      const closing = conn.closeGracefully(1000, '', 5000).then(() => (resolved = true));
      await expect(peer.nextFrame()).resolves.toMatchObject({ opcode: 8 });
      jest.advanceTimersByTime(4999);
      await settle();
      expect(resolved).toBe(false);
      expect(conn.underlyingConn().destroyed).toBe(false);
      jest.advanceTimersByTime(1);
      await closing;
      expect(conn.underlyingConn().destroyed).toBe(true);
      await peer.ended;
    } finally {
      jest.useRealTimers();
    }
  });

  test('peer gone before the call: it resolves', async () => {
    const { conn, peer } = setup();
    peer.destroy();
    await conn.closed;
    await expect(conn.closeGracefully()).resolves.toBeUndefined();
  });

  test('peer gone during the wait: it resolves', async () => {
    const { conn, peer } = setup();
    const closing = conn.closeGracefully(1000, '', 60_000);
    await peer.nextFrame();
    peer.destroy();
    await expect(closing).resolves.toBeUndefined();
  });

  test('after the peer closed first (and was answered): it resolves', async () => {
    const { conn, peer } = setup();
    peer.send(close(1001, 'bye'));
    await peer.nextFrame();
    await expect(conn.closeGracefully()).resolves.toBeUndefined();
  });

  test('after a protocol error: it resolves', async () => {
    const { conn, peer } = setup();
    peer.send(frame({ opcode: 3 }));
    await expect(conn.readMessage()).rejects.toMatchObject({ closeCode: 1002 });
    await expect(conn.closeGracefully(1000, '', 60_000)).resolves.toBeUndefined();
  });

  test('never rejects: an invalid code is replaced by 1000', async () => {
    const { conn, peer } = setup();
    const closing = conn.closeGracefully(70_000, 'bad code', 60_000);
    const sent = await peer.nextFrame();
    expect(sent).toMatchObject({ opcode: 8, payload: closePayload(1000) });
    peer.send(close(1000));
    await expect(closing).resolves.toBeUndefined();
  });

  test('called twice, and after close(): every call resolves', async () => {
    const { conn, peer } = setup();
    const first = conn.closeGracefully(1000, '', 60_000);
    const second = conn.closeGracefully(1000, '', 60_000);
    await peer.nextFrame();
    conn.close();
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
    await expect(conn.closeGracefully()).resolves.toBeUndefined();
  });

  test('after this side sent its own close frame: waits for the answer only', async () => {
    const { conn, peer } = setup();
    await conn.writeControl(CloseMessage, formatCloseMessage(1000));
    const closing = conn.closeGracefully(1000, '', 60_000);
    peer.send(close(1000));
    await closing;
    expect((await framesUntilEnd(peer)).map((f) => f.opcode)).toEqual([8]);
  });

  test('writes queued before the call go out before the close frame', async () => {
    const { conn, peer } = setup();
    const writer = await conn.nextWriter(TextMessage);
    writer.write('streamed ');
    void conn.writeMessage(TextMessage, 'queued');
    const closing = conn.closeGracefully(1000, '', 60_000);
    writer.end('end');
    const frames: ParsedFrame[] = [];
    for (let next = await peer.nextFrame(); next!.opcode !== 8; next = await peer.nextFrame()) {
      frames.push(next!);
    }
    expect(frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [1, 'streamed '],
      [0, 'end'],
      [1, 'queued'],
    ]);
    peer.send(close(1000));
    await closing;
  });

  test('messages still arriving are dropped so the close answer is not held up', async () => {
    const { conn, peer } = setup({ readBufferSize: 1024 });
    // Unread data fills the buffer and pauses the socket; the close answer sits behind it.
    peer.send([
      ...Array.from({ length: 100 }, () => frame({ opcode: 2, payload: Buffer.alloc(1000) })),
      close(1000),
    ]);
    await expect(conn.closeGracefully(1000, '', 60_000)).resolves.toBeUndefined();
  });

  test('a client waits for the server to close TCP, then closes it', async () => {
    const { conn, peer, peerSocket } = setup({ isServer: false });
    const closing = conn.closeGracefully(1000, '', 60_000);
    const sent = await peer.nextFrame();
    expect(sent).toMatchObject({ opcode: 8, masked: true });
    peer.send(frame({ opcode: 8, payload: closePayload(1000), mask: false }));
    // The server ends TCP after the exchange (RFC 6455 section 7.1.1).
    peerSocket.end();
    await closing;
    await peer.ended;
  });
});

describe('for await', () => {
  test.each([
    ['1000', close(1000)],
    ['1001', close(1001)],
    ['a close frame without a code', frame({ opcode: 8 })],
  ])('ends quietly when the peer closes with %s', async (_name, closing) => {
    const { conn, peer } = setup();
    peer.send([frame({ opcode: 1, payload: 'a' }), frame({ opcode: 2, payload: 'b' }), closing]);
    const received: string[] = [];
    for await (const { data } of conn) received.push(data.toString());
    expect(received).toEqual(['a', 'b']);
  });

  test.each([
    ['a close code of 4000', close(4000, 'app'), { code: 4000 }],
    ['a connection lost without a close frame', null, { code: 1006 }],
    ['a protocol error', frame({ opcode: 1, payload: 'x', mask: false }), { closeCode: 1002 }],
  ])('throws on %s', async (_name, closing, expected) => {
    const { conn, peer } = setup();
    peer.send(frame({ opcode: 1, payload: 'a' }));
    if (closing === null) peer.destroy();
    else peer.send(closing);
    const received: string[] = [];
    let caught: unknown;
    try {
      for await (const { data } of conn) received.push(data.toString());
    } catch (err) {
      caught = err;
    }
    expect(received).toEqual(['a']);
    expect(caught).toMatchObject(expected);
  });

  test('breaking out of the loop leaves the connection usable', async () => {
    const { conn, peer } = setup();
    peer.send([frame({ opcode: 1, payload: 'one' }), frame({ opcode: 1, payload: 'two' })]);
    for await (const { data } of conn) {
      expect(data.toString()).toBe('one');
      break;
    }
    await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('two') });
  });
});
