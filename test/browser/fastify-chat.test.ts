/**
 * The Fastify chat example in a real browser: Chromium is sent to the sign-in form, signs in,
 * loads the chat page and opens its socket with the session cookie through Fastify's hooks; a
 * `ws` client signed in as someone else chats with it; `fastify.close()` ends the page's socket
 * with 1001.
 */
import { once } from 'node:events';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { buildChatApp, type ChatApp } from '../../examples/fastify-chat/src/app';
import { connectWs, type WsClient } from '../helpers/ws-client';
import { launchChromium, screenshot, type Chromium } from './chromium';

let browser: Chromium;
let chat: ChatApp;
let base: string;
const clients: WsClient[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  chat = await buildChatApp();
  base = await chat.app.listen({ port: 0, host: '127.0.0.1' });
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await chat.app.close();
});

/** The chat lines (not the page's own notes) a page shows, in order. */
function chatLines(page: Page): Promise<string[]> {
  return page.locator('#log div:not(.note)').allTextContents();
}

test('a browser signs in and chats over the socket the auth hook protects', async () => {
  const page = await browser.open(`${base}/`);
  expect(new URL(page.url()).pathname).toBe('/login');

  const registered = once(chat.hub, 'register');
  await page.fill('#name', 'Ann');
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  await page.locator('#log .note', { hasText: 'Connected.' }).waitFor();
  await registered;
  await page.locator('#log div', { hasText: 'Ann joined' }).waitFor();

  const signIn = await request(base).post('/login').type('form').send({ name: 'Bob' });
  const cookie = (signIn.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
  const bob = await connectWs(`${base.replace('http', 'ws')}/ws`, { headers: { Cookie: cookie } });
  clients.push(bob);
  expect(await bob.next()).toBe('Bob joined');

  await page.fill('#msg', 'Hello from Chromium');
  await page.press('#msg', 'Enter');
  expect(await bob.next()).toBe('Hello from Chromium');
  bob.ws.send('Hello from Node');
  await page.locator('#log div', { hasText: 'Hello from Node' }).waitFor();
  expect(await chatLines(page)).toEqual([
    'Ann joined',
    'Bob joined',
    'Hello from Chromium',
    'Hello from Node',
  ]);
  await screenshot(page, 'fastify-chat');

  expect(chat.app.websocket.connections({ route: '/ws' })).toHaveLength(2);
  await chat.app.close();
  await page.locator('#log .note', { hasText: 'Connection closed (1001' }).waitFor();
  await page.close();
});
