/**
 * The Upgrader over HTTP/2 (RFC 8441), judged by a client written apart from ours: Node's
 * `http2.connect` with hand-set pseudo-headers, and exact frames on the stream. Both server APIs
 * (the `'stream'` event and the compatibility API's `'connect'`), the handshake checks of
 * section 5, refusals answered on the stream, many WebSockets on one session, closes that end the
 * stream and not the session, resets, sessions closing under open WebSockets, and the stream's
 * flow control as backpressure.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import {
  constants,
  Http2ServerRequest,
  type ClientHttp2Session,
  type Http2ServerResponse,
  type ServerHttp2Stream,
} from 'node:http2';
import {
  CloseAbnormalClosure,
  CloseError,
  HandshakeError,
  TextMessage,
  TimeoutError,
  Upgrader,
  type Conn,
  type ResponseHeaders,
  type UpgraderOptions,
} from '@silverback/websocket';
import { queue, rejection } from '../helpers/async';
import { useCleanups } from '../helpers/cleanups';
import { PeerDeflater, PeerInflater } from '../helpers/deflate';
import { closePayload, frame } from '../helpers/frames';
import {
  connectH2,
  expectEchoExchange,
  nextMessage,
  openWebSocket,
  readBody,
  startH2Server,
} from '../helpers/h2';
import { echo } from '../helpers/server';

const cleanups = useCleanups();

type Api = 'stream' | 'compat';

interface Served {
  port: number;
  authority: string;
  /** Connections upgraded, in order. */
  conns: { next(): Promise<Conn> };
  /** Upgrades that failed, in order. */
  failures: { next(): Promise<unknown> };
  /** The request each `checkOrigin` call received. */
  checked: unknown[];
  /** Opens a session to the server (closed after the test). */
  session(): Promise<ClientHttp2Session>;
}

/**
 * Starts an HTTP/2 server whose extended CONNECTs go to an Upgrader through `api`, and whose
 * connections go to `handler` (an echo by default).
 */
async function serve(
  api: Api,
  options: UpgraderOptions = {},
  handler: (conn: Conn) => Promise<void> = echo,
  responseHeaders?: ResponseHeaders,
): Promise<Served> {
  const checked: unknown[] = [];
  const upgrader = new Upgrader({
    checkOrigin: (req) => {
      checked.push(req);
      return req.headers.origin === undefined || req.headers.origin === 'https://good.example';
    },
    ...options,
  });
  const h2 = await startH2Server();
  cleanups.push(() => h2.close());
  const conns = queue<Conn>();
  const failures = queue<unknown>();
  const accept = (upgrade: Promise<Conn>): void => {
    upgrade.then(
      (conn) => {
        conns.push(conn);
        // A handler's failure is the test's to check through the connection.
        handler(conn).catch(() => {});
      },
      (err: unknown) => failures.push(err),
    );
  };
  if (api === 'stream') {
    h2.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      accept(upgrader.upgradeStream(stream, headers, responseHeaders));
    });
  } else {
    h2.server.on('request', (_req, res: Http2ServerResponse) => res.writeHead(404).end());
    h2.server.on('connect', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      accept(upgrader.upgrade(req, res, responseHeaders));
    });
  }
  return {
    port: h2.port,
    authority: h2.authority,
    conns,
    failures,
    checked,
    async session() {
      const session = await connectH2(h2.port);
      cleanups.push(() => session.destroy());
      return session;
    },
  };
}

describe.each(['stream', 'compat'] as const)('the %s API', (api) => {
  test('an extended CONNECT is answered 200, without Sec-WebSocket-Accept, and carries messages', async () => {
    const served = await serve(api);
    const session = await served.session();
    const ws = await openWebSocket(session, served.authority, '/echo');
    expect(ws.status).toBe(200);
    expect(ws.headers['sec-websocket-accept']).toBeUndefined();
    expect(ws.headers.upgrade).toBeUndefined();
    const conn = await served.conns.next();
    expect(conn.underlyingConn()).toBeDefined();
    expect(conn.remoteAddress()).toEqual(
      expect.objectContaining({ address: '127.0.0.1', port: session.socket.localPort }),
    );
    await expectEchoExchange(ws.peer);
    await conn.closed;
    expect(session.closed).toBe(false);
  });

  test('checkOrigin receives an Http2ServerRequest; a refused origin gets 403 on its stream', async () => {
    const served = await serve(api);
    const session = await served.session();
    const refused = await openWebSocket(session, served.authority, '/', {
      origin: 'https://evil.example',
    });
    expect(refused.status).toBe(403);
    expect(await readBody(refused.stream)).toBe('Forbidden');
    const failure = await served.failures.next();
    expect(failure).toBeInstanceOf(HandshakeError);
    expect((failure as HandshakeError).status).toBe(403);
    expect(served.checked[0]).toBeInstanceOf(Http2ServerRequest);
    expect((served.checked[0] as Http2ServerRequest).headers[':path']).toBe('/');
    // The refusal ended the stream, not the session.
    const accepted = await openWebSocket(session, served.authority, '/', {
      origin: 'https://good.example',
    });
    expect(accepted.status).toBe(200);
  });

  test('subprotocols and permessage-deflate are negotiated as over HTTP/1.1', async () => {
    const served = await serve(api, {
      subprotocols: ['chat', 'superchat'],
      enableCompression: { threshold: 0 },
    });
    const session = await served.session();
    const ws = await openWebSocket(session, served.authority, '/', {
      'sec-websocket-protocol': 'superchat, chat',
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
    });
    expect(ws.status).toBe(200);
    expect(ws.headers['sec-websocket-protocol']).toBe('superchat');
    expect(ws.headers['sec-websocket-extensions']).toBe('permessage-deflate');
    const conn = await served.conns.next();
    expect(conn.subprotocol()).toBe('superchat');
    const deflater = new PeerDeflater();
    const inflater = new PeerInflater();
    const data = 'compressed over a stream '.repeat(40);
    ws.peer.send(frame({ opcode: 1, rsv1: true, payload: await deflater.compress(data) }));
    const echoed = await ws.peer.nextFrame();
    expect(echoed?.rsv1).toBe(true);
    expect((await inflater.decompress(echoed!.payload)).toString()).toBe(data);
    deflater.close();
    inflater.close();
  });
});

describe('the handshake checks of RFC 8441 section 5', () => {
  test.each([
    ['a request that is not CONNECT', { ':method': 'GET', ':protocol': undefined }, 405],
    [
      'a CONNECT without :protocol',
      { ':protocol': undefined, ':scheme': undefined, ':path': undefined },
      400,
    ],
    ["a :protocol other than 'websocket'", { ':protocol': 'webtransport' }, 400],
    ['another WebSocket version', { 'sec-websocket-version': '8' }, 400],
    ['no WebSocket version', { 'sec-websocket-version': undefined }, 400],
  ] as const)('%s is refused on its stream', async (_name, headers, status) => {
    const served = await serve('stream');
    const session = await served.session();
    const refused = await openWebSocket(session, served.authority, '/', headers);
    expect(refused.status).toBe(status);
    if (status === 405) expect(refused.headers.allow).toBe('CONNECT');
    if ('sec-websocket-version' in headers && headers['sec-websocket-version'] !== undefined) {
      expect(refused.headers['sec-websocket-version']).toBe('13');
    }
    await readBody(refused.stream);
    expect(((await served.failures.next()) as HandshakeError).status).toBe(status);
    expect((await openWebSocket(session, served.authority)).status).toBe(200);
  });

  test('Sec-WebSocket-Key is not processed: a request with or without one is accepted alike', async () => {
    const served = await serve('stream');
    const session = await served.session();
    const withKey = await openWebSocket(session, served.authority, '/', {
      'sec-websocket-key': 'not even base64',
    });
    expect(withKey.status).toBe(200);
    expect(withKey.headers['sec-websocket-accept']).toBeUndefined();
  });

  test('response headers that HTTP/2 forbids are refused with 500; others go with the 200', async () => {
    const bad = await serve('stream', {}, echo, { Connection: 'keep-alive' });
    const badSession = await bad.session();
    const refused = await openWebSocket(badSession, bad.authority);
    expect(refused.status).toBe(500);
    const good = await serve('stream', {}, echo, { 'Set-Cookie': 'session=1', 'X-Tag': 'h2' });
    const session = await good.session();
    const accepted = await openWebSocket(session, good.authority);
    expect(accepted.status).toBe(200);
    expect(accepted.headers['set-cookie']).toEqual(['session=1']);
    expect(accepted.headers['x-tag']).toBe('h2');
  });

  test('a handshake that outlives handshakeTimeout resets its stream with CANCEL', async () => {
    const served = await serve('stream', {
      handshakeTimeout: 50,
      checkOrigin: () => new Promise<boolean>(() => {}),
    });
    const session = await served.session();
    const pending = await openWebSocket(session, served.authority);
    expect(pending.status).toBe(0); // closed without an answer
    expect(pending.stream.rstCode).toBe(constants.NGHTTP2_CANCEL);
    expect(await served.failures.next()).toBeInstanceOf(TimeoutError);
    expect(session.closed).toBe(false);
  });
});

describe('streams and the session', () => {
  test('a hundred WebSockets share one session, each with its own messages', async () => {
    const served = await serve('stream');
    const session = await served.session();
    const sockets = await Promise.all(
      Array.from({ length: 100 }, () => openWebSocket(session, served.authority)),
    );
    const conns = await Promise.all(sockets.map(() => served.conns.next()));
    const sessions = new Set(conns.map((c) => (c.underlyingConn() as ServerHttp2Stream).session));
    expect(sessions.size).toBe(1);
    await Promise.all(
      sockets.map(async ({ peer }, i) => {
        peer.send(frame({ opcode: 1, payload: `message ${i}` }));
        expect((await nextMessage(peer)).payload.toString()).toBe(`message ${i}`);
      }),
    );
  });

  test('a closing handshake ends the stream with END_STREAM both ways; the session stays', async () => {
    const served = await serve('stream', {}, async (conn) => {
      await conn.readMessage();
      await conn.closeGracefully(1000, 'bye');
    });
    const session = await served.session();
    const ws = await openWebSocket(session, served.authority);
    const clientClosed = once(ws.stream, 'close');
    const conn = await served.conns.next();
    ws.peer.send(frame({ opcode: 1, payload: 'close, please' }));
    const close = await nextMessage(ws.peer);
    expect(close.opcode).toBe(8);
    expect(close.payload.subarray(2).toString()).toBe('bye');
    ws.peer.send(frame({ opcode: 8, payload: closePayload(1000) }));
    expect(await ws.peer.nextFrame()).toBeNull();
    await conn.closed;
    await clientClosed;
    expect((conn.underlyingConn() as ServerHttp2Stream).rstCode).toBe(constants.NGHTTP2_NO_ERROR);
    expect(session.closed).toBe(false);
    expect((await openWebSocket(session, served.authority)).status).toBe(200);
  });

  test('conn.close() resets the stream with CANCEL, and only the stream', async () => {
    const served = await serve('stream', {}, async () => {});
    const session = await served.session();
    const ws = await openWebSocket(session, served.authority);
    const other = await openWebSocket(session, served.authority);
    const [conn, otherConn] = [await served.conns.next(), await served.conns.next()];
    const clientClosed = once(ws.stream, 'close');
    conn.close();
    await clientClosed;
    expect((conn.underlyingConn() as ServerHttp2Stream).rstCode).toBe(constants.NGHTTP2_CANCEL);
    expect(session.closed).toBe(false);
    void echo(otherConn);
    other.peer.send(frame({ opcode: 1, payload: 'still here' }));
    expect((await nextMessage(other.peer)).payload.toString()).toBe('still here');
  });

  test.each([
    ['CANCEL', constants.NGHTTP2_CANCEL],
    ['PROTOCOL_ERROR', constants.NGHTTP2_PROTOCOL_ERROR],
  ])('a peer that resets the stream (%s) ends that connection with 1006 only', async (_n, code) => {
    const served = await serve('stream', {}, async () => {});
    const session = await served.session();
    const ws = await openWebSocket(session, served.authority);
    const other = await openWebSocket(session, served.authority);
    const [conn, otherConn] = [await served.conns.next(), await served.conns.next()];
    const read = rejection(conn.readMessage());
    ws.stream.close(code);
    const err = await read;
    expect(err).toBeInstanceOf(CloseError);
    expect((err as CloseError).code).toBe(CloseAbnormalClosure);
    await conn.closed;
    void echo(otherConn);
    other.peer.send(frame({ opcode: 2, payload: Buffer.from([1, 2, 3]) }));
    expect((await nextMessage(other.peer)).payload).toEqual(Buffer.from([1, 2, 3]));
  });

  test('a session destroyed under open WebSockets ends every one of them with 1006', async () => {
    const served = await serve('stream', {}, async () => {});
    const session = await served.session();
    await Promise.all(Array.from({ length: 5 }, () => openWebSocket(session, served.authority)));
    const conns = await Promise.all(Array.from({ length: 5 }, () => served.conns.next()));
    const reads = conns.map((conn) => rejection(conn.readMessage()));
    session.destroy();
    for (const err of await Promise.all(reads)) {
      expect((err as CloseError).code).toBe(CloseAbnormalClosure);
    }
    await Promise.all(conns.map((conn) => conn.closed));
    // The server goes on: a new session gets a WebSocket.
    const fresh = await served.session();
    expect((await openWebSocket(fresh, served.authority)).status).toBe(200);
  });

  test("the server's GOAWAY lets open WebSockets finish; no new stream starts", async () => {
    const served = await serve('stream');
    const session = await served.session();
    const ws = await openWebSocket(session, served.authority);
    const conn = await served.conns.next();
    const goaway = once(session, 'goaway');
    (conn.underlyingConn() as ServerHttp2Stream).session!.close();
    await goaway;
    ws.peer.send(frame({ opcode: 1, payload: 'after goaway' }));
    expect((await nextMessage(ws.peer)).payload.toString()).toBe('after goaway');
    const closed = once(session, 'close');
    ws.peer.send(frame({ opcode: 8, payload: closePayload(1000) }));
    expect((await nextMessage(ws.peer)).opcode).toBe(8);
    await closed; // the session closes with its last stream
  });

  test("stream flow control is the backpressure: a server that stops reading stops the client's writes", async () => {
    const served = await serve('stream', { readBufferSize: 16 * 1024 }, async () => {});
    const session = await served.session();
    const ws = await openWebSocket(session, served.authority);
    const conn = await served.conns.next();
    const serverStream = conn.underlyingConn() as ServerHttp2Stream;
    const payload = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 64; i++) ws.peer.send(frame({ opcode: 2, payload }));
    // The server's receive window runs out: it holds a bounded amount, the client the rest.
    await until(() => serverStream.state.localWindowSize === 0);
    expect(serverStream.readableLength).toBeLessThanOrEqual(128 * 1024);
    expect(ws.stream.writableLength).toBeGreaterThan(2 * 1024 * 1024);
    // Reading lets it all through.
    for (let i = 0; i < 64; i++) {
      const { type, data } = await conn.readMessage();
      expect(type).not.toBe(TextMessage);
      expect(data.length).toBe(payload.length);
    }
    expect(ws.stream.writableLength).toBe(0);
  });
});

/** Resolves once `condition` holds, checking after each turn of the event loop (5 s at most). */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
