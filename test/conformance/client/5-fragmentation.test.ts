/**
 * Autobahn section 5 from the client's side: fragmented messages from the server are echoed
 * whole, control frames between fragments are answered at once (RFC 6455 section 5.4), and the
 * fragmentation rules fail the connection with 1002: fragmented control frames, continuations
 * without a message, a new message inside a fragmented one.
 */
import {
  asciiPayload,
  binary,
  binaryPayload,
  close,
  continuation,
  ECHO_MODES,
  fragmented,
  ping,
  pong,
  serverFrame,
  text,
  useJudge,
  OP,
} from './harness';

const fixture = useJudge();

describe.each(ECHO_MODES)('%s', (mode) => {
  describe('fragmented messages are echoed whole', () => {
    test('a text message in two fragments', async () => {
      const judge = await fixture.connect({ mode });
      judge.send(text('fragment1', { fin: false }), continuation('fragment2'));
      await judge.expectMessage('text', 'fragment1fragment2');
      await judge.closeNormally();
    });

    test('a text message in two fragments, the second sent once the first was read', async () => {
      const judge = await fixture.connect({ mode });
      judge.send(text('first half, ', { fin: false }));
      await judge.expectOpen();
      judge.send(continuation('second half'));
      await judge.expectMessage('text', 'first half, second half');
      await judge.closeNormally();
    });

    test('a binary message in two fragments, sent one byte at a time', async () => {
      const judge = await fixture.connect({ mode });
      const bytes = Buffer.concat([
        binary(Buffer.from([1, 2]), { fin: false }),
        continuation(Buffer.from([3])),
      ]);
      await judge.sendChopped(bytes, 1);
      await judge.expectMessage('binary', Buffer.from([1, 2, 3]));
      await judge.closeNormally();
    });

    test.each([
      [4096, 1],
      [65536, 7],
      [65536, 1000],
    ])('a %i-byte binary message in %i-byte fragments', async (length, size) => {
      const judge = await fixture.connect({ mode });
      const payload = binaryPayload(length, size);
      judge.send(...fragmented(OP.binary, payload, size));
      await judge.expectMessage('binary', payload);
      await judge.closeNormally();
    });

    test('empty fragments around non-empty ones are skipped', async () => {
      const judge = await fixture.connect({ mode });
      judge.send(
        text('', { fin: false }),
        continuation('', { fin: false }),
        continuation('middle', { fin: false }),
        continuation(''),
      );
      await judge.expectMessage('text', 'middle');
      await judge.closeNormally();
    });
  });

  describe('control frames between fragments', () => {
    test('a ping between two text fragments is answered before the message', async () => {
      const judge = await fixture.connect({ mode });
      judge.send(text('frag1', { fin: false }), ping('between'), continuation('frag2'));
      await judge.expectPong('between');
      await judge.expectMessage('text', 'frag1frag2');
      await judge.closeNormally();
    });

    test('the same, sent one byte at a time', async () => {
      const judge = await fixture.connect({ mode });
      const bytes = Buffer.concat([
        text('frag1', { fin: false }),
        ping('between'),
        continuation('frag2'),
      ]);
      await judge.sendChopped(bytes, 1);
      await judge.expectPong('between');
      await judge.expectMessage('text', 'frag1frag2');
      await judge.closeNormally();
    });

    test('unsolicited pongs between fragments are ignored', async () => {
      const judge = await fixture.connect({ mode });
      judge.send(
        text('a', { fin: false }),
        pong('x'),
        continuation('b', { fin: false }),
        pong(),
        continuation('c'),
      );
      await judge.expectMessage('text', 'abc');
      await judge.closeNormally();
    });

    test('a text message in five fragments with two pings', async () => {
      const judge = await fixture.connect({ mode });
      const payload = asciiPayload(500, 5);
      const frames = fragmented(OP.text, payload, 100);
      frames.splice(2, 0, ping('p1'));
      frames.splice(5, 0, ping('p2'));
      judge.send(...frames);
      await judge.expectPong('p1');
      await judge.expectPong('p2');
      await judge.expectMessage('text', payload);
      await judge.closeNormally();
    });

    test('a close frame between fragments ends the connection; the message is dropped', async () => {
      const judge = await fixture.connect({ mode });
      judge.send(text('never', { fin: false }), close(1000), continuation('echoed'));
      await judge.expectClose(1000);
    });
  });

  describe('control frames are never fragmented', () => {
    test.each([
      ['ping', OP.ping],
      ['pong', OP.pong],
      ['close', OP.close],
    ])('a %s in two fragments fails the connection with 1002', async (_kind, opcode) => {
      const judge = await fixture.connect({ mode });
      judge.send(serverFrame(opcode, 'fr', { fin: false }), continuation('ag'));
      await judge.expectFailure(1002);
    });
  });

  describe('continuation frames without a message fail the connection', () => {
    test.each([
      ['final', true],
      ['non-final', false],
    ])('a %s continuation, then a text message: 1002, nothing echoed', async (_f, fin) => {
      const judge = await fixture.connect({ mode });
      judge.send(continuation('orphan', { fin }), text('after'));
      await judge.expectFailure(1002);
    });

    test('a continuation after a finished fragmented message: the message is echoed, then 1002', async () => {
      const judge = await fixture.connect({ mode });
      judge.send(text('a', { fin: false }), continuation('b'), continuation('c'));
      await judge.expectFailure(1002, [
        { kind: 'text', data: Buffer.from('ab'), compressed: false },
      ]);
    });
  });

  describe('a new message inside a fragmented one fails the connection', () => {
    test('a text frame with FIN clear, then a final text frame: 1002', async () => {
      const judge = await fixture.connect({ mode });
      judge.send(text('first', { fin: false }), text('second'));
      await judge.expectFailure(1002);
    });

    test('a binary frame inside a fragmented text message: 1002', async () => {
      const judge = await fixture.connect({ mode });
      judge.send(
        text('first', { fin: false }),
        binary(Buffer.from([1]), { fin: false }),
        continuation('x'),
      );
      await judge.expectFailure(1002);
    });
  });
});
