import { Duplex } from 'node:stream';
import type { BufferPool } from '../src/buffer-pool';
import { FrameWriter, frameHeaderLength, writeFrameHeader } from '../src/frame-writer';
import { settle } from '../../../test/helpers/async';
import { parseFrame, type ParsedFrame } from '../../../test/helpers/frames';

/**
 * A socket that records each write it is handed: one entry per `_write` or `_writev` call, which
 * is one system call on a real socket. With `hold`, writes complete only on `release()`.
 */
class CaptureSocket extends Duplex {
  readonly writes: Buffer[][] = [];
  hold = false;
  readonly #held: (() => void)[] = [];

  constructor(highWaterMark?: number) {
    super({ highWaterMark });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.writes.push([chunk]);
    this.#done(callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: () => void): void {
    this.writes.push(chunks.map((c) => c.chunk));
    this.#done(callback);
  }

  /** Completes the held writes. */
  release(): void {
    this.hold = false;
    for (const callback of this.#held.splice(0)) callback();
  }

  /** Every byte written so far, in order. */
  bytes(): Buffer {
    return Buffer.concat(this.writes.flat());
  }

  #done(callback: () => void): void {
    if (this.hold) this.#held.push(callback);
    else callback();
  }
}

function frames(bytes: Buffer): ParsedFrame[] {
  const out: ParsedFrame[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const parsed = parseFrame(rest);
    if (parsed === undefined) throw new Error(`trailing bytes: ${rest.toString('hex')}`);
    out.push(parsed.frame);
    rest = rest.subarray(parsed.size);
  }
  return out;
}

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('frame headers', () => {
  test.each([
    [0, '8200'],
    [125, '827d'],
    [126, '827e007e'],
    [65535, '827effff'],
    [65536, '827f0000000000010000'],
  ])('a %i-byte payload gets the minimal length encoding: %s', (length, header) => {
    expect(frameHeaderLength(length, false)).toBe(header.length / 2);
    expect(frameHeaderLength(length, true)).toBe(header.length / 2 + 4);
    const out = Buffer.alloc(14, 0xee);
    expect(writeFrameHeader(out, 0, 2, true, false, length, null)).toBe(header.length / 2);
    expect(out.subarray(0, header.length / 2).toString('hex')).toBe(header);
  });

  test('the MASK bit and key follow the length; FIN, RSV1 and the opcode lead', () => {
    const out = Buffer.alloc(14);
    const key = Buffer.from([1, 2, 3, 4]);
    expect(writeFrameHeader(out, 0, 0, false, true, 300, key)).toBe(8);
    expect(out.subarray(0, 8).toString('hex')).toBe('40fe012c01020304');
  });

  test.each([0, 125, 126, 65535, 65536])(
    'FrameWriter frames a %i-byte payload exactly, on both sides',
    async (length) => {
      const payload = Buffer.from(Array.from({ length }, (_, i) => (i * 13) & 0xff));
      for (const masked of [false, true]) {
        const socket = new CaptureSocket();
        const writer = new FrameWriter(socket, masked, 16384, undefined);
        writer.writeFrame(2, true, false, payload);
        await nextTick();
        const bytes = socket.bytes();
        expect(bytes.length).toBe(frameHeaderLength(length, masked) + length);
        const [parsed] = frames(bytes);
        expect(parsed).toMatchObject({ fin: true, opcode: 2, masked });
        expect(parsed!.payload.equals(payload)).toBe(true);
      }
    },
  );

  test('a string payload is sent as UTF-8, small or large', async () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 1024, undefined);
    const big = 'é'.repeat(2000);
    writer.writeFrame(1, true, false, 'κόσμε');
    writer.writeFrame(1, true, false, big);
    await nextTick();
    const [small, large] = frames(socket.bytes());
    expect(small!.payload.toString('utf8')).toBe('κόσμε');
    expect(large!.payload.toString('utf8')).toBe(big);
  });
});

describe('client masking', () => {
  test('every client frame is masked with its own key', async () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, true, 16384, undefined);
    for (let i = 0; i < 200; i++) writer.writeFrame(1, true, false, `message ${i}`);
    await nextTick();
    const bytes = socket.bytes();
    const keys = new Set<string>();
    let offset = 0;
    for (let i = 0; i < 200; i++) {
      const parsed = parseFrame(bytes.subarray(offset))!;
      expect(parsed.frame.masked).toBe(true);
      expect(parsed.frame.payload.toString()).toBe(`message ${i}`);
      // The key sits after the 2-byte header of these short frames.
      keys.add(bytes.subarray(offset + 2, offset + 6).toString('hex'));
      offset += parsed.size;
    }
    expect(keys.size).toBeGreaterThanOrEqual(199);
  });

  test("a large client payload is masked into a copy: the caller's bytes are left alone", async () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, true, 1024, undefined);
    const payload = Buffer.alloc(100_000, 0x5a);
    writer.writeFrame(2, true, false, payload);
    await nextTick();
    expect(payload.every((b) => b === 0x5a)).toBe(true);
    const [parsed] = frames(socket.bytes());
    expect(parsed!.masked).toBe(true);
    expect(parsed!.payload.equals(payload)).toBe(true);
  });
});

describe('write batching', () => {
  test('frames written in one tick leave in one socket write, in order', async () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 4096, undefined);
    const large = Buffer.alloc(50_000, 7);
    for (let i = 0; i < 10; i++) writer.writeFrame(1, true, false, `small ${i}`);
    writer.writeFrame(2, true, false, large);
    writer.writeFrame(9, true, false, 'ping');
    expect(socket.writes).toHaveLength(0); // nothing until the tick ends
    await nextTick();
    expect(socket.writes).toHaveLength(1);
    const parsed = frames(socket.bytes());
    expect(parsed.map((f) => (f.payload.length > 100 ? 'large' : f.payload.toString()))).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `small ${i}`),
      'large',
      'ping',
    ]);
    // The next tick's frames are the next write.
    writer.writeFrame(1, true, false, 'later');
    await nextTick();
    expect(socket.writes).toHaveLength(2);
  });

  test('small frames share one buffer: header and payload copied together', async () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 4096, undefined);
    writer.writeFrame(1, true, false, 'a');
    writer.writeFrame(1, true, false, 'b');
    await nextTick();
    expect(socket.writes).toEqual([[Buffer.from('810161810162', 'hex')]]);
  });

  test('a batch larger than the write buffer spills into more buffers, still one write', async () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 64, undefined);
    for (let i = 0; i < 40; i++) writer.writeFrame(2, true, false, Buffer.alloc(20, i));
    await nextTick();
    expect(socket.writes).toHaveLength(1);
    expect(socket.writes[0]!.length).toBeGreaterThan(1);
    const parsed = frames(socket.bytes());
    expect(parsed).toHaveLength(40);
    parsed.forEach((f, i) => expect(f.payload.equals(Buffer.alloc(20, i))).toBe(true));
  });

  test('flush() hands the batch over at once', () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 4096, undefined);
    writer.writeFrame(1, true, false, 'now');
    writer.flush();
    expect(frames(socket.bytes()).map((f) => f.payload.toString())).toEqual(['now']);
  });

  test('a write buffer smaller than a frame header still frames correctly', async () => {
    for (const size of [0, 1, 13]) {
      const socket = new CaptureSocket();
      const writer = new FrameWriter(socket, size === 13, size, undefined);
      writer.writeFrame(1, true, false, 'hello');
      writer.writeFrame(2, true, false, Buffer.alloc(70_000, 3));
      writer.writeRaw(Buffer.from('8100', 'hex'));
      await nextTick();
      const parsed = frames(socket.bytes());
      expect(parsed.map((f) => [f.opcode, f.payload.length])).toEqual([
        [1, 5],
        [2, 70_000],
        [1, 0],
      ]);
    }
  });
});

describe('no copies of large payloads on the server side', () => {
  test('a large Buffer payload is handed to the socket as it is', async () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 16384, undefined);
    const payload = Buffer.alloc(1 << 20, 1);
    writer.writeFrame(2, true, false, payload);
    await nextTick();
    const chunks = socket.writes.flat();
    expect(chunks.some((c) => c === payload)).toBe(true);
  });

  test('a large Uint8Array payload is viewed, not copied', async () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 16384, undefined);
    const backing = new Uint8Array(300_000).fill(9);
    const payload = backing.subarray(100, 200_100);
    writer.writeFrame(2, true, false, payload);
    await nextTick();
    const body = socket.writes.flat().find((c) => c.length === payload.length)!;
    expect(body.buffer).toBe(backing.buffer);
    expect(body.byteOffset).toBe(100);
  });

  test('a large preformatted frame (writeRaw) is handed over as it is', async () => {
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 1024, undefined);
    const frame = Buffer.concat([Buffer.from('827e0800', 'hex'), Buffer.alloc(2048, 4)]);
    writer.writeRaw(frame);
    await nextTick();
    expect(socket.writes.flat()).toContain(frame);
  });
});

describe('write buffers and BufferPool', () => {
  class SpyPool implements BufferPool {
    readonly free: Buffer[] = [];
    readonly given: Buffer[] = [];
    readonly returned: Buffer[] = [];
    get(): Buffer | undefined {
      const buffer = this.free.pop();
      if (buffer !== undefined) this.given.push(buffer);
      return buffer;
    }
    put(buffer: Buffer): void {
      this.returned.push(buffer);
      this.free.push(buffer);
    }
  }

  test('a batch that grows to writeBufferSize takes its buffers from the pool, back once written', async () => {
    const pool = new SpyPool();
    const pooled = Buffer.alloc(4096);
    pool.free.push(pooled);
    const socket = new CaptureSocket();
    socket.hold = true;
    const writer = new FrameWriter(socket, false, 4096, pool);
    // 8 KiB of frames: batch buffers of 1 KiB and 2 KiB first, then full ones from the pool.
    for (let i = 0; i < 40; i++) writer.writeFrame(2, true, false, Buffer.alloc(200, i));
    await nextTick();
    expect(pool.given).toEqual([pooled]);
    expect(socket.writes[0]!.some((chunk) => chunk.buffer === pooled.buffer)).toBe(true);
    // Still in the socket's hands: not back yet.
    expect(pool.returned).toEqual([]);
    socket.release();
    await settle();
    expect(pool.returned).toContain(pooled);
    // Buffers allocated when the pool ran dry are given to it too.
    expect(pool.returned.length).toBeGreaterThan(1);
    expect(pool.returned.every((buffer) => buffer.length === 4096)).toBe(true);
    const parsed = frames(socket.bytes());
    expect(parsed).toHaveLength(40);
    parsed.forEach((f, i) => expect(f.payload.equals(Buffer.alloc(200, i))).toBe(true));
  });

  test('a small batch takes a small buffer, not one of writeBufferSize', async () => {
    const pool = new SpyPool();
    const allocations = jest.spyOn(Buffer, 'allocUnsafe');
    const allocationsSlow = jest.spyOn(Buffer, 'allocUnsafeSlow');
    try {
      const socket = new CaptureSocket();
      const writer = new FrameWriter(socket, false, 16384, pool);
      writer.writeFrame(1, true, false, 'small');
      await nextTick();
      expect(allocations.mock.calls.map(([size]) => size)).toEqual([1024]);
      expect(allocationsSlow).not.toHaveBeenCalled();
      expect(pool.given).toEqual([]);
      expect(frames(socket.bytes()).map((f) => f.payload.toString())).toEqual(['small']);
    } finally {
      allocations.mockRestore();
      allocationsSlow.mockRestore();
    }
  });

  test('an idle writer holds no buffer: every buffer taken is returned', async () => {
    const pool = new SpyPool();
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 256, pool);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 30; i++) writer.writeFrame(2, true, false, Buffer.alloc(30, i));
      await settle();
    }
    expect(pool.free.length).toBeGreaterThan(0);
    // Whatever went out came back: the pool holds every buffer ever used.
    const used = new Set(socket.writes.flat().map((c) => c.buffer));
    for (const buffer of pool.free) used.delete(buffer.buffer);
    expect(used.size).toBe(0);
  });

  test('a batch for a destroyed socket is dropped and its buffer returned', async () => {
    const pool = new SpyPool();
    const socket = new CaptureSocket();
    const writer = new FrameWriter(socket, false, 1024, pool);
    writer.writeFrame(1, true, false, 'lost');
    socket.destroy();
    await nextTick();
    expect(socket.writes).toEqual([]);
    expect(pool.returned).toHaveLength(1);
  });
});

describe('backpressure', () => {
  test('backedUp counts unflushed bytes; drained() waits for the socket to drain', async () => {
    const socket = new CaptureSocket(1024);
    socket.hold = true;
    const writer = new FrameWriter(socket, false, 4096, undefined);
    expect(writer.backedUp).toBe(false);
    writer.writeFrame(2, true, false, Buffer.alloc(2000));
    expect(writer.backedUp).toBe(true);
    let drained = false;
    const done = writer.drained().then(() => (drained = true));
    await settle();
    expect(drained).toBe(false);
    socket.release();
    await done;
    expect(writer.backedUp).toBe(false);
    await expect(writer.drained()).resolves.toBeUndefined();
  });

  test('abort() releases drain waiters once the socket is gone', async () => {
    const socket = new CaptureSocket(16);
    socket.hold = true;
    const writer = new FrameWriter(socket, false, 4096, undefined);
    writer.writeFrame(2, true, false, Buffer.alloc(100));
    const done = writer.drained();
    writer.abort();
    await expect(done).resolves.toBeUndefined();
  });
});

describe('while the socket is busy', () => {
  test('frames written meanwhile wait, and go in one write once it is done', async () => {
    const socket = new CaptureSocket();
    socket.hold = true;
    const writer = new FrameWriter(socket, false, 4096, undefined);
    writer.writeFrame(1, true, false, 'first');
    await nextTick();
    expect(socket.writes).toHaveLength(1);
    for (let tick = 0; tick < 5; tick++) {
      writer.writeFrame(1, true, false, `held ${tick}`);
      await nextTick();
    }
    // Nothing more was handed over: the frames wait, counted.
    expect(socket.writes).toHaveLength(1);
    expect(writer.bufferedAmount).toBe(5 * 8 + socket.writableLength);
    socket.release();
    await settle();
    expect(socket.writes).toHaveLength(2);
    expect(frames(Buffer.concat(socket.writes[1]!)).map((f) => f.payload.toString())).toEqual([
      'held 0',
      'held 1',
      'held 2',
      'held 3',
      'held 4',
    ]);
  });

  test('drained() gives every writer waiting on the same drain one promise', async () => {
    const socket = new CaptureSocket(16);
    socket.hold = true;
    const writer = new FrameWriter(socket, false, 4096, undefined);
    writer.writeFrame(2, true, false, Buffer.alloc(100));
    const first = writer.drained();
    writer.writeFrame(2, true, false, Buffer.alloc(100));
    expect(writer.drained()).toBe(first);
    await nextTick();
    socket.release(); // the first batch is done; the second goes and is held in turn
    await settle();
    socket.release();
    await first;
    expect(writer.backedUp).toBe(false);
  });

  test('only the latest ping is answered while a pong is owed; it goes once the socket is free', async () => {
    const socket = new CaptureSocket();
    socket.hold = true;
    const writer = new FrameWriter(socket, false, 4096, undefined);
    let resumed = 0;
    const resume = (): void => void resumed++;
    // The socket is free: the pong is an ordinary frame.
    expect(writer.writePong(Buffer.from('p0'), resume)).toBe(true);
    await nextTick();
    expect(socket.writes).toHaveLength(1);
    // Busy: the first pong waits in its slot, later ones replace it and report the backlog.
    expect(writer.writePong(Buffer.from('p1'), resume)).toBe(true);
    expect(writer.writePong(Buffer.from('p2'), resume)).toBe(false);
    expect(writer.writePong(Buffer.from('p3-latest'), resume)).toBe(false);
    expect(writer.bufferedAmount).toBe(2 + 9 + socket.writableLength);
    expect(resumed).toBe(0);
    socket.release();
    await settle();
    expect(resumed).toBe(1);
    expect(frames(socket.bytes()).map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [10, 'p0'],
      [10, 'p3-latest'],
    ]);
  });

  test('a pong owed goes before a close frame', async () => {
    const socket = new CaptureSocket();
    socket.hold = true;
    const writer = new FrameWriter(socket, true, 4096, undefined);
    writer.writeFrame(2, true, false, Buffer.alloc(10));
    await nextTick();
    writer.writePong(Buffer.from('owed'), () => {});
    writer.writeFrame(8, true, false, Buffer.from([0x03, 0xe8]));
    socket.release();
    await settle();
    expect(frames(socket.bytes()).map((f) => [f.opcode, f.masked])).toEqual([
      [2, true],
      [10, true],
      [8, true],
    ]);
  });

  test('flush() hands over what waits even while the socket is busy (to end it)', async () => {
    const socket = new CaptureSocket();
    socket.hold = true;
    const writer = new FrameWriter(socket, false, 4096, undefined);
    writer.writeFrame(1, true, false, 'a');
    await nextTick();
    writer.writeFrame(1, true, false, 'b');
    writer.flush();
    expect(socket.writes).toHaveLength(1); // the socket itself queues the second batch
    socket.release();
    await settle();
    expect(frames(socket.bytes()).map((f) => f.payload.toString())).toEqual(['a', 'b']);
  });
});
