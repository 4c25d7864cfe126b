/**
 * The Koa chat example: the signed-cookie sign-in protects the page and the socket, signed-in
 * users (here `ws` clients carrying the cookie) chat through the hub, and shutdown closes them
 * with 1001. test/browser/koa-chat.test.ts drives the pages in Chromium.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import request from 'supertest';
import WebSocket from 'ws';
import { HandshakeError, TextMessage } from '@silverback/websocket';
import { inject } from '@silverback/koa';
import { createChatApp, USER_COOKIE, type ChatApp } from '../src/app';
import { rawUpgradeAnswer } from '../../../test/helpers/upgrade-request';
import { connectWs, type WsClient } from '../../../test/helpers/ws-client';

let chat: ChatApp;
let server: Server;
let port: number;
const sockets = new Set<Socket>();
const clients: WsClient[] = [];

beforeEach(async () => {
  chat = createChatApp({ keys: ['test key'] });
  server = chat.app.listen(0, '127.0.0.1');
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await chat.close();
  for (const socket of sockets) socket.destroy();
  if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Signs in through the form and returns the Cookie header a browser would send back. */
async function signIn(name: string): Promise<string> {
  const res = await request(server).post('/login').type('form').send({ name });
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe('/');
  const setCookie = res.headers['set-cookie'] as unknown as string[];
  expect(setCookie[0]).toMatch(/httponly/i);
  expect(setCookie[0]).toMatch(/samesite=strict/i);
  // The value and its signature, as "chat_user=...; chat_user.sig=...".
  return setCookie.map((each) => each.split(';')[0]!).join('; ');
}

async function join(cookie: string): Promise<WsClient> {
  const client = await connectWs(`ws://127.0.0.1:${port}/ws`, { headers: { Cookie: cookie } });
  clients.push(client);
  return client;
}

test('the page needs a sign-in: anonymous visitors are sent to the form', async () => {
  const anonymous = await request(server).get('/');
  expect(anonymous.status).toBe(303);
  expect(anonymous.headers.location).toBe('/login');
  const form = await request(server).get('/login');
  expect(form.text).toContain('<form id="login" method="post" action="/login">');
  const cookie = await signIn('Zoë Ann');
  const page = await request(server).get('/').set('Cookie', cookie);
  expect(page.status).toBe(200);
  expect(page.text).toContain("location.host + '/ws'");
  expect((await request(server).post('/login').type('form').send({ name: '' })).status).toBe(400);
  expect((await request(server).post('/login').send({ name: 'json' })).status).toBe(415);
});

test('the socket needs a sign-in too: missing or forged cookies get 401 with its body', async () => {
  const missing = await rawUpgradeAnswer(port, '/ws');
  expect(missing.status).toBe(401);
  expect(missing.body).toBe('Log in first\n');
  // The right name with a signature made by someone without the app's keys.
  const forged = await rawUpgradeAnswer(port, '/ws', {
    Cookie: `${USER_COOKIE}=ann; ${USER_COOKIE}.sig=forged`,
  });
  expect(forged.status).toBe(401);
  const err = await inject(chat.app, '/ws').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeError);
  expect((err as HandshakeError).status).toBe(401);
  expect(chat.hub.clients.size).toBe(0);
  // A signed-in browser asking for the socket without upgrading is told to upgrade.
  const plain = await request(server)
    .get('/ws')
    .set('Cookie', await signIn('ann'));
  expect(plain.status).toBe(426);
});

test('two signed-in users chat: every message reaches everyone', async () => {
  const ann = await join(await signIn('ann'));
  expect(await ann.next()).toBe('ann joined');
  const bob = await join(await signIn('bob'));
  expect(await Promise.all([ann.next(), bob.next()])).toEqual(['bob joined', 'bob joined']);
  ann.ws.send('hi bob');
  expect(await Promise.all([ann.next(), bob.next()])).toEqual(['hi bob', 'hi bob']);
  bob.ws.send('hi ann');
  expect(await Promise.all([ann.next(), bob.next()])).toEqual(['hi ann', 'hi ann']);
  expect(chat.ws.connections({ route: '/ws' })).toHaveLength(2);
  bob.ws.close(1000);
  await bob.closed;
  expect(await ann.next()).toBe('bob left');
});

test('inject joins the chat without a port', async () => {
  const cookie = await signIn('cid');
  const conn = await inject(chat.app, '/ws', { headers: { cookie } });
  expect((await conn.readMessage()).data.toString()).toBe('cid joined');
  await conn.writeMessage(TextMessage, 'from memory');
  expect((await conn.readMessage()).data.toString()).toBe('from memory');
  await conn.closeGracefully();
});

test('a cross-origin page cannot open the socket, even with the cookie', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
    headers: { Cookie: await signIn('ann') },
    origin: 'https://evil.example',
  });
  ws.on('error', () => {});
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
  ws.terminate();
  expect(res.statusCode).toBe(403);
  expect(chat.hub.clients.size).toBe(0);
});

test('closing the server closes every chat socket with 1001', async () => {
  const ann = await join(await signIn('ann'));
  const bob = await join(await signIn('bob'));
  server.close();
  expect((await Promise.all([ann.closed, bob.closed])).map(({ code }) => code)).toEqual([
    1001, 1001,
  ]);
});
