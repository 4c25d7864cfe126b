/**
 * The handshake time bound: sockets that send their upgrade request a byte at a time are cut off
 * (408, closed) by the adapters' `headersTimeout`, while a good client is served meanwhile.
 * `bench/slow-handshakes.mjs` runs the same with a thousand senders and measures the cut-off.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import express from 'express';
import { websocket } from '@silverback/express';
import { useCleanups } from '../helpers/cleanups';
import { serverCloser } from '../helpers/listen';
import { upgradeRequestHead } from '../helpers/upgrade-request';
import { nextMessage, wsClients } from '../helpers/ws-client';

const cleanups = useCleanups();
const { open } = wsClients(cleanups);

const SLOW_SENDERS = 200;
const BOUND = 1000;

beforeEach(() => {
  // The bound's timers run on Jest's clock, so the test says exactly when the cut comes; the
  // sockets, their ticks and immediates are real.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
});
afterEach(() => {
  jest.useRealTimers();
});

/** Lets the sockets deliver what was written, both ways. */
async function settleIo(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A slow sender: writes its request a byte at a time, and records when the server closes it. */
interface SlowSender {
  sendByte(): void;
  closed: boolean;
  answer(): string;
  bytesSent: number;
  done: Promise<void>;
}

async function slowSender(port: number, head: string): Promise<SlowSender> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const sender: SlowSender = {
    sendByte() {
      if (sender.bytesSent < head.length && socket.writable)
        socket.write(head[sender.bytesSent++]!);
    },
    closed: false,
    answer: () => Buffer.concat(chunks).toString('latin1'),
    bytesSent: 0,
    done: once(socket, 'close').then(() => {
      sender.closed = true;
    }),
  };
  return sender;
}

/** A started app: its port, and a promise of its `n`-th accepted connection. */
interface Started {
  port: number;
  accepted(n: number): Promise<void>;
}

async function startApp(headersTimeout: number): Promise<Started> {
  const app = express();
  const handle = websocket(app, { headersTimeout });
  cleanups.push(() => handle.close({ drainMs: 50 }));
  app.get('/plain', (_req, res) => {
    res.send('plain');
  });
  app.ws('/echo', async (conn) => {
    for await (const { type, data } of conn) await conn.writeMessage(type, data);
  });
  const server = app.listen(0, '127.0.0.1');
  cleanups.push(serverCloser(server).close);
  let count = 0;
  const waiting = new Map<number, () => void>();
  server.on('connection', () => waiting.get(++count)?.());
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    accepted: (n) =>
      count >= n ? Promise.resolve() : new Promise((resolve) => waiting.set(n, resolve)),
  };
}

test(`${SLOW_SENDERS} slow senders are cut off with 408 at the bound, while a good client is served`, async () => {
  const { port, accepted } = await startApp(BOUND);
  const head = upgradeRequestHead(port, '/echo');
  const senders = await Promise.all(
    Array.from({ length: SLOW_SENDERS }, () => slowSender(port, head)),
  );
  // The clock starts once the server has accepted them all (it accepts a few per turn).
  await accepted(SLOW_SENDERS);
  // One byte each per 100 ms, up to just before the bound: all still connected.
  for (let elapsed = 0; elapsed < BOUND; elapsed += 100) {
    for (const sender of senders) sender.sendByte();
    await settleIo();
    jest.advanceTimersByTime(elapsed + 100 < BOUND ? 100 : 99);
    await settleIo();
  }
  expect(senders.filter((s) => s.closed)).toEqual([]);

  // Meanwhile, a good client upgrades and is echoed.
  const good = await open(port, '/echo');
  good.send('served');
  expect(await nextMessage(good)).toBe('served');

  // At the bound, every slow sender is answered 408 and closed, mid-request.
  jest.advanceTimersByTime(1);
  await Promise.all(senders.map((s) => s.done));
  for (const sender of senders) {
    expect(sender.answer()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(sender.bytesSent).toBeLessThan(head.length);
  }
  // The good client, upgraded before the bound, was not touched.
  good.send('still here');
  expect(await nextMessage(good)).toBe('still here');
});

test('a connection that sent its head in time is not cut off later, plain or upgraded', async () => {
  const { port } = await startApp(200);
  const ws = await open(port, '/echo');
  const socket = connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  const request = `GET /plain HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`;
  const first = once(socket, 'data');
  socket.write(request);
  expect(String((await first)[0])).toMatch(/^HTTP\/1\.1 200 OK/);

  // Far past the bound (Node's own keep-alive timeout aside, which is not ours to bound).
  jest.advanceTimersByTime(2000);
  await settleIo();
  const second = once(socket, 'data');
  socket.write(request);
  expect(String((await second)[0])).toMatch(/^HTTP\/1\.1 200 OK/);
  ws.send('still open');
  expect(await nextMessage(ws)).toBe('still open');
});

test('headersTimeout: 0 leaves the slow sender to Node', async () => {
  const { port, accepted } = await startApp(0);
  const sender = await slowSender(port, upgradeRequestHead(port, '/echo'));
  await accepted(1);
  sender.sendByte();
  await settleIo();
  jest.advanceTimersByTime(20_000);
  await settleIo();
  expect(sender.closed).toBe(false);
});
