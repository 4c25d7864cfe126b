/**
 * Autobahn section 3, reserved bits (RFC 6455 section 5.2): RSV1, RSV2 and RSV3 MUST be 0 unless
 * an extension gave them a meaning; a frame with one set fails the connection (1002) and nothing
 * after it is processed. These raw clients offer no extension, so no bit has a meaning, although
 * the server is willing to negotiate permessage-deflate.
 */
import { binary, close, continuation, ping, pong, text, useEchoServer, echoOf } from './harness';
import { RSV_COMBINATIONS, reservedBitsCases } from './shared-cases';

const fixture = useEchoServer();

describe.each(RSV_COMBINATIONS)('RSV = $value', ({ bits }) => {
  reservedBitsCases(() => fixture.connect(), bits);
});

// Cases 3.2 and 3.3: the good message may be echoed or not, depending on how soon the server
// reads the bad frame behind it, but nothing after the bad frame is answered.
test.each([
  ['RSV2', { rsv2: true }],
  ['RSV2 and RSV3', { rsv2: true, rsv3: true }],
])('a good text, a text with %s and a ping in one write: 1002, no pong', async (_name, bits) => {
  const peer = await fixture.connect();
  peer.send(text('Hello, world!'), text('Hello, world!', bits), ping());
  await peer.expectFailure(1002, [echoOf('Hello, world!')]);
});

// Case 3.4.
test('the same with RSV1, sent one byte at a time: 1002, no pong', async () => {
  const peer = await fixture.connect();
  const bytes = Buffer.concat([
    text('Hello, world!'),
    text('Hello, world!', { rsv1: true }),
    ping(),
  ]);
  await peer.sendChopped(bytes, 1);
  await peer.expectFailure(1002, [echoOf('Hello, world!')]);
});

// Cases 3.5 to 3.7 and the other frame kinds.
test.each([
  [
    'a binary frame with RSV1 and RSV3',
    binary(Buffer.from([0, 1, 2, 255]), { rsv1: true, rsv3: true }),
  ],
  ['a ping with RSV1 and RSV2', ping('ping', { rsv1: true, rsv2: true })],
  ['a pong with RSV1', pong('pong', { rsv1: true })],
  ['a close frame with all three bits', close(1000, '', { rsv1: true, rsv2: true, rsv3: true })],
])('%s fails the connection with 1002', async (_name, bad) => {
  const peer = await fixture.connect();
  peer.send(bad, ping('after'));
  await peer.expectClose(1002);
});

test.each([
  ['RSV1', { rsv1: true }],
  ['RSV2', { rsv2: true }],
  ['RSV3', { rsv3: true }],
])('a continuation frame with %s fails the connection with 1002', async (_name, bits) => {
  const peer = await fixture.connect();
  peer.send(text('frag', { fin: false }));
  await peer.expectOpen();
  peer.send(continuation('ment', bits), ping('after'));
  await peer.expectClose(1002);
});

test('a fragmented message whose first frame has RSV1 fails at once, without its rest', async () => {
  const peer = await fixture.connect();
  peer.send(text('frag', { fin: false, rsv1: true }));
  await peer.expectClose(1002);
});
