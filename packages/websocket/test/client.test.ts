/**
 * The Dialer: the opening handshake from the client's side (RFC 6455 section 4.1), against our
 * own server and against a raw server that answers with exact bytes.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import {
  BinaryMessage,
  CloseError,
  CloseMessageTooBig,
  dial,
  Dialer,
  HandshakeError,
  ReadLimitError,
  TextMessage,
  TimeoutError,
  Upgrader,
  type Conn,
  type RequestHeaders,
} from '@silverback/websocket';
import { duplexPair } from '../../../test/helpers/duplex-pair';
import { frame } from '../../../test/helpers/frames';
import { acceptFor, startRawServer, type RawServer } from '../../../test/helpers/raw-server';
import { echo, startServer, type TestServer } from '../../../test/helpers/server';

let server: TestServer | undefined;
let raw: RawServer | undefined;
const conns: Conn[] = [];

afterEach(async () => {
  for (const conn of conns.splice(0)) conn.close();
  await server?.close();
  await raw?.close();
  server = undefined;
  raw = undefined;
});

/** Dials and remembers the connection, so that it is closed after the test. */
async function open(dialer: Dialer, url: string, headers?: RequestHeaders) {
  const result = await dialer.dial(url, headers);
  conns.push(result.conn);
  return result;
}

/** Resolves with the rejection of `promise` (failing if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      if (typeof value === 'object' && value !== null && 'conn' in value) {
        (value as { conn: Conn }).conn.close();
      }
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('against our server', () => {
  test('dials, exchanges text and binary messages and closes normally', async () => {
    server = await startServer(echo);
    const { conn, response } = await open(new Dialer(), `${server.url}/echo`);
    expect(response.status).toBe(101);
    expect(response.statusText).toBe('Switching Protocols');
    expect(response.headers.upgrade).toBe('websocket');
    expect(response.body).toEqual(Buffer.alloc(0));
    expect(conn.subprotocol()).toBe('');
    expect(conn.extensions()).toBe('');
    expect(conn.remoteAddress()?.port).toBe(server.port);

    await conn.writeMessage(TextMessage, 'hello');
    await conn.writeMessage(BinaryMessage, Buffer.from([0, 1, 2, 255]));
    await expect(conn.readMessage()).resolves.toEqual({
      type: TextMessage,
      data: Buffer.from('hello'),
    });
    await expect(conn.readMessage()).resolves.toEqual({
      type: BinaryMessage,
      data: Buffer.from([0, 1, 2, 255]),
    });
    await conn.closeGracefully(1000, 'bye');
    const serverConn = server.conns[0]!;
    await expect(serverConn.readMessage()).rejects.toMatchObject({ code: 1000, text: 'bye' });
  });

  test('sends the request line, the handshake headers and the extra headers', async () => {
    let seen: IncomingMessage | undefined;
    server = await startServer((conn, req) => {
      seen = req;
      return echo(conn);
    });
    await open(new Dialer(), `${server.url}/path/x?room=1&b=%20`, {
      Cookie: 'session=abc',
      Authorization: 'Bearer token',
      Origin: `http://127.0.0.1:${server.port}`,
      'X-Many': ['one', 'two'],
    });
    expect(seen!.url).toBe('/path/x?room=1&b=%20');
    expect(seen!.httpVersion).toBe('1.1');
    const h = seen!.headers;
    expect(h.host).toBe(`127.0.0.1:${server.port}`);
    expect(h.upgrade).toBe('websocket');
    expect(h.connection).toBe('Upgrade');
    expect(h['sec-websocket-version']).toBe('13');
    expect(Buffer.from(h['sec-websocket-key']!, 'base64')).toHaveLength(16);
    expect(h.cookie).toBe('session=abc');
    expect(h.authorization).toBe('Bearer token');
    expect(h['x-many']).toBe('one, two');
    expect(h['sec-websocket-protocol']).toBeUndefined();
    expect(h['sec-websocket-extensions']).toBeUndefined();
  });

  test('each handshake uses a fresh key', async () => {
    const keys: string[] = [];
    server = await startServer((conn, req) => {
      keys.push(req.headers['sec-websocket-key']!);
      return echo(conn);
    });
    const dialer = new Dialer();
    await open(dialer, server.url);
    await open(dialer, server.url);
    await open(dialer, server.url);
    expect(new Set(keys).size).toBe(3);
  });

  test("a Host header replaces the URL's", async () => {
    let host: string | undefined;
    server = await startServer(
      (conn, req) => {
        host = req.headers.host;
        return echo(conn);
      },
      { checkOrigin: () => true },
    );
    await open(new Dialer(), server.url, { Host: 'example.test:8443' });
    expect(host).toBe('example.test:8443');
  });

  test('negotiates the first offered subprotocol the server supports', async () => {
    server = await startServer(echo, { subprotocols: ['json', 'chat'] });
    const { conn, response } = await open(
      new Dialer({ subprotocols: ['v2.chat', 'chat', 'json'] }),
      server.url,
    );
    expect(conn.subprotocol()).toBe('chat');
    expect(response.headers['sec-websocket-protocol']).toBe('chat');
  });

  test('no subprotocol when the server supports none of those offered', async () => {
    let offered: string | undefined;
    server = await startServer(
      (conn, req) => {
        offered = req.headers['sec-websocket-protocol'];
        return echo(conn);
      },
      { subprotocols: ['other'] },
    );
    const { conn } = await open(new Dialer({ subprotocols: ['a', 'b'] }), server.url);
    expect(offered).toBe('a, b');
    expect(conn.subprotocol()).toBe('');
  });

  test('a Sec-WebSocket-Protocol header is the offer when the dialer has no subprotocols', async () => {
    server = await startServer(echo, { subprotocols: ['b'] });
    const { conn } = await open(new Dialer(), server.url, { 'Sec-WebSocket-Protocol': 'a, b' });
    expect(conn.subprotocol()).toBe('b');
  });

  test('negotiates permessage-deflate and round-trips a 1 MiB text message', async () => {
    let offer: string | undefined;
    server = await startServer(
      (conn, req) => {
        offer = req.headers['sec-websocket-extensions'];
        return echo(conn);
      },
      { enableCompression: true },
    );
    const { conn } = await open(new Dialer({ enableCompression: true }), server.url);
    expect(offer).toMatch(/^permessage-deflate/);
    expect(conn.extensions()).toMatch(/^permessage-deflate/);
    const text = 'silverback '.repeat(100_000).slice(0, 1 << 20);
    await conn.writeMessage(TextMessage, text);
    const { type, data } = await conn.readMessage();
    expect(type).toBe(TextMessage);
    expect(data.toString()).toBe(text);
  });

  test('negotiates every compression parameter the dialer asks for', async () => {
    server = await startServer(echo, { enableCompression: true });
    const { conn } = await open(
      new Dialer({
        enableCompression: {
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 11,
        },
      }),
      server.url,
    );
    expect(conn.extensions()).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
        'server_max_window_bits=10; client_max_window_bits=11',
    );
    const payload = Buffer.alloc(200_000, 'abcdefgh');
    for (let i = 0; i < 3; i++) {
      await conn.writeMessage(BinaryMessage, payload);
      expect((await conn.readMessage()).data.equals(payload)).toBe(true);
    }
  });

  test('runs uncompressed when the server declines compression', async () => {
    server = await startServer(echo);
    const { conn } = await open(new Dialer({ enableCompression: true }), server.url);
    expect(conn.extensions()).toBe('');
    await conn.writeMessage(TextMessage, 'x'.repeat(5000));
    expect((await conn.readMessage()).data.toString()).toBe('x'.repeat(5000));
  });

  test('the read limit applies to messages from the server (1009)', async () => {
    server = await startServer();
    const { conn } = await open(new Dialer({ readLimit: 1000 }), server.url);
    const serverConn = await server.nextConn();
    await serverConn.writeMessage(BinaryMessage, Buffer.alloc(1001));
    await expect(conn.readMessage()).rejects.toBeInstanceOf(ReadLimitError);
    await expect(serverConn.readMessage()).rejects.toMatchObject({ code: CloseMessageTooBig });
  });

  test('the write buffer pool and buffer sizes reach the connection', async () => {
    server = await startServer(echo);
    let gets = 0;
    let puts = 0;
    const free: Buffer[] = [];
    const pool = {
      get: () => {
        gets++;
        return free.pop();
      },
      put: (buffer: Buffer) => {
        puts++;
        free.push(buffer);
      },
    };
    const dialer = new Dialer({
      writeBufferPool: pool,
      writeBufferSize: 512,
      readBufferSize: 1024,
    });
    const { conn } = await open(dialer, server.url);
    for (let i = 0; i < 5; i++) {
      await conn.writeMessage(TextMessage, `message ${i}`);
      expect((await conn.readMessage()).data.toString()).toBe(`message ${i}`);
    }
    expect(gets).toBeGreaterThan(0);
    expect(puts).toBeGreaterThan(0);
    expect(free.every((buffer) => buffer.length === 512)).toBe(true);
  });

  test('one dialer dials many connections at once', async () => {
    server = await startServer(echo);
    const dialer = new Dialer();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => open(dialer, `${server!.url}/${i}`)),
    );
    const echoes = await Promise.all(
      results.map(async ({ conn }, i) => {
        await conn.writeMessage(TextMessage, `conn ${i}`);
        return (await conn.readMessage()).data.toString();
      }),
    );
    expect(echoes).toEqual(Array.from({ length: 50 }, (_, i) => `conn ${i}`));
  });

  test('dial() uses the default dialer', async () => {
    server = await startServer(echo);
    const { conn } = await dial(server.url);
    conns.push(conn);
    await conn.writeMessage(TextMessage, 'default');
    expect((await conn.readMessage()).data.toString()).toBe('default');
  });

  test('accepts a URL object, and http: as ws:', async () => {
    server = await startServer(echo);
    const a = await new Dialer().dial(new URL(server.url));
    const b = await new Dialer().dial(`http://127.0.0.1:${server.port}/`);
    conns.push(a.conn, b.conn);
    expect(a.response.status).toBe(101);
    expect(b.response.status).toBe(101);
  });

  test('refuses an upgrade with the HTTP status the server answered', async () => {
    server = await startServer(echo);
    const err = await rejection(new Dialer().dial(server.url, { Origin: 'http://evil.example' }));
    expect(err).toBeInstanceOf(HandshakeError);
    const handshake = err as HandshakeError;
    expect(handshake.status).toBe(403);
    expect(handshake.response?.status).toBe(403);
    expect(handshake.response?.statusText).toBe('Forbidden');
    expect(handshake.response?.body.toString()).toBe('Forbidden');
    expect(handshake.message).toContain('403 Forbidden');
  });
});

describe('request validation', () => {
  test.each([
    'Upgrade',
    'connection',
    'Sec-WebSocket-Key',
    'sec-websocket-version',
    'Sec-WebSocket-Extensions',
  ])('refuses a %s header, which the handshake owns', async (name) => {
    const err = await rejection(new Dialer().dial('ws://127.0.0.1:1/', { [name]: 'x' }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe(`websocket: duplicate header not allowed: ${name}`);
  });

  test('refuses Sec-WebSocket-Protocol when the dialer has subprotocols', async () => {
    const err = await rejection(
      new Dialer({ subprotocols: ['a'] }).dial('ws://127.0.0.1:1/', {
        'Sec-WebSocket-Protocol': 'b',
      }),
    );
    expect(err).toBeInstanceOf(TypeError);
  });

  test('refuses header values that would inject lines', async () => {
    const err = await rejection(
      new Dialer().dial('ws://127.0.0.1:1/', { 'X-Evil': 'a\r\nInjected: yes' }),
    );
    expect(err).toMatchObject({ code: 'ERR_INVALID_CHAR' });
    const name = await rejection(new Dialer().dial('ws://127.0.0.1:1/', { 'Bad Name': 'x' }));
    expect(name).toMatchObject({ code: 'ERR_INVALID_HTTP_TOKEN' });
  });

  test.each([
    ['not a URL', 'not a url'],
    ['another scheme', 'ftp://127.0.0.1/'],
    ['user info', 'ws://user:pass@127.0.0.1/'],
    ['a fragment', 'ws://127.0.0.1/path#frag'],
    ['an empty fragment', 'ws://127.0.0.1/path#'],
  ])('refuses a URL with %s', async (_what, url) => {
    const err = await rejection(new Dialer().dial(url));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/^websocket: malformed ws or wss URL/);
  });

  test('refuses invalid subprotocols and options when constructed', () => {
    expect(() => new Dialer({ subprotocols: ['a b'] })).toThrow(TypeError);
    expect(() => new Dialer({ subprotocols: ['a', 'a'] })).toThrow(TypeError);
    expect(() => new Dialer({ subprotocols: [''] })).toThrow(TypeError);
    expect(() => new Dialer({ handshakeTimeout: -1 })).toThrow(RangeError);
    expect(() => new Dialer({ enableCompression: { serverMaxWindowBits: 16 } })).toThrow(
      RangeError,
    );
  });
});

describe("checking the server's answer", () => {
  beforeEach(async () => {
    raw = await startRawServer();
  });

  async function answer(
    bytes: string | Buffer,
    dialer = new Dialer(),
  ): Promise<{ err: unknown; socketClosed: Promise<void> }> {
    const dialing = rejection(dialer.dial(raw!.url));
    const req = await raw!.nextRequest();
    const socketClosed = once(req.socket, 'close').then(() => {});
    req.respond(bytes);
    return { err: await dialing, socketClosed };
  }

  test('a refusal carries the status, headers and a Content-Length body', async () => {
    const { err, socketClosed } = await answer(
      'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 12\r\n' +
        'Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nlog in first',
    );
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({
      status: 401,
      code: 'ERR_WS_HANDSHAKE',
      response: {
        status: 401,
        statusText: 'Unauthorized',
        headers: { 'www-authenticate': 'Bearer', 'set-cookie': ['a=1', 'b=2'] },
        body: Buffer.from('log in first'),
      },
    });
    await socketClosed;
  });

  test('a chunked refusal body is decoded', async () => {
    const { err } = await answer(
      'HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n',
    );
    expect((err as HandshakeError).response?.body.toString()).toBe('hello, world');
  });

  test('a refusal body without a length is read until the server closes', async () => {
    const dialing = rejection(new Dialer().dial(raw!.url));
    const req = await raw!.nextRequest();
    req.respond('HTTP/1.0 503 Service Unavailable\r\n\r\npart one, ');
    req.respond('part two');
    req.socket.end();
    const err = (await dialing) as HandshakeError;
    expect(err.status).toBe(503);
    expect(err.response?.body.toString()).toBe('part one, part two');
  });

  test('at most 64 KiB of a refusal body is kept', async () => {
    const body = Buffer.alloc(200_000, 'z');
    const { err } = await answer(
      Buffer.concat([
        Buffer.from(`HTTP/1.1 400 Bad Request\r\nContent-Length: ${body.length}\r\n\r\n`),
        body,
      ]),
    );
    expect((err as HandshakeError).response?.body).toHaveLength(64 * 1024);
  });

  test('a refusal whose body never comes ends by the handshake deadline', async () => {
    const started = Date.now();
    const { err } = await answer(
      'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 100\r\n\r\nabc',
      new Dialer({ handshakeTimeout: 300 }),
    );
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as HandshakeError).status).toBe(502);
    expect((err as HandshakeError).response?.body.toString()).toBe('abc');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  test.each([
    [
      'a wrong Sec-WebSocket-Accept',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
      /'Sec-WebSocket-Accept' does not match/,
    ],
    [
      'no Sec-WebSocket-Accept',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      /'Sec-WebSocket-Accept' does not match/,
    ],
    [
      'no Upgrade header',
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n',
      /'websocket' token not found in 'Upgrade'/,
    ],
    [
      'another Upgrade',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n',
      /'websocket' token not found in 'Upgrade'/,
    ],
    [
      'no Connection header',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
      /'upgrade' token not found in 'Connection'/,
    ],
    [
      'Connection: keep-alive',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\r\n',
      /'upgrade' token not found in 'Connection'/,
    ],
  ])('fails a 101 with %s', async (_what, response, message) => {
    const { err, socketClosed } = await answer(response);
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as HandshakeError).status).toBe(101);
    expect((err as HandshakeError).response?.status).toBe(101);
    expect((err as Error).message).toMatch(message);
    await socketClosed;
  });

  async function acceptWith(headers: string[], dialer: Dialer): Promise<unknown> {
    const dialing = rejection(dialer.dial(raw!.url));
    const req = await raw!.nextRequest();
    req.accept(headers);
    return dialing;
  }

  test('fails a subprotocol that was not offered', async () => {
    const err = await acceptWith(
      ['Sec-WebSocket-Protocol: other'],
      new Dialer({ subprotocols: ['chat'] }),
    );
    expect((err as Error).message).toMatch(/subprotocol "other", which was not offered/);
  });

  test('fails a subprotocol when none was offered', async () => {
    const err = await acceptWith(['Sec-WebSocket-Protocol: chat'], new Dialer());
    expect(err).toBeInstanceOf(HandshakeError);
  });

  test('fails two subprotocols in the answer', async () => {
    const err = await acceptWith(
      ['Sec-WebSocket-Protocol: a', 'Sec-WebSocket-Protocol: b'],
      new Dialer({ subprotocols: ['a', 'b'] }),
    );
    expect(err).toBeInstanceOf(HandshakeError);
  });

  test('fails an extension when none was offered', async () => {
    const err = await acceptWith(['Sec-WebSocket-Extensions: permessage-deflate'], new Dialer());
    expect((err as Error).message).toMatch(/invalid extension negotiation: .*not offered/);
  });

  test('fails an extension other than the one offered', async () => {
    const err = await acceptWith(
      ['Sec-WebSocket-Extensions: x-webkit-deflate-frame'],
      new Dialer({ enableCompression: true }),
    );
    expect((err as Error).message).toMatch(/not offered/);
  });

  test.each([
    ['a malformed header', 'permessage-deflate; ;'],
    ['an unknown parameter', 'permessage-deflate; foo'],
    ['a bad window size', 'permessage-deflate; server_max_window_bits=16'],
    ['client_max_window_bits without a value', 'permessage-deflate; client_max_window_bits'],
    [
      'a repeated parameter',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    ],
    ['two answers', 'permessage-deflate, permessage-deflate'],
  ])('fails a compression answer with %s', async (_what, value) => {
    const err = await acceptWith(
      [`Sec-WebSocket-Extensions: ${value}`],
      new Dialer({ enableCompression: true }),
    );
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as Error).message).toMatch(/invalid extension negotiation/);
  });

  test('fails an answer that ignores server_no_context_takeover asked for', async () => {
    const err = await acceptWith(
      ['Sec-WebSocket-Extensions: permessage-deflate'],
      new Dialer({ enableCompression: { serverNoContextTakeover: true } }),
    );
    expect((err as Error).message).toMatch(/server_no_context_takeover/);
  });

  test.each([
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n\r\n'],
    ['a bad status code', 'HTTP/1.1 1O1 Switching\r\n\r\n'],
    ['HTTP/2', 'HTTP/2 101\r\n\r\n'],
    [
      'a header line without a colon',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n',
    ],
    ['space before the colon', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade : websocket\r\n\r\n'],
    ['a control character', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: web\x00socket\r\n\r\n'],
  ])('fails an answer that is %s (status 0)', async (_what, response) => {
    const { err } = await answer(response);
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as HandshakeError).status).toBe(0);
    expect((err as Error).message).toMatch(/malformed HTTP response/);
  });

  test('fails a head larger than the HTTP header limit', async () => {
    const dialing = rejection(new Dialer().dial(raw!.url));
    const req = await raw!.nextRequest();
    req.respond(`HTTP/1.1 101 Switching Protocols\r\nX-Big: ${'a'.repeat(20_000)}`);
    const err = await dialing;
    expect((err as HandshakeError).status).toBe(0);
    expect((err as Error).message).toMatch(/head larger than/);
  });

  test('fails when the server closes before answering', async () => {
    const dialing = rejection(new Dialer().dial(raw!.url));
    const req = await raw!.nextRequest();
    req.respond('HTTP/1.1 101 Swit');
    req.socket.end();
    const err = await dialing;
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as HandshakeError).status).toBe(0);
  });

  test('takes an answer split into one-byte pieces, with bare LF line ends', async () => {
    const dialing = new Dialer().dial(raw!.url);
    const req = await raw!.nextRequest();
    const head =
      'HTTP/1.1 101 Switching Protocols\nUpgrade: WebSocket\nConnection: keep-alive, Upgrade\n' +
      `X-Folded: one\n  two\nSec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key']!)}\n\n`;
    for (const byte of Buffer.from(head)) {
      req.respond(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { conn, response } = await dialing;
    conns.push(conn);
    expect(response.headers['x-folded']).toBe('one two');
  });

  test('frames sent in the same packet as the 101 reach the connection', async () => {
    const dialing = new Dialer().dial(raw!.url);
    const req = await raw!.nextRequest();
    const frames = Buffer.concat([
      frame({ opcode: TextMessage, payload: 'first', mask: false }),
      frame({ opcode: BinaryMessage, payload: Buffer.from([7]), mask: false }),
    ]);
    req.accept(['Set-Cookie: id=1'], frames);
    const { conn, response } = await dialing;
    conns.push(conn);
    expect(response.headers['set-cookie']).toEqual(['id=1']);
    await expect(conn.readMessage()).resolves.toEqual({
      type: TextMessage,
      data: Buffer.from('first'),
    });
    await expect(conn.readMessage()).resolves.toEqual({
      type: BinaryMessage,
      data: Buffer.from([7]),
    });
  });
});

describe('timeouts, aborts and network errors', () => {
  test('a handshake without an answer times out and the connection is destroyed', async () => {
    raw = await startRawServer();
    const dialing = rejection(new Dialer({ handshakeTimeout: 150 }).dial(raw.url));
    const req = await raw.nextRequest();
    const closed = once(req.socket, 'close');
    const err = await dialing;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('websocket: handshake timeout');
    await closed;
  });

  test('the timeout covers a connection that never gets an answer to its TLS hello', async () => {
    raw = await startRawServer();
    const dialing = rejection(
      new Dialer({ handshakeTimeout: 150 }).dial(`wss://127.0.0.1:${raw.port}/`),
    );
    const socket = await raw.nextSocket();
    const closed = once(socket, 'close');
    expect(await dialing).toBeInstanceOf(TimeoutError);
    await closed;
  });

  test('an abort rejects with the reason and destroys the connection', async () => {
    raw = await startRawServer();
    const controller = new AbortController();
    const dialing = rejection(new Dialer().dial(raw.url, {}, { signal: controller.signal }));
    const req = await raw.nextRequest();
    const closed = once(req.socket, 'close');
    const reason = new Error('user gave up');
    controller.abort(reason);
    expect(await dialing).toBe(reason);
    await closed;
  });

  test('an abort while the refusal body arrives still rejects with the reason', async () => {
    raw = await startRawServer();
    const controller = new AbortController();
    const dialing = rejection(new Dialer().dial(raw.url, {}, { signal: controller.signal }));
    const req = await raw.nextRequest();
    req.respond('HTTP/1.1 500 Oops\r\nContent-Length: 10\r\n\r\nab');
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    expect(await dialing).toMatchObject({ name: 'AbortError' });
  });

  test('an already aborted signal rejects without connecting', async () => {
    let connections = 0;
    const netServer = createNetServer(() => connections++);
    netServer.listen(0, '127.0.0.1');
    await once(netServer, 'listening');
    const { port } = netServer.address() as AddressInfo;
    const err = await rejection(
      new Dialer().dial(`ws://127.0.0.1:${port}/`, {}, { signal: AbortSignal.abort('stop') }),
    );
    expect(err).toBe('stop');
    await new Promise<void>((resolve) => netServer.close(() => resolve()));
    expect(connections).toBe(0);
  });

  test('an abort after the dial resolved changes nothing', async () => {
    server = await startServer(echo);
    const controller = new AbortController();
    const { conn } = await new Dialer().dial(server.url, {}, { signal: controller.signal });
    conns.push(conn);
    controller.abort();
    await conn.writeMessage(TextMessage, 'still here');
    expect((await conn.readMessage()).data.toString()).toBe('still here');
  });

  test('a refused TCP connection rejects with ECONNREFUSED', async () => {
    const netServer = createNetServer();
    netServer.listen(0, '127.0.0.1');
    await once(netServer, 'listening');
    const { port } = netServer.address() as AddressInfo;
    await new Promise<void>((resolve) => netServer.close(() => resolve()));
    const err = await rejection(new Dialer().dial(`ws://127.0.0.1:${port}/`));
    expect(err).toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('a connection reset during the handshake rejects with a close-before-answer error', async () => {
    raw = await startRawServer();
    const dialing = rejection(new Dialer().dial(raw.url));
    const req = await raw.nextRequest();
    req.socket.resetAndDestroy();
    const err = await dialing;
    // Either the reset itself or the end of the stream, depending on what the kernel reports.
    expect(
      (err as { code?: string }).code === 'ECONNRESET' ||
        (err instanceof HandshakeError && err.status === 0),
    ).toBe(true);
  });
});

describe('netDial', () => {
  test('runs the handshake over any Duplex the application returns', async () => {
    const upgrader = new Upgrader();
    const httpServer = createServer();
    const serverConns: Conn[] = [];
    httpServer.on('upgrade', (req, socket, head) => {
      void upgrader.upgrade(req, socket, head).then((conn) => {
        serverConns.push(conn);
        return echo(conn);
      });
    });
    const dialed: URL[] = [];
    const dialer = new Dialer({
      netDial: (url) => {
        dialed.push(url);
        const [client, serverEnd] = duplexPair();
        httpServer.emit('connection', serverEnd);
        return Promise.resolve(client);
      },
    });
    const { conn } = await dialer.dial('ws://in-memory.test/chat?x=1');
    expect(dialed.map(String)).toEqual(['ws://in-memory.test/chat?x=1']);
    expect(conn.remoteAddress()).toBeUndefined();
    await conn.writeMessage(TextMessage, 'over memory');
    expect((await conn.readMessage()).data.toString()).toBe('over memory');
    await conn.closeGracefully();
    await expect(serverConns[0]!.readMessage()).rejects.toBeInstanceOf(CloseError);
  });

  test('a netDial failure rejects with its error', async () => {
    const failure = new Error('no route');
    const err = await rejection(
      new Dialer({ netDial: () => Promise.reject(failure) }).dial('ws://x.test/'),
    );
    expect(err).toBe(failure);
  });

  test('a stream that arrives after the timeout is destroyed', async () => {
    const [client] = duplexPair();
    let deliver!: () => void;
    const delivered = new Promise<void>((resolve) => (deliver = resolve));
    const dialer = new Dialer({
      handshakeTimeout: 50,
      netDial: () => delivered.then(() => client),
    });
    const err = await rejection(dialer.dial('ws://late.test/'));
    expect(err).toBeInstanceOf(TimeoutError);
    deliver();
    await once(client, 'close');
    expect(client.destroyed).toBe(true);
  });
});
