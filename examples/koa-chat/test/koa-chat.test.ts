/**
 * The Koa chat example: the signed-cookie sign-in protects the page and the socket, signed-in
 * users (here `ws` clients carrying the cookie) chat through the hub, and shutdown closes them
 * with 1001. test/browser/koa-chat.test.ts drives the pages in Chromium.
 */
import request from 'supertest';
import { inject } from '@silverback/koa';
import { createChatApp, USER_COOKIE, type ChatApp } from '../src/app';
import { handshakeRefusal } from '../../../test/helpers/adapter-checks';
import { rawUpgradeAnswer } from '../../../test/helpers/upgrade-request';
import { connectWs, type WsClient } from '../../../test/helpers/ws-client';
import {
  chatPage,
  crossOriginStatus,
  expectChatInMemory,
  expectSentToLogin,
  signIn as signInWith,
  trackServer,
  type HttpClient,
  type TrackedServer,
} from '../../../test/examples/framework-chat';

let chat: ChatApp;
let listening: TrackedServer;
let http: HttpClient;
const clients: WsClient[] = [];

beforeEach(async () => {
  chat = createChatApp({ keys: ['test key'] });
  listening = await trackServer(chat.app.listen(0, '127.0.0.1'));
  http = request(listening.base);
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await chat.close();
  await listening.stop();
});

/** Signs in through the form and returns the Cookie header a browser would send back. */
async function signIn(name: string): Promise<string> {
  const { setCookie, cookie } = await signInWith(http, name);
  expect(setCookie[0]).toMatch(/httponly/i);
  expect(setCookie[0]).toMatch(/samesite=strict/i);
  // The value and its signature, as "chat_user=...; chat_user.sig=...".
  return cookie;
}

async function join(cookie: string): Promise<WsClient> {
  const url = `ws://127.0.0.1:${listening.port}/ws`;
  const client = await connectWs(url, { headers: { Cookie: cookie } });
  clients.push(client);
  return client;
}

test('the page needs a sign-in: anonymous visitors are sent to the form', async () => {
  await expectSentToLogin(http);
  const form = await http.get('/login');
  expect(form.text).toContain('<form id="login" method="post" action="/login">');
  await chatPage(http, await signIn('Zoë Ann'));
  expect((await http.post('/login').type('form').send({ name: '' })).status).toBe(400);
  expect((await http.post('/login').send({ name: 'json' })).status).toBe(415);
});

test('the socket needs a sign-in too: missing or forged cookies get 401 with its body', async () => {
  const missing = await rawUpgradeAnswer(listening.port, '/ws');
  expect(missing.status).toBe(401);
  expect(missing.body).toBe('Log in first\n');
  // The right name with a signature made by someone without the app's keys.
  const forged = await rawUpgradeAnswer(listening.port, '/ws', {
    Cookie: `${USER_COOKIE}=ann; ${USER_COOKIE}.sig=forged`,
  });
  expect(forged.status).toBe(401);
  expect((await handshakeRefusal(inject(chat.app, '/ws'))).status).toBe(401);
  expect(chat.hub.clients.size).toBe(0);
  // A signed-in browser asking for the socket without upgrading is told to upgrade.
  const plain = await http.get('/ws').set('Cookie', await signIn('ann'));
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
  await expectChatInMemory(await inject(chat.app, '/ws', { headers: { cookie } }), 'cid');
});

test('a cross-origin page cannot open the socket, even with the cookie', async () => {
  const url = `ws://127.0.0.1:${listening.port}/ws`;
  expect(await crossOriginStatus(url, await signIn('ann'))).toBe(403);
  expect(chat.hub.clients.size).toBe(0);
});

test('closing the server closes every chat socket with 1001', async () => {
  const ann = await join(await signIn('ann'));
  const bob = await join(await signIn('bob'));
  listening.server.close();
  expect((await Promise.all([ann.closed, bob.closed])).map(({ code }) => code)).toEqual([
    1001, 1001,
  ]);
});
