/**
 * HTTP/2 peers for the RFC 8441 tests, written apart from the code under test: a TLS HTTP/2
 * server that advertises extended CONNECT, and a client made from Node's `http2.connect` whose
 * extended CONNECT requests carry hand-set pseudo-headers. What follows the 200 on the stream is
 * exact bytes, as `raw-client.ts` writes and parses them.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import {
  connect,
  createSecureServer,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type Http2SecureServer,
  type OutgoingHttpHeaders,
  type SecureServerOptions,
} from 'node:http2';
import { closePayload, frame } from './frames';
import { listenOnLoopback, serverCloser } from './listen';
import { rawPeer, type RawPeer } from './raw-client';
import { generateCertificates, type TestCertificates } from './tls-server';

let certificates: TestCertificates | undefined;

/** The test file's certificates for `localhost` and 127.0.0.1, made on first use. */
export function testCertificates(): TestCertificates {
  certificates ??= generateCertificates();
  return certificates;
}

/** A listening HTTP/2 test server. */
export interface H2TestServer {
  server: Http2SecureServer;
  port: number;
  /** `localhost:<port>`, the `:authority` of its requests. */
  authority: string;
  /** Destroys every connection (and so every session) and closes the server. */
  close(): Promise<void>;
}

/**
 * Starts an HTTP/2 server over TLS on 127.0.0.1 port 0 that advertises
 * `SETTINGS_ENABLE_CONNECT_PROTOCOL` (unless `options.settings` says otherwise) and accepts
 * HTTP/1.1 beside HTTP/2. Attach listeners (`'stream'`, `'connect'`, `'request'`) to `server`.
 */
export async function startH2Server(options: SecureServerOptions = {}): Promise<H2TestServer> {
  const certs = testCertificates();
  const server = createSecureServer({
    key: certs.key,
    cert: certs.cert,
    allowHTTP1: true,
    ...options,
    settings: { enableConnectProtocol: true, ...options.settings },
  });
  server.on('tlsClientError', () => {});
  const closer = serverCloser(server);
  const port = await listenOnLoopback(server);
  return { server, port, authority: `localhost:${port}`, close: closer.close };
}

/**
 * Opens an HTTP/2 session to `localhost:<port>`, trusting the test certificates, and resolves
 * once the server's SETTINGS have arrived.
 */
export async function connectH2(port: number): Promise<ClientHttp2Session> {
  const session = connect(`https://localhost:${port}`, { ca: testCertificates().ca });
  session.on('error', () => {});
  await once(session, 'remoteSettings');
  return session;
}

/** The server's answer to an extended CONNECT. */
export interface ConnectAnswer {
  stream: ClientHttp2Stream;
  /** `:status`, or 0 when the stream closed without an answer. */
  status: number;
  /** The answer's headers, pseudo-headers included. */
  headers: IncomingHttpHeaders;
}

/**
 * Sends an RFC 8441 extended CONNECT for a WebSocket, with every pseudo-header set by hand:
 * `:method CONNECT`, `:protocol websocket`, `:scheme https`, `:path`, `:authority`, and
 * `sec-websocket-version: 13`. `headers` adds to them or replaces them (`undefined` removes one).
 * Resolves with the answer.
 */
export async function extendedConnect(
  session: ClientHttp2Session,
  authority: string,
  path = '/',
  headers: OutgoingHttpHeaders = {},
): Promise<ConnectAnswer> {
  const request: OutgoingHttpHeaders = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': path,
    ':authority': authority,
    'sec-websocket-version': '13',
    ...headers,
  };
  for (const name of Object.keys(request)) if (request[name] === undefined) delete request[name];
  const stream = session.request(request, { endStream: false });
  stream.on('error', () => {});
  const answer = await new Promise<IncomingHttpHeaders | null>((resolve) => {
    stream.once('response', (h: IncomingHttpHeaders) => resolve(h));
    stream.once('close', () => resolve(null));
  });
  if (answer === null) return { stream, status: 0, headers: {} };
  return { stream, status: Number(answer[':status']), headers: answer };
}

/** Reads a stream to its end (a refusal's body). */
export async function readBody(stream: ClientHttp2Stream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A WebSocket opened by hand on an HTTP/2 stream: the server's answer, then exact frames. */
export interface H2WebSocket extends ConnectAnswer {
  /** Writes and reads exact frames on the stream (once the answer was 200). */
  peer: RawPeer;
}

/**
 * Opens a WebSocket with {@link extendedConnect} and wraps its stream for exact frames. The
 * client ends its side of the stream once the server has ended its own, as a TCP client would.
 */
export async function openWebSocket(
  session: ClientHttp2Session,
  authority: string,
  path = '/',
  headers: OutgoingHttpHeaders = {},
): Promise<H2WebSocket> {
  const answer = await extendedConnect(session, authority, path, headers);
  const { stream } = answer;
  stream.once('end', () => {
    if (!stream.writableEnded) stream.end();
  });
  return { ...answer, peer: rawPeer(stream) };
}

/** One whole message (or control frame) from the server: its opcode and joined payload. */
export interface ReceivedMessage {
  opcode: number;
  payload: Buffer;
}

/**
 * Reads the next data message (joining its fragments) or control frame; rejects when the stream
 * ends first. Checks that the server's frames are unmasked (RFC 6455 section 5.1).
 */
export async function nextMessage(peer: RawPeer): Promise<ReceivedMessage> {
  const pieces: Buffer[] = [];
  let opcode = -1;
  for (;;) {
    const frame = await peer.nextFrame();
    if (frame === null) throw new Error('the stream ended before a whole message');
    if (frame.masked) throw new Error('the server masked a frame');
    if (frame.opcode >= 8) {
      if (opcode === -1) return { opcode: frame.opcode, payload: frame.payload };
      continue; // a control frame between fragments
    }
    if (opcode === -1) opcode = frame.opcode;
    pieces.push(frame.payload);
    if (frame.fin) return { opcode, payload: Buffer.concat(pieces) };
  }
}

/**
 * The exchange every RFC 8441 endpoint of this project must carry, with an echo at the other
 * end: a text message, a binary one, a text message in three fragments, and a 1 MiB binary
 * message, each echoed whole; then the closing handshake, after which the server ends the
 * stream (not the session).
 */
export async function expectEchoExchange(peer: RawPeer): Promise<void> {
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;
  const text = 'héllo over HTTP/2';
  peer.send(frame({ opcode: 1, payload: text }));
  expect(await nextMessage(peer)).toEqual({ opcode: 1, payload: Buffer.from(text) });
  const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
  peer.send(frame({ opcode: 2, payload: bytes }));
  expect(await nextMessage(peer)).toEqual({ opcode: 2, payload: bytes });
  peer.send([
    frame({ opcode: 1, fin: false, payload: 'frag' }),
    frame({ opcode: 0, fin: false, payload: 'men' }),
    frame({ opcode: 0, payload: 'ted' }),
  ]);
  expect(await nextMessage(peer)).toEqual({ opcode: 1, payload: Buffer.from('fragmented') });
  peer.send(frame({ opcode: 2, payload: big }));
  const echoed = await nextMessage(peer);
  expect(echoed.opcode).toBe(2);
  expect(echoed.payload.equals(big)).toBe(true);
  peer.send(frame({ opcode: 8, payload: closePayload(1000) }));
  const answer = await nextMessage(peer);
  expect(answer.opcode).toBe(8);
  expect(answer.payload.readUInt16BE(0)).toBe(1000);
  expect(await peer.nextFrame()).toBeNull(); // the server ended the stream
}
