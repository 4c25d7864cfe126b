/**
 * Autobahn section 2, pings and pongs (RFC 6455 sections 5.5.2 and 5.5.3): a ping is answered
 * by a pong with the same payload, as soon as practical; a pong nobody asked for is ignored;
 * control frames carry at most 125 bytes (section 5.5).
 */
import { ping, pong, rawFrame, text, useEchoServer, type ServerEvent } from './harness';
import { pingPongCases } from './shared-cases';

const fixture = useEchoServer();

pingPongCases(() => fixture.connect());

test('a ping whose 64-bit length says 65536 bytes fails with 1002 before the payload', async () => {
  const peer = await fixture.connect();
  peer.send(Buffer.from([0x89, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]));
  await peer.expectClose(1002);
});

// Case 2.9.
test('an unsolicited pong followed by a ping gets exactly the ping its pong', async () => {
  const peer = await fixture.connect();
  peer.send(pong('unsolicited pong payload'), ping('ping payload'));
  await peer.expectPong('ping payload');
  await peer.closeNormally();
});

test('pings between data messages are answered in wire order', async () => {
  const peer = await fixture.connect();
  peer.send(ping('a'), text('one'), ping('b'), text('two'));
  // The pongs are answered as the frames are parsed, ahead of the echoes the application writes.
  const events: (ServerEvent | null)[] = [];
  for (let i = 0; i < 4; i++) events.push(await peer.next());
  const payloads = (kind: string): string[] =>
    events.flatMap((e) =>
      e !== null && e.kind === kind && 'data' in e ? [e.data.toString()] : [],
    );
  expect(payloads('pong')).toEqual(['a', 'b']);
  expect(payloads('text')).toEqual(['one', 'two']);
  await peer.closeNormally();
});

test('a fragmented ping (FIN clear) fails the connection with 1002', async () => {
  const peer = await fixture.connect();
  peer.send(ping('part', { fin: false }));
  await peer.expectClose(1002);
});

test('a ping with a reserved bit set fails the connection with 1002', async () => {
  const peer = await fixture.connect();
  peer.send(rawFrame(9, 'rsv', { rsv2: true }));
  await peer.expectClose(1002);
});
