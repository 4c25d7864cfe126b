/**
 * redial: a client that reconnects, against a real server that restarts, refuses and hangs.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  CloseServiceRestart,
  Dialer,
  redial,
  TextMessage,
  Upgrader,
  type Conn,
  type RetryInfo,
} from '@silverback/websocket';
import { queue } from '../../../test/helpers/async';
import { useCleanups } from '../../../test/helpers/cleanups';
import { backoffDelay } from '../src/redial';

const cleanups = useCleanups();

/**
 * A server that can stop and start again on the same port: each connection is greeted with the
 * server's generation, and its close codes are recorded.
 */
class RestartingServer {
  port = 0;
  generation = 0;
  /** The close code of each connection, as it ends. */
  readonly closes = queue<number>();
  readonly conns = queue<Conn>();
  #server: Server | null = null;
  #sockets = new Set<Socket>();
  #open = new Set<Conn>();
  #upgrader = new Upgrader();

  async start(): Promise<void> {
    const server = createServer((req, res) => res.writeHead(404).end());
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('upgrade', (req, socket, head: Buffer) => {
      this.#upgrader.upgrade(req, socket, head).then(
        async (conn) => {
          this.#open.add(conn);
          void conn.closed.then(() => {
            this.#open.delete(conn);
            this.closes.push(conn.closeStatus()!.code);
          });
          this.conns.push(conn);
          try {
            await conn.writeMessage(TextMessage, `generation ${this.generation}`);
            for await (const _ of conn);
          } catch {
            // closed by a restart (1012) or by the client
          }
        },
        () => {},
      );
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  get listening(): boolean {
    return this.#server !== null;
  }

  /** Closes every connection with 1012 (service restart) and stops listening. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server === null) return;
    this.generation += 1;
    const closing = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all([...this.#open].map((conn) => conn.closeGracefully(CloseServiceRestart)));
    for (const socket of this.#sockets) socket.destroy();
    await closing;
  }
}

async function restartingServer(): Promise<RestartingServer> {
  const server = new RestartingServer();
  await server.start();
  cleanups.push(() => server.stop());
  return server;
}

function aborter(): AbortController {
  const controller = new AbortController();
  cleanups.push(() => controller.abort());
  return controller;
}

describe('backoffDelay', () => {
  test('doubles from minDelay up to maxDelay, in the upper half of each step (equal jitter)', () => {
    const at = (random: number): number[] =>
      [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelay(attempt, 100, 1000, () => random));
    expect(at(0)).toEqual([50, 100, 200, 400, 500, 500, 500]);
    expect(at(0.5)).toEqual([75, 150, 300, 600, 750, 750, 750]);
    expect(at(0.999999)).toEqual([99, 199, 399, 799, 999, 999, 999]);
  });

  test('after a connection that lasted, a random wait below minDelay', () => {
    expect(backoffDelay(0, 100, 1000, () => 0)).toBe(0);
    expect(backoffDelay(0, 100, 1000, () => 0.5)).toBe(50);
    expect(backoffDelay(0, 100, 1000, () => 0.999999)).toBe(99);
  });

  test('huge attempt counts stay at maxDelay', () => {
    expect(backoffDelay(10_000, 100, 30_000, () => 0.999999)).toBe(29_999);
  });
});

test('survives three server restarts in a row, backing off while the server is down', async () => {
  const server = await restartingServer();
  const stop = aborter();
  const retries: RetryInfo[] = [];
  const greetings: string[] = [];
  let refusedWhileDown = 0;
  const url = `ws://127.0.0.1:${server.port}/feed`;
  for await (const conn of redial(url, {
    signal: stop.signal,
    minDelay: 5,
    maxDelay: 40,
    onRetry: (info) => {
      retries.push(info);
      // The server comes back once two dials in a row have been refused.
      if (info.error !== undefined && !server.listening && ++refusedWhileDown === 2) {
        void server.start();
      }
    },
  })) {
    greetings.push((await conn.readMessage()).data.toString());
    if (greetings.length === 4) break;
    refusedWhileDown = 0;
    await server.stop();
    await conn.closed;
  }
  expect(greetings).toEqual(['generation 0', 'generation 1', 'generation 2', 'generation 3']);
  // Each restart: the connection's end (attempt 1, it did not last), then failed dials.
  const failed = retries.filter((r) => r.error !== undefined);
  expect(failed.length).toBeGreaterThanOrEqual(6); // two refusals per restart, or more
  for (const retry of failed) expect(retry.error).toMatchObject({ code: 'ECONNREFUSED' });
  // No connection lasted: the attempts count up across the restarts, and the delays with them.
  expect(retries.map((r) => r.attempt)).toEqual(retries.map((_, i) => i + 1));
  for (const retry of retries) {
    const base = Math.min(40, 5 * 2 ** (retry.attempt - 1));
    expect(retry.delay).toBeGreaterThanOrEqual(Math.floor(base / 2));
    expect(retry.delay).toBeLessThan(base);
  }
  // The restarts closed the first three with 1012; breaking out closed the last with 1000.
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push(await server.closes.next());
  expect(codes).toEqual([1012, 1012, 1012, 1000]);
});

test('the backoff grows while the server stays down, then an abort ends the iteration quietly', async () => {
  const server = await restartingServer();
  await server.stop();
  const stop = aborter();
  const retries = queue<RetryInfo>();
  const seen: RetryInfo[] = [];
  const iteration = (async () => {
    for await (const _ of redial(`ws://127.0.0.1:${server.port}/`, {
      signal: stop.signal,
      minDelay: 8,
      maxDelay: 32,
      onRetry: (info) => retries.push(info),
    })) {
      throw new Error('no server should have answered');
    }
  })();
  for (let i = 0; i < 5; i++) seen.push(await retries.next());
  stop.abort();
  await iteration; // quietly: no error
  expect(seen.map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5]);
  const bases = [8, 16, 32, 32, 32];
  seen.forEach((retry, i) => {
    expect(retry.delay).toBeGreaterThanOrEqual(Math.floor(bases[i]! / 2));
    expect(retry.delay).toBeLessThan(bases[i]!);
    expect(retry.error).toMatchObject({ code: 'ECONNREFUSED' });
  });
});

test('aborting while connected closes the connection with 1000 and ends the iteration', async () => {
  const server = await restartingServer();
  const stop = aborter();
  let bodies = 0;
  for await (const conn of redial(`ws://127.0.0.1:${server.port}/`, { signal: stop.signal })) {
    bodies += 1;
    await conn.readMessage();
    stop.abort();
    // The loop body sees the connection end normally: for-await ends quietly.
    for await (const _ of conn);
  }
  expect(bodies).toBe(1);
  expect(await server.closes.next()).toBe(1000);
});

test('aborting a dial that hangs ends the iteration', async () => {
  // A server that accepts TCP connections and never answers.
  const mute = createServer();
  mute.on('upgrade', () => {});
  const sockets = new Set<Socket>();
  mute.on('connection', (socket: Socket) => sockets.add(socket));
  mute.listen(0, '127.0.0.1');
  await once(mute, 'listening');
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => mute.close(resolve));
  });
  const stop = aborter();
  const connected = once(mute, 'upgrade');
  const iteration = (async () => {
    const url = `ws://127.0.0.1:${(mute.address() as AddressInfo).port}/`;
    for await (const _ of redial(url, { signal: stop.signal, handshakeTimeout: 0 })) {
      throw new Error('the mute server never upgrades');
    }
  })();
  await connected;
  stop.abort();
  await iteration;
});

test('an already aborted signal yields nothing', async () => {
  const server = await restartingServer();
  let bodies = 0;
  for await (const _ of redial(`ws://127.0.0.1:${server.port}/`, {
    signal: AbortSignal.abort(),
  })) {
    bodies += 1;
  }
  expect(bodies).toBe(0);
});

test('a connection that lasted resets the backoff; the headers function runs for each dial', async () => {
  const server = await restartingServer();
  const stop = aborter();
  const retries: RetryInfo[] = [];
  let dials = 0;
  let bodies = 0;
  for await (const conn of redial(`ws://127.0.0.1:${server.port}/`, {
    signal: stop.signal,
    resetAfter: 0,
    minDelay: 5,
    headers: () => ({ 'x-dial': String(++dials) }),
    onRetry: (info) => retries.push(info),
  })) {
    await conn.readMessage();
    if (++bodies === 3) break;
    (await server.conns.next()).close();
    await conn.closed;
  }
  expect(dials).toBe(3);
  expect(retries.map((r) => [r.attempt, r.error])).toEqual([
    [0, undefined],
    [0, undefined],
  ]);
  for (const retry of retries) expect(retry.delay).toBeLessThan(5);
});

test("a Dialer of one's own, and a malformed URL throws at once", async () => {
  const server = await restartingServer();
  const stop = aborter();
  const dialer = new Dialer({ subprotocols: ['feed'] });
  for await (const conn of redial(`ws://127.0.0.1:${server.port}/`, {
    dialer,
    signal: stop.signal,
  })) {
    expect((await conn.readMessage()).data.toString()).toBe('generation 0');
    break;
  }
  const malformed = (async () => {
    for await (const _ of redial('ftp://example.com/')) break;
  })();
  await expect(malformed).rejects.toThrow(TypeError);
});
