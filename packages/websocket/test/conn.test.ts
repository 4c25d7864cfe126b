import { once } from 'node:events';
import WebSocket from 'ws';
import { BinaryMessage, CloseError, TextMessage, type Conn } from '@silverback/websocket';
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
