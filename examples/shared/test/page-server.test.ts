/**
 * The plain examples' page server: the page at `/` for GET and HEAD, plain refusals otherwise, and
 * upgrade requests handed over only for the socket path.
 */
import { once } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawUpgradeAnswer } from '../../../test/helpers/upgrade-request';
import { createPageServer, pathOf } from '../src/page-server';

let server: Server | undefined;

afterEach(async () => {
  const running = server;
  server = undefined;
  if (running === undefined) return;
  running.closeAllConnections();
  await new Promise((resolve) => running.close(resolve));
});

async function start(options: Parameters<typeof createPageServer>[0]): Promise<string> {
  server = createPageServer(options);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const neverUpgrades = (): void => {
  throw new Error('no upgrade expected');
};

test('serves the page at / to GET and HEAD, 404 elsewhere and 405 to other methods', async () => {
  const base = await start({ page: '<p>hi</p>', socketPath: '/ws', upgrade: neverUpgrades });
  const page = await fetch(`${base}/?query=ignored`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(await page.text()).toBe('<p>hi</p>');
  const head = await fetch(`${base}/`, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(await head.text()).toBe('');
  expect((await fetch(`${base}/other`)).status).toBe(404);
  const post = await fetch(`${base}/`, { method: 'POST' });
  expect(post.status).toBe(405);
  expect(post.headers.get('allow')).toBe('GET, HEAD');
});

test('renders the page for each request when given a function, and answers 500 when it fails', async () => {
  let renders = 0;
  let fail = false;
  const base = await start({
    page: () => (fail ? Promise.reject(new Error('broken')) : Promise.resolve(`#${++renders}`)),
    socketPath: '/ws',
    upgrade: neverUpgrades,
  });
  expect(await (await fetch(base)).text()).toBe('#1');
  expect(await (await fetch(base)).text()).toBe('#2');
  fail = true;
  expect((await fetch(base)).status).toBe(500);
});

test('hands upgrade requests for the socket path over, and answers 404 to the others', async () => {
  const upgraded: string[] = [];
  const base = await start({
    page: '',
    socketPath: '/ws',
    upgrade(req, socket) {
      upgraded.push(req.url ?? '');
      socket.end('HTTP/1.1 418 Teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
  });
  const port = Number(new URL(base).port);
  expect((await rawUpgradeAnswer(port, '/ws?x=1')).status).toBe(418);
  expect((await rawUpgradeAnswer(port, '/elsewhere')).status).toBe(404);
  expect(upgraded).toEqual(['/ws?x=1']);
});

test('pathOf drops the query', () => {
  const request = (url?: string): IncomingMessage => ({ url }) as IncomingMessage;
  expect(pathOf(request('/ws?lastMod=1'))).toBe('/ws');
  expect(pathOf(request('/'))).toBe('/');
  expect(pathOf(request())).toBe('/');
});
