/**
 * The Fastify chat example: the auth hook protects the page and the socket, signed-in browsers
 * (here `ws` clients carrying the session cookie) chat through the hub, and `fastify.close()`
 * closes them with 1001.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import request from 'supertest';
import WebSocket from 'ws';
import { HandshakeError, TextMessage } from '@silverback/websocket';
import { buildChatApp, SESSION_COOKIE, type ChatApp } from '../src/app';
import { rawUpgradeAnswer } from '../../../test/helpers/upgrade-request';

let chat: ChatApp;
let port: number;
let http: ReturnType<typeof request>;
const clients: WebSocket[] = [];

beforeEach(async () => {
  chat = await buildChatApp();
  await chat.app.listen({ port: 0, host: '127.0.0.1' });
  port = (chat.app.server.address() as { port: number }).port;
  http = request(`http://127.0.0.1:${port}`);
});

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await chat.app.close();
});

async function signIn(name: string): Promise<string> {
  const res = await http.post('/login').type('form').send({ name });
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe('/');
  const setCookie = (res.headers['set-cookie'] as unknown as string[])[0]!;
  expect(setCookie).toMatch(/; HttpOnly; SameSite=Strict$/);
  return setCookie.split(';')[0]!; // "chat_session=<token>"
}

interface Browser {
  ws: WebSocket;
  messages: string[];
  /** Resolves once `n` messages have arrived. */
  received(n: number): Promise<void>;
}

// A signed-in browser's socket, collecting the chat lines it receives.
async function join(cookie: string): Promise<Browser> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Cookie: cookie } });
  clients.push(ws);
  const messages: string[] = [];
  const waiting: [number, () => void][] = [];
  ws.on('message', (data: Buffer) => {
    messages.push(data.toString());
    for (const [n, wake] of waiting) if (messages.length >= n) wake();
  });
  await once(ws, 'open');
  return {
    ws,
    messages,
    received: (n) =>
      messages.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiting.push([n, resolve])),
  };
}

test('the page needs a session: visitors are sent to the sign-in form first', async () => {
  const anonymous = await http.get('/');
  expect(anonymous.status).toBe(303);
  expect(anonymous.headers.location).toBe('/login');
  const form = await http.get('/login');
  expect(form.status).toBe(200);
  expect(form.text).toContain('<form method="post" action="/login">');
  expect((await http.post('/login').type('form').send({ name: '  ' })).status).toBe(400);
  const cookie = await signIn('ann');
  const page = await http.get('/').set('Cookie', cookie);
  expect(page.status).toBe(200);
  expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
  // The plain chat example's page, which opens its socket at /ws.
  expect(page.text).toContain("location.host + '/ws'");
});

test('the socket needs a session too: the auth hook refuses the upgrade with 401 and its body', async () => {
  const anonymous = await rawUpgradeAnswer(port, '/ws');
  expect(anonymous.status).toBe(401);
  expect(anonymous.body).toBe('Sign in first\n');
  const forged = await rawUpgradeAnswer(port, '/ws', { Cookie: `${SESSION_COOKIE}=forged` });
  expect(forged.status).toBe(401);
  const err = await chat.app.injectWS('/ws').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeError);
  expect((err as HandshakeError).status).toBe(401);
  expect(chat.hub.clients.size).toBe(0);
});

test('two signed-in users chat: every message reaches everyone', async () => {
  const ann = await join(await signIn('ann'));
  await ann.received(1);
  const bob = await join(await signIn('bob'));
  await Promise.all([ann.received(2), bob.received(1)]);
  ann.ws.send('hi bob');
  await Promise.all([ann.received(3), bob.received(2)]);
  bob.ws.send('hi ann');
  await Promise.all([ann.received(4), bob.received(3)]);
  expect(ann.messages).toEqual(['ann joined', 'bob joined', 'hi bob', 'hi ann']);
  expect(bob.messages).toEqual(['bob joined', 'hi bob', 'hi ann']);
  expect(chat.app.websocket.connections({ route: '/ws' })).toHaveLength(2);
  expect(ann.ws.extensions).toContain('permessage-deflate');
});

test('injectWS joins the chat without a port', async () => {
  const cookie = await signIn('cid');
  const conn = await chat.app.injectWS('/ws', { headers: { cookie } });
  expect((await conn.readMessage()).data.toString()).toBe('cid joined');
  await conn.writeMessage(TextMessage, 'from memory');
  expect((await conn.readMessage()).data.toString()).toBe('from memory');
  await conn.closeGracefully();
});

test('a cross-origin page cannot open the socket, even with the cookie', async () => {
  const cookie = await signIn('ann');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
    headers: { Cookie: cookie },
    origin: 'https://evil.example',
  });
  clients.push(ws);
  ws.on('error', () => {});
  const [, response] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  expect(response.statusCode).toBe(403);
  expect(chat.hub.clients.size).toBe(0);
});

test('fastify.close() closes every chat socket with 1001 and lets the hub finish', async () => {
  const ann = await join(await signIn('ann'));
  const bob = await join(await signIn('bob'));
  await Promise.all([ann.received(2), bob.received(1)]);
  const closes = Promise.all([once(ann.ws, 'close'), once(bob.ws, 'close')]);
  await chat.app.close();
  expect((await closes).map(([code]) => code as number)).toEqual([1001, 1001]);
  expect(chat.hub.clients.size).toBe(0);
});
