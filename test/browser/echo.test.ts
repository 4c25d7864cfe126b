/**
 * The echo example in a real browser: the page round-trips text and binary messages, driven
 * through its buttons, and the browser's own WebSocket round-trips exact bytes.
 */
import type { Page } from 'playwright-core';
import { startEcho, type EchoServer } from '../../examples/echo/src/index';
import { useChromium } from './chromium';

const browser = useChromium();
let echo: EchoServer;
let page: Page;

beforeEach(async () => {
  echo = await startEcho();
  page = await browser.open(echo.url);
});

afterEach(async () => {
  await page.close();
  await echo.close();
});

/** Waits for an output line of the page that is exactly `text`. */
function line(text: string): Promise<void> {
  return page
    .locator('#output div')
    .getByText(text, { exact: true })
    .waitFor({ timeout: 5000 })
    .catch(async (err: Error) => {
      const shown = await page.locator('#output div').allTextContents();
      throw new Error(`${err.message}\npage output: ${JSON.stringify(shown)}`);
    });
}

test('the page round-trips a text message and a binary message through its buttons', async () => {
  await page.click('#open');
  await line('OPEN');
  await page.fill('#input', 'Hello, silverback ✓');
  await page.click('#send');
  await line('RESPONSE: Hello, silverback ✓');
  await page.click('#send-binary');
  // "Hello, silverback ✓" as UTF-8 bytes.
  const hex = [...Buffer.from('Hello, silverback ✓')]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join(' ');
  await line(`RESPONSE (binary): ${hex}`);
  await page.click('#close');
  await line('CLOSE 1000');
  // The EXTENSIONS line is checked in compression.test.ts.
  const output = await page.locator('#output div').allTextContents();
  expect(output.filter((text) => !text.startsWith('EXTENSIONS: '))).toEqual([
    'OPEN',
    'SEND: Hello, silverback ✓',
    'RESPONSE: Hello, silverback ✓',
    `SEND (binary): ${hex}`,
    `RESPONSE (binary): ${hex}`,
    'CLOSE 1000',
  ]);
});

test("the browser's WebSocket gets back exactly what it sent, text and binary, small and large", async () => {
  // The function runs in the page; the URL comes in as an argument because Node's type library,
  // which checks this file, has no `location`.
  const url = echo.url.replace('http:', 'ws:') + 'echo';
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const replies: (string | ArrayBuffer)[] = [];
    const waiting: ((m: string | ArrayBuffer) => void)[] = [];
    ws.onmessage = (event: { data: string | ArrayBuffer }) => {
      const take = waiting.shift();
      if (take) take(event.data);
      else replies.push(event.data);
    };
    const next = (): Promise<string | ArrayBuffer> =>
      replies.length > 0
        ? Promise.resolve(replies.shift()!)
        : new Promise((resolve) => waiting.push(resolve));

    const every = new Uint8Array(256).map((_, i) => i);
    const large = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
    const text = 'ünïcödé, emoji 🦍, and CJK 漢字 '.repeat(1000);
    const checks: Record<string, boolean> = {};
    ws.send('');
    checks.empty = (await next()) === '';
    ws.send(text);
    checks.text = (await next()) === text;
    ws.send(every);
    const gotEvery = await next();
    checks.everyByte =
      gotEvery instanceof ArrayBuffer &&
      new Uint8Array(gotEvery).every((b, i) => b === every[i]) &&
      gotEvery.byteLength === 256;
    ws.send(large);
    const gotLarge = await next();
    checks.oneMiB =
      gotLarge instanceof ArrayBuffer &&
      gotLarge.byteLength === large.length &&
      new Uint8Array(gotLarge).every((b, i) => b === large[i]);
    const closed = new Promise<{ code: number; clean: boolean }>((resolve) => {
      ws.onclose = (event) => resolve({ code: event.code, clean: event.wasClean });
    });
    ws.close(1000, 'done');
    return { checks, close: await closed };
  }, url);
  expect(result.checks).toEqual({ empty: true, text: true, everyByte: true, oneMiB: true });
  expect(result.close).toEqual({ code: 1000, clean: true });
});
