/**
 * The Dialer through an HTTP CONNECT proxy (a small one this file runs on loopback), and the
 * choice of a proxy from the environment, which applies only when the application asks for it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  Dialer,
  HandshakeError,
  proxyFromEnvironment,
  TextMessage,
  type Conn,
} from '@silverback/websocket';
import { listenOnLoopback, serverCloser } from '../../../test/helpers/listen';
import { echo, startServer, type TestServer } from '../../../test/helpers/server';
import {
  generateCertificates,
  startTlsServer,
  type TlsTestServer,
} from '../../../test/helpers/tls-server';

/** A CONNECT proxy that tunnels to 127.0.0.1 whatever host is asked for, keeping the port. */
interface TestProxy {
  port: number;
  url: string;
  /** Each CONNECT request: its target and its Proxy-Authorization header. */
  requests: { target: string; authorization: string | undefined; host: string | undefined }[];
  close(): Promise<void>;
}

async function startProxy(credentials?: string): Promise<TestProxy> {
  const server: Server = createServer((_req, res) => res.writeHead(405).end());
  const closer = serverCloser(server);
  const track = (socket: Duplex): void => {
    closer.track(socket);
    socket.on('error', () => {});
  };
  const requests: TestProxy['requests'] = [];
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    const authorization = req.headers['proxy-authorization'];
    requests.push({ target: req.url ?? '', authorization, host: req.headers.host });
    if (credentials !== undefined) {
      const expected = `Basic ${Buffer.from(credentials).toString('base64')}`;
      if (authorization !== expected) {
        const body = 'proxy login required';
        client.end(
          'HTTP/1.1 407 Proxy Authentication Required\r\n' +
            'Proxy-Authenticate: Basic realm="test"\r\n' +
            `Content-Length: ${body.length}\r\n\r\n${body}`,
        );
        return;
      }
    }
    const port = Number((req.url ?? '').slice((req.url ?? '').lastIndexOf(':') + 1));
    const upstream: Socket = connect(port, '127.0.0.1');
    track(upstream);
    upstream.on('error', () => client.destroy());
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
  });
  const port = await listenOnLoopback(server);
  return { port, url: `http://127.0.0.1:${port}`, requests, close: closer.close };
}

let target: TestServer;
let proxy: TestProxy | undefined;
const conns: Conn[] = [];

beforeAll(async () => {
  target = await startServer(echo);
});

afterEach(async () => {
  for (const conn of conns.splice(0)) conn.close();
  await proxy?.close();
  proxy = undefined;
});

afterAll(async () => {
  await target.close();
});

async function roundTrip(conn: Conn, text: string): Promise<string> {
  await conn.writeMessage(TextMessage, text);
  return (await conn.readMessage()).data.toString();
}

describe('through a CONNECT proxy', () => {
  test('tunnels a ws: connection through a proxy given as a URL string', async () => {
    proxy = await startProxy();
    const { conn } = await new Dialer({ proxy: proxy.url }).dial(
      `ws://ws.example.test:${target.port}/chat`,
    );
    conns.push(conn);
    expect(proxy.requests).toEqual([
      {
        target: `ws.example.test:${target.port}`,
        host: `ws.example.test:${target.port}`,
        authorization: undefined,
      },
    ]);
    expect(await roundTrip(conn, 'via proxy')).toBe('via proxy');
  });

  test("sends the proxy URL's user info as Proxy-Authorization: Basic", async () => {
    proxy = await startProxy('alice:p@ss:word');
    const dialer = new Dialer({
      proxy: new URL(`http://alice:p%40ss%3Aword@127.0.0.1:${proxy.port}`),
    });
    const { conn } = await dialer.dial(`ws://127.0.0.1:${target.port}/`);
    conns.push(conn);
    expect(proxy.requests[0]!.authorization).toBe(
      `Basic ${Buffer.from('alice:p@ss:word').toString('base64')}`,
    );
    expect(await roundTrip(conn, 'authorised')).toBe('authorised');
  });

  test("surfaces the proxy's 407 refusal with its status, headers and body", async () => {
    proxy = await startProxy('alice:secret');
    const err: unknown = await new Dialer({ proxy: proxy.url })
      .dial(`ws://127.0.0.1:${target.port}/`)
      .then(
        () => 'connected',
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({
      status: 407,
      response: {
        status: 407,
        statusText: 'Proxy Authentication Required',
        headers: { 'proxy-authenticate': 'Basic realm="test"' },
        body: Buffer.from('proxy login required'),
      },
    });
    expect((err as Error).message).toMatch(/proxy refused CONNECT to 127\.0\.0\.1:\d+: 407/);
  });

  test('wrong credentials are refused too', async () => {
    proxy = await startProxy('alice:secret');
    const dialer = new Dialer({ proxy: `http://alice:guess@127.0.0.1:${proxy.port}` });
    await expect(dialer.dial(`ws://127.0.0.1:${target.port}/`)).rejects.toMatchObject({
      status: 407,
    });
  });

  test('a proxy function picks the proxy per URL; undefined connects directly', async () => {
    proxy = await startProxy();
    const asked: string[] = [];
    const dialer = new Dialer({
      proxy: (url) => {
        asked.push(url.href);
        return url.pathname === '/direct' ? undefined : proxy!.url;
      },
    });
    const a = await dialer.dial(`ws://127.0.0.1:${target.port}/direct`);
    const b = await dialer.dial(`ws://127.0.0.1:${target.port}/proxied`);
    conns.push(a.conn, b.conn);
    expect(asked).toEqual([
      `ws://127.0.0.1:${target.port}/direct`,
      `ws://127.0.0.1:${target.port}/proxied`,
    ]);
    expect(proxy.requests).toHaveLength(1);
    expect(await roundTrip(b.conn, 'b')).toBe('b');
  });

  test('tunnels wss: with TLS end to end, SNI naming the target host', async () => {
    const certs = generateCertificates(['secure.example.test'], []);
    const tlsServer: TlsTestServer = await startTlsServer(certs, echo);
    try {
      proxy = await startProxy();
      const dialer = new Dialer({ proxy: proxy.url, tls: { ca: certs.ca } });
      const { conn } = await dialer.dial(`wss://secure.example.test:${tlsServer.port}/`);
      conns.push(conn);
      expect(proxy.requests[0]!.target).toBe(`secure.example.test:${tlsServer.port}`);
      expect(tlsServer.servernames).toEqual(['secure.example.test']);
      expect(await roundTrip(conn, 'secret')).toBe('secret');
      conn.close();
    } finally {
      await tlsServer.close();
    }
  });

  test('netDial opens the connection to the proxy', async () => {
    proxy = await startProxy();
    const dialed: string[] = [];
    const dialer = new Dialer({
      proxy: proxy.url,
      netDial: (url) => {
        dialed.push(url.href);
        return Promise.resolve(connect(Number(url.port), url.hostname));
      },
    });
    const { conn } = await dialer.dial(`ws://app.example.test:${target.port}/`);
    conns.push(conn);
    expect(dialed).toEqual([`${proxy.url}/`]);
    expect(await roundTrip(conn, 'netDial + proxy')).toBe('netDial + proxy');
  });

  test('an unreachable proxy rejects with ECONNREFUSED', async () => {
    const closed = await startProxy();
    const url = closed.url;
    await closed.close();
    await expect(
      new Dialer({ proxy: url }).dial(`ws://127.0.0.1:${target.port}/`),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('refuses proxies other than http:', async () => {
    for (const url of ['https://proxy.test:443', 'socks5://proxy.test:1080', 'not a url']) {
      await expect(
        new Dialer({ proxy: url }).dial(`ws://127.0.0.1:${target.port}/`),
      ).rejects.toBeInstanceOf(TypeError);
    }
  });
});

describe('environment proxies', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  test('are used only when the dialer asks for them', async () => {
    proxy = await startProxy();
    process.env.HTTP_PROXY = proxy.url;
    // Without `proxy`, the dialer connects to the target itself (seen through netDial).
    const dialed: string[] = [];
    const plain = new Dialer({
      netDial: (url) => {
        dialed.push(url.href);
        return Promise.resolve(connect(target.port, '127.0.0.1'));
      },
    });
    const direct = await plain.dial(`ws://app.example.test:${target.port}/`);
    conns.push(direct.conn);
    expect(dialed).toEqual([`ws://app.example.test:${target.port}/`]);
    expect(proxy.requests).toHaveLength(0);

    // With proxyFromEnvironment, through HTTP_PROXY.
    const { conn } = await new Dialer({ proxy: proxyFromEnvironment }).dial(
      `ws://app.example.test:${target.port}/`,
    );
    conns.push(conn);
    expect(proxy.requests.map((r) => r.target)).toEqual([`app.example.test:${target.port}`]);
    expect(await roundTrip(conn, 'from the environment')).toBe('from the environment');
  });

  test('NO_PROXY exempts a host from HTTP_PROXY', async () => {
    proxy = await startProxy();
    process.env.HTTP_PROXY = proxy.url;
    process.env.NO_PROXY = 'example.test';
    const dialed: string[] = [];
    const dialer = new Dialer({
      proxy: proxyFromEnvironment,
      netDial: (url) => {
        dialed.push(url.href);
        return Promise.resolve(connect(target.port, '127.0.0.1'));
      },
    });
    const { conn } = await dialer.dial(`ws://app.example.test:${target.port}/`);
    conns.push(conn);
    expect(dialed).toEqual([`ws://app.example.test:${target.port}/`]);
  });
});

describe('proxyFromEnvironment', () => {
  const ws = new URL('ws://app.example.com/chat');
  const wss = new URL('wss://app.example.com/chat');

  test('HTTP_PROXY serves ws: and HTTPS_PROXY serves wss:', () => {
    const env = { HTTP_PROXY: 'http://plain:3128', HTTPS_PROXY: 'http://secure:3128' };
    expect(proxyFromEnvironment(ws, env)).toBe('http://plain:3128');
    expect(proxyFromEnvironment(wss, env)).toBe('http://secure:3128');
    expect(proxyFromEnvironment(wss, { HTTP_PROXY: 'http://plain:3128' })).toBeUndefined();
  });

  test('lower-case names work, and upper case wins', () => {
    expect(proxyFromEnvironment(ws, { http_proxy: 'http://lower:1' })).toBe('http://lower:1');
    expect(proxyFromEnvironment(wss, { https_proxy: 'http://lower:2' })).toBe('http://lower:2');
    expect(
      proxyFromEnvironment(ws, { HTTP_PROXY: 'http://upper:1', http_proxy: 'http://x:1' }),
    ).toBe('http://upper:1');
  });

  test('no proxy when none is set or it is empty', () => {
    expect(proxyFromEnvironment(ws, {})).toBeUndefined();
    expect(proxyFromEnvironment(ws, { HTTP_PROXY: '  ' })).toBeUndefined();
  });

  test('a value without a scheme means http://', () => {
    expect(proxyFromEnvironment(ws, { HTTP_PROXY: 'proxy.corp:8080' })).toBe(
      'http://proxy.corp:8080',
    );
  });

  test('localhost and loopback addresses are never proxied', () => {
    const env = { HTTP_PROXY: 'http://proxy:1' };
    for (const url of [
      'ws://localhost:8080/',
      'ws://127.0.0.1/',
      'ws://127.9.9.9/',
      'ws://[::1]:80/',
    ]) {
      expect(proxyFromEnvironment(new URL(url), env)).toBeUndefined();
    }
  });

  test('HTTP_PROXY is ignored in a CGI environment (REQUEST_METHOD set)', () => {
    expect(proxyFromEnvironment(ws, { HTTP_PROXY: 'http://p:1', REQUEST_METHOD: 'GET' })).toBe(
      undefined,
    );
    expect(proxyFromEnvironment(wss, { HTTPS_PROXY: 'http://p:1', REQUEST_METHOD: 'GET' })).toBe(
      'http://p:1',
    );
  });

  test.each([
    ['*', 'ws://anything.test/', true],
    ['example.com', 'ws://example.com/', true],
    ['example.com', 'ws://app.example.com/', true],
    ['example.com', 'ws://notexample.com/', false],
    ['.example.com', 'ws://app.example.com/', true],
    ['.example.com', 'ws://example.com/', false],
    ['*.example.com', 'ws://app.example.com/', true],
    ['EXAMPLE.com', 'ws://App.Example.COM/', true],
    ['other.test, example.com', 'ws://example.com/', true],
    ['example.com:8080', 'ws://example.com:8080/', true],
    ['example.com:8080', 'ws://example.com/', false],
    ['example.com:443', 'wss://example.com/', true],
    ['10.0.0.0/8', 'ws://10.1.2.3/', true],
    ['10.0.0.0/8', 'ws://11.1.2.3/', false],
    ['192.168.1.5', 'ws://192.168.1.5/', true],
    ['2001:db8::/32', 'ws://[2001:db8::1]/', true],
    ['[2001:db8::1]:80', 'ws://[2001:db8::1]/', true],
    ['', 'ws://example.com/', false],
  ])('NO_PROXY=%j for %s: exempt %s', (noProxy, url, exempt) => {
    const env = { HTTP_PROXY: 'http://p:1', HTTPS_PROXY: 'http://p:2', NO_PROXY: noProxy };
    const chosen = proxyFromEnvironment(new URL(url), env);
    expect(chosen === undefined).toBe(exempt);
  });
});
