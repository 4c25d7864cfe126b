import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import {
  Conn,
  HandshakeError,
  isWebSocketUpgrade,
  subprotocols,
  TextMessage,
  TimeoutError,
  Upgrader,
  type UpgraderOptions,
} from '@silverback/websocket';
import { duplexPair } from '../../../test/helpers/duplex-pair';
import { frame } from '../../../test/helpers/frames';
import { listenOnLoopback, serverCloser } from '../../../test/helpers/listen';
import { rawConnect } from '../../../test/helpers/raw-client';
import { TEST_ACCEPT, TEST_KEY } from '../../../test/helpers/upgrade-request';
import {
  startServer,
  type TestServer,
  type TestServerSettings,
} from '../../../test/helpers/server';

let server: TestServer | undefined;
const clients: Socket[] = [];

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy();
  await server?.close();
  server = undefined;
});

async function listen(
  options: UpgraderOptions = {},
  settings: TestServerSettings = {},
): Promise<TestServer> {
  server = await startServer(undefined, options, {
    upgradeEveryRequest: true,
    http: { requireHostHeader: false },
    ...settings,
  });
  return server;
}

type Headers = Record<string, string | undefined>;

/** A valid upgrade request's headers; tests override or drop (`undefined`) some. */
function upgradeHeaders(port: number): Headers {
  return {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': TEST_KEY,
    'Sec-WebSocket-Version': '13',
  };
}

function requestText(headers: Headers, method = 'GET', version = '1.1'): string {
  const lines = [`${method} /chat HTTP/${version}`];
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) lines.push(`${name}: ${value}`);
  }
  return lines.join('\r\n') + '\r\n\r\n';
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string[]>;
  body: string;
}

function parseAnswer(text: string): HttpAnswer {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  return {
    status: Number(statusLine.split(' ')[1] ?? 0),
    headers,
    body: end < 0 ? '' : text.slice(end + 4),
  };
}

/**
 * Sends `request` over a fresh TCP connection and resolves with everything the server wrote once
 * it has closed the connection: a refused handshake must end with the socket closed.
 */
async function exchange(port: number, request: string | Buffer): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  clients.push(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(request);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'end');
  return Buffer.concat(chunks).toString('latin1');
}

describe('refused handshakes: the HTTP answer, the socket closed, a HandshakeError', () => {
  test.each<[string, Headers, { method?: string; version?: string }, number, Headers]>([
    ['a method other than GET', {}, { method: 'POST' }, 405, { allow: 'GET' }],
    ['an Upgrade header without websocket', { Upgrade: 'h2c' }, {}, 426, { upgrade: 'websocket' }],
    ['no Upgrade header', { Upgrade: undefined }, {}, 426, { upgrade: 'websocket' }],
    ['a Connection header without upgrade', { Connection: 'keep-alive' }, {}, 400, {}],
    ['no Connection header', { Connection: undefined }, {}, 400, {}],
    ['HTTP/1.0', {}, { version: '1.0' }, 400, {}],
    ['no Host header', { Host: undefined }, {}, 400, {}],
    ['an empty Host header', { Host: '' }, {}, 400, {}],
    ['a key of 15 bytes', { 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAA' }, {}, 400, {}],
    ['a key that is not base64', { 'Sec-WebSocket-Key': '!'.repeat(22) + '==' }, {}, 400, {}],
    ['no key', { 'Sec-WebSocket-Key': undefined }, {}, 400, {}],
    ['version 8', { 'Sec-WebSocket-Version': '8' }, {}, 426, { 'sec-websocket-version': '13' }],
    ['versions 8 and 13', { 'Sec-WebSocket-Version': '8, 13' }, {}, 426, {}],
    ['no version', { 'Sec-WebSocket-Version': undefined }, {}, 426, {}],
    ['a foreign origin', { Origin: 'http://evil.example' }, {}, 403, {}],
    ['the origin "null"', { Origin: 'null' }, {}, 403, {}],
  ])('%s', async (_name, override, { method, version }, status, wantHeaders) => {
    const { port, nextFailure } = await listen();
    const request = requestText({ ...upgradeHeaders(port), ...override }, method, version);
    const answer = parseAnswer(await exchange(port, request));
    expect(answer.status).toBe(status);
    expect(answer.headers.connection).toEqual(['close']);
    for (const [name, value] of Object.entries(wantHeaders)) {
      expect(answer.headers[name]).toEqual([value]);
    }
    expect(answer.headers['sec-websocket-accept']).toBeUndefined();
    expect(Number(answer.headers['content-length']?.[0])).toBe(Buffer.byteLength(answer.body));
    const err = await nextFailure();
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ status, code: 'ERR_WS_HANDSHAKE' });
  });

  test('a request with no headers at all', async () => {
    const { port, nextFailure } = await listen();
    const answer = parseAnswer(await exchange(port, 'GET / HTTP/1.1\r\n\r\n'));
    expect(answer.status).toBe(426);
    await expect(nextFailure()).resolves.toBeInstanceOf(HandshakeError);
  });

  test('the default origin check allows the same host, compared without case', async () => {
    const { port, nextConn } = await listen();
    const client = await rawConnect(port, '/', { Origin: `HTTP://127.0.0.1:${port}` });
    clients.push(client.socket);
    expect(client.response.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    await nextConn();
  });

  test('a custom checkOrigin refusing, synchronously or not, gets 403', async () => {
    const seen: string[] = [];
    for (const checkOrigin of [
      (req: IncomingMessage) => (seen.push(req.headers.origin ?? ''), false),
      (req: IncomingMessage) => (seen.push(req.headers.origin ?? ''), Promise.resolve(false)),
    ]) {
      const { port, nextFailure } = await listen({ checkOrigin });
      const request = requestText({ ...upgradeHeaders(port), Origin: `http://127.0.0.1:${port}` });
      expect(parseAnswer(await exchange(port, request)).status).toBe(403);
      await expect(nextFailure()).resolves.toMatchObject({ status: 403 });
      await server!.close();
      server = undefined;
    }
    expect(seen).toHaveLength(2);
  });

  test('a custom checkOrigin allowing a foreign origin, asynchronously', async () => {
    const { port, nextConn } = await listen({ checkOrigin: () => Promise.resolve(true) });
    const client = await rawConnect(port, '/', { Origin: 'http://elsewhere.example' });
    clients.push(client.socket);
    await expect(nextConn()).resolves.toBeInstanceOf(Conn);
  });

  test('a checkOrigin that throws gets 500', async () => {
    const { port, nextFailure } = await listen({
      checkOrigin: () => {
        throw new Error('database down');
      },
    });
    expect(parseAnswer(await exchange(port, requestText(upgradeHeaders(port)))).status).toBe(500);
    await expect(nextFailure()).resolves.toMatchObject({ status: 500 });
  });

  test('a custom error handler writes the answer; the socket is closed after it', async () => {
    const calls: [number, unknown][] = [];
    const { port, nextFailure } = await listen({
      error: (_req, socket, status, reason) => {
        calls.push([status, reason]);
        socket.write(`HTTP/1.1 ${status} Nope\r\nX-Custom: yes\r\nContent-Length: 4\r\n\r\nnope`);
      },
    });
    const request = requestText({ ...upgradeHeaders(port), 'Sec-WebSocket-Version': '7' });
    const answer = parseAnswer(await exchange(port, request));
    expect(answer).toMatchObject({ status: 426, body: 'nope' });
    expect(answer.headers['x-custom']).toEqual(['yes']);
    const err = await nextFailure();
    expect(calls).toEqual([[426, err]]);
    expect(err).toBeInstanceOf(HandshakeError);
  });

  test('handshakeTimeout: a checkOrigin that never resolves ends with TimeoutError', async () => {
    const { port, nextFailure } = await listen({
      handshakeTimeout: 100,
      checkOrigin: () => new Promise<boolean>(() => {}),
    });
    // The socket is destroyed without an answer.
    expect(await exchange(port, requestText(upgradeHeaders(port)))).toBe('');
    const err = await nextFailure();
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ message: 'websocket: handshake timeout' });
  });

  test('a peer that resets the connection after a refusal does not crash the process', async () => {
    const { port, nextFailure } = await listen();
    for (let i = 0; i < 20; i++) {
      const socket = connect(port, '127.0.0.1');
      clients.push(socket);
      socket.on('error', () => {});
      await once(socket, 'connect');
      socket.write(requestText({ ...upgradeHeaders(port), 'Sec-WebSocket-Version': '1' }));
      socket.resetAndDestroy();
      await nextFailure();
    }
    // The server still works.
    const client = await rawConnect(port);
    clients.push(client.socket);
    expect(client.response).toContain('101');
  });
});

describe('upgrade() never throws', () => {
  const fakeRequests: [string, Partial<IncomingMessage>][] = [
    ['no method, no headers', { headers: {} }],
    [
      'GET without headers',
      { method: 'GET', headers: {}, httpVersionMajor: 1, httpVersionMinor: 1 },
    ],
    [
      'repeated headers as arrays',
      {
        method: 'GET',
        httpVersionMajor: 1,
        httpVersionMinor: 1,
        headers: {
          host: 'h',
          upgrade: 'websocket',
          connection: 'upgrade',
          'sec-websocket-version': '13',
          'sec-websocket-key': TEST_KEY,
          'set-cookie': ['a', 'b'],
          origin: 'http://other',
        },
      },
    ],
  ];

  test.each(fakeRequests)(
    '%s: rejects with HandshakeError and closes the socket',
    async (_n, req) => {
      const [socket, peer] = duplexPair();
      peer.resume();
      let promise: Promise<Conn> | undefined;
      expect(() => {
        promise = new Upgrader().upgrade(req as IncomingMessage, socket);
      }).not.toThrow();
      await expect(promise).rejects.toBeInstanceOf(HandshakeError);
      await once(peer, 'end');
      // A late socket error (the peer resetting) must find a listener.
      expect(() => socket.emit('error', new Error('read ECONNRESET'))).not.toThrow();
    },
  );
});

describe('one upgrade per request', () => {
  test('a second upgrade() of the same request rejects with a HandshakeError and touches nothing', async () => {
    const upgrader = new Upgrader();
    const http = createServer();
    const closer = serverCloser(http);
    const seconds: unknown[] = [];
    http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const first = upgrader.upgrade(req, socket, head);
      void upgrader
        .upgrade(req, socket, head)
        .catch((err: unknown) => seconds.push(err))
        .then(() => first)
        .then((conn) => conn.writeMessage(TextMessage, 'first'));
    });
    try {
      const client = await rawConnect(await listenOnLoopback(http));
      clients.push(client.socket);
      // The first call's connection works: the second did not disturb the socket.
      expect((await client.nextFrame())?.payload.toString()).toBe('first');
      expect(seconds).toHaveLength(1);
      expect(seconds[0]).toBeInstanceOf(HandshakeError);
    } finally {
      await closer.close();
    }
  });

  test('the error says what happened; another Upgrader refuses too', async () => {
    const [socket, peer] = duplexPair();
    peer.resume();
    const req = {
      method: 'GET',
      httpVersionMajor: 1,
      httpVersionMinor: 1,
      headers: {
        host: 'h',
        upgrade: 'websocket',
        connection: 'upgrade',
        'sec-websocket-version': '13',
        'sec-websocket-key': TEST_KEY,
      },
    } as unknown as IncomingMessage;
    const conn = await new Upgrader().upgrade(req, socket);
    const err = await new Upgrader().upgrade(req, socket).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ status: 0 });
    expect((err as Error).message).toMatch(/upgrade\(\) was already called for this request/);
    expect(socket.destroyed).toBe(false);
    conn.close();
  });
});

describe('successful handshakes', () => {
  test("RFC 6455's sample key gets its accept value; the answer is exactly a 101", async () => {
    const { port } = await listen();
    const client = await rawConnect(port);
    clients.push(client.socket);
    const answer = parseAnswer(client.response);
    expect(client.response.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    expect(answer.headers).toEqual({
      upgrade: ['websocket'],
      connection: ['Upgrade'],
      'sec-websocket-accept': [TEST_ACCEPT],
    });
  });

  test.each<[string[] | undefined, string, string]>([
    [['chat', 'superchat'], 'superchat, chat', 'superchat'],
    [['chat', 'superchat'], 'v2, chat', 'chat'],
    [['chat'], 'v2, v3', ''],
    [['chat'], '', ''],
  ])('subprotocols %j, client offers %j: %j', async (supported, offer, selected) => {
    const { port, nextConn } = await listen({ subprotocols: supported });
    const client = await rawConnect(port, '/', offer ? { 'Sec-WebSocket-Protocol': offer } : {});
    clients.push(client.socket);
    const answer = parseAnswer(client.response);
    expect(answer.headers['sec-websocket-protocol']).toEqual(selected ? [selected] : undefined);
    expect((await nextConn()).subprotocol()).toBe(selected);
  });

  test('without a subprotocol list, the response header is the answer', async () => {
    const { port, nextConn } = await listen(
      {},
      { responseHeaders: { 'Sec-WebSocket-Protocol': 'mine' } },
    );
    const client = await rawConnect(port, '/', { 'Sec-WebSocket-Protocol': 'theirs, mine' });
    clients.push(client.socket);
    expect(parseAnswer(client.response).headers['sec-websocket-protocol']).toEqual(['mine']);
    expect((await nextConn()).subprotocol()).toBe('mine');
  });

  test('responseHeaders reach the 101 answer, arrays as repeated lines', async () => {
    const { port } = await listen(
      {},
      { responseHeaders: { 'Set-Cookie': ['a=1; Path=/', 'b=2'], 'X-Request-Id': 42 } },
    );
    const client = await rawConnect(port);
    clients.push(client.socket);
    const answer = parseAnswer(client.response);
    expect(answer.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2']);
    expect(answer.headers['x-request-id']).toEqual(['42']);
  });

  test("responseHeaders with an invalid value: 500, a HandshakeError caused by Node's header error", async () => {
    const { port, nextFailure } = await listen(
      {},
      { responseHeaders: { 'X-Bad': 'a\r\nInjected: yes' } },
    );
    const text = await exchange(port, requestText(upgradeHeaders(port)));
    expect(parseAnswer(text).status).toBe(500);
    expect(text).not.toContain('Injected');
    await expect(nextFailure()).resolves.toMatchObject({
      name: 'HandshakeError',
      status: 500,
      cause: { code: 'ERR_INVALID_CHAR' },
    });
  });

  test('responseHeaders may not set Sec-WebSocket-Extensions: 500', async () => {
    const { port, nextFailure } = await listen(
      {},
      { responseHeaders: { 'Sec-WebSocket-Extensions': 'x' } },
    );
    const text = await exchange(port, requestText(upgradeHeaders(port)));
    expect(parseAnswer(text).status).toBe(500);
    await expect(nextFailure()).resolves.toMatchObject({ name: 'HandshakeError', status: 500 });
  });

  test('bytes sent right behind the request (head) are the first frames', async () => {
    const { port, nextConn } = await listen();
    const socket = connect(port, '127.0.0.1');
    clients.push(socket);
    await once(socket, 'connect');
    socket.write(
      Buffer.concat([
        Buffer.from(requestText(upgradeHeaders(port))),
        frame({ opcode: 1, payload: 'first' }),
        frame({ opcode: 1, payload: 'sec', fin: false }),
      ]),
    );
    const conn = await nextConn();
    await expect(conn.readMessage()).resolves.toEqual({
      type: TextMessage,
      data: Buffer.from('first'),
    });
    const second = conn.readMessage();
    socket.write(frame({ opcode: 0, payload: 'ond' }));
    await expect(second).resolves.toEqual({ type: TextMessage, data: Buffer.from('second') });
  });
});

describe('options reach the connection', () => {
  test('readLimit: a larger message is refused with 1009', async () => {
    const { port, nextConn } = await listen({ readLimit: 5 });
    const client = await rawConnect(port);
    clients.push(client.socket);
    const conn = await nextConn();
    client.send([frame({ opcode: 1, payload: '12345' }), frame({ opcode: 1, payload: '123456' })]);
    await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('12345') });
    await expect(conn.readMessage()).rejects.toMatchObject({ closeCode: 1009 });
    const answer = await client.nextFrame();
    expect(answer).toMatchObject({ opcode: 8 });
    expect(answer!.payload.readUInt16BE(0)).toBe(1009);
    await client.ended;
  });

  test('writeBufferPool: the connection writes through the pool', async () => {
    const puts: Buffer[] = [];
    const { port, nextConn } = await listen({
      writeBufferSize: 256,
      writeBufferPool: { get: () => undefined, put: (buffer) => void puts.push(buffer) },
    });
    const client = await rawConnect(port);
    clients.push(client.socket);
    const conn = await nextConn();
    await conn.writeMessage(TextMessage, 'pooled');
    await expect(client.nextFrame()).resolves.toMatchObject({ payload: Buffer.from('pooled') });
    expect(puts).toHaveLength(1);
    expect(puts[0]).toHaveLength(256);
  });
});

describe('isWebSocketUpgrade and subprotocols', () => {
  const req = (headers: IncomingMessage['headers']): IncomingMessage =>
    ({ headers }) as IncomingMessage;

  test.each<[IncomingMessage['headers'], boolean]>([
    [{ connection: 'Upgrade', upgrade: 'websocket' }, true],
    [{ connection: 'keep-alive, Upgrade', upgrade: 'WebSocket' }, true],
    [{ connection: 'keep-alive', upgrade: 'websocket' }, false],
    [{ connection: 'Upgrade', upgrade: 'h2c' }, false],
    [{ upgrade: 'websocket' }, false],
    [{ connection: 'upgrade' }, false],
    [{}, false],
  ])('isWebSocketUpgrade(%j) = %j', (headers, expected) => {
    expect(isWebSocketUpgrade(req(headers))).toBe(expected);
  });

  test.each<[string | undefined, string[]]>([
    [undefined, []],
    ['', []],
    ['chat', ['chat']],
    ['chat, superchat', ['chat', 'superchat']],
    [' chat ,, superchat ', ['chat', 'superchat']],
  ])('subprotocols(%j) = %j', (header, expected) => {
    expect(subprotocols(req({ 'sec-websocket-protocol': header }))).toEqual(expected);
  });
});
