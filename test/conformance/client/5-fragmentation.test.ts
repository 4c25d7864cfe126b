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
  continuation,
  ECHO_MODES,
  fragmented,
  ping,
  text,
  useJudge,
  OP,
} from './harness';
import {
  controlBetweenFragmentsCases,
  fragmentedControlCases,
  fragmentedEchoCases,
  messageInsideMessageCases,
  orphanContinuationCases,
} from '../shared-cases';

const fixture = useJudge();

describe.each(ECHO_MODES)('%s', (mode) => {
  const connect = () => fixture.connect({ mode });

  describe('fragmented messages are echoed whole', () => {
    fragmentedEchoCases(connect);

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
  });

  describe('control frames between fragments', () => {
    controlBetweenFragmentsCases(connect);

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
  });

  describe('control frames are never fragmented', () => {
    fragmentedControlCases(connect);
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

    orphanContinuationCases(connect);
  });

  describe('a new message inside a fragmented one fails the connection', () => {
    messageInsideMessageCases(connect);

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
