/**
 * rateLimit: a peer that sends faster than the limits is closed with 1008. The exact counts run
 * on Jest's fake clock; the flood runs over TCP from a raw client.
 */
import {
  BinaryMessage,
  Dialer,
  RateLimitError,
  TextMessage,
  Upgrader,
  type Conn,
} from '@silverback/websocket';
import { queue, rejection, settle } from '../../../test/helpers/async';
import { useCleanups } from '../../../test/helpers/cleanups';
import { useMemoryConns } from '../../../test/helpers/duplex-pair';
import { frame, type ParsedFrame } from '../../../test/helpers/frames';
import { rawConnect, type RawPeer } from '../../../test/helpers/raw-client';
import { startServer } from '../../../test/helpers/server';
import { rateLimiter } from '../src/rate-limit';

const setup = useMemoryConns();
const cleanups = useCleanups();

const message = (payload: string | Buffer, opcode = TextMessage): Buffer =>
  frame({ opcode, payload, mask: true });

/** Every frame until the connection ends. */
async function framesUntilEnd(peer: RawPeer): Promise<ParsedFrame[]> {
  const frames: ParsedFrame[] = [];
  for (let next = await peer.nextFrame(); next !== null; next = await peer.nextFrame()) {
    frames.push(next);
  }
  return frames;
}

/** Reads until the read side fails; returns the messages read and the error. */
async function readAll(conn: Conn): Promise<{ read: string[]; error: unknown }> {
  const read: string[] = [];
  for (;;) {
    try {
      read.push((await conn.readMessage()).data.toString());
    } catch (error) {
      return { read, error };
    }
  }
}

describe('on a fake clock', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  test('a burst of messages passes; one more fails the connection with 1008', async () => {
    const { conn, peer } = setup({ rateLimit: { messagesPerSecond: 10, messageBurst: 5 } });
    const ending = framesUntilEnd(peer);
    peer.send(Array.from({ length: 6 }, (_, i) => message(`m${i}`)));
    const { read, error } = await readAll(conn);
    expect(read).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({
      code: 'ERR_WS_RATE_LIMIT',
      closeCode: 1008,
      limit: 'messages',
      rate: 10,
      burst: 5,
    });
    expect((error as Error).message).toBe(
      'websocket: rate limit exceeded: the peer sent more than 10 messages per second ' +
        '(rateLimit.messagesPerSecond, burst 5); the connection was closed with 1008',
    );
    const frames = await ending;
    expect(frames.map((f) => [f.opcode, f.payload.readUInt16BE(0)])).toEqual([[8, 1008]]);
    expect(conn.closeStatus()).toMatchObject({ code: 1008, initiator: 'local' });
  });

  test('the bucket refills at the rate: a peer within it is never cut off', async () => {
    const { conn, peer } = setup({ rateLimit: { messagesPerSecond: 10, messageBurst: 5 } });
    // Fifty messages, one per 100 ms: exactly the rate, for five seconds.
    for (let i = 0; i < 50; i++) {
      peer.send(message(`m${i}`));
      await settle();
      jest.advanceTimersByTime(100);
    }
    for (let i = 0; i < 50; i++) expect((await conn.readMessage()).data.toString()).toBe(`m${i}`);
    // And after a quiet second, a full burst again.
    jest.advanceTimersByTime(1000);
    peer.send(Array.from({ length: 5 }, (_, i) => message(`b${i}`)));
    for (let i = 0; i < 5; i++) expect((await conn.readMessage()).data.toString()).toBe(`b${i}`);
    expect(conn.closeStatus()).toBeUndefined();
  });

  test('pings count as messages: a ping flood is cut off', async () => {
    const { conn, peer } = setup({ rateLimit: { messagesPerSecond: 100 } });
    const reading = rejection(conn.readMessage());
    peer.send(Array.from({ length: 101 }, () => frame({ opcode: 9, mask: true })));
    expect(await reading).toMatchObject({ limit: 'messages' });
    const frames = await framesUntilEnd(peer);
    expect(frames.filter((f) => f.opcode === 10)).toHaveLength(100);
    expect(frames.at(-1)?.opcode).toBe(8);
  });

  test('bytes per second, with a burst: the byte past the burst fails the connection', async () => {
    const { conn, peer } = setup({ rateLimit: { bytesPerSecond: 1000, byteBurst: 4096 } });
    peer.send(Array.from({ length: 4 }, () => message(Buffer.alloc(1024), BinaryMessage)));
    peer.send(message(Buffer.alloc(1), BinaryMessage));
    const { read, error } = await readAll(conn);
    expect(read).toHaveLength(4);
    expect(error).toMatchObject({ limit: 'bytes', rate: 1000, burst: 4096, closeCode: 1008 });
  });

  test('a large message sent at the byte rate passes', async () => {
    const { conn, peer } = setup({ rateLimit: { bytesPerSecond: 1000, byteBurst: 1000 } });
    // 5,000 bytes in one message, 500 bytes each half second.
    const whole = message(Buffer.alloc(5000, 7), BinaryMessage);
    const header = whole.length - 5000;
    peer.send(whole.subarray(0, header + 500));
    for (let sent = header + 500; sent < whole.length; sent += 500) {
      await settle();
      jest.advanceTimersByTime(500);
      peer.send(whole.subarray(sent, sent + 500));
    }
    expect((await conn.readMessage()).data).toEqual(Buffer.alloc(5000, 7));
  });
});

describe('options', () => {
  test('off by default, and with false', () => {
    expect(rateLimiter(undefined)).toBeNull();
    expect(rateLimiter(false)).toBeNull();
    expect(rateLimiter({})).toBeNull();
  });

  test.each([
    [{ messagesPerSecond: 0 }, /rateLimit.messagesPerSecond must be a number above 0/],
    [{ bytesPerSecond: -5 }, /rateLimit.bytesPerSecond/],
    [{ messagesPerSecond: 5, messageBurst: '10' }, /rateLimit.messageBurst/],
  ])('%j is refused by the Upgrader and the Dialer', (rateLimit, expected) => {
    const options = { rateLimit } as unknown as ConstructorParameters<typeof Upgrader>[0];
    expect(() => new Upgrader(options)).toThrow(expected);
    expect(() => new Dialer(options)).toThrow(expected);
  });
});

test('a raw client flooding the server is closed with 1008; a calm one is served', async () => {
  const outcomes = queue<{ read: string[]; error: unknown }>();
  const server = await startServer(
    async (conn, req) => {
      if (req.url === '/flood') {
        outcomes.push(await readAll(conn));
        return;
      }
      for await (const { type, data } of conn) await conn.writeMessage(type, data);
    },
    { rateLimit: { messagesPerSecond: 50, messageBurst: 20, bytesPerSecond: 100_000 } },
  );
  cleanups.push(() => server.close());
  const calm = await rawConnect(server.port, '/calm');
  cleanups.push(() => calm.destroy());
  const flood = await rawConnect(server.port, '/flood');
  cleanups.push(() => flood.destroy());

  // Ten thousand messages in one go.
  flood.send(Array.from({ length: 10_000 }, (_, i) => message(`flood ${i}`)));
  const frames = await framesUntilEnd(flood);
  expect(frames.map((f) => [f.opcode, f.payload.readUInt16BE(0)])).toEqual([[8, 1008]]);
  const { read, error } = await outcomes.next();
  expect(error).toBeInstanceOf(RateLimitError);
  // The burst went through (and what the rate refilled meanwhile), then no more.
  expect(read.length).toBeGreaterThanOrEqual(20);
  expect(read.length).toBeLessThan(10_000);
  expect(read.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `flood ${i}`));

  calm.send(message('hello'));
  expect((await calm.nextFrame())?.payload.toString()).toBe('hello');
});
