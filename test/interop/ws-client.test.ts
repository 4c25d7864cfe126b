/**
 * Interop: the `ws` npm client (the most used WebSocket library for Node) talking to our server.
 * Echoes go through the autobahn example's echo server (whole-message and streaming echo);
 * server-initiated pings and closes through `test/helpers/server.ts`, whose handler holds the
 * server's `Conn`.
 */
import { once } from 'node:events';
import WebSocket, { type ClientOptions, type RawData } from 'ws';
import { startEchoServer, type EchoServer } from '../../examples/autobahn/src/server';
import { BinaryMessage, CloseError, PingMessage, TextMessage } from '@silverback/websocket';
import { echo, startServer, type TestServer } from '../helpers/server';

const KiB = 1024;
const MiB = 1024 * KiB;

const clients: WebSocket[] = [];
const servers: TestServer[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  for (const server of servers.splice(0)) await server.close();
});

interface Received {
  data: Buffer;
  isBinary: boolean;
}

// Messages each client received and nobody has taken yet, and who waits for the next one: `ws`
// may emit several messages in one tick, before a waiter could attach a new listener.
const inboxes = new WeakMap<WebSocket, { queue: Received[]; waiter: (() => void) | null }>();

/** Opens a `ws` client (without compression unless asked) and resolves once it is open. */
async function open(url: string, options: ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  clients.push(ws);
  const inbox = { queue: [] as Received[], waiter: null as (() => void) | null };
  inboxes.set(ws, inbox);
  ws.on('message', (data: RawData, isBinary: boolean) => {
    inbox.queue.push({ data: toBuffer(data), isBinary });
    inbox.waiter?.();
  });
  await once(ws, 'open');
  return ws;
}

/** Resolves with the next message the client received. */
async function nextMessage(ws: WebSocket): Promise<Received> {
  const inbox = inboxes.get(ws)!;
  while (inbox.queue.length === 0) {
    await new Promise<void>((resolve) => (inbox.waiter = resolve));
    inbox.waiter = null;
  }
  return inbox.queue.shift()!;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Resolves with the close event's code and reason. */
async function closeEvent(ws: WebSocket): Promise<{ code: number; reason: string }> {
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  return { code, reason: reason.toString() };
}

/** Sends and resolves once `ws` has handed the data to its socket. */
function send(
  ws: WebSocket,
  data: Buffer | string,
  options: { binary?: boolean; fin?: boolean } = {},
) {
  return new Promise<void>((resolve, reject) =>
    ws.send(data, options, (err) => (err ? reject(err) : resolve())),
  );
}

/**
 * `size` bytes repeating a 251-byte period (a prime, so a piece out of place shows): printable
 * ASCII for text, every byte value up to 250 for binary.
 */
function pattern(size: number, ascii: boolean): Buffer {
  const period = Buffer.from(Array.from({ length: 251 }, (_, i) => (ascii ? 0x20 + (i % 95) : i)));
  return Buffer.alloc(size, period);
}

describe.each([
  ['whole-message echo', '/'],
  ['streaming echo', '/stream'],
])('ws client -> autobahn echo server (%s)', (_name, path) => {
  let server: EchoServer;
  let url: string;

  beforeAll(async () => {
    server = await startEchoServer({ port: 0 });
    url = `${server.url}${path}`;
  });
  afterAll(async () => {
    await server.close(100);
  });

  test('a text message comes back as text', async () => {
    const ws = await open(url);
    ws.send('Hello, silverback! κόσμε 𤭢');
    const { data, isBinary } = await nextMessage(ws);
    expect(isBinary).toBe(false);
    expect(data.toString()).toBe('Hello, silverback! κόσμε 𤭢');
  });

  test('a binary message comes back as binary, byte for byte', async () => {
    const ws = await open(url);
    const payload = pattern(256, false);
    ws.send(payload);
    const { data, isBinary } = await nextMessage(ws);
    expect(isBinary).toBe(true);
    expect(data.equals(payload)).toBe(true);
  });

  test.each([
    ['text', false],
    ['binary', true],
  ])('an empty %s message comes back empty', async (_kind, binary) => {
    const ws = await open(url);
    ws.send(Buffer.alloc(0), { binary });
    const { data, isBinary } = await nextMessage(ws);
    expect(isBinary).toBe(binary);
    expect(data.length).toBe(0);
  });

  test.each([
    ['text', 64 * KiB + 1, false],
    ['binary', 64 * KiB + 1, true],
    ['text', 16 * MiB, false],
    ['binary', 16 * MiB, true],
  ])('a %s message of %i bytes comes back whole', async (_kind, size, binary) => {
    const ws = await open(url);
    const payload = pattern(size, !binary);
    ws.send(payload, { binary });
    const { data, isBinary } = await nextMessage(ws);
    expect(isBinary).toBe(binary);
    expect(data.length).toBe(size);
    expect(data.equals(payload)).toBe(true);
  });

  test.each([
    ['text', false],
    ['binary', true],
  ])(
    'a %s message fragmented by ws (fin: false) comes back as one message',
    async (_kind, binary) => {
      const ws = await open(url);
      await send(ws, 'frag-1|', { binary, fin: false });
      await send(ws, 'frag-2|', { binary, fin: false });
      await send(ws, pattern(70 * KiB, true), { binary, fin: false });
      await send(ws, '|end', { binary, fin: true });
      const { data, isBinary } = await nextMessage(ws);
      expect(isBinary).toBe(binary);
      expect(
        data.equals(
          Buffer.concat([
            Buffer.from('frag-1|frag-2|'),
            pattern(70 * KiB, true),
            Buffer.from('|end'),
          ]),
        ),
      ).toBe(true);
    },
  );

  test('a ping between the fragments of a message is answered with its pong first', async () => {
    const ws = await open(url);
    const events: string[] = [];
    const pong = new Promise<void>((resolve) =>
      ws.on('pong', (data: Buffer) => {
        events.push(`pong ${data.toString()}`);
        resolve();
      }),
    );
    const message = new Promise<void>((resolve) =>
      ws.on('message', (data: RawData) => {
        events.push(`message ${toBuffer(data).toString()}`);
        resolve();
      }),
    );
    await send(ws, 'part one, ', { fin: false });
    ws.ping('between');
    await pong; // answered while the message is still unfinished
    await send(ws, 'part two', { fin: true });
    await message;
    expect(events).toEqual(['pong between', 'message part one, part two']);
  });

  test('a ping from ws gets a pong with the same payload', async () => {
    const ws = await open(url);
    ws.ping(Buffer.from([0, 1, 2, 0xff]));
    const [data] = (await once(ws, 'pong')) as [Buffer];
    expect(data.equals(Buffer.from([0, 1, 2, 0xff]))).toBe(true);
  });

  test('a thousand messages come back in order', async () => {
    const ws = await open(url);
    const received: string[] = [];
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data: RawData) => {
        received.push(toBuffer(data).toString());
        if (received.length === 1000) resolve();
      }),
    );
    for (let i = 0; i < 1000; i++) ws.send(`message ${i}`);
    await done;
    expect(received).toEqual(Array.from({ length: 1000 }, (_, i) => `message ${i}`));
  });

  test('close from ws with a code and reason: the server answers the code, TCP ends', async () => {
    const ws = await open(url);
    ws.close(4000, 'client says bye');
    // Gorilla's default close handler echoes the code without the reason.
    expect(await closeEvent(ws)).toEqual({ code: 4000, reason: '' });
  });

  test('close from ws without a code: the server answers without one (1005 to ws)', async () => {
    const ws = await open(url);
    ws.close();
    expect(await closeEvent(ws)).toEqual({ code: 1005, reason: '' });
  });

  test('ws negotiating permessage-deflate still gets every message back unchanged', async () => {
    const ws = await open(url, { perMessageDeflate: { threshold: 0 } });
    const text = pattern(1 * MiB, true);
    const bytes = pattern(100 * KiB, false);
    ws.send(text, { binary: false });
    ws.send(bytes, { binary: true });
    ws.send('small');
    const first = await nextMessage(ws);
    const second = await nextMessage(ws);
    const third = await nextMessage(ws);
    expect([first.isBinary, second.isBinary, third.isBinary]).toEqual([false, true, false]);
    expect(first.data.equals(text)).toBe(true);
    expect(second.data.equals(bytes)).toBe(true);
    expect(third.data.toString()).toBe('small');
    expect(ws.extensions).toMatch(/^permessage-deflate\b/);
  });

  test('closing the server sends 1001 (Going Away) to ws', async () => {
    const own = await startEchoServer({ port: 0 });
    try {
      const ws = await open(`${own.url}${path}`);
      const closed = closeEvent(ws);
      await own.close();
      expect((await closed).code).toBe(1001);
    } finally {
      await own.close(0);
    }
  });
});

describe('ws client <- server-initiated control frames', () => {
  /** A server that hands each `Conn` to the test (`nextConn()`). */
  async function server(): Promise<TestServer> {
    const s = await startServer(undefined, { checkOrigin: () => true });
    servers.push(s);
    return s;
  }

  test('a ping from the server is answered by ws with a pong carrying its payload', async () => {
    const s = await server();
    const ws = await open(s.url);
    const conn = await s.nextConn();
    const pong = new Promise<Buffer>((resolve) =>
      conn.setPongHandler((data) => resolve(Buffer.from(data))),
    );
    const reading = echo(conn); // read is required: pongs are handled as the connection reads
    const pinged = once(ws, 'ping');
    await conn.writeControl(PingMessage, 'server ping', Date.now() + 1000);
    const [seen] = (await pinged) as [Buffer];
    expect(seen.toString()).toBe('server ping');
    expect((await pong).toString()).toBe('server ping');
    ws.close(1000);
    await reading;
  });

  test('an unsolicited pong from ws reaches the pong handler', async () => {
    const s = await server();
    const ws = await open(s.url);
    const conn = await s.nextConn();
    const pong = new Promise<Buffer>((resolve) =>
      conn.setPongHandler((data) => resolve(Buffer.from(data))),
    );
    const reading = echo(conn);
    ws.pong('heartbeat');
    expect((await pong).toString()).toBe('heartbeat');
    ws.close(1000);
    await reading;
  });

  test('the server closes with a code and reason: ws sees both, closeGracefully resolves', async () => {
    const s = await server();
    const ws = await open(s.url);
    const conn = await s.nextConn();
    const closed = closeEvent(ws);
    await conn.closeGracefully(4001, 'server says bye', 2000);
    expect(await closed).toEqual({ code: 4001, reason: 'server says bye' });
  });

  test('ws closing with a code and reason: the server reads a CloseError carrying both', async () => {
    const s = await server();
    const ws = await open(s.url);
    const conn = await s.nextConn();
    const read = conn.readMessage();
    ws.close(4002, 'client reason κόσμε');
    const err = (await read.catch((e: unknown) => e)) as CloseError;
    expect(err).toBeInstanceOf(CloseError);
    expect({ code: err.code, text: err.text }).toEqual({ code: 4002, text: 'client reason κόσμε' });
    expect(await closeEvent(ws)).toEqual({ code: 4002, reason: '' });
    await conn.closed;
  });

  test('messages written by the server arrive at ws with their types', async () => {
    const s = await server();
    const ws = await open(s.url);
    const conn = await s.nextConn();
    const received: { type: number; data: string }[] = [];
    const all = new Promise<void>((resolve) =>
      ws.on('message', (data: RawData, isBinary: boolean) => {
        received.push({
          type: isBinary ? BinaryMessage : TextMessage,
          data: toBuffer(data).toString(),
        });
        if (received.length === 3) resolve();
      }),
    );
    await conn.writeMessage(TextMessage, 'text');
    await conn.writeMessage(BinaryMessage, Buffer.from('binary'));
    const writer = await conn.nextWriter(TextMessage);
    writer.write('streamed ');
    writer.end('in frames');
    await all;
    expect(received).toEqual([
      { type: TextMessage, data: 'text' },
      { type: BinaryMessage, data: 'binary' },
      { type: TextMessage, data: 'streamed in frames' },
    ]);
    await conn.closeGracefully(1000, '', 2000);
  });
});
