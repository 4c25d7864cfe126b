/**
 * keepAlive: the heartbeat pings a quiet peer and ends the connection when nothing comes back.
 * The timing tests run on Jest's fake clock (timers and `performance.now()`), so they assert the
 * exact moments without waiting for them; the socket tests run on real time with real peers.
 */
import { once } from 'node:events';
import {
  BinaryMessage,
  CloseError,
  Dialer,
  TextMessage,
  TimeoutError,
  Upgrader,
  type Conn,
} from '@silverback/websocket';
import WebSocket from 'ws';
import { rejection, settle } from '../../../test/helpers/async';
import { useCleanups } from '../../../test/helpers/cleanups';
import { useMemoryConns } from '../../../test/helpers/duplex-pair';
import { frame, type ParsedFrame } from '../../../test/helpers/frames';
import { rawConnect, type RawPeer } from '../../../test/helpers/raw-client';
import { startServer } from '../../../test/helpers/server';
import { keepAliveTiming } from '../src/keepalive';

const setup = useMemoryConns();
const cleanups = useCleanups();

/** Collects every frame the peer receives, as it arrives. */
function collect(peer: RawPeer): ParsedFrame[] {
  const frames: ParsedFrame[] = [];
  void (async () => {
    for (let next = await peer.nextFrame(); next !== null; next = await peer.nextFrame()) {
      frames.push(next);
    }
  })();
  return frames;
}

const opcodes = (frames: ParsedFrame[]): number[] => frames.map((f) => f.opcode);
const masked = (opcode: number, payload: string | Buffer = ''): Buffer =>
  frame({ opcode, payload, mask: true });

describe('on a fake clock', () => {
  beforeEach(() => {
    // Streams need their ticks and immediates; the heartbeat's timers and clock are faked.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /** Moves the fake clock on, then lets the streams and the heartbeat's second look run. */
  async function advance(ms: number): Promise<void> {
    await settle();
    jest.advanceTimersByTime(ms);
    await settle();
    await settle();
  }

  test('pings after `interval` of silence, and ends the connection `timeout` after an unanswered ping', async () => {
    const { conn, peer } = setup({ keepAlive: { interval: 1000, timeout: 500 } });
    const frames = collect(peer);
    const pending = rejection(conn.readMessage());
    await advance(999);
    expect(opcodes(frames)).toEqual([]);
    await advance(1);
    expect(opcodes(frames)).toEqual([9]);
    await advance(499);
    expect(conn.underlyingConn().destroyed).toBe(false);
    await advance(1);
    const err = await pending;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_WS_KEEPALIVE' });
    expect((err as Error).message).toMatch(/keepalive timeout.*within 500 ms of a ping/);
    await conn.closed;
    expect(conn.closeStatus()).toEqual({ code: 1006, reason: '', initiator: undefined });
    // Later reads fail the same way; writes say the connection is gone, and why.
    await expect(conn.readMessage()).rejects.toBe(err);
    const write = await rejection(conn.writeMessage(TextMessage, 'late'));
    expect(write).toBeInstanceOf(CloseError);
    expect(write).toMatchObject({ code: 1006 });
    expect((write as Error).message).toContain('keepalive timeout');
    // No close frame: the peer is presumed gone.
    expect(opcodes(frames)).toEqual([9]);
  });

  test('an answer keeps the connection; the next ping comes `interval` after it', async () => {
    const { conn, peer } = setup({ keepAlive: { interval: 1000, timeout: 500 } });
    const frames = collect(peer);
    await advance(1000);
    expect(opcodes(frames)).toEqual([9]);
    await advance(100);
    peer.send(masked(10)); // pong, 100 ms after the ping
    await advance(400); // the timeout passes: answered
    await advance(599);
    expect(opcodes(frames)).toEqual([9]);
    await advance(1);
    expect(opcodes(frames)).toEqual([9, 9]);
    expect(conn.underlyingConn().destroyed).toBe(false);
  });

  test('any frame from the peer counts, and defers the ping', async () => {
    const { conn, peer } = setup({ keepAlive: { interval: 1000, timeout: 500 } });
    const frames = collect(peer);
    await advance(600);
    peer.send(masked(TextMessage, 'still here'));
    await advance(999);
    expect(opcodes(frames)).toEqual([]);
    await advance(1);
    expect(opcodes(frames)).toEqual([9]);
    expect((await conn.readMessage()).data.toString()).toBe('still here');
  });

  test('a message arriving after the ping answers it too', async () => {
    const { conn, peer } = setup({ keepAlive: { interval: 1000, timeout: 500 } });
    const frames = collect(peer);
    await advance(1200);
    peer.send(masked(BinaryMessage, Buffer.from([1, 2, 3])));
    await advance(999); // the next ping is due 1,000 ms after the message
    expect(conn.underlyingConn().destroyed).toBe(false);
    expect(opcodes(frames)).toEqual([9]);
    await advance(1);
    expect(opcodes(frames)).toEqual([9, 9]);
  });

  test('what this side sends does not count as traffic', async () => {
    const { conn, peer } = setup({ keepAlive: { interval: 1000, timeout: 500 } });
    const frames = collect(peer);
    for (let i = 0; i < 3; i++) {
      await conn.writeMessage(TextMessage, `tick ${i}`);
      await advance(300);
    }
    await advance(100);
    expect(opcodes(frames)).toEqual([1, 1, 1, 9]);
    await advance(500);
    await conn.closed;
  });

  test('works without a read pending: the peer is found dead, and the next read says so', async () => {
    const { conn } = setup({ keepAlive: { interval: 1000, timeout: 500 } });
    await advance(1500);
    await conn.closed;
    await expect(conn.readMessage()).rejects.toMatchObject({ code: 'ERR_WS_KEEPALIVE' });
  });

  test('messages that arrived before the peer went quiet stay readable', async () => {
    const { conn, peer } = setup({ keepAlive: { interval: 1000, timeout: 500 } });
    peer.send(masked(TextMessage, 'first'));
    await advance(2500);
    await conn.closed;
    expect((await conn.readMessage()).data.toString()).toBe('first');
    await expect(conn.readMessage()).rejects.toMatchObject({ code: 'ERR_WS_KEEPALIVE' });
  });

  test('a connection that stopped reading because the application lags is not found dead', async () => {
    const { conn, peer } = setup({
      keepAlive: { interval: 1000, timeout: 500 },
      readBufferSize: 1024,
      highWaterMark: 1024,
    });
    const frames = collect(peer);
    // More than the read buffer, unread: the connection stops reading the socket.
    for (let i = 0; i < 8; i++) peer.send(masked(BinaryMessage, Buffer.alloc(512, i)));
    for (let i = 0; i < 10; i++) await advance(1000);
    expect(conn.underlyingConn().destroyed).toBe(false);
    // It kept pinging meanwhile, for the proxies in between.
    expect(opcodes(frames).length).toBeGreaterThanOrEqual(5);
    expect(new Set(opcodes(frames))).toEqual(new Set([9]));
    for (let i = 0; i < 8; i++) expect((await conn.readMessage()).data[0]).toBe(i);
  });

  test('a client connection pings masked, as RFC 6455 requires of clients', async () => {
    const { conn, peer } = setup({ isServer: false, keepAlive: { interval: 200, timeout: 100 } });
    const frames = collect(peer);
    await advance(200);
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ opcode: 9, masked: true });
    await advance(100);
    await conn.closed;
  });

  test('keepAlive false, or absent, runs no heartbeat', async () => {
    for (const keepAlive of [false, undefined] as const) {
      const { conn, peer } = setup({ keepAlive });
      const frames = collect(peer);
      await advance(3_600_000);
      expect(frames).toEqual([]);
      expect(conn.underlyingConn().destroyed).toBe(false);
    }
  });

  test('the heartbeat stops when the connection closes', async () => {
    const { conn } = setup({ keepAlive: { interval: 1000, timeout: 500 } });
    expect(jest.getTimerCount()).toBe(1);
    conn.close();
    await conn.closed;
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('options', () => {
  test.each([
    [{ interval: 0, timeout: 1000 }, /keepAlive.interval must be a positive/],
    [{ interval: 1000, timeout: -1 }, /keepAlive.timeout must be a positive/],
    [{ interval: Infinity, timeout: 1 }, /keepAlive.interval/],
    [{ interval: '1000', timeout: 1 }, /keepAlive.interval/],
  ])('%j is refused by the Upgrader and the Dialer', (keepAlive, message) => {
    const options = { keepAlive } as unknown as ConstructorParameters<typeof Upgrader>[0];
    expect(() => new Upgrader(options)).toThrow(message);
    expect(() => new Dialer(options)).toThrow(message);
  });

  test('false and undefined mean none', () => {
    expect(keepAliveTiming(false)).toBeNull();
    expect(keepAliveTiming(undefined)).toBeNull();
    expect(keepAliveTiming({ interval: 5, timeout: 6 })).toEqual({ interval: 5, timeout: 6 });
  });
});

describe('over TCP', () => {
  test('a raw client that never answers pings is closed, with and without a read pending', async () => {
    const handled: { pending: boolean; error: unknown; conn: Conn }[] = [];
    const server = await startServer(
      async (conn, req) => {
        const pending = req.url === '/reading';
        if (pending) {
          handled.push({ pending, error: await rejection(conn.readMessage()), conn });
        } else {
          await conn.closed; // busy elsewhere: never reads
          handled.push({ pending, error: await rejection(conn.readMessage()), conn });
        }
      },
      { keepAlive: { interval: 50, timeout: 200 } },
    );
    cleanups.push(() => server.close());
    for (const path of ['/reading', '/busy']) {
      const client = await rawConnect(server.port, path);
      cleanups.push(() => client.destroy());
      const frames: ParsedFrame[] = [];
      for (let f = await client.nextFrame(); f !== null; f = await client.nextFrame()) {
        frames.push(f);
      }
      // A ping or more (an empty payload), then the end of the TCP connection, no close frame.
      expect(frames.length).toBeGreaterThan(0);
      expect(frames.every((f) => f.opcode === 9)).toBe(true);
    }
    await Promise.all(server.conns.map((conn) => conn.closed));
    expect(handled.map(({ pending, error }) => [pending, (error as TimeoutError).code])).toEqual(
      expect.arrayContaining([
        [true, 'ERR_WS_KEEPALIVE'],
        [false, 'ERR_WS_KEEPALIVE'],
      ]),
    );
    for (const { conn } of handled) expect(conn.closeStatus()?.code).toBe(1006);
  });

  test('a client that answers pings stays connected across many intervals, read or not', async () => {
    const server = await startServer(undefined, { keepAlive: { interval: 20, timeout: 5000 } });
    cleanups.push(() => server.close());
    const ws = new WebSocket(`${server.url}/`);
    cleanups.push(() => ws.terminate());
    let pings = 0;
    const tenPings = new Promise<void>((resolve) =>
      ws.on('ping', () => {
        if (++pings === 10) resolve();
      }),
    );
    await once(ws, 'open');
    const conn = await server.nextConn();
    // Ten pings, each answered by ws's automatic pong, while nobody reads on the server.
    await tenPings;
    expect(conn.underlyingConn().destroyed).toBe(false);
    ws.send('after ten pings');
    expect((await conn.readMessage()).data.toString()).toBe('after ten pings');
  });

  test("the Dialer's keepAlive finds a server that stopped answering", async () => {
    const server = await startServer();
    cleanups.push(() => server.close());
    const dialer = new Dialer({ keepAlive: { interval: 30, timeout: 100 } });
    const { conn } = await dialer.dial(`${server.url}/`);
    cleanups.push(() => conn.close());
    const serverConn = await server.nextConn();
    // The server's connection stops reading its socket, so it never sees (or answers) a ping.
    serverConn.underlyingConn().pause();
    await expect(conn.readMessage()).rejects.toMatchObject({ code: 'ERR_WS_KEEPALIVE' });
  });
});
