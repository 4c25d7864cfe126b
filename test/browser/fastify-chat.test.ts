/**
 * The Fastify chat example in a real browser: Chromium is sent to the sign-in form, signs in,
 * loads the chat page and opens its socket with the session cookie through Fastify's hooks; a
 * `ws` client signed in as someone else chats with it; `fastify.close()` ends the page's socket
 * with 1001.
 */
import { buildChatApp, type ChatApp } from '../../examples/fastify-chat/src/app';
import type { WsClient } from '../helpers/ws-client';
import { joinFromNode } from '../examples/framework-chat';
import { chatLines, say, signInThroughForm, waitForLine, waitForNote } from './chat-page';
import { screenshot, useChromium } from './chromium';

const browser = useChromium();
let chat: ChatApp;
let base: string;
const clients: WsClient[] = [];

beforeEach(async () => {
  chat = await buildChatApp();
  base = await chat.app.listen({ port: 0, host: '127.0.0.1' });
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await chat.app.close();
});

test('a browser signs in and chats over the socket the auth hook protects', async () => {
  const page = await signInThroughForm(browser, base, chat.hub, 'Ann');

  const bob = await joinFromNode(base, 'Bob');
  clients.push(bob);
  expect(await bob.next()).toBe('Bob joined');

  await say(page, 'Hello from Chromium');
  expect(await bob.next()).toBe('Hello from Chromium');
  bob.ws.send('Hello from Node');
  await waitForLine(page, 'Hello from Node');
  expect(await chatLines(page)).toEqual([
    'Ann joined',
    'Bob joined',
    'Hello from Chromium',
    'Hello from Node',
  ]);
  await screenshot(page, 'fastify-chat');

  expect(chat.app.websocket.connections({ route: '/ws' })).toHaveLength(2);
  await chat.app.close();
  await waitForNote(page, 'Connection closed (1001');
  await page.close();
});
