/**
 * Autobahn section 6 from the client's side: text messages from the server must be valid UTF-8
 * (RFC 6455 section 8.1), checked as they arrive, across fragments, failing with 1007 as soon as
 * a byte makes the text invalid; binary messages are not checked.
 */
import { ProtocolError } from '@silverback/websocket';
import { binary, continuation, ECHO_MODES, ping, text, useJudge } from './harness';

const fixture = useJudge();

/** Valid and invalid sequences (from Markus Kuhn's UTF-8 decoder stress test, as Autobahn). */
const VALID: [string, Buffer][] = [
  ['Greek "κόσμε"', Buffer.from('κόσμε')],
  ['the first 4-byte code point', Buffer.from([0xf0, 0x90, 0x80, 0x80])],
  ['the last code point U+10FFFF', Buffer.from([0xf4, 0x8f, 0xbf, 0xbf])],
  ['U+FFFD and U+FEFF', Buffer.from('\ufffd\ufeff')],
  ['the last code point before the surrogates', Buffer.from([0xed, 0x9f, 0xbf])],
  ['mixed scripts and emoji', Buffer.from('Hello-µ@ßöäüàá-UTF-8!! 🐺 シルバーバック')],
];

const INVALID: [string, Buffer][] = [
  ['a lone continuation byte', Buffer.from([0x80])],
  ['an overlong "/" (2 bytes)', Buffer.from([0xc0, 0xaf])],
  ['an overlong "/" (3 bytes)', Buffer.from([0xe0, 0x80, 0xaf])],
  ['an overlong "/" (4 bytes)', Buffer.from([0xf0, 0x80, 0x80, 0xaf])],
  ['a high surrogate U+D800', Buffer.from([0xed, 0xa0, 0x80])],
  ['a low surrogate U+DFFF', Buffer.from([0xed, 0xbf, 0xbf])],
  ['a code point past U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
  ['the bytes 0xFE and 0xFF', Buffer.from([0xfe, 0xff])],
  ['a 2-byte sequence cut short', Buffer.from([0x41, 0xc3])],
  ['a 4-byte sequence cut short', Buffer.from([0xf0, 0x90, 0x80])],
  [
    '"κόσμε" with an invalid byte in it',
    Buffer.from([
      0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65,
      0x64, 0x69, 0x74, 0x65, 0x64,
    ]),
  ],
];

describe.each(ECHO_MODES)('%s', (mode) => {
  test.each(VALID)('valid UTF-8 (%s) in one frame is echoed', async (_name, bytes) => {
    const judge = await fixture.connect({ mode });
    judge.send(text(bytes));
    await judge.expectMessage('text', bytes);
    await judge.closeNormally();
  });

  test.each(VALID)('valid UTF-8 (%s) in one byte per frame is echoed', async (_name, bytes) => {
    const judge = await fixture.connect({ mode });
    const frames = [...bytes].map((byte, i) =>
      i === 0
        ? text(Buffer.from([byte]), { fin: bytes.length === 1 })
        : continuation(Buffer.from([byte]), { fin: i === bytes.length - 1 }),
    );
    judge.send(...frames);
    await judge.expectMessage('text', bytes);
    await judge.closeNormally();
  });

  test.each(INVALID)('invalid UTF-8 (%s) in one frame fails with 1007', async (_name, bytes) => {
    const judge = await fixture.connect({ mode });
    judge.send(text(bytes));
    await judge.expectFailure(1007);
    // Read errors are permanent: the next read reports why the connection failed.
    const err: unknown = await judge.conn.readMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'ERR_WS_INVALID_UTF8', closeCode: 1007 });
  });

  test('every split of a four-byte code point between two frames is echoed', async () => {
    const judge = await fixture.connect({ mode });
    const bytes = Buffer.from('a🐺b');
    for (let cut = 1; cut < bytes.length; cut++) {
      judge.send(text(bytes.subarray(0, cut), { fin: false }), continuation(bytes.subarray(cut)));
      await judge.expectMessage('text', bytes);
    }
    await judge.closeNormally();
  });

  test('a text message that ends inside a code point fails with 1007', async () => {
    const judge = await fixture.connect({ mode });
    judge.send(
      text(Buffer.from([0x61, 0xf0, 0x9f]), { fin: false }),
      continuation(Buffer.from([0x90])),
    );
    await judge.expectFailure(1007);
  });

  test('a binary message is not checked for UTF-8', async () => {
    const judge = await fixture.connect({ mode });
    judge.send(binary(Buffer.from([0xff, 0xfe, 0xc0, 0xaf])));
    await judge.expectMessage('binary', Buffer.from([0xff, 0xfe, 0xc0, 0xaf]));
    await judge.closeNormally();
  });
});

test('fail fast: an invalid first fragment fails before the message ends', async () => {
  const judge = await fixture.connect({ mode: 'streaming echo' });
  // The message never ends, and the ping after the bad fragment gets no pong: 1007 comes first.
  judge.send(text(Buffer.from([0x61, 0xed, 0xa0, 0x80]), { fin: false }), ping('after'));
  await judge.expectFailure(1007);
});
