/**
 * The filewatch example, driven by a Node WebSocket client: the page shows the file, and each
 * change reaches connected clients.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startFilewatch,
  type FilewatchOptions,
  type FilewatchServer,
} from '../../examples/filewatch/src/index';
import { rawConnect, type RawClient } from '../helpers/raw-client';
import { connectWs, type WsClient } from '../helpers/ws-client';

let dir: string;
let file: string;
let server: FilewatchServer | undefined;
const clients: WsClient[] = [];
const raws: RawClient[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'silverback-filewatch-'));
  file = join(dir, 'watched.txt');
  await writeFile(file, 'first version\n');
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  for (const raw of raws.splice(0)) raw.destroy();
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Partial<FilewatchOptions> = {}): Promise<FilewatchServer> {
  server = await startFilewatch({ file, filePeriod: 20, ...options });
  return server;
}

function wsUrl(s: FilewatchServer, lastMod: string): string {
  return `${s.url.replace('http:', 'ws:')}ws?lastMod=${lastMod}`;
}

async function connect(url: string): Promise<WsClient> {
  const client = await connectWs(url);
  clients.push(client);
  return client;
}

/** Fetches the page and returns its HTML and the lastMod it carries. */
async function page(s: FilewatchServer): Promise<{ html: string; lastMod: string }> {
  const res = await fetch(s.url);
  expect(res.status).toBe(200);
  const html = await res.text();
  const lastMod = /data-last-mod="(\d+)"/.exec(html)?.[1];
  expect(lastMod).toBeDefined();
  return { html, lastMod: lastMod! };
}

describe('filewatch example', () => {
  test('the page shows the file, HTML-escaped, with its modification time', async () => {
    await writeFile(file, '<b>bold</b> & "quoted"\n');
    const s = await start();
    const { html, lastMod } = await page(s);
    expect(html).toContain('&#60;b&#62;bold&#60;/b&#62; &#38; &#34;quoted&#34;\n</pre>');
    expect(BigInt(lastMod)).toBeGreaterThan(0n);
    expect((await fetch(new URL('/other', s.url))).status).toBe(404);
  });

  test('pushes the new content to every client when the file changes', async () => {
    const s = await start();
    const { lastMod } = await page(s);
    const a = await connect(wsUrl(s, lastMod));
    const b = await connect(wsUrl(s, lastMod));
    await writeFile(file, 'second version\n');
    expect(await a.next()).toBe('second version\n');
    expect(await b.next()).toBe('second version\n');
    await writeFile(file, 'third version\n');
    expect(await a.next()).toBe('third version\n');
    expect(await b.next()).toBe('third version\n');
  });

  test('follows a file replaced by rename, as editors save', async () => {
    const s = await start();
    const { lastMod } = await page(s);
    const client = await connect(wsUrl(s, lastMod));
    const temp = join(dir, 'watched.txt.tmp');
    await writeFile(temp, 'saved by an editor\n');
    await rename(temp, file);
    expect(await client.next()).toBe('saved by an editor\n');
  });

  test('sends the content at once when it changed after the page was rendered', async () => {
    const s = await start({ filePeriod: 60_000 });
    const { lastMod } = await page(s);
    await writeFile(file, 'changed in between\n');
    // The poll is a minute away: only the lastMod check can send this.
    const client = await connect(wsUrl(s, lastMod));
    expect(await client.next()).toBe('changed in between\n');
  });

  test('sends nothing at once to a page that is up to date', async () => {
    const s = await start();
    const { lastMod } = await page(s);
    const client = await connect(wsUrl(s, lastMod));
    await writeFile(file, 'next\n');
    // The first message is the change, not a copy of what the page already shows.
    expect(await client.next()).toBe('next\n');
  });

  test('reports a deleted file once, then sends it again when it comes back', async () => {
    const s = await start();
    const { lastMod } = await page(s);
    const client = await connect(wsUrl(s, lastMod));
    await rm(file);
    expect(await client.next()).toMatch(/^ENOENT: no such file or directory/);
    await writeFile(file, 'back again\n');
    // Had the error been sent at each poll, it would come before this.
    expect(await client.next()).toBe('back again\n');
  });

  test('pings the client, and closes one that stops answering once pongWait passes', async () => {
    const s = await start({ pingPeriod: 40, pongWait: 200 });
    const { lastMod } = await page(s);
    const client = await connect(wsUrl(s, lastMod));
    await client.pings(6);
    expect(client.open).toBe(true);

    const raw = await rawConnect(Number(new URL(s.url).port), `/ws?lastMod=${lastMod}`);
    raws.push(raw);
    expect((await raw.nextFrame())?.opcode).toBe(9);
    await raw.ended;
    expect(s.conns.size).toBe(1);
  });

  test('close() ends every connection with 1001', async () => {
    const s = await start();
    const { lastMod } = await page(s);
    const client = await connect(wsUrl(s, lastMod));
    const closing = s.close();
    server = undefined;
    expect((await client.closed).code).toBe(1001);
    await closing;
  });

  test('refuses pingPeriod not shorter than pongWait', async () => {
    await expect(startFilewatch({ file, pingPeriod: 100, pongWait: 100 })).rejects.toThrow(
      RangeError,
    );
  });
});
