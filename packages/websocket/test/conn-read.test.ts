import { once } from 'node:events';
import type { Readable } from 'node:stream';
import {
  BinaryMessage,
  CloseError,
  ProtocolError,
  ReadLimitError,
  TextMessage,
  TimeoutError,
} from '@silverback/websocket';
import { rejection, settle } from '../../../test/helpers/async';
import { useMemoryConns } from '../../../test/helpers/duplex-pair';
import { closePayload, frame, type ParsedFrame } from '../../../test/helpers/frames';
import type { RawPeer } from '../../../test/helpers/raw-client';

const text = (payload: string | Buffer, fin = true): Buffer =>
  frame({ opcode: TextMessage, payload, fin });
const binary = (payload: string | Buffer, fin = true): Buffer =>
  frame({ opcode: BinaryMessage, payload, fin });
const continuation = (payload: string | Buffer, fin = true): Buffer =>
  frame({ opcode: 0, payload, fin });
const ping = (payload = ''): Buffer => frame({ opcode: 9, payload });
const close = (code?: number, reason = ''): Buffer =>
  frame({ opcode: 8, payload: code === undefined ? '' : closePayload(code, reason) });

/** Reads frames until the close frame, and expects its code (and reason). */
async function expectCloseFrame(peer: RawPeer, code: number, reason = ''): Promise<void> {
  let next: ParsedFrame | null;
  do next = await peer.nextFrame();
  while (next !== null && next.opcode !== 8);
  expect(next).not.toBeNull();
  expect(next!.payload.readUInt16BE(0)).toBe(code);
  expect(next!.payload.subarray(2).toString()).toBe(reason);
}

async function readAll(reader: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of reader) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const setup = useMemoryConns();

describe('readMessage', () => {
  test('text, binary, empty and fragmented messages, in order', async () => {
    const { conn, peer } = setup();
    peer.send([
      text('hello'),
      binary(Buffer.from([0, 1, 2])),
      text(''),
      text('frag', false),
      continuation('men', false),
      continuation('ted'),
    ]);
    await expect(conn.readMessage()).resolves.toEqual({
      type: TextMessage,
      data: Buffer.from('hello'),
    });
    await expect(conn.readMessage()).resolves.toEqual({
      type: BinaryMessage,
      data: Buffer.from([0, 1, 2]),
    });
    await expect(conn.readMessage()).resolves.toEqual({ type: TextMessage, data: Buffer.alloc(0) });
    await expect(conn.readMessage()).resolves.toEqual({
      type: TextMessage,
      data: Buffer.from('fragmented'),
    });
  });

  test('a read waits for a message that has not arrived', async () => {
    const { conn, peer } = setup();
    const pending = conn.readMessage();
    peer.send(text('late', false));
    await settle();
    peer.send(continuation('r'));
    await expect(pending).resolves.toEqual({ type: TextMessage, data: Buffer.from('later') });
  });

  test('control frames between fragments are handled and do not split the message', async () => {
    const { conn, peer } = setup();
    const pongs: string[] = [];
    conn.setPongHandler((data) => void pongs.push(data.toString()));
    peer.send([
      text('a', false),
      ping('p1'),
      continuation('b', false),
      frame({ opcode: 10, payload: 'unsolicited' }),
      continuation('c'),
    ]);
    await expect(conn.readMessage()).resolves.toEqual({
      type: TextMessage,
      data: Buffer.from('abc'),
    });
    const pong = await peer.nextFrame();
    expect(pong).toMatchObject({ opcode: 10, payload: Buffer.from('p1') });
    expect(pongs).toEqual(['unsolicited']);
  });

  test('a message trickling in byte by byte is assembled intact', async () => {
    const { conn, peer } = setup();
    const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
    const bytes = Buffer.concat([
      binary(payload.subarray(0, 1000), false),
      continuation(payload.subarray(1000)),
    ]);
    const read = conn.readMessage();
    for (const byte of bytes) peer.send(Buffer.from([byte]));
    const { data } = await read;
    expect(data.equals(payload)).toBe(true);
  });

  test('readJSON parses a message; a message that is not JSON is consumed', async () => {
    const { conn, peer } = setup();
    peer.send([text('{"a":[1,2]}'), text('not json'), text('"next"')]);
    await expect(conn.readJSON()).resolves.toEqual({ a: [1, 2] });
    await expect(conn.readJSON()).rejects.toThrow(SyntaxError);
    await expect(conn.readJSON<string>()).resolves.toBe('next');
  });
});

describe('nextReader', () => {
  test('streams a fragmented message as its frames arrive', async () => {
    const { conn, peer } = setup();
    peer.send(text('first ', false));
    const { type, reader } = await conn.nextReader();
    expect(type).toBe(TextMessage);
    // The first fragment is readable before the rest of the message is sent.
    await once(reader, 'readable');
    expect((reader.read() as Buffer).toString()).toBe('first ');
    peer.send(continuation('second ', false));
    await once(reader, 'readable');
    expect((reader.read() as Buffer).toString()).toBe('second ');
    peer.send(continuation('last'));
    expect((await readAll(reader)).toString()).toBe('last');
  });

  test('a whole message already received is streamed and ended', async () => {
    const { conn, peer } = setup();
    peer.send([binary('one'), binary('two')]);
    const first = await conn.nextReader();
    expect(first.type).toBe(BinaryMessage);
    expect((await readAll(first.reader)).toString()).toBe('one');
    const second = await conn.nextReader();
    expect((await readAll(second.reader)).toString()).toBe('two');
  });

  test('streams a large message in constant memory: the socket is read as the stream is', async () => {
    const { conn, peer, socket, peerSocket } = setup();
    const fragment = 64 * 1024;
    const count = 64; // 4 MiB in all
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(fragment, i);
      frames.push(i === 0 ? binary(payload, false) : continuation(payload, i === count - 1));
    }
    peer.send(frames);
    const { reader } = await conn.nextReader();
    // Nobody reads the stream: the connection stops reading the socket.
    if (!socket.isPaused()) await once(socket, 'pause');
    await settle();
    const total = fragment * count;
    expect(peerSocket.bytesSent).toBeLessThan(total / 8);
    expect(reader.readableLength).toBeLessThanOrEqual(reader.readableHighWaterMark + fragment);
    // Reading the stream reads the socket; every byte arrives in order.
    let received = 0;
    let maxBuffered = 0;
    for await (const chunk of reader) {
      const piece = chunk as Buffer;
      for (let i = 0; i < piece.length; i += 4096) {
        expect(piece[i]).toBe(Math.floor((received + i) / fragment));
      }
      received += piece.length;
      maxBuffered = Math.max(maxBuffered, reader.readableLength, socket.readableLength);
    }
    expect(received).toBe(total);
    expect(maxBuffered).toBeLessThan(total / 8);
  });

  test('a stream whose connection fails before anyone reads it emits no unhandled error', async () => {
    const { conn, peer } = setup();
    peer.send(text('partial', false));
    const { reader } = await conn.nextReader();
    peer.destroy();
    await conn.closed;
    await settle();
    await settle();
    expect(reader.destroyed).toBe(false);
    // The failure reaches whoever reads it.
    const err = await rejection(readAll(reader));
    expect(err).toBeInstanceOf(CloseError);
    expect(err).toMatchObject({ code: 1006 });
  });

  test('a stream that fails while being read reports the error', async () => {
    const { conn, peer } = setup();
    peer.send(text('ok', false));
    const { reader } = await conn.nextReader();
    const all = readAll(reader);
    peer.send(continuation(Buffer.from([0xff])));
    const err = await rejection(all);
    expect(err).toBeInstanceOf(ProtocolError);
    await expectCloseFrame(peer, 1007);
    void conn;
  });

  test('a later read discards the rest of the streamed message', async () => {
    const { conn, peer } = setup();
    peer.send(text('abandoned', false));
    const { reader } = await conn.nextReader();
    const next = conn.readMessage();
    peer.send([continuation(' rest'), text('next')]);
    await expect(next).resolves.toEqual({ type: TextMessage, data: Buffer.from('next') });
    await expect(readAll(reader)).rejects.toThrow('discarded');
  });
  test('a stream abandoned part-way (a for await left early) does not stall later reads', async () => {
    const { conn, peer } = setup({ readBufferSize: 1024 });
    const big = Buffer.alloc(256 * 1024, 1);
    peer.send([binary(big.subarray(0, 1024), false), continuation(big.subarray(1024))]);
    const { reader } = await conn.nextReader();
    for await (const chunk of reader) {
      expect((chunk as Buffer)[0]).toBe(1);
      break; // destroys the stream
    }
    peer.send(text('next'));
    await expect(conn.readMessage()).resolves.toEqual({
      type: TextMessage,
      data: Buffer.from('next'),
    });
  });

  test('reads issued together are served in call order', async () => {
    const { conn, peer } = setup();
    const first = conn.readMessage();
    const second = conn.nextReader();
    const third = conn.readMessage();
    peer.send([text('1'), text('2'), text('3')]);
    await expect(first).resolves.toMatchObject({ data: Buffer.from('1') });
    const stream = await second;
    await expect(third).resolves.toMatchObject({ data: Buffer.from('3') });
    // The stream was served the second message, whole.
    expect((await readAll(stream.reader)).toString()).toBe('2');
  });
});

describe('backpressure on the read side', () => {
  test('the socket stops being read once unread data exceeds readBufferSize', async () => {
    const { conn, peer, socket, peerSocket } = setup({ readBufferSize: 4096 });
    const messages = Array.from({ length: 200 }, (_, i) => binary(Buffer.alloc(1024, i)));
    peer.send(messages);
    if (!socket.isPaused()) await once(socket, 'pause');
    await settle();
    const total = Buffer.concat(messages).length;
    expect(peerSocket.bytesSent).toBeLessThan(total / 2);
    // Control frames are still answered while the data waits (up to the point the socket is
    // paused they are parsed in order); reading resumes the socket and everything arrives.
    for (let i = 0; i < 200; i++) {
      const { data } = await conn.readMessage();
      expect(data.equals(Buffer.alloc(1024, i))).toBe(true);
    }
    expect(socket.isPaused()).toBe(false);
    expect(peerSocket.bytesSent).toBe(total);
  });

  test('many tiny unread messages also pause the socket', async () => {
    const { conn, peer, socket, peerSocket } = setup();
    const messages = Array.from({ length: 20_000 }, () => text(''));
    peer.send(messages);
    if (!socket.isPaused()) await once(socket, 'pause');
    await settle();
    expect(peerSocket.bytesSent).toBeLessThan(Buffer.concat(messages).length);
    for (let i = 0; i < 20_000; i++) await conn.readMessage();
    expect(socket.isPaused()).toBe(false);
  });

  test('a read waiting for a large message does not stall it', async () => {
    const { conn, peer } = setup({ readBufferSize: 1024 });
    const payload = Buffer.alloc(1 << 20, 7);
    const read = conn.readMessage();
    peer.send([binary(payload.subarray(0, 1000), false), continuation(payload.subarray(1000))]);
    const { data } = await read;
    expect(data.equals(payload)).toBe(true);
  });

  test('pings are answered while the application is not reading', async () => {
    const { peer } = setup();
    peer.send(ping('are you there'));
    await expect(peer.nextFrame()).resolves.toMatchObject({
      opcode: 10,
      payload: Buffer.from('are you there'),
    });
  });
});

describe('read limit', () => {
  test('a message over the limit: 1009 sent, ReadLimitError, earlier messages still read', async () => {
    const { conn, peer } = setup({ readLimit: 10 });
    peer.send([text('0123456789'), text('0123456789x')]);
    await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('0123456789') });
    const err = await rejection(conn.readMessage());
    expect(err).toBeInstanceOf(ReadLimitError);
    expect(err).toMatchObject({ closeCode: 1009, limit: 10, code: 'ERR_WS_READ_LIMIT' });
    await expectCloseFrame(peer, 1009);
    await peer.ended;
    await expect(conn.readMessage()).rejects.toBe(err);
  });

  test('a fragmented message fails at the frame header that crosses the limit', async () => {
    const { conn, peer } = setup();
    conn.setReadLimit(1000);
    const read = rejection(conn.readMessage());
    // Only the headers: the limit is known to be exceeded before any payload arrives.
    peer.send([binary(Buffer.alloc(600), false), continuation(Buffer.alloc(600)).subarray(0, 8)]);
    await expect(read).resolves.toBeInstanceOf(ReadLimitError);
    await expectCloseFrame(peer, 1009);
  });

  test('setReadLimit applies to messages that start after the call', async () => {
    const { conn, peer } = setup();
    peer.send(binary(Buffer.alloc(50), false));
    const { reader } = await conn.nextReader();
    conn.setReadLimit(60);
    peer.send(continuation(Buffer.alloc(50)));
    expect(await readAll(reader)).toHaveLength(100);
    peer.send(binary(Buffer.alloc(61)));
    await expect(conn.readMessage()).rejects.toBeInstanceOf(ReadLimitError);
  });

  test('setReadLimit refuses a limit that is not positive', () => {
    const { conn } = setup();
    expect(() => conn.setReadLimit(0)).toThrow(RangeError);
    expect(() => conn.setReadLimit(NaN)).toThrow(RangeError);
  });

  test(`more than ${1 << 17} fragments: 1008 and ProtocolError`, async () => {
    const { conn, peer } = setup();
    const empty = continuation('', false);
    // The first frame plus 2^17 continuations: one fragment too many.
    peer.send([binary('', false), Buffer.concat(Array<Buffer>(1 << 17).fill(empty))]);
    const err = await rejection(conn.readMessage());
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ closeCode: 1008, code: 'ERR_WS_TOO_MANY_FRAGMENTS' });
    await expectCloseFrame(peer, 1008);
  });

  test(`a message of exactly ${1 << 17} fragments is fine`, async () => {
    const { conn, peer } = setup();
    const one = continuation('x', false);
    peer.send([
      binary('x', false),
      Buffer.concat(Array<Buffer>((1 << 17) - 2).fill(one)),
      continuation('x'),
    ]);
    const { data } = await conn.readMessage();
    expect(data).toHaveLength(1 << 17);
  });
});

describe('read deadline', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  test('a deadline passing fails reads with TimeoutError, after the messages received', async () => {
    const { conn, peer } = setup();
    peer.send([text('a'), text('b')]);
    await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('a') });
    conn.setReadDeadline(Date.now() + 100);
    const third = rejection(conn.readMessage().then(() => conn.readMessage()));
    jest.advanceTimersByTime(100);
    const err = await third;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_WS_TIMEOUT', message: 'websocket: read timeout' });
  });

  test('the timeout is permanent: later messages are not read', async () => {
    const { conn, peer } = setup();
    conn.setReadDeadline(new Date(Date.now() - 1));
    const read = rejection(conn.readMessage());
    jest.advanceTimersByTime(0);
    const err = await read;
    expect(err).toBeInstanceOf(TimeoutError);
    conn.setReadDeadline(null);
    peer.send(text('too late'));
    await settle();
    await expect(conn.readMessage()).rejects.toBe(err);
    // The write side still works.
    await conn.writeMessage(TextMessage, 'still writing');
    await expect(peer.nextFrame()).resolves.toMatchObject({
      payload: Buffer.from('still writing'),
    });
  });

  test('extending the deadline before it passes keeps the read alive', async () => {
    const { conn, peer } = setup();
    conn.setReadDeadline(Date.now() + 100);
    let settled = false;
    const read = conn.readMessage().finally(() => (settled = true));
    jest.advanceTimersByTime(50);
    conn.setReadDeadline(Date.now() + 100);
    jest.advanceTimersByTime(80); // past the first deadline
    await settle();
    expect(settled).toBe(false);
    peer.send(text('in time'));
    await expect(read).resolves.toMatchObject({ data: Buffer.from('in time') });
    conn.setReadDeadline(null);
    jest.advanceTimersByTime(10_000);
    const next = conn.readMessage();
    peer.send(text('no deadline'));
    await expect(next).resolves.toMatchObject({ data: Buffer.from('no deadline') });
  });
});

describe('ping, pong and close handlers', () => {
  test('the default ping handler answers with a pong carrying the same payload', async () => {
    const { conn, peer } = setup();
    expect(conn.pingHandler()).toBeInstanceOf(Function);
    peer.send([ping('x'.repeat(125)), ping()]);
    await expect(peer.nextFrame()).resolves.toMatchObject({
      opcode: 10,
      payload: Buffer.from('x'.repeat(125)),
    });
    await expect(peer.nextFrame()).resolves.toMatchObject({ opcode: 10, payload: Buffer.alloc(0) });
  });

  test('custom ping and pong handlers; null restores the defaults', async () => {
    const { conn, peer } = setup();
    const seen: string[] = [];
    const onPing = (data: Buffer): void => void seen.push(`ping ${data.toString()}`);
    conn.setPingHandler(onPing);
    conn.setPongHandler((data) => void seen.push(`pong ${data.toString()}`));
    expect(conn.pingHandler()).toBe(onPing);
    peer.send([ping('1'), frame({ opcode: 10, payload: '2' }), text('sync')]);
    await conn.readMessage();
    expect(seen).toEqual(['ping 1', 'pong 2']);
    conn.setPingHandler(null);
    peer.send(ping('3'));
    // The only frame the peer gets is the default handler's pong to the last ping.
    await expect(peer.nextFrame()).resolves.toMatchObject({
      opcode: 10,
      payload: Buffer.from('3'),
    });
  });

  test('a handler that throws fails the read side with its error', async () => {
    const { conn, peer } = setup();
    const boom = new Error('handler failed');
    conn.setPingHandler(() => {
      throw boom;
    });
    peer.send([text('before'), ping(), text('after')]);
    await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('before') });
    await expect(conn.readMessage()).rejects.toBe(boom);
    await expect(conn.readMessage()).rejects.toBe(boom);
  });

  test('a handler that rejects fails the read side with its error', async () => {
    const { conn, peer } = setup();
    const boom = new Error('async handler failed');
    conn.setPongHandler(() => Promise.reject(boom));
    peer.send(frame({ opcode: 10 }));
    await expect(conn.readMessage()).rejects.toBe(boom);
  });

  test('the default close handler answers with the same code and no text', async () => {
    const { conn, peer } = setup();
    peer.send(close(4001, 'bye now'));
    await expectCloseFrame(peer, 4001);
    const err = await rejection(conn.readMessage());
    expect(err).toBeInstanceOf(CloseError);
    expect(err).toMatchObject({ code: 4001, text: 'bye now' });
    // The server ends TCP once both close frames have crossed (RFC 6455 section 7.1.1).
    await peer.ended;
    await conn.closed;
  });

  test('a close frame without a code is reported as 1005 and answered with an empty close', async () => {
    const { conn, peer } = setup();
    const seen: [number, string][] = [];
    const answer = conn.closeHandler();
    conn.setCloseHandler((code, reason) => {
      seen.push([code, reason]);
      return answer(code, reason);
    });
    peer.send(close());
    const reply = await peer.nextFrame();
    expect(reply).toMatchObject({ opcode: 8, payload: Buffer.alloc(0) });
    expect(seen).toEqual([[1005, '']]);
    await expect(conn.readMessage()).rejects.toMatchObject({ code: 1005 });
  });

  test('a custom close handler replaces the answer; reads still fail with CloseError', async () => {
    const { conn, peer } = setup();
    const seen: [number, string][] = [];
    conn.setCloseHandler((code, reason) => void seen.push([code, reason]));
    peer.send([close(1001, 'going'), ping('after close')]);
    await expect(conn.readMessage()).rejects.toMatchObject({ code: 1001, text: 'going' });
    expect(seen).toEqual([[1001, 'going']]);
    // Nothing was answered: neither the close nor the ping after it.
    await conn.writeControl(9, 'marker');
    await expect(peer.nextFrame()).resolves.toMatchObject({
      opcode: 9,
      payload: Buffer.from('marker'),
    });
  });
});

describe('closing and failing', () => {
  test('messages received before a close frame are still readable; then CloseError', async () => {
    const { conn, peer } = setup();
    peer.send([text('one'), binary('two'), close(1000, 'done')]);
    await peer.nextFrame(); // the close answer: everything has been parsed
    await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('one') });
    await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('two') });
    await expect(conn.readMessage()).rejects.toMatchObject({ code: 1000, text: 'done' });
    await expect(conn.nextReader()).rejects.toMatchObject({ code: 1000 });
  });

  test('a connection that ends without a close frame fails reads with 1006', async () => {
    const { conn, peer } = setup();
    const read = rejection(conn.readMessage());
    peer.destroy();
    const err = await read;
    expect(err).toBeInstanceOf(CloseError);
    expect(err).toMatchObject({ code: 1006 });
  });

  test('a protocol error sends 1002, ends TCP and fails reads with ProtocolError', async () => {
    const { conn, peer } = setup();
    peer.send(frame({ opcode: 1, payload: 'x', rsv2: true }));
    const err = await rejection(conn.readMessage());
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ closeCode: 1002, message: 'websocket: RSV2 set' });
    await expectCloseFrame(peer, 1002);
    await peer.ended;
  });

  test('invalid UTF-8 fails fast, before the message ends: 1007', async () => {
    const { conn, peer } = setup();
    const read = rejection(conn.readMessage());
    peer.send(text(Buffer.from([0x68, 0xed, 0xa0, 0x80]), false)); // a surrogate
    const err = await read;
    expect(err).toMatchObject({ closeCode: 1007, code: 'ERR_WS_INVALID_UTF8' });
    await expectCloseFrame(peer, 1007);
  });

  test.each<[string, Buffer, number]>([
    ['a one-byte close payload', frame({ opcode: 8, payload: Buffer.from([3]) }), 1002],
    ['close code 1005 on the wire', close(1005), 1002],
    ['close code 2999', close(2999), 1002],
    [
      'an invalid UTF-8 close reason',
      frame({ opcode: 8, payload: Buffer.from([3, 232, 0xc0]) }),
      1007,
    ],
  ])('%s fails the connection with %i', async (_name, bytes, code) => {
    const { conn, peer } = setup();
    peer.send(bytes);
    await expect(conn.readMessage()).rejects.toMatchObject({ closeCode: code });
    await expectCloseFrame(peer, code);
  });
});
