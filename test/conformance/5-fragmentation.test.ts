/**
 * Autobahn section 5, fragmentation (RFC 6455 section 5.4): a message may be split into frames
 * (a text or binary frame with FIN clear, continuations, a final continuation); control frames
 * may come between the fragments but are never fragmented themselves; a continuation without a
 * message to continue, or a new message inside a fragmented one, fails the connection (1002).
 */
import {
  asciiPayload,
  binary,
  binaryPayload,
  continuation,
  ECHO_PATHS,
  fragmented,
  OP,
  ping,
  text,
  useEchoServer,
} from './harness';
import {
  controlBetweenFragmentsCases,
  fragmentedControlCases,
  fragmentedEchoCases,
  messageInsideMessageCases,
  orphanContinuationCases,
} from './shared-cases';

const fixture = useEchoServer();

describe.each(ECHO_PATHS)('%s', (_name, path) => {
  const connect = () => fixture.connect(path);

  describe('control frames are never fragmented', () => {
    fragmentedControlCases(connect);
  });

  describe('fragmented messages are echoed whole', () => {
    fragmentedEchoCases(connect);

    // Case 5.5.
    test('a text message in two fragments, sent one byte at a time', async () => {
      const peer = await fixture.connect(path);
      const bytes = Buffer.concat([text('fragment1', { fin: false }), continuation('fragment2')]);
      await peer.sendChopped(bytes, 1);
      await peer.expectMessage('text', 'fragment1fragment2');
      await peer.closeNormally();
    });

    test('a binary message in two fragments', async () => {
      const peer = await fixture.connect(path);
      peer.send(binary(Buffer.from([1, 2, 3]), { fin: false }), continuation(Buffer.from([4, 5])));
      await peer.expectMessage('binary', Buffer.from([1, 2, 3, 4, 5]));
      await peer.closeNormally();
    });

    test.each([
      ['text', 1],
      ['text', 7],
      ['binary', 1],
      ['binary', 1000],
    ] as const)('a %s message of 100 fragments of %i bytes', async (kind, size) => {
      const peer = await fixture.connect(path);
      const payload = kind === 'text' ? asciiPayload(100 * size) : binaryPayload(100 * size);
      peer.send(...fragmented(kind === 'text' ? OP.text : OP.binary, payload, size));
      await peer.expectMessage(kind, payload);
      await peer.closeNormally();
    });

    test.each([
      ['text', OP.text],
      ['binary', OP.binary],
    ] as const)('a %s message of empty fragments is echoed empty', async (kind, opcode) => {
      const peer = await fixture.connect(path);
      peer.send(
        frameOf(opcode, '', false),
        continuation('', { fin: false }),
        continuation('', { fin: false }),
        continuation(''),
      );
      await peer.expectMessage(kind, '');
      await peer.closeNormally();
    });
  });

  describe('control frames between fragments', () => {
    controlBetweenFragmentsCases(connect);

    // Case 5.8: the frames of case 5.6, one per write.
    test('the same, one frame per write', async () => {
      const peer = await fixture.connect(path);
      peer.send(text('fragment1', { fin: false }));
      peer.send(ping('pongme!'));
      await peer.expectPong('pongme!');
      peer.send(continuation('fragment2'));
      await peer.expectMessage('text', 'fragment1fragment2');
      await peer.closeNormally();
    });

    // Cases 5.19 and 5.20: each ping is answered while the message is still incomplete.
    test.each([
      ['whole frames', 0],
      ['one byte at a time', 1],
    ])('a text message in five fragments with two pings, %s', async (_how, chop) => {
      const peer = await fixture.connect(path);
      const send = async (...frames: Buffer[]): Promise<void> => {
        if (chop === 0) peer.send(...frames);
        else await peer.sendChopped(Buffer.concat(frames), chop);
      };
      await send(
        text('fragment1', { fin: false }),
        continuation('fragment2', { fin: false }),
        ping('pongme 1!'),
      );
      await peer.expectPong('pongme 1!');
      await send(
        continuation('fragment3', { fin: false }),
        continuation('fragment4', { fin: false }),
        ping('pongme 2!'),
      );
      await peer.expectPong('pongme 2!');
      await send(continuation('fragment5'));
      await peer.expectMessage('text', 'fragment1fragment2fragment3fragment4fragment5');
      await peer.closeNormally();
    });
  });

  describe('continuation frames without a message fail the connection', () => {
    const chops = [
      ['in one write', 0],
      ['in chops of one frame', -1],
      ['one byte at a time', 1],
    ] as const;

    // Cases 5.9 to 5.11 (FIN set) and 5.12 to 5.14 (FIN clear).
    describe.each([
      ['final', true],
      ['non-final', false],
    ])('a %s continuation, then a text message', (_fin, fin) => {
      test.each(chops)('%s: 1002, nothing echoed', async (_how, chop) => {
        const peer = await fixture.connect(path);
        const frames = [continuation('non-continuation payload', { fin }), text('Hello, world!')];
        if (chop === 0) peer.send(...frames);
        else if (chop === -1) for (const f of frames) peer.send(f);
        else await peer.sendChopped(Buffer.concat(frames), chop);
        await peer.expectClose(1002);
      });
    });

    orphanContinuationCases(connect);

    // Cases 5.16 and 5.17.
    test.each([
      ['non-final', false],
      ['final', true],
    ])(
      'a %s continuation, then a fragmented message, twice: 1002 at the first frame',
      async (_fin, fin) => {
        const peer = await fixture.connect(path);
        const round = [
          continuation('fragment1', { fin }),
          text('fragment2', { fin: false }),
          continuation('fragment3'),
        ];
        peer.send(...round, ...round);
        await peer.expectClose(1002);
      },
    );
  });

  describe('a new message inside a fragmented one fails the connection', () => {
    messageInsideMessageCases(connect);

    test('a binary frame inside a fragmented text message: 1002', async () => {
      const peer = await fixture.connect(path);
      peer.send(text('fragment1', { fin: false }));
      await peer.expectOpen();
      peer.send(binary('fragment2', { fin: false }), continuation('fragment3'));
      await peer.expectClose(1002);
    });

    test('a text frame after the middle fragment of a binary message: 1002', async () => {
      const peer = await fixture.connect(path);
      peer.send(
        binary('a', { fin: false }),
        continuation('b', { fin: false }),
        text('c'),
        continuation('d'),
      );
      await peer.expectClose(1002);
    });
  });
});

function frameOf(opcode: number, payload: string, fin: boolean): Buffer {
  return opcode === OP.text ? text(payload, { fin }) : binary(payload, { fin });
}
