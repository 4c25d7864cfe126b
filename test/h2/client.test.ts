/**
 * The Dialer over HTTP/2 (RFC 8441), against servers written with Node's `http2` module by hand:
 * the extended CONNECT it sends, one session per origin shared by its WebSockets, a second
 * session when the server's stream limit is reached, the fallback to HTTP/1.1 when the server
 * does not offer extended CONNECT, refusals, and the ends of streams and sessions.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import {
  BinaryMessage,
  CloseAbnormalClosure,
  Dialer,
  HandshakeError,
  TextMessage,
  Upgrader,
  type CloseError,
  type Conn,
  type DialerOptions,
} from '@silverback/websocket';
import { queue, rejection } from '../helpers/async';
import { useCleanups } from '../helpers/cleanups';
import { startH2Server, testCertificates, type H2TestServer } from '../helpers/h2';
import { listenOnLoopback, serverCloser } from '../helpers/listen';
import { echo } from '../helpers/server';

const cleanups = useCleanups();

/** A dialer with HTTP/2 on that trusts the test certificates. */
function h2Dialer(options: DialerOptions = {}): Dialer {
  return new Dialer({ ...options, http2: true, tls: { ca: testCertificates().ca } });
}

interface Served {
  h2: H2TestServer;
  url: string;
  /** The request headers of each extended CONNECT, in order. */
  requests: { next(): Promise<IncomingHttpHeaders> };
  /** The server's end of each WebSocket, in order. */
  conns: { next(): Promise<Conn> };
  /** Every session the server saw. */
  sessions: ServerHttp2Session[];
}

/** Starts an HTTP/2 echo server (the `'stream'` API) with `settings`. */
async function serve(
  settings: { enableConnectProtocol?: boolean; maxConcurrentStreams?: number } = {},
  upgrader = new Upgrader(),
): Promise<Served> {
  const h2 = await startH2Server({ settings });
  cleanups.push(() => h2.close());
  const requests = queue<IncomingHttpHeaders>();
  const conns = queue<Conn>();
  const sessions: ServerHttp2Session[] = [];
  h2.server.on('session', (session: ServerHttp2Session) => sessions.push(session));
  h2.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    requests.push(headers);
    upgrader.upgradeStream(stream, headers).then(
      (conn) => {
        conns.push(conn);
        void echo(conn);
      },
      () => {},
    );
  });
  // HTTP/1.1 upgrades, for the fallback.
  h2.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrader.upgrade(req, socket, head).then(
      (conn) => {
        conns.push(conn);
        void echo(conn);
      },
      () => {},
    );
  });
  return { h2, url: `wss://${h2.authority}`, requests, conns, sessions };
}

async function dial(dialer: Dialer, url: string): Promise<Conn> {
  const { conn } = await dialer.dial(url);
  cleanups.push(() => conn.close());
  return conn;
}

test('a WebSocket opens as a stream: the extended CONNECT of RFC 8441 section 5, answered 200', async () => {
  const served = await serve();
  const dialer = h2Dialer({ subprotocols: ['chat'], enableCompression: true });
  const { conn, response } = await dialer.dial(`${served.url}/room?x=1`, { 'X-Token': 'abc' });
  cleanups.push(() => conn.close());
  const request = await served.requests.next();
  expect(request).toMatchObject({
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': '/room?x=1',
    ':authority': served.h2.authority,
    'sec-websocket-version': '13',
    'sec-websocket-protocol': 'chat',
    'x-token': 'abc',
  });
  expect(request['sec-websocket-key']).toBeUndefined();
  expect(request.upgrade).toBeUndefined();
  expect(request.connection).toBeUndefined();
  expect(request['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
  expect(response.status).toBe(200);
  expect(response.headers[':status']).toBeUndefined();
  expect(conn.underlyingConn().constructor.name).toBe('ClientHttp2Stream');
  await conn.writeMessage(TextMessage, 'over a stream');
  expect((await conn.readMessage()).data.toString()).toBe('over a stream');
  const big = Buffer.alloc(1 << 20, 5);
  await conn.writeMessage(BinaryMessage, big);
  expect((await conn.readMessage()).data.equals(big)).toBe(true);
});

test('one session per origin carries every WebSocket; it closes with the last one', async () => {
  const served = await serve();
  const dialer = h2Dialer();
  const conns = await Promise.all(Array.from({ length: 10 }, () => dial(dialer, served.url)));
  const later = await dial(dialer, served.url);
  expect(served.sessions).toHaveLength(1);
  expect(dialer.http2Sessions()!.sessions(served.h2.authority)).toHaveLength(1);
  for (const [i, conn] of [...conns, later].entries()) {
    await conn.writeMessage(TextMessage, `n${i}`);
    expect((await conn.readMessage()).data.toString()).toBe(`n${i}`);
  }
  const sessionClosed = once(served.sessions[0]!, 'close');
  await Promise.all([...conns, later].map((conn) => conn.closeGracefully()));
  await sessionClosed;
  expect(dialer.http2Sessions()!.sessions(served.h2.authority)).toHaveLength(0);
});

test("a second session opens when the server's stream limit is reached", async () => {
  const served = await serve({ maxConcurrentStreams: 2 });
  const dialer = h2Dialer();
  const first = await Promise.all([dial(dialer, served.url), dial(dialer, served.url)]);
  const third = await dial(dialer, served.url);
  expect(served.sessions).toHaveLength(2);
  for (const conn of [...first, third]) {
    await conn.writeMessage(TextMessage, 'ok');
    expect((await conn.readMessage()).data.toString()).toBe('ok');
  }
});

test('a server without SETTINGS_ENABLE_CONNECT_PROTOCOL is dialled over HTTP/1.1, and remembered', async () => {
  const served = await serve({ enableConnectProtocol: false });
  const dialer = h2Dialer();
  const { conn, response } = await dialer.dial(served.url);
  cleanups.push(() => conn.close());
  expect(response.status).toBe(101);
  expect(conn.underlyingConn().constructor.name).toBe('TLSSocket');
  await conn.writeMessage(TextMessage, 'fell back');
  expect((await conn.readMessage()).data.toString()).toBe('fell back');
  // The HTTP/2 session that did not offer extended CONNECT was closed, and is not tried again.
  await dial(dialer, served.url);
  expect(served.sessions).toHaveLength(1);
  if (!served.sessions[0]!.closed) await once(served.sessions[0]!, 'close');
});

test('an HTTPS server without HTTP/2 is dialled over HTTP/1.1 on the same connection', async () => {
  const certs = testCertificates();
  const server = createHttpsServer({ key: certs.key, cert: certs.cert });
  const closer = serverCloser(server);
  cleanups.push(() => closer.close());
  const upgrader = new Upgrader();
  let connections = 0;
  server.on('secureConnection', () => connections++);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void upgrader.upgrade(req, socket, head).then(echo, () => {});
  });
  const port = await listenOnLoopback(server);
  const { conn, response } = await h2Dialer().dial(`wss://localhost:${port}/`);
  cleanups.push(() => conn.close());
  expect(response.status).toBe(101);
  await conn.writeMessage(TextMessage, 'plain TLS');
  expect((await conn.readMessage()).data.toString()).toBe('plain TLS');
  expect(connections).toBe(1);
});

test('a refusal rejects with its status, headers and body; the session serves the next dial', async () => {
  const h2 = await startH2Server();
  cleanups.push(() => h2.close());
  const upgrader = new Upgrader();
  h2.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    if (headers[':path'] === '/private') {
      stream.respond({ ':status': 401, 'www-authenticate': 'Bearer' });
      stream.end('sign in first');
      return;
    }
    void upgrader.upgradeStream(stream, headers).then(echo, () => {});
  });
  const dialer = h2Dialer();
  const open = await dial(dialer, `wss://${h2.authority}/`);
  const err = await rejection(dialer.dial(`wss://${h2.authority}/private`));
  expect(err).toBeInstanceOf(HandshakeError);
  expect((err as HandshakeError).status).toBe(401);
  expect((err as HandshakeError).response?.headers['www-authenticate']).toBe('Bearer');
  expect((err as HandshakeError).response?.body.toString()).toBe('sign in first');
  await open.writeMessage(TextMessage, 'unharmed');
  expect((await open.readMessage()).data.toString()).toBe('unharmed');
});

test('an answer with a subprotocol the client did not offer fails the dial', async () => {
  const h2 = await startH2Server();
  cleanups.push(() => h2.close());
  h2.server.on('stream', (stream: ServerHttp2Stream) => {
    stream.respond({ ':status': 200, 'sec-websocket-protocol': 'other' });
  });
  const err = await rejection(h2Dialer({ subprotocols: ['chat'] }).dial(`wss://${h2.authority}/`));
  expect(err).toBeInstanceOf(HandshakeError);
  expect((err as HandshakeError).message).toMatch(/not offered/);
});

test('a dial aborted while the server has not answered resets its stream, and the session closes', async () => {
  const h2 = await startH2Server();
  cleanups.push(() => h2.close());
  const streams = queue<ServerHttp2Stream>();
  const sessions: ServerHttp2Session[] = [];
  h2.server.on('session', (session: ServerHttp2Session) => sessions.push(session));
  h2.server.on('stream', (stream: ServerHttp2Stream) => streams.push(stream));
  const controller = new AbortController();
  const dialing = rejection(
    h2Dialer().dial(`wss://${h2.authority}/`, undefined, { signal: controller.signal }),
  );
  const stream = await streams.next();
  controller.abort(new Error('not now'));
  expect(((await dialing) as Error).message).toBe('not now');
  if (!stream.closed) await once(stream, 'close');
  if (!sessions[0]!.closed) await once(sessions[0]!, 'close');
});

test('the server resetting the stream, or its session ending, closes the WebSocket with 1006', async () => {
  const served = await serve();
  const dialer = h2Dialer();
  const reset = await dial(dialer, served.url);
  const others = await Promise.all([dial(dialer, served.url), dial(dialer, served.url)]);
  const serverConns = await Promise.all([0, 1, 2].map(() => served.conns.next()));
  const resetRead = rejection(reset.readMessage());
  const resetServerConn = serverConns.find(
    (c) =>
      (c.underlyingConn() as ServerHttp2Stream).id ===
      (reset.underlyingConn() as unknown as { id: number }).id,
  )!;
  resetServerConn.close();
  expect(((await resetRead) as CloseError).code).toBe(CloseAbnormalClosure);
  for (const conn of others) {
    await conn.writeMessage(TextMessage, 'after a reset');
    expect((await conn.readMessage()).data.toString()).toBe('after a reset');
  }
  const reads = others.map((conn) => rejection(conn.readMessage()));
  served.sessions[0]!.destroy();
  for (const err of await Promise.all(reads)) {
    expect((err as CloseError).code).toBe(CloseAbnormalClosure);
  }
  expect(dialer.http2Sessions()!.sessions(served.h2.authority)).toHaveLength(0);
});

test('ws: URLs stay on HTTP/1.1', async () => {
  const { createServer } = await import('node:http');
  const server = createServer();
  const closer = serverCloser(server);
  cleanups.push(() => closer.close());
  const upgrader = new Upgrader();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void upgrader.upgrade(req, socket, head).then(echo, () => {});
  });
  const port = await listenOnLoopback(server);
  const { conn, response } = await h2Dialer().dial(`ws://127.0.0.1:${port}/`);
  cleanups.push(() => conn.close());
  expect(response.status).toBe(101);
});
