/**
 * The Koa chat example in a real browser: Chromium signs in through the form, gets the signed
 * cookie, loads the chat page and opens its socket with that cookie through the Koa middleware
 * stack; a `ws` client signed in as someone else chats with it.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { createChatApp, type ChatApp } from '../../examples/koa-chat/src/app';
import { connectWs, type WsClient } from '../helpers/ws-client';
import { launchChromium, screenshot, type Chromium } from './chromium';

let browser: Chromium;
let chat: ChatApp;
let server: Server;
let base: string;
const sockets = new Set<Socket>();
const clients: WsClient[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  chat = createChatApp();
  server = chat.app.listen(0, '127.0.0.1');
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await chat.close();
  for (const socket of sockets) socket.destroy();
  if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** The chat lines (not the notes) a page shows, in order. */
function lines(page: Page): Promise<string[]> {
  return page.locator('#log div:not(.note)').allTextContents();
}

test('a browser signs in through the form and chats over the protected socket', async () => {
  // Anonymous: the chat page sends the browser to the form.
  const page = await browser.open(`${base}/`);
  expect(new URL(page.url()).pathname).toBe('/login');

  const registered = once(chat.hub, 'register');
  await page.fill('#name', 'Alice');
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  await page.locator('#log .note', { hasText: 'Connected.' }).waitFor();
  await registered;
  await page.locator('#log div', { hasText: 'Alice joined' }).waitFor();

  // Someone else, signed in with their own cookie, joins from Node.
  const res = await request(server).post('/login').type('form').send({ name: 'Bob' });
  const cookie = (res.headers['set-cookie'] as unknown as string[])
    .map((each) => each.split(';')[0]!)
    .join('; ');
  const bob = await connectWs(`ws://127.0.0.1:${new URL(base).port}/ws`, {
    headers: { Cookie: cookie },
  });
  clients.push(bob);
  expect(await bob.next()).toBe('Bob joined');

  await page.fill('#msg', 'Hello from the browser');
  await page.press('#msg', 'Enter');
  expect(await bob.next()).toBe('Hello from the browser');
  bob.ws.send('Hello from Node');
  await page.locator('#log div', { hasText: 'Hello from Node' }).waitFor();
  expect(await lines(page)).toEqual([
    'Alice joined',
    'Bob joined',
    'Hello from the browser',
    'Hello from Node',
  ]);
  await screenshot(page, 'koa-chat');

  // The browser's socket is the one the server tracks under the route.
  expect(chat.ws.connections({ route: '/ws' })).toHaveLength(2);
  await chat.close();
  await page.locator('#log .note', { hasText: 'Connection closed (1001' }).waitFor();
  await page.close();
});
