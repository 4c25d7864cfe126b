/**
 * The Koa chat example in a real browser: Chromium signs in through the form, gets the signed
 * cookie, loads the chat page and opens its socket with that cookie through the Koa middleware
 * stack; a `ws` client signed in as someone else chats with it.
 */
import { createChatApp, type ChatApp } from '../../examples/koa-chat/src/app';
import type { WsClient } from '../helpers/ws-client';
import { joinFromNode, trackServer, type TrackedServer } from '../examples/framework-chat';
import { chatLines, say, signInThroughForm, waitForLine, waitForNote } from './chat-page';
import { screenshot, useChromium } from './chromium';

const browser = useChromium();
let chat: ChatApp;
let listening: TrackedServer;
const clients: WsClient[] = [];

beforeEach(async () => {
  chat = createChatApp();
  listening = await trackServer(chat.app.listen(0, '127.0.0.1'));
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await chat.close();
  await listening.stop();
});

test('a browser signs in through the form and chats over the protected socket', async () => {
  // Anonymous: the chat page sends the browser to the form.
  const page = await signInThroughForm(browser, listening.base, chat.hub, 'Alice');

  // Someone else, signed in with their own cookie, joins from Node.
  const bob = await joinFromNode(listening.base, 'Bob');
  clients.push(bob);
  expect(await bob.next()).toBe('Bob joined');

  await say(page, 'Hello from the browser');
  expect(await bob.next()).toBe('Hello from the browser');
  bob.ws.send('Hello from Node');
  await waitForLine(page, 'Hello from Node');
  expect(await chatLines(page)).toEqual([
    'Alice joined',
    'Bob joined',
    'Hello from the browser',
    'Hello from Node',
  ]);
  await screenshot(page, 'koa-chat');

  // The browser's socket is the one the server tracks under the route.
  expect(chat.ws.connections({ route: '/ws' })).toHaveLength(2);
  await chat.close();
  await waitForNote(page, 'Connection closed (1001');
  await page.close();
});
