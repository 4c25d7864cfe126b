import { once } from 'node:events';
import WebSocket from 'ws';
import {
  BinaryMessage,
  CloseError,
  PingMessage,
  TextMessage,
  type Conn,
} from '@silverback/websocket';
import { echo, startServer, type TestServer } from '../../../test/helpers/server';

let server: TestServer;
afterEach(async () => {
  await server?.close();
});

async function wsClient(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await once(ws, 'open');
  return ws;
}

test('echoes text and binary messages to a ws client', async () => {
  server = await startServer(echo);
  const ws = await wsClient(server.url);
  const received: [string, boolean][] = [];
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer, isBinary) => {
      received.push([data.toString('hex'), isBinary]);
      if (received.length === 2) resolve();
    });
  });
  ws.send('hello');
  ws.send(Buffer.from([1, 2, 3]));
  await done;
  expect(received).toEqual([
    [Buffer.from('hello').toString('hex'), false],
    ['010203', true],
  ]);
  ws.close(1000);
  await once(ws, 'close');
});

test('readMessage reports the peer close code and text', async () => {
  server = await startServer();
  const ws = await wsClient(server.url);
  const conn: Conn = await server.nextConn();
  ws.send('first');
  ws.close(4001, 'done');
  await expect(conn.readMessage()).resolves.toEqual({
    type: TextMessage,
    data: Buffer.from('first'),
  });
  const err: unknown = await conn.readMessage().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CloseError);
  expect(err).toMatchObject({ code: 4001, text: 'done' });
  const [code] = (await once(ws, 'close')) as [number];
  expect(code).toBe(4001);
});

test('writes from the server arrive in call order', async () => {
  server = await startServer();
  const ws = await wsClient(server.url);
  const conn = await server.nextConn();
  const got: string[] = [];
  const all = new Promise<void>((resolve) =>
    ws.on('message', (d: Buffer) => {
      got.push(d.toString());
      if (got.length === 100) resolve();
    }),
  );
  await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      conn.writeMessage(i % 2 ? BinaryMessage : TextMessage, String(i)),
    ),
  );
  await all;
  expect(got).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
  await conn.closeGracefully();
});

test('addresses, subprotocol, extensions and the underlying socket', async () => {
  server = await startServer();
  const ws = await wsClient(server.url);
  const conn = await server.nextConn();
  expect(conn.localAddress()).toEqual({ address: '127.0.0.1', family: 'IPv4', port: server.port });
  expect(conn.remoteAddress()).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
  expect(conn.remoteAddress()!.port).not.toBe(server.port);
  expect(conn.subprotocol()).toBe('');
  expect(conn.extensions()).toBe('');
  expect(conn.underlyingConn().writable).toBe(true);
  ws.terminate();
  await conn.closed;
});

test('a fragmented message from ws streams through nextReader; pings are answered', async () => {
  server = await startServer();
  const ws = await wsClient(server.url);
  const conn = await server.nextConn();
  const pong = once(ws, 'pong');
  ws.ping('hello?');
  await expect(pong).resolves.toEqual([Buffer.from('hello?')]);
  ws.send('part one, ', { fin: false });
  const { type, reader } = await conn.nextReader();
  expect(type).toBe(TextMessage);
  await once(reader, 'readable');
  expect((reader.read() as Buffer).toString()).toBe('part one, ');
  ws.send('part two', { fin: true });
  const rest: Buffer[] = [];
  for await (const chunk of reader) rest.push(chunk as Buffer);
  expect(Buffer.concat(rest).toString()).toBe('part two');
  ws.terminate();
});

test('closeGracefully against a ws client: code and reason arrive, both ends close', async () => {
  server = await startServer();
  const ws = await wsClient(server.url);
  const conn = await server.nextConn();
  const closed = once(ws, 'close');
  const pings: Buffer[] = [];
  ws.on('ping', (data: Buffer) => pings.push(data));
  await conn.writeControl(PingMessage, 'beat');
  await conn.closeGracefully(4002, 'maintenance');
  const [code, reason] = (await closed) as [number, Buffer];
  expect(code).toBe(4002);
  expect(reason.toString()).toBe('maintenance');
  expect(pings.map(String)).toEqual(['beat']);
  await expect(conn.readMessage()).rejects.toMatchObject({ code: 4002 });
});

test('a ws client that disappears fails reads with 1006', async () => {
  server = await startServer();
  const ws = await wsClient(server.url);
  const conn = await server.nextConn();
  const read = conn.readMessage();
  ws.terminate();
  await expect(read).rejects.toBeInstanceOf(CloseError);
  await expect(read).rejects.toMatchObject({ code: 1006 });
});
