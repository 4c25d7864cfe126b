/**
 * The Fastify chat example: the auth hook protects the page and the socket, signed-in browsers
 * (here `ws` clients carrying the session cookie) chat through the hub, and `fastify.close()`
 * closes them with 1001.
 */
import { once } from 'node:events';
import request from 'supertest';
import type WebSocket from 'ws';
import { buildChatApp, SESSION_COOKIE, type ChatApp } from '../src/app';
import { handshakeRefusal } from '../../../test/helpers/adapter-checks';
import { rawUpgradeAnswer } from '../../../test/helpers/upgrade-request';
import {
  chatPage,
  crossOriginStatus,
  expectAnnAndBobChat,
  expectChatInMemory,
  expectSentToLogin,
  openChatSocket,
  signIn as signInWith,
  type ChatSocket,
  type HttpClient,
} from '../../../test/examples/framework-chat';

let chat: ChatApp;
let port: number;
let http: HttpClient;
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
  const { setCookie, cookie } = await signInWith(http, name);
  expect(setCookie[0]).toMatch(/; HttpOnly; SameSite=Strict$/);
  return cookie; // "chat_session=<token>"
}

// A signed-in browser's socket, collecting the chat lines it receives.
async function join(cookie: string): Promise<ChatSocket> {
  const browser = await openChatSocket(`ws://127.0.0.1:${port}/ws`, cookie);
  clients.push(browser.ws);
  return browser;
}

test('the page needs a session: visitors are sent to the sign-in form first', async () => {
  await expectSentToLogin(http);
  const form = await http.get('/login');
  expect(form.status).toBe(200);
  expect(form.text).toContain('<form method="post" action="/login">');
  expect((await http.post('/login').type('form').send({ name: '  ' })).status).toBe(400);
  const page = await chatPage(http, await signIn('ann'));
  expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
});

test('the socket needs a session too: the auth hook refuses the upgrade with 401 and its body', async () => {
  const anonymous = await rawUpgradeAnswer(port, '/ws');
  expect(anonymous.status).toBe(401);
  expect(anonymous.body).toBe('Sign in first\n');
  const forged = await rawUpgradeAnswer(port, '/ws', { Cookie: `${SESSION_COOKIE}=forged` });
  expect(forged.status).toBe(401);
  expect((await handshakeRefusal(chat.app.injectWS('/ws'))).status).toBe(401);
  expect(chat.hub.clients.size).toBe(0);
});

test('two signed-in users chat: every message reaches everyone', async () => {
  const [ann] = await expectAnnAndBobChat(async (name) => join(await signIn(name)));
  expect(chat.app.websocket.connections({ route: '/ws' })).toHaveLength(2);
  expect(ann.ws.extensions).toContain('permessage-deflate');
});

test('injectWS joins the chat without a port', async () => {
  const cookie = await signIn('cid');
  await expectChatInMemory(await chat.app.injectWS('/ws', { headers: { cookie } }), 'cid');
});

test('a cross-origin page cannot open the socket, even with the cookie', async () => {
  const url = `ws://127.0.0.1:${port}/ws`;
  expect(await crossOriginStatus(url, await signIn('ann'))).toBe(403);
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
