import { once } from 'node:events';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BinaryMessage,
  CloseError,
  CloseMessage,
  CloseSentError,
  formatCloseMessage,
  PingMessage,
  PongMessage,
  PreparedMessage,
  SimpleBufferPool,
  TextMessage,
  TimeoutError,
} from '@silverback/websocket';
import { rejection, settle } from '../../../test/helpers/async';
import { useMemoryConns } from '../../../test/helpers/duplex-pair';
import { closePayload, frame, type ParsedFrame } from '../../../test/helpers/frames';
import type { RawPeer } from '../../../test/helpers/raw-client';

const setup = useMemoryConns();

/** The next `n` frames as `[opcode, fin, payload]`. */
async function nextFrames(peer: RawPeer, n: number): Promise<[number, boolean, string][]> {
  const out: [number, boolean, string][] = [];
  for (let i = 0; i < n; i++) {
    const next: ParsedFrame | null = await peer.nextFrame();
    if (next === null) throw new Error(`connection ended after ${i} frames`);
    out.push([next.opcode, next.fin, next.payload.toString()]);
  }
  return out;
}

describe('writeMessage', () => {
  test('text, binary, Uint8Array, empty: one unmasked final frame each (server side)', async () => {
    const { conn, peer } = setup();
    await conn.writeMessage(TextMessage, 'héllo');
    await conn.writeMessage(BinaryMessage, Buffer.from([1, 2, 3]));
    await conn.writeMessage(BinaryMessage, new Uint8Array([4, 5]).subarray(1));
    await conn.writeMessage(TextMessage, '');
    const frames: ParsedFrame[] = [];
    for (let i = 0; i < 4; i++) frames.push((await peer.nextFrame())!);
    expect(frames.map((f) => [f.opcode, f.fin, f.masked, f.payload.toString('hex')])).toEqual([
      [1, true, false, Buffer.from('héllo').toString('hex')],
      [2, true, false, '010203'],
      [2, true, false, '05'],
      [1, true, false, ''],
    ]);
  });

  test('a client connection masks what it writes', async () => {
    const { conn, peer } = setup({ isServer: false });
    await conn.writeMessage(TextMessage, 'masked');
    await expect(peer.nextFrame()).resolves.toMatchObject({
      masked: true,
      payload: Buffer.from('masked'),
    });
  });

  test('control types go through writeControl', async () => {
    const { conn, peer } = setup();
    await conn.writeMessage(PingMessage, 'p');
    await conn.writeMessage(PongMessage, Buffer.from('q'));
    expect(await nextFrames(peer, 2)).toEqual([
      [9, true, 'p'],
      [10, true, 'q'],
    ]);
  });

  test('writeJSON writes a text message; values JSON cannot hold are refused', async () => {
    const { conn, peer } = setup();
    await conn.writeJSON({ a: [1, 'two'] });
    expect(await nextFrames(peer, 1)).toEqual([[1, true, '{"a":[1,"two"]}']]);
    await expect(conn.writeJSON(undefined)).rejects.toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await expect(conn.writeJSON(cycle)).rejects.toThrow(TypeError);
    // Refused values wrote nothing; the connection still works.
    await conn.writeJSON(null);
    expect(await nextFrames(peer, 1)).toEqual([[1, true, 'null']]);
  });

  test('a message written over a closed connection is refused with CloseError 1006', async () => {
    const { conn, peer } = setup();
    peer.destroy();
    await conn.closed;
    const err = await rejection(conn.writeMessage(TextMessage, 'x'));
    expect(err).toBeInstanceOf(CloseError);
    expect(err).toMatchObject({ code: 1006 });
  });
});

describe('nextWriter', () => {
  test('each write is a frame that leaves at once; end() sends the final frame', async () => {
    const { conn, peer } = setup();
    const writer = await conn.nextWriter(TextMessage);
    writer.write('one ');
    // The first fragment reaches the peer while the message is still open.
    expect(await nextFrames(peer, 1)).toEqual([[1, false, 'one ']]);
    writer.write('two ');
    expect(await nextFrames(peer, 1)).toEqual([[0, false, 'two ']]);
    writer.end('three');
    await once(writer, 'finish');
    expect(await nextFrames(peer, 1)).toEqual([[0, true, 'three']]);
  });

  test('end() alone sends an empty final frame; end(data) right away is a single frame', async () => {
    const { conn, peer } = setup();
    const first = await conn.nextWriter(BinaryMessage);
    first.write('a');
    await settle();
    first.end();
    const second = await conn.nextWriter(TextMessage);
    second.end('whole');
    await once(second, 'finish');
    expect(await nextFrames(peer, 3)).toEqual([
      [2, false, 'a'],
      [0, true, ''],
      [1, true, 'whole'],
    ]);
  });

  test('pipes a stream into a message', async () => {
    const { conn, peer } = setup();
    const writer = await conn.nextWriter(BinaryMessage);
    await pipeline(Readable.from([Buffer.from('x'), Buffer.from('y'), Buffer.from('z')]), writer);
    const frames: ParsedFrame[] = [];
    let next: ParsedFrame | null;
    do frames.push((next = (await peer.nextFrame())!));
    while (!next.fin);
    expect(frames[0]!.opcode).toBe(BinaryMessage);
    expect(frames.slice(1).every((f) => f.opcode === 0)).toBe(true);
    expect(Buffer.concat(frames.map((f) => f.payload)).toString()).toBe('xyz');
  });

  test('control frames go out between the fragments; data writes wait for end()', async () => {
    const { conn, peer } = setup();
    const writer = await conn.nextWriter(TextMessage);
    writer.write('frag1');
    await settle();
    const queued = conn.writeMessage(BinaryMessage, 'after');
    await conn.writeControl(PingMessage, 'ping');
    writer.write('frag2');
    await settle();
    writer.end('frag3');
    await queued;
    expect(await nextFrames(peer, 5)).toEqual([
      [1, false, 'frag1'],
      [9, true, 'ping'],
      [0, false, 'frag2'],
      [0, true, 'frag3'],
      [2, true, 'after'],
    ]);
  });

  test('nextWriter refuses a control type', async () => {
    const { conn } = setup();
    await expect(conn.nextWriter(PingMessage as unknown as 1)).rejects.toThrow(TypeError);
  });

  test('a writer destroyed mid-message fails the connection with 1011', async () => {
    const { conn, peer } = setup();
    const writer = await conn.nextWriter(TextMessage);
    writer.on('error', () => {});
    writer.write('half');
    await settle();
    writer.destroy();
    expect(await nextFrames(peer, 2)).toEqual([
      [1, false, 'half'],
      [8, true, formatCloseMessage(1011).toString()],
    ]);
    await peer.ended;
    await expect(conn.writeMessage(TextMessage, 'x')).rejects.toBeInstanceOf(CloseSentError);
  });

  test('a writer destroyed before any frame leaves the connection usable', async () => {
    const { conn, peer } = setup();
    const writer = await conn.nextWriter(TextMessage);
    writer.destroy();
    await conn.writeMessage(TextMessage, 'fine');
    expect(await nextFrames(peer, 1)).toEqual([[1, true, 'fine']]);
  });
});

describe('concurrent writes', () => {
  test('writes issued without awaiting go out in call order', async () => {
    const { conn, peer } = setup();
    const prepared = new PreparedMessage(TextMessage, 'prepared');
    const done: Promise<unknown>[] = [];
    done.push(conn.writeMessage(TextMessage, 'm1'));
    const writer = conn.nextWriter(BinaryMessage).then(async (w: Writable) => {
      w.write('s1');
      await settle();
      w.end('s2');
      await once(w, 'finish');
    });
    done.push(writer);
    done.push(conn.writeMessage(TextMessage, 'm2'));
    done.push(conn.writePreparedMessage(prepared));
    done.push(conn.writeJSON({ n: 3 }));
    done.push(conn.nextWriter(TextMessage).then((w) => w.end('s3')));
    done.push(conn.writeMessage(BinaryMessage, 'm4'));
    await Promise.all(done);
    expect(await nextFrames(peer, 8)).toEqual([
      [1, true, 'm1'],
      [2, false, 's1'],
      [0, true, 's2'],
      [1, true, 'm2'],
      [1, true, 'prepared'],
      [1, true, '{"n":3}'],
      [1, true, 's3'],
      [2, true, 'm4'],
    ]);
  });

  test('a thousand concurrent writes arrive in order', async () => {
    const { conn, peer } = setup();
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) => conn.writeMessage(TextMessage, String(i))),
    );
    const frames = await nextFrames(peer, 1000);
    expect(frames.map((f) => f[2])).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
  });
});

describe('backpressure on the write side', () => {
  test('a write promise waits for the socket to drain', async () => {
    const { conn, socket, peerSocket, peer } = setup();
    peerSocket.pause(); // the peer stops reading
    let done = false;
    const write = conn.writeMessage(BinaryMessage, Buffer.alloc(1 << 20, 1)).then(() => {
      done = true;
    });
    await settle();
    expect(socket.writableNeedDrain).toBe(true);
    expect(done).toBe(false);
    // Small writes queue behind it and wait as well.
    let smallDone = false;
    const small = conn.writeMessage(TextMessage, 'small').then(() => (smallDone = true));
    await settle();
    expect(smallDone).toBe(false);
    peerSocket.resume();
    await write;
    await small;
    const big = await peer.nextFrame();
    expect(big!.payload).toHaveLength(1 << 20);
    expect(await nextFrames(peer, 1)).toEqual([[1, true, 'small']]);
  });

  test('a message writer pushes back on its writer once the socket is backed up', async () => {
    const { conn, socket, peerSocket, peer } = setup();
    peerSocket.pause();
    const writer = await conn.nextWriter(BinaryMessage);
    const chunk = Buffer.alloc(64 * 1024, 1);
    let maxQueued = 0;
    let waits = 0;
    for (let i = 0; i < 64; i++) {
      // A source that yields one chunk per turn of the event loop, as a file stream does.
      await settle();
      const more = writer.write(chunk);
      maxQueued = Math.max(maxQueued, socket.writableLength);
      if (!more) {
        waits++;
        peerSocket.resume();
        await once(writer, 'drain');
        peerSocket.pause();
      }
    }
    peerSocket.resume();
    writer.end();
    await once(writer, 'finish');
    expect(waits).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThan(1 << 20);
    let received = 0;
    for (;;) {
      const next = (await peer.nextFrame())!;
      received += next.payload.length;
      if (next.fin) break;
    }
    expect(received).toBe(64 * chunk.length);
  });
});

describe('writeControl', () => {
  test('pings, pongs and close frames; payloads up to 125 bytes', async () => {
    const { conn, peer } = setup();
    await conn.writeControl(PingMessage, 'x'.repeat(125));
    await conn.writeControl(PongMessage);
    await conn.writeControl(CloseMessage, formatCloseMessage(1000, 'bye'));
    expect(await nextFrames(peer, 3)).toEqual([
      [9, true, 'x'.repeat(125)],
      [10, true, ''],
      [8, true, closePayload(1000, 'bye').toString()],
    ]);
  });

  test('a payload over 125 bytes or a data type is refused with RangeError', async () => {
    const { conn } = setup();
    await expect(conn.writeControl(PingMessage, Buffer.alloc(126))).rejects.toThrow(RangeError);
    await expect(conn.writeControl(TextMessage, 'x')).rejects.toThrow(RangeError);
  });

  test('a deadline that passes while the socket is backed up rejects with TimeoutError', async () => {
    const { conn, peerSocket } = setup();
    peerSocket.pause();
    void conn.writeMessage(BinaryMessage, Buffer.alloc(1 << 20)).catch(() => {});
    const err = await rejection(conn.writeControl(PingMessage, 'late', Date.now() + 20));
    expect(err).toBeInstanceOf(TimeoutError);
  });
});

describe('write deadline', () => {
  test('writes after a passed deadline fail with TimeoutError, permanently', async () => {
    const { conn, peer } = setup();
    conn.setWriteDeadline(Date.now() - 1);
    const err = await rejection(conn.writeMessage(TextMessage, 'late'));
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ message: 'websocket: write timeout', code: 'ERR_WS_TIMEOUT' });
    conn.setWriteDeadline(null);
    await expect(conn.writeMessage(TextMessage, 'still late')).rejects.toBe(err);
    await expect(conn.nextWriter(TextMessage)).rejects.toBe(err);
    // The read side still works.
    peer.send(frame({ opcode: 1, payload: 'reading' }));
    await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('reading') });
  });

  test('a write still waiting for the socket when the deadline passes fails', async () => {
    const { conn, peerSocket } = setup();
    peerSocket.pause();
    conn.setWriteDeadline(Date.now() + 30);
    const err = await rejection(conn.writeMessage(BinaryMessage, Buffer.alloc(1 << 20)));
    expect(err).toBeInstanceOf(TimeoutError);
  });

  test('a deadline in the future does not affect writes that complete in time', async () => {
    const { conn, peer } = setup();
    conn.setWriteDeadline(new Date(Date.now() + 60_000));
    await conn.writeMessage(TextMessage, 'in time');
    expect(await nextFrames(peer, 1)).toEqual([[1, true, 'in time']]);
  });
});

describe('CloseSentError', () => {
  test('every write after this side sent its close frame fails with CloseSentError', async () => {
    const { conn, peer } = setup();
    await conn.writeControl(CloseMessage, formatCloseMessage(1000));
    for (const write of [
      () => conn.writeMessage(TextMessage, 'x'),
      () => conn.writeControl(PingMessage),
      () => conn.writeControl(CloseMessage),
      () => conn.nextWriter(BinaryMessage),
      () => conn.writeJSON(1),
      () => conn.writePreparedMessage(new PreparedMessage(TextMessage, 'p')),
    ]) {
      const err = await rejection(write());
      expect(err).toBeInstanceOf(CloseSentError);
      expect(err).toMatchObject({
        code: 'ERR_WS_CLOSE_SENT',
        closeCode: 1000,
        message:
          'websocket: close sent: this side closed the connection with 1000 (normal); nothing ' +
          'can be written after its close frame',
      });
    }
    // Only the close frame went out.
    expect(await nextFrames(peer, 1)).toEqual([[8, true, closePayload(1000).toString()]]);
  });

  test("writes after the peer's close frame reject with the peer's CloseError, saying so", async () => {
    const { conn, peer } = setup();
    const reading = rejection(conn.readMessage());
    peer.send(frame({ opcode: 8, payload: closePayload(1009, 'too big for me') }));
    expect(await reading).toMatchObject({ code: 1009 });
    // The default close handler answered with 1009; the connection is closing.
    expect(await nextFrames(peer, 1)).toEqual([[8, true, closePayload(1009).toString()]]);
    for (const write of [
      () => conn.writeMessage(TextMessage, 'x'),
      () => conn.writeControl(PingMessage),
      () => conn.writeJSON(1),
    ]) {
      const err = await rejection(write());
      expect(err).toBeInstanceOf(CloseError);
      expect(err).toMatchObject({ code: 1009, text: 'too big for me' });
      expect((err as Error).message).toBe(
        'websocket: close 1009 (message too big): too big for me; the peer closed the ' +
          'connection; nothing can be written after its close frame',
      );
    }
    expect(conn.closeStatus()).toEqual({ code: 1009, reason: 'too big for me', initiator: 'peer' });
  });

  test('writes queued behind an open writer fail with CloseSentError when close is sent', async () => {
    const { conn, peer } = setup();
    const writer = await conn.nextWriter(TextMessage);
    const errors: unknown[] = [];
    writer.on('error', (err) => errors.push(err));
    writer.write('part');
    await settle();
    const queued = rejection(conn.writeMessage(TextMessage, 'queued'));
    await conn.writeControl(CloseMessage, formatCloseMessage(1001));
    await expect(queued).resolves.toBeInstanceOf(CloseSentError);
    await new Promise((resolve) => writer.once('close', resolve));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CloseSentError);
    expect(await nextFrames(peer, 2)).toEqual([
      [1, false, 'part'],
      [8, true, closePayload(1001).toString()],
    ]);
  });
});

describe('write buffers', () => {
  test('connections sharing a BufferPool take write buffers from it and give them back', async () => {
    const pool = new SimpleBufferPool();
    const taken: Buffer[] = [];
    const returned: Buffer[] = [];
    const spy = {
      get: () => {
        const buffer = pool.get();
        if (buffer !== undefined) taken.push(buffer);
        return buffer;
      },
      put: (buffer: Buffer) => {
        returned.push(buffer);
        pool.put(buffer);
      },
    };
    const a = setup({ writeBufferPool: spy, writeBufferSize: 512 });
    const b = setup({ writeBufferPool: spy, writeBufferSize: 512 });
    await a.conn.writeMessage(TextMessage, 'from a');
    await a.peer.nextFrame();
    // a's buffer is back in the pool once written, and b's write reuses it.
    expect(returned).toHaveLength(1);
    await b.conn.writeMessage(TextMessage, 'from b');
    await expect(b.peer.nextFrame()).resolves.toMatchObject({ payload: Buffer.from('from b') });
    expect(taken).toEqual([returned[0]]);
    expect(returned).toEqual([returned[0], returned[0]]);
  });
});
