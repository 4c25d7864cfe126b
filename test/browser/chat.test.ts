/**
 * The chat example in a real browser: two pages of headless Chromium chat through the hub.
 */
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { startChat, type ChatServer } from '../../examples/chat/src/index';
import { chatLines, say, waitForLine, waitForNote } from './chat-page';
import { screenshot, useChromium } from './chromium';

const browser = useChromium();
let chat: ChatServer;

beforeEach(async () => {
  chat = await startChat({ host: '127.0.0.1' });
});

afterEach(async () => {
  await chat.close();
});

/** Opens the chat page and resolves once its socket is connected and registered with the hub. */
async function openChat(): Promise<Page> {
  const registered = once(chat.hub, 'register');
  const page = await browser.open(chat.url);
  await waitForNote(page, 'Connected.');
  await registered;
  return page;
}

test('two pages exchange messages through the hub', async () => {
  const alice = await openChat();
  const bob = await openChat();
  expect(chat.hub.clients.size).toBe(2);

  await say(alice, 'Hello from Alice');
  for (const page of [alice, bob]) await waitForLine(page, 'Hello from Alice');
  // The form clears after sending.
  expect(await alice.inputValue('#msg')).toBe('');

  await say(bob, 'Hi Alice, Bob here');
  for (const page of [alice, bob]) await waitForLine(page, 'Hi Alice, Bob here');
  expect(await chatLines(alice)).toEqual(['Hello from Alice', 'Hi Alice, Bob here']);
  expect(await chatLines(bob)).toEqual(['Hello from Alice', 'Hi Alice, Bob here']);

  const path = await screenshot(alice, 'chat');
  expect((await stat(path)).size).toBeGreaterThan(0);

  await alice.close();
  await bob.close();
});

test('text is shown as text, never as markup', async () => {
  const page = await openChat();
  await say(page, '<img src=x onerror="document.title=1"> & friends');
  await waitForLine(page, '& friends');
  expect(await chatLines(page)).toEqual(['<img src=x onerror="document.title=1"> & friends']);
  expect(await page.locator('#log img').count()).toBe(0);
  await page.close();
});

test('a page that leaves is unregistered, and the page sees the server shut down', async () => {
  const alice = await openChat();
  const bob = await openChat();
  const left = new Promise<string>((resolve) =>
    chat.hub.once('unregister', (_client, reason) => resolve(reason)),
  );
  await bob.close();
  const reason = await left;
  expect(reason).toBe('closed');
  expect(chat.hub.clients.size).toBe(1);

  await chat.close();
  await waitForNote(alice, 'Connection closed (1001: server shutting down).');
  await alice.close();
});
