/**
 * The chat example in a real browser: two pages of headless Chromium chat through the hub.
 */
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { startChat, type ChatServer } from '../../examples/chat/src/index';
import { launchChromium, screenshot, type Chromium } from './chromium';

let browser: Chromium;
let chat: ChatServer;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

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
  await page.locator('#log .note', { hasText: 'Connected.' }).waitFor();
  await registered;
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#msg', text);
  await page.press('#msg', 'Enter');
}

/** The chat lines (not the notes) a page shows, in order. */
function lines(page: Page): Promise<string[]> {
  return page.locator('#log div:not(.note)').allTextContents();
}

test('two pages exchange messages through the hub', async () => {
  const alice = await openChat();
  const bob = await openChat();
  expect(chat.hub.clients.size).toBe(2);

  await say(alice, 'Hello from Alice');
  for (const page of [alice, bob]) {
    await page.locator('#log div', { hasText: 'Hello from Alice' }).waitFor();
  }
  // The form clears after sending.
  expect(await alice.inputValue('#msg')).toBe('');

  await say(bob, 'Hi Alice, Bob here');
  for (const page of [alice, bob]) {
    await page.locator('#log div', { hasText: 'Hi Alice, Bob here' }).waitFor();
  }
  expect(await lines(alice)).toEqual(['Hello from Alice', 'Hi Alice, Bob here']);
  expect(await lines(bob)).toEqual(['Hello from Alice', 'Hi Alice, Bob here']);

  const path = await screenshot(alice, 'chat');
  expect((await stat(path)).size).toBeGreaterThan(0);

  await alice.close();
  await bob.close();
});

test('text is shown as text, never as markup', async () => {
  const page = await openChat();
  await say(page, '<img src=x onerror="document.title=1"> & friends');
  await page.locator('#log div', { hasText: '& friends' }).waitFor();
  expect(await lines(page)).toEqual(['<img src=x onerror="document.title=1"> & friends']);
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
  await alice
    .locator('#log .note', { hasText: 'Connection closed (1001: server shutting down).' })
    .waitFor();
  await alice.close();
});
