/**
 * permessage-deflate (RFC 7692) between Chromium and our server: the browser negotiates it with
 * the echo example, both ends report the same extension, and the bytes on the wire show that
 * each direction really compressed.
 */
import type { Socket } from 'node:net';
import type { Page } from 'playwright-core';
import type { Conn } from '@silverback/websocket';
import { startEcho, type EchoOptions, type EchoServer } from '../../examples/echo/src/index';
import { useChromium } from './chromium';

const browser = useChromium();
let echo: EchoServer | undefined;
let page: Page | undefined;

afterEach(async () => {
  await page?.close();
  page = undefined;
  await echo?.close();
  echo = undefined;
});

interface BrowserSide {
  extensions: string;
  echoed: boolean;
}

/**
 * Opens the echo page, connects from it, sends `text` and checks the echo; resolves with what
 * the browser saw and the server's connection (still open).
 */
async function roundTrip(options: EchoOptions, text: string): Promise<[BrowserSide, Conn]> {
  echo = await startEcho(options);
  page = await browser.open(echo.url);
  // Runs in the page; the URL is an argument because Node's type library has no `location`.
  const url = echo.url.replace('http:', 'ws:') + 'echo';
  const browserSide = await page.evaluate(
    async ({ url, message }) => {
      const ws = new WebSocket(url);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const reply = new Promise<unknown>((resolve) => {
        ws.onmessage = (event: { data: unknown }) => resolve(event.data);
      });
      ws.send(message);
      return { extensions: ws.extensions, echoed: (await reply) === message };
    },
    { url, message: text },
  );
  const conns = [...echo.conns];
  expect(conns).toHaveLength(1);
  return [browserSide, conns[0]!];
}

// Compresses to a few kilobytes: a run of the same sentence.
const repetitive = 'The quick brown fox jumps over the lazy dog. '.repeat(6000);

test('Chromium negotiates permessage-deflate with our server, and both directions compress', async () => {
  const [browserSide, conn] = await roundTrip({}, repetitive);
  expect(browserSide.echoed).toBe(true);
  // Chromium offers `permessage-deflate; client_max_window_bits`; the answer names the extension
  // and nothing the browser did not offer.
  expect(browserSide.extensions).toMatch(/^permessage-deflate(;|$)/);
  expect(conn.extensions()).toBe(browserSide.extensions);

  // 270 KB went each way as a few kilobytes of deflate data.
  const socket = conn.underlyingConn() as Socket;
  expect(repetitive.length).toBe(270_000);
  expect(socket.bytesRead).toBeLessThan(20_000);
  expect(socket.bytesWritten).toBeLessThan(20_000);
});

test('a server without compression leaves the extension out, and messages still flow', async () => {
  const [browserSide, conn] = await roundTrip(
    { upgrader: { enableCompression: false } },
    repetitive,
  );
  expect(browserSide).toEqual({ extensions: '', echoed: true });
  expect(conn.extensions()).toBe('');
  expect((conn.underlyingConn() as Socket).bytesRead).toBeGreaterThan(270_000);
});
