/**
 * The Express chat example: the session middleware protects the page and the socket, logged-in
 * browsers (here `ws` clients carrying the session cookie) chat through the hub, and shutdown
 * closes them with 1001.
 */
import { once } from 'node:events';
import request from 'supertest';
import type WebSocket from 'ws';
import { inject } from '@silverback/express';
import { createChatApp, SESSION_COOKIE, type ChatApp } from '../src/app';
import { handshakeRefusal } from '../../../test/helpers/adapter-checks';
import { TEST_KEY } from '../../../test/helpers/upgrade-request';
import {
  chatPage,
  crossOriginStatus,
  expectAnnAndBobChat,
  expectChatInMemory,
  expectSentToLogin,
  openChatSocket,
  signIn,
  trackServer,
  type ChatSocket,
  type HttpClient,
  type TrackedServer,
} from '../../../test/examples/framework-chat';

let chat: ChatApp;
let listening: TrackedServer;
let http: HttpClient;
const clients: WebSocket[] = [];

beforeEach(async () => {
  chat = createChatApp();
  listening = await trackServer(chat.app.listen(0, '127.0.0.1'));
  http = request(listening.base);
});

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await chat.close();
  await listening.stop();
});

async function login(name: string): Promise<string> {
  const { setCookie, cookie } = await signIn(http, name);
  expect(setCookie[0]).toMatch(/HttpOnly/);
  return cookie; // "chat_session=<token>"
}

// A logged-in browser: collects the messages it receives.
async function join(cookie: string): Promise<ChatSocket> {
  const browser = await openChatSocket(`ws://127.0.0.1:${listening.port}/ws`, cookie);
  clients.push(browser.ws);
  return browser;
}

test('the page needs a session: anonymous visitors are sent to the login form', async () => {
  await expectSentToLogin(http);
  const form = await http.get('/login');
  expect(form.text).toContain('<form method="post" action="/login">');
  await chatPage(http, await login('ann'));
  expect((await http.post('/login').type('form').send({ name: '' })).status).toBe(400);
});

test('the socket needs a session too: the upgrade is refused with 401 and its body', async () => {
  const refused = await http.get('/ws').set({
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Key': TEST_KEY,
    'Sec-WebSocket-Version': '13',
    Cookie: `${SESSION_COOKIE}=forged`,
  });
  expect(refused.status).toBe(401);
  expect(refused.text).toBe('Log in first\n');
  expect((await handshakeRefusal(inject(chat.app, '/ws'))).status).toBe(401);
  expect(chat.hub.clients.size).toBe(0);
});

test('two logged-in users chat: every message reaches everyone', async () => {
  await expectAnnAndBobChat(async (name) => join(await login(name)));
  expect(chat.ws.connections({ route: '/ws' })).toHaveLength(2);
});

test('inject joins the chat without a port', async () => {
  const cookie = await login('cid');
  await expectChatInMemory(await inject(chat.app, '/ws', { headers: { cookie } }), 'cid');
});

test('a cross-origin page cannot open the socket, even with the cookie', async () => {
  const url = `ws://127.0.0.1:${listening.port}/ws`;
  expect(await crossOriginStatus(url, await login('ann'))).toBe(403);
});

test('closing the server closes every chat socket with 1001', async () => {
  const ann = await join(await login('ann'));
  const closed = once(ann.ws, 'close') as Promise<[number]>;
  listening.server.close();
  expect((await closed)[0]).toBe(1001);
});
