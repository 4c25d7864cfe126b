/**
 * The conformance cases that are the same whichever side is under test: the server suite runs
 * them against our server (its judge a masking client), the client suite against our Dialer (its
 * judge an unmasked server). Each function registers its tests where it is called, so a suite
 * calls it inside the `describe` that names the echo path or mode; the cases only one side has
 * stay in that side's file. The numbers in comments are Autobahn's.
 */
import { asciiPayload, binaryPayload, seededRandom } from '../helpers/payloads';
import { echoOf, OP, type WireEvent, type WireJudge } from './wire-judge';

/** Opens a judged connection to the side under test, as the calling suite configured it. */
export type ConnectJudge = () => Promise<WireJudge<WireEvent>>;

// ---------------------------------------------------------------------------------------------
// Section 1: framing

/** Payload lengths around each length encoding (RFC 6455 section 5.2: 7, 16 and 64 bits). */
export const FRAME_LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

/** Messages of every length encoding, whole, in chops and one byte at a time, are echoed. */
export function framingEchoCases(connect: ConnectJudge): void {
  // Cases 1.1.1 to 1.1.7.
  test.each(FRAME_LENGTHS)('a text message of %i bytes is echoed as text', async (length) => {
    const judge = await connect();
    const payload = asciiPayload(length);
    judge.send(judge.frames.text(payload));
    await judge.expectMessage('text', payload);
    await judge.closeNormally();
  });

  // Cases 1.2.1 to 1.2.7.
  test.each(FRAME_LENGTHS)('a binary message of %i bytes is echoed as binary', async (length) => {
    const judge = await connect();
    const payload = binaryPayload(length);
    judge.send(judge.frames.binary(payload));
    await judge.expectMessage('binary', payload);
    await judge.closeNormally();
  });

  // Cases 1.1.8 and 1.2.8.
  test.each(['text', 'binary'] as const)(
    'a 65536-byte %s message sent in chops of 997 bytes is echoed',
    async (kind) => {
      const judge = await connect();
      const payload = kind === 'text' ? asciiPayload(65536) : binaryPayload(65536);
      await judge.sendChopped(judge.frames[kind](payload), 997);
      await judge.expectMessage(kind, payload);
      await judge.closeNormally();
    },
  );

  test.each([0, 1, 125, 126, 200])(
    'a %i-byte text message sent one byte at a time is echoed',
    async (length) => {
      const judge = await connect();
      const payload = asciiPayload(length, length);
      await judge.sendChopped(judge.frames.text(payload), 1);
      await judge.expectMessage('text', payload);
      await judge.closeNormally();
    },
  );

  test('a 65536-byte binary message sent in random chunks is echoed', async () => {
    const judge = await connect();
    const payload = binaryPayload(65536, 7);
    const random = seededRandom(42);
    await judge.sendChopped(judge.frames.binary(payload), () => 1 + Math.floor(random() * 4096));
    await judge.expectMessage('binary', payload);
    await judge.closeNormally();
  });
}

// ---------------------------------------------------------------------------------------------
// Section 2: pings and pongs

/** Ping payloads from empty to the most a control frame may carry (RFC 6455 section 5.5). */
export const PING_PAYLOADS: [string, Buffer][] = [
  ['no payload', Buffer.alloc(0)],
  ['a text payload', Buffer.from('Hello, world!')],
  ['a binary payload', Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])],
  ['a 125-byte payload', binaryPayload(125)],
];

/**
 * A ping is answered by a pong with its payload (RFC 6455 section 5.5.2), an unsolicited pong is
 * ignored (section 5.5.3), and a control frame over 125 bytes fails the connection.
 */
export function pingPongCases(connect: ConnectJudge): void {
  // Cases 2.1 to 2.4.
  test.each(PING_PAYLOADS)(
    'a ping with %s gets a pong with the same payload',
    async (_name, payload) => {
      const judge = await connect();
      judge.send(judge.frames.ping(payload));
      await judge.expectPong(payload);
      await judge.closeNormally();
    },
  );

  // Case 2.5.
  test('a ping with a 126-byte payload fails the connection with 1002 and gets no pong', async () => {
    const judge = await connect();
    judge.send(judge.frames.ping(binaryPayload(126)));
    await judge.expectFailure(1002);
  });

  test('a pong with a 126-byte payload fails the connection with 1002', async () => {
    const judge = await connect();
    judge.send(judge.frames.pong(binaryPayload(126)));
    await judge.expectFailure(1002);
  });

  // Case 2.6.
  test('a 125-byte ping sent one byte at a time gets its pong', async () => {
    const judge = await connect();
    const payload = binaryPayload(125, 26);
    await judge.sendChopped(judge.frames.ping(payload), 1);
    await judge.expectPong(payload);
    await judge.closeNormally();
  });

  // Cases 2.7 and 2.8.
  test.each([
    ['no payload', Buffer.alloc(0)],
    ['a payload', Buffer.from('unsolicited')],
  ])('an unsolicited pong with %s is ignored', async (_name, payload) => {
    const judge = await connect();
    judge.send(judge.frames.pong(payload));
    // The next event answers the next frame: nothing was sent for the pong.
    await judge.expectOpen();
    await judge.closeNormally();
  });

  // Case 2.10.
  test('ten pings get ten pongs, in order', async () => {
    const judge = await connect();
    const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
    judge.send(...payloads.map((p) => judge.frames.ping(p)));
    for (const p of payloads) await judge.expectPong(p);
    await judge.closeNormally();
  });

  // Case 2.11.
  test('ten pings sent one byte at a time get ten pongs, in order', async () => {
    const judge = await connect();
    const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
    await judge.sendChopped(Buffer.concat(payloads.map((p) => judge.frames.ping(p))), 1);
    for (const p of payloads) await judge.expectPong(p);
    await judge.closeNormally();
  });

  test('a ping after the close frame gets no pong', async () => {
    const judge = await connect();
    judge.send(judge.frames.close(1000), judge.frames.ping('too late'));
    await judge.expectClose(1000);
  });
}

// ---------------------------------------------------------------------------------------------
// Section 3: reserved bits

/** The seven non-zero RSV combinations, named as Autobahn numbers them (RSV1 = 4 ... RSV3 = 1). */
export const RSV_COMBINATIONS = [1, 2, 3, 4, 5, 6, 7].map((value) => ({
  value,
  bits: { rsv1: (value & 4) !== 0, rsv2: (value & 2) !== 0, rsv3: (value & 1) !== 0 },
}));

/** Reserved bits no extension defines fail the connection (RFC 6455 section 5.2). */
export function reservedBitsCases(
  connect: ConnectJudge,
  bits: (typeof RSV_COMBINATIONS)[number]['bits'],
): void {
  test('a text frame fails the connection with 1002 and is not echoed', async () => {
    const judge = await connect();
    judge.send(judge.frames.text('Hello, world!', bits));
    await judge.expectFailure(1002);
  });

  test('after an echoed message, the bad frame fails the connection and a ping after it gets no pong', async () => {
    const judge = await connect();
    const { text, ping } = judge.frames;
    judge.send(text('first'));
    await judge.expectMessage('text', 'first');
    judge.send(text('bad', bits), ping('after'), text('after'));
    await judge.expectFailure(1002);
  });
}

// ---------------------------------------------------------------------------------------------
// Section 4: opcodes

/** Reserved opcodes: 3 to 7 for further data frames, 11 to 15 for further control frames. */
export const RESERVED_OPCODES = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15];

/** A reserved opcode fails the connection, and nothing after it is answered. */
export function reservedOpcodeCases(connect: ConnectJudge, opcode: number): void {
  // Cases 4.1.1 and 4.2.1.
  test('a frame without payload fails the connection with 1002', async () => {
    const judge = await connect();
    judge.send(judge.frames.frame(opcode));
    await judge.expectFailure(1002);
  });

  // Cases 4.1.3 to 4.1.5 and 4.2.3 to 4.2.5: the text before may or may not be echoed (the
  // side under test may read the bad frame first), the ping after gets no pong.
  test('between a text message and a ping, in one write: 1002 and no pong', async () => {
    const judge = await connect();
    const { text, frame, ping } = judge.frames;
    judge.send(text('Hello, world!'), frame(opcode, 'payload'), ping());
    await judge.expectFailure(1002, [echoOf('Hello, world!')]);
  });

  test('sent one byte at a time: 1002', async () => {
    const judge = await connect();
    await judge.sendChopped(judge.frames.frame(opcode, 'payload'), 1);
    await judge.expectFailure(1002);
  });
}

// ---------------------------------------------------------------------------------------------
// Section 5: fragmentation (RFC 6455 section 5.4)

/** Fragmented messages are echoed whole. */
export function fragmentedEchoCases(connect: ConnectJudge): void {
  // Case 5.3.
  test('a text message in two fragments', async () => {
    const judge = await connect();
    const { text, continuation } = judge.frames;
    judge.send(text('fragment1', { fin: false }), continuation('fragment2'));
    await judge.expectMessage('text', 'fragment1fragment2');
    await judge.closeNormally();
  });

  // Case 5.4: the first fragment is handled before the second arrives.
  test('a text message in two fragments, the second sent once the first was read', async () => {
    const judge = await connect();
    const { text, continuation } = judge.frames;
    judge.send(text('fragment1', { fin: false }));
    await judge.expectOpen();
    judge.send(continuation('fragment2'));
    await judge.expectMessage('text', 'fragment1fragment2');
    await judge.closeNormally();
  });

  test('empty fragments around non-empty ones are skipped', async () => {
    const judge = await connect();
    const { text, continuation } = judge.frames;
    judge.send(
      text('', { fin: false }),
      continuation('ab', { fin: false }),
      continuation('', { fin: false }),
      continuation('cd', { fin: false }),
      continuation(''),
    );
    await judge.expectMessage('text', 'abcd');
    await judge.closeNormally();
  });
}

/** Control frames may come between the fragments of a message, and are answered at once. */
export function controlBetweenFragmentsCases(connect: ConnectJudge): void {
  // Case 5.6.
  test('a ping between two text fragments is answered before the message', async () => {
    const judge = await connect();
    const { text, ping, continuation } = judge.frames;
    judge.send(text('fragment1', { fin: false }), ping('pongme!'), continuation('fragment2'));
    await judge.expectPong('pongme!');
    await judge.expectMessage('text', 'fragment1fragment2');
    await judge.closeNormally();
  });

  // Case 5.7.
  test('the same, sent one byte at a time', async () => {
    const judge = await connect();
    const { text, ping, continuation } = judge.frames;
    const bytes = Buffer.concat([
      text('fragment1', { fin: false }),
      ping('pongme!'),
      continuation('fragment2'),
    ]);
    await judge.sendChopped(bytes, 1);
    await judge.expectPong('pongme!');
    await judge.expectMessage('text', 'fragment1fragment2');
    await judge.closeNormally();
  });

  test('unsolicited pongs between fragments are ignored', async () => {
    const judge = await connect();
    const { binary, pong, continuation } = judge.frames;
    judge.send(
      binary(Buffer.from('ab'), { fin: false }),
      pong('x'),
      continuation('cd', { fin: false }),
      pong(),
      continuation('ef'),
    );
    await judge.expectMessage('binary', 'abcdef');
    await judge.closeNormally();
  });

  test('a close frame between fragments ends the connection; the message is dropped', async () => {
    const judge = await connect();
    const { text, close, continuation } = judge.frames;
    judge.send(text('fragment1', { fin: false }), close(1000), continuation('fragment2'));
    await judge.expectClose(1000);
  });
}

/** Control frames are never fragmented. */
export function fragmentedControlCases(connect: ConnectJudge): void {
  // Cases 5.1 and 5.2.
  test.each([
    ['ping', OP.ping],
    ['pong', OP.pong],
    ['close', OP.close],
  ])('a %s in two fragments fails the connection with 1002', async (_kind, opcode) => {
    const judge = await connect();
    const payload = opcode === OP.close ? Buffer.from([0x03, 0xe8, 0x61]) : 'fragment';
    judge.send(...judge.frames.fragmented(opcode, Buffer.from(payload), 2));
    await judge.expectFailure(1002);
  });
}

/** A continuation after a finished message continues nothing. */
export function orphanContinuationCases(connect: ConnectJudge): void {
  // Case 5.15.
  test('a continuation after a finished fragmented message: the message is echoed, then 1002', async () => {
    const judge = await connect();
    const { text, continuation } = judge.frames;
    judge.send(
      text('fragment1', { fin: false }),
      continuation('fragment2'),
      continuation('fragment3', { fin: false }),
      text('fragment4'),
    );
    await judge.expectFailure(1002, [echoOf('fragment1fragment2')]);
  });
}

/** A new message inside a fragmented one fails the connection. */
export function messageInsideMessageCases(connect: ConnectJudge): void {
  // Case 5.18.
  test('a text frame with FIN clear, then a final text frame: 1002', async () => {
    const judge = await connect();
    const { text } = judge.frames;
    judge.send(text('fragment1', { fin: false }), text('fragment2'));
    await judge.expectFailure(1002);
  });
}

// ---------------------------------------------------------------------------------------------
// Section 7: the closing handshake

/** Close reasons a close 1000 may carry, up to the 123 bytes that fit beside the code. */
export const CLOSE_REASONS: [string, string][] = [
  ['no reason', ''],
  ['a reason', 'Hello World!'],
  ['a 123-byte reason (the most that fits)', asciiPayload(123).toString()],
  ['a multi-byte UTF-8 reason', 'κόσμε 𤭢'],
];

/**
 * Codes an endpoint may send (RFC 6455 section 7.4.1, 1012 to 1014 registered with IANA since,
 * 3000 to 4999 for libraries and applications), answered with the same code.
 */
export const VALID_CLOSE_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];

/** Codes no endpoint may send (1005, 1006 and 1015 are never on the wire): each fails with 1002. */
export const INVALID_CLOSE_CODES = [
  0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
];

/** A close payload is empty or a valid code plus UTF-8 text of at most 123 bytes. */
export function closePayloadCases(connect: ConnectJudge): void {
  // Case 7.3.2.
  test('a close frame with a one-byte payload fails the connection with 1002', async () => {
    const judge = await connect();
    judge.send(judge.frames.frame(OP.close, Buffer.from([0x03])));
    await judge.expectFailure(1002);
  });

  // Case 7.3.6.
  test('a close frame with a 124-byte reason (126-byte payload) fails with 1002', async () => {
    const judge = await connect();
    judge.send(judge.frames.close(1000, asciiPayload(124).toString()));
    await judge.expectFailure(1002);
  });

  // Case 7.5.1.
  test('a close reason that is not valid UTF-8 fails the connection with 1007', async () => {
    const judge = await connect();
    const reason = Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex');
    judge.send(judge.frames.close(1000, reason));
    await judge.expectFailure(1007);
  });
}

/** Valid close codes are answered with the same code; invalid ones fail the connection. */
export function closeCodeCases(connect: ConnectJudge): void {
  // Cases 7.7.1 to 7.7.13.
  test.each(VALID_CLOSE_CODES)('close %i is answered with the same code', async (code) => {
    const judge = await connect();
    judge.send(judge.frames.close(code));
    await judge.expectClose(code);
  });

  // Cases 7.9.1 to 7.9.9 and 7.13.1 to 7.13.2.
  test.each(INVALID_CLOSE_CODES)('close %i fails the connection with 1002', async (code) => {
    const judge = await connect();
    judge.send(judge.frames.close(code));
    await judge.expectFailure(1002);
  });
}
