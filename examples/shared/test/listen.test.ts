/**
 * Listening and stopping: the page's URL for each kind of address, and a close() that ends the
 * example's connections before the server, once.
 */
import { createServer, type Server } from 'node:http';
import { closeServer, listen, pageUrl } from '../src/listen';

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
});

function server(): Server {
  const created = createServer((_req, res) => res.end('ok'));
  servers.push(created);
  return created;
}

const nothingToClose = (): Promise<void> => Promise.resolve();

test('names the loopback address it listens on, and the port it picked', async () => {
  const listening = await listen(server(), { host: '127.0.0.1' }, nothingToClose);
  expect(listening.port).toBeGreaterThan(0);
  expect(listening.url).toBe(`http://127.0.0.1:${listening.port}/`);
  expect(await (await fetch(listening.url)).text()).toBe('ok');
});

test.each([
  [{ address: '127.0.0.1', family: 'IPv4', port: 8081 }, false, 'http://127.0.0.1:8081/'],
  [{ address: '::1', family: 'IPv6', port: 8081 }, false, 'http://[::1]:8081/'],
  [{ address: '0.0.0.0', family: 'IPv4', port: 8080 }, false, 'http://0.0.0.0:8080/'],
  [{ address: '::', family: 'IPv6', port: 8080 }, false, 'http://[::]:8080/'],
  [{ address: '0.0.0.0', family: 'IPv4', port: 8080 }, true, 'http://127.0.0.1:8080/'],
  [{ address: '::', family: 'IPv6', port: 8080 }, true, 'http://127.0.0.1:8080/'],
  [{ address: '::1', family: 'IPv6', port: 8080 }, true, 'http://[::1]:8080/'],
])('the page at %j (loopback for wildcard: %j) is %s', (address, loopbackForWildcard, url) => {
  expect(pageUrl(address, loopbackForWildcard)).toBe(url);
});

test('close() closes the connections first, then the server, and only once', async () => {
  const events: string[] = [];
  const http = server();
  http.on('close', () => events.push('server closed'));
  const listening = await listen(http, { host: '127.0.0.1' }, async () => {
    events.push('connections closing');
    await Promise.resolve();
    events.push('connections closed');
  });
  const first = listening.close();
  expect(listening.close()).toBe(first);
  await first;
  expect(events).toEqual(['connections closing', 'connections closed', 'server closed']);
  expect(http.listening).toBe(false);
});

test('rejects with the listen error when the port is taken', async () => {
  const taken = await listen(server(), { host: '127.0.0.1' }, nothingToClose);
  const second = server();
  await expect(
    listen(second, { port: taken.port, host: '127.0.0.1' }, nothingToClose),
  ).rejects.toThrow('EADDRINUSE');
});
