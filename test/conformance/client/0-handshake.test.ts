/**
 * RFC 6455 section 4.1 from the client's side: the server's answer is checked strictly, and a
 * client that refuses it fails the connection: it sends no frame and closes TCP. Bad accept
 * keys, answers without the Upgrade or Connection tokens, subprotocols and extensions that were
 * not offered; and answers that are right in unusual ways (case, token lists) are taken.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Dialer, HandshakeError, type DialerOptions } from '@silverback/websocket';
import { acceptFor, switchingProtocols } from '../../helpers/raw-server';
import { text, useJudge } from './harness';

const fixture = useJudge();

/**
 * Dials the raw server, answers with `answer(key)`, and expects the client to refuse: the dial
 * rejects with a HandshakeError, and the client closes TCP without sending a byte after its
 * request.
 */
async function expectRefused(
  answer: (key: string) => string,
  options: DialerOptions = {},
): Promise<HandshakeError> {
  const raw = fixture.server();
  const dialing = new Dialer(options).dial(raw.url).then(
    () => {
      throw new Error('the client accepted the answer');
    },
    (err: unknown) => err,
  );
  const req = await raw.nextRequest();
  const received: Buffer[] = [];
  req.socket.on('data', (chunk: Buffer) => received.push(chunk));
  req.socket.resume();
  const closed = once(req.socket, 'close');
  req.respond(answer(req.headers['sec-websocket-key']!));
  const err = await dialing;
  await closed;
  expect(Buffer.concat(received)).toHaveLength(0);
  expect(err).toBeInstanceOf(HandshakeError);
  return err as HandshakeError;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

describe('bad Sec-WebSocket-Accept values', () => {
  test.each([
    ["the RFC's sample value", () => 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='],
    ['the key itself', (key: string) => key],
    [
      'SHA-1 of the key without the GUID',
      (key: string) => createHash('sha1').update(key).digest('base64'),
    ],
    [
      'the GUID before the key',
      (key: string) =>
        createHash('sha1')
          .update(GUID + key)
          .digest('base64'),
    ],
    [
      'hex instead of base64',
      (key: string) =>
        createHash('sha1')
          .update(key + GUID)
          .digest('hex'),
    ],
    ['the right value in lower case', (key: string) => acceptFor(key).toLowerCase()],
    ['the right value cut short', (key: string) => acceptFor(key).slice(0, -1)],
    ['the right value with a suffix', (key: string) => `${acceptFor(key)}x`],
    ['empty', () => ''],
  ])('%s is refused', async (_name, value) => {
    const err = await expectRefused(
      (key) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${value(key)}\r\n\r\n`,
    );
    expect(err.message).toMatch(/Sec-WebSocket-Accept/);
    expect(err.status).toBe(101);
  });

  test('the right value twice (two headers) is refused', async () => {
    await expectRefused(
      (key) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`,
    );
  });
});

describe('other answers the client must refuse', () => {
  test.each([
    [
      '200 OK',
      (key: string) =>
        switchingProtocols(key, ['Content-Length: 0']).replace('101 Switching Protocols', '200 OK'),
    ],
    [
      'no Upgrade header',
      (key: string) => switchingProtocols(key).replace('Upgrade: websocket\r\n', ''),
    ],
    [
      'no Connection header',
      (key: string) => switchingProtocols(key).replace('Connection: Upgrade\r\n', ''),
    ],
    [
      'Upgrade: websocket2',
      (key: string) => switchingProtocols(key).replace('Upgrade: websocket', 'Upgrade: websocket2'),
    ],
  ])('%s', async (_name, answer) => {
    await expectRefused(answer);
  });

  test.each([
    ['permessage-deflate when nothing was offered', 'permessage-deflate', {}],
    ['an unknown extension when nothing was offered', 'x-custom', {}],
    [
      'an unknown extension when permessage-deflate was offered',
      'x-custom',
      { enableCompression: true },
    ],
    [
      'permessage-deflate and another extension',
      'permessage-deflate, x-custom',
      { enableCompression: true },
    ],
    [
      'permessage-deflate with an unknown parameter',
      'permessage-deflate; x=1',
      { enableCompression: true },
    ],
    [
      'server_max_window_bits larger than asked for',
      'permessage-deflate; server_max_window_bits=12',
      { enableCompression: { serverMaxWindowBits: 10 } },
    ],
  ])('%s', async (_name, value, options: DialerOptions) => {
    const err = await expectRefused(
      (key) => switchingProtocols(key, [`Sec-WebSocket-Extensions: ${value}`]),
      options,
    );
    expect(err.message).toMatch(/extension/);
  });

  test.each([
    ['a subprotocol when none was offered', 'chat', []],
    ['a subprotocol that was not offered', 'superchat', ['chat']],
    ['a subprotocol in another case', 'CHAT', ['chat']],
    ['a list of subprotocols', 'chat, json', ['chat', 'json']],
  ])('%s', async (_name, value, subprotocols) => {
    await expectRefused((key) => switchingProtocols(key, [`Sec-WebSocket-Protocol: ${value}`]), {
      subprotocols,
    });
  });
});

describe('answers right in unusual ways are taken', () => {
  test.each([
    [
      'header names in odd case',
      (key: string) =>
        `HTTP/1.1 101 OK\r\nuPgRaDe: WebSocket\r\nCONNECTION: upgrade\r\nsec-websocket-accept: ${acceptFor(key)}\r\n\r\n`,
    ],
    [
      'token lists',
      (key: string) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo, websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`,
    ],
    [
      'no reason phrase',
      (key: string) =>
        `HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`,
    ],
    [
      'space around values',
      (key: string) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade:    websocket  \r\nConnection:Upgrade\r\nSec-WebSocket-Accept:  ${acceptFor(key)}\t\r\n\r\n`,
    ],
  ])('%s', async (_name, answer) => {
    const raw = fixture.server();
    const dialing = new Dialer().dial(raw.url);
    const req = await raw.nextRequest();
    req.respond(answer(req.headers['sec-websocket-key']!));
    const { conn } = await dialing;
    req.socket.resume();
    const reading = conn.readMessage();
    req.respond(text('works'));
    await expect(reading).resolves.toMatchObject({ data: Buffer.from('works') });
    conn.close();
    req.socket.destroy();
  });
});

test('the opening handshake request is what RFC 6455 section 4.1 asks for', async () => {
  const raw = fixture.server();
  const dialing = new Dialer({ subprotocols: ['chat', 'json'], enableCompression: true }).dial(
    `${raw.url}/path?q=1`,
  );
  const req = await raw.nextRequest();
  expect(req.method).toBe('GET');
  expect(req.target).toBe('/path?q=1');
  expect(req.version).toBe('HTTP/1.1');
  expect(req.headers.host).toBe(`127.0.0.1:${raw.port}`);
  expect(req.headers.upgrade).toBe('websocket');
  expect(req.headers.connection).toBe('Upgrade');
  expect(req.headers['sec-websocket-version']).toBe('13');
  expect(Buffer.from(req.headers['sec-websocket-key']!, 'base64')).toHaveLength(16);
  expect(req.headers['sec-websocket-protocol']).toBe('chat, json');
  expect(req.headers['sec-websocket-extensions']).toBe(
    'permessage-deflate; client_max_window_bits',
  );
  req.respond(switchingProtocols(req.headers['sec-websocket-key']!));
  const { conn } = await dialing;
  expect(conn.subprotocol()).toBe('');
  conn.close();
});
