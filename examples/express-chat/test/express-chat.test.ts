/**
 * The Express chat example: the session middleware protects the page and the socket, logged-in
 * browsers (here `ws` clients carrying the session cookie) chat through the hub, and shutdown
 * closes them with 1001.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import request from 'supertest';
import WebSocket from 'ws';
import { HandshakeError, TextMessage } from '@silverback/websocket';
import { inject } from '@silverback/express';
import { createChatApp, SESSION_COOKIE, type ChatApp } from '../src/app';
import { TEST_KEY } from '../../../test/helpers/upgrade-request';

let chat: ChatApp;
let server: Server;
let port: number;
const sockets = new Set<Socket>();
const clients: WebSocket[] = [];

beforeEach(async () => {
  chat = createChatApp();
  server = chat.app.listen(0, '127.0.0.1');
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
});

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await chat.close();
  for (const socket of sockets) socket.destroy();
  if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function login(name: string): Promise<string> {
  const res = await request(server).post('/login').type('form').send({ name });
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe('/');
  const setCookie = (res.headers['set-cookie'] as unknown as string[])[0]!;
  expect(setCookie).toMatch(/HttpOnly/);
  return setCookie.split(';')[0]!; // "chat_session=<token>"
}

// A logged-in browser: collects the messages it receives.
async function join(
  cookie: string,
): Promise<{ ws: WebSocket; messages: string[]; next(n: number): Promise<void> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Cookie: cookie } });
  clients.push(ws);
  const messages: string[] = [];
  const waiters: [number, () => void][] = [];
  ws.on('message', (data: Buffer) => {
    messages.push(data.toString());
    for (const [n, wake] of waiters) if (messages.length >= n) wake();
  });
  await once(ws, 'open');
  return {
    ws,
    messages,
    next: (n) =>
      messages.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push([n, resolve])),
  };
}

test('the page needs a session: anonymous visitors are sent to the login form', async () => {
  const anonymous = await request(server).get('/');
  expect(anonymous.status).toBe(303);
  expect(anonymous.headers.location).toBe('/login');
  const form = await request(server).get('/login');
  expect(form.text).toContain('<form method="post" action="/login">');
  const cookie = await login('ann');
  const page = await request(server).get('/').set('Cookie', cookie);
  expect(page.status).toBe(200);
  expect(page.text).toContain("location.host + '/ws'");
  expect((await request(server).post('/login').type('form').send({ name: '' })).status).toBe(400);
});

test('the socket needs a session too: the upgrade is refused with 401 and its body', async () => {
  const refused = await request(server)
    .get('/ws')
    .set({
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': TEST_KEY,
      'Sec-WebSocket-Version': '13',
      Cookie: `${SESSION_COOKIE}=forged`,
    });
  expect(refused.status).toBe(401);
  expect(refused.text).toBe('Log in first\n');
  const err = await inject(chat.app, '/ws').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeError);
  expect((err as HandshakeError).status).toBe(401);
  expect(chat.hub.clients.size).toBe(0);
});

test('two logged-in users chat: every message reaches everyone', async () => {
  const ann = await join(await login('ann'));
  await ann.next(1);
  const bob = await join(await login('bob'));
  await Promise.all([ann.next(2), bob.next(1)]);
  ann.ws.send('hi bob');
  await Promise.all([ann.next(3), bob.next(2)]);
  bob.ws.send('hi ann');
  await Promise.all([ann.next(4), bob.next(3)]);
  expect(ann.messages).toEqual(['ann joined', 'bob joined', 'hi bob', 'hi ann']);
  expect(bob.messages).toEqual(['bob joined', 'hi bob', 'hi ann']);
  expect(chat.ws.connections({ route: '/ws' })).toHaveLength(2);
});

test('inject joins the chat without a port', async () => {
  const cookie = await login('cid');
  const conn = await inject(chat.app, '/ws', { headers: { cookie } });
  expect((await conn.readMessage()).data.toString()).toBe('cid joined');
  await conn.writeMessage(TextMessage, 'from memory');
  expect((await conn.readMessage()).data.toString()).toBe('from memory');
  await conn.closeGracefully();
});

test('a cross-origin page cannot open the socket, even with the cookie', async () => {
  const cookie = await login('ann');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
    headers: { Cookie: cookie },
    origin: 'https://evil.example',
  });
  clients.push(ws);
  ws.on('error', () => {});
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
  expect(res.statusCode).toBe(403);
});

test('closing the server closes every chat socket with 1001', async () => {
  const ann = await join(await login('ann'));
  const closed = once(ann.ws, 'close') as Promise<[number]>;
  server.close();
  expect((await closed)[0]).toBe(1001);
});
