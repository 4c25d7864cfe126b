/**
 * Driving the chat example's page (`examples/chat/public/index.html`, which the framework chats
 * serve too) in Chromium: its log of lines and notes, its form, and the framework chats' sign-in
 * in front of it.
 */
import { once, type EventEmitter } from 'node:events';
import type { Page } from 'playwright-core';
import type { Chromium } from './chromium';

/** The chat lines (not the page's own notes) a page shows, in order. */
export function chatLines(page: Page): Promise<string[]> {
  return page.locator('#log div:not(.note)').allTextContents();
}

/** Waits until the page's log shows a line or note containing `text`. */
export function waitForLine(page: Page, text: string): Promise<void> {
  return page.locator('#log div', { hasText: text }).waitFor();
}

/** Waits until the page's log shows a note (connected, closed) containing `text`. */
export function waitForNote(page: Page, text: string): Promise<void> {
  return page.locator('#log .note', { hasText: text }).waitFor();
}

/** Sends `text` through the page's form, as a user typing it and pressing Enter. */
export async function say(page: Page, text: string): Promise<void> {
  await page.fill('#msg', text);
  await page.press('#msg', 'Enter');
}

/**
 * Opens the chat at `base` in the browser, expects to be sent to the sign-in form, signs in as
 * `name` through it, and resolves with the chat page once its socket has joined `hub` and the
 * page shows "<name> joined".
 */
export async function signInThroughForm(
  browser: Pick<Chromium, 'open'>,
  base: string,
  hub: EventEmitter,
  name: string,
): Promise<Page> {
  const page = await browser.open(`${base}/`);
  expect(new URL(page.url()).pathname).toBe('/login');

  const registered = once(hub, 'register');
  await page.fill('#name', name);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  await waitForNote(page, 'Connected.');
  await registered;
  await waitForLine(page, `${name} joined`);
  return page;
}
