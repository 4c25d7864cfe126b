/**
 * Every form of bytes the write methods take goes out byte-exact, through the conformance echo
 * server (`examples/autobahn`), with and without compression; anything else is refused with a
 * `TypeError` before a byte is sent, and never thrown synchronously.
 */
import {
  BinaryMessage,
  Dialer,
  PingMessage,
  PongMessage,
  PreparedMessage,
  TextMessage,
  type Conn,
  type MessageData,
} from '@silverback/websocket';
import { startEchoServer, type EchoServer } from '../../../examples/autobahn/src/server';
import { useCleanups } from '../../../test/helpers/cleanups';
import { useMemoryConns } from '../../../test/helpers/duplex-pair';

const cleanups = useCleanups();
const setup = useMemoryConns();

/** The bytes a view covers, copied out by hand so the check does not use the code under test. */
function bytesOf(data: ArrayBufferView | ArrayBufferLike): Buffer {
  if (ArrayBuffer.isView(data)) {
    return Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return Buffer.from(new Uint8Array(data));
}

// A source of distinct bytes, so a wrong offset or length shows.
function sourceBuffer(size: number): ArrayBuffer {
  const buffer = new ArrayBuffer(size);
  const view = new Uint8Array(buffer);
  for (let i = 0; i < size; i++) view[i] = (i * 31 + 7) & 0xff;
  return buffer;
}

/** Each kind of bytes, as a view of a range inside a larger buffer where it can be one. */
function binaryForms(size: number): [string, Exclude<MessageData, string>][] {
  const source = sourceBuffer(size + 64);
  const shared = new SharedArrayBuffer(size);
  new Uint8Array(shared).set(new Uint8Array(source, 0, size));
  return [
    ['Buffer', Buffer.from(source, 8, size)],
    ['Uint8Array', new Uint8Array(source, 8, size)],
    ['Uint8ClampedArray', new Uint8ClampedArray(source, 8, size)],
    ['Int8Array', new Int8Array(source, 8, size)],
    ['Uint16Array', new Uint16Array(source, 8, size / 2)],
    ['Int16Array', new Int16Array(source, 8, size / 2)],
    ['Uint32Array', new Uint32Array(source, 8, size / 4)],
    ['Int32Array', new Int32Array(source, 8, size / 4)],
    ['Float32Array', new Float32Array(source, 8, size / 4)],
    ['Float64Array', new Float64Array(source, 8, size / 8)],
    ['BigInt64Array', new BigInt64Array(source, 8, size / 8)],
    ['BigUint64Array', new BigUint64Array(source, 8, size / 8)],
    ['DataView', new DataView(source, 8, size)],
    ['ArrayBuffer', source.slice(8, 8 + size)],
    ['SharedArrayBuffer', shared],
  ];
}

let echo: EchoServer;
beforeAll(async () => {
  echo = await startEchoServer({ port: 0 });
});
afterAll(() => echo.close(100));

async function dialEcho(enableCompression: boolean): Promise<Conn> {
  const { conn } = await new Dialer({ enableCompression }).dial(echo.url);
  cleanups.push(() => conn.closeGracefully(1000, '', 100));
  return conn;
}

describe.each([
  ['uncompressed', false],
  ['compressed', true],
])('every form of bytes comes back byte-exact from the echo server (%s)', (_label, compress) => {
  // 40 bytes go out in the write buffer; 4 KiB pass the compression threshold.
  test.each([40, 4096])('writeMessage, %i bytes', async (size) => {
    const conn = await dialEcho(compress);
    expect(conn.extensions() !== '').toBe(compress);
    for (const [, data] of binaryForms(size)) await conn.writeMessage(BinaryMessage, data);
    for (const [name, data] of binaryForms(size)) {
      const { type, data: echoed } = await conn.readMessage();
      expect([name, type, echoed.toString('hex')]).toEqual([
        name,
        BinaryMessage,
        bytesOf(data).toString('hex'),
      ]);
    }
  });

  test('a text message from UTF-8 bytes in a Uint16Array, and a string', async () => {
    const conn = await dialEcho(compress);
    const utf8 = Buffer.from('héllo wörld!'); // 14 bytes
    const aligned = new Uint16Array(utf8.length / 2);
    Buffer.from(aligned.buffer).set(utf8);
    await conn.writeMessage(TextMessage, aligned);
    await conn.writeMessage(TextMessage, 'héllo ✓');
    expect((await conn.readMessage()).data.toString()).toBe('héllo wörld!');
    expect((await conn.readMessage()).data.toString()).toBe('héllo ✓');
  });

  test('nextWriter().write and end()', async () => {
    const conn = await dialEcho(compress);
    const forms = binaryForms(1024);
    const writer = await conn.nextWriter(BinaryMessage);
    for (const [, data] of forms.slice(0, -1)) writer.write(data);
    writer.end(forms[forms.length - 1]![1]);
    const expected = Buffer.concat(forms.map(([, data]) => bytesOf(data)));
    expect((await conn.readMessage()).data.equals(expected)).toBe(true);
  });

  test('PreparedMessage', async () => {
    const conn = await dialEcho(compress);
    for (const [, data] of binaryForms(2048)) {
      await conn.writePreparedMessage(new PreparedMessage(BinaryMessage, data));
    }
    for (const [name, data] of binaryForms(2048)) {
      expect([name, (await conn.readMessage()).data.equals(bytesOf(data))]).toEqual([name, true]);
    }
  });

  test('writeControl: each ping comes back as a pong with the same bytes', async () => {
    const conn = await dialEcho(compress);
    const pongs: string[] = [];
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => (done = resolve));
    const forms = binaryForms(120);
    conn.setPongHandler((data) => {
      pongs.push(data.toString('hex'));
      if (pongs.length === forms.length) done();
    });
    const reading = conn.readMessage().catch(() => undefined); // pongs arrive as the conn reads
    for (const [, data] of forms) await conn.writeControl(PingMessage, data);
    await all;
    expect(pongs).toEqual(forms.map(([, data]) => bytesOf(data).toString('hex')));
    await conn.writeMessage(TextMessage, 'done');
    expect(await reading).toMatchObject({ type: TextMessage });
  });
});

describe('anything else is refused before a byte is sent', () => {
  const bad: [string, unknown][] = [
    ['a number', 42],
    ['a plain object', { length: 3 }],
    ['an array of numbers', [1, 2, 3]],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['a symbol', Symbol('x')],
    ['a function', () => 'x'],
    ['a Date', new Date(0)],
    ['a Blob-like object', { arrayBuffer: () => new ArrayBuffer(1) }],
  ];

  test.each(bad)('%s', async (_name, value) => {
    const { conn, peer } = setup();
    const data = value as MessageData;
    let writes: Promise<void>[] = [];
    expect(() => {
      writes = [conn.writeMessage(BinaryMessage, data), conn.writeMessage(TextMessage, data)];
      // A control frame's data is optional: undefined is an empty payload.
      if (value !== undefined) {
        writes.push(
          conn.writeControl(PingMessage, data),
          conn.writeControl(PongMessage, data),
          conn.writeMessage(PingMessage, data),
        );
      }
    }).not.toThrow();
    for (const write of writes) await expect(write).rejects.toThrow(TypeError);
    expect(() => new PreparedMessage(BinaryMessage, data)).toThrow(TypeError);
    // Nothing went out: the next frame the peer sees is the next good write.
    await conn.writeMessage(TextMessage, 'next');
    expect(await peer.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('next') });
  });

  test('nextWriter().write: the callback and the stream get the TypeError, nothing is sent', async () => {
    const { conn, peer } = setup();
    const writer = await conn.nextWriter(BinaryMessage);
    const failed = new Promise((resolve) => writer.on('error', resolve));
    let written: unknown;
    const callback = new Promise<void>((resolve) => {
      expect(() =>
        writer.write(42, (err) => {
          written = err;
          resolve();
        }),
      ).not.toThrow();
    });
    await callback;
    expect(written).toBeInstanceOf(TypeError);
    expect(await failed).toBe(written);
    // The writer sent no frame, so the connection goes on.
    await conn.writeMessage(TextMessage, 'next');
    expect(await peer.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('next') });
  });

  test('nextWriter().end with bad data: the TypeError, and no frame', async () => {
    const { conn, peer } = setup();
    const writer = await conn.nextWriter(TextMessage);
    const failed = new Promise((resolve) => writer.on('error', resolve));
    expect(() => writer.end({ text: 'no' })).not.toThrow();
    expect(await failed).toBeInstanceOf(TypeError);
    await conn.writeMessage(TextMessage, 'next');
    expect(await peer.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('next') });
  });
});
