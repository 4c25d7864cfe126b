/**
 * Autobahn section 2, pings and pongs (RFC 6455 sections 5.5.2 and 5.5.3): a ping is answered
 * by a pong with the same payload, as soon as practical; a pong nobody asked for is ignored;
 * control frames carry at most 125 bytes (section 5.5).
 */
import {
  binaryPayload,
  close,
  ping,
  pong,
  rawFrame,
  text,
  useEchoServer,
  type ServerEvent,
} from './harness';

const fixture = useEchoServer();

// Cases 2.1 to 2.4.
test.each([
  ['no payload', Buffer.alloc(0)],
  ['a text payload', Buffer.from('Hello, world!')],
  ['a binary payload', Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])],
  ['a 125-byte payload', binaryPayload(125)],
])('a ping with %s gets a pong with the same payload', async (_name, payload) => {
  const peer = await fixture.connect();
  peer.send(ping(payload));
  await peer.expectPong(payload);
  await peer.closeNormally();
});

// Case 2.5.
test('a ping with a 126-byte payload fails the connection with 1002 and gets no pong', async () => {
  const peer = await fixture.connect();
  peer.send(ping(binaryPayload(126)));
  await peer.expectClose(1002);
});

test('a pong with a 126-byte payload fails the connection with 1002', async () => {
  const peer = await fixture.connect();
  peer.send(pong(binaryPayload(126)));
  await peer.expectClose(1002);
});

test('a ping whose 64-bit length says 65536 bytes fails with 1002 before the payload', async () => {
  const peer = await fixture.connect();
  peer.send(Buffer.from([0x89, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]));
  await peer.expectClose(1002);
});

// Case 2.6.
test('a 125-byte ping sent one byte at a time gets its pong', async () => {
  const peer = await fixture.connect();
  const payload = binaryPayload(125, 26);
  await peer.sendChopped(ping(payload), 1);
  await peer.expectPong(payload);
  await peer.closeNormally();
});

// Cases 2.7 and 2.8.
test.each([
  ['no payload', Buffer.alloc(0)],
  ['a payload', Buffer.from('unsolicited')],
])('an unsolicited pong with %s is ignored', async (_name, payload) => {
  const peer = await fixture.connect();
  peer.send(pong(payload));
  // The next event answers the next frame: nothing was sent for the pong.
  await peer.expectOpen();
  await peer.closeNormally();
});

// Case 2.9.
test('an unsolicited pong followed by a ping gets exactly the ping its pong', async () => {
  const peer = await fixture.connect();
  peer.send(pong('unsolicited pong payload'), ping('ping payload'));
  await peer.expectPong('ping payload');
  await peer.closeNormally();
});

// Case 2.10.
test('ten pings get ten pongs, in order', async () => {
  const peer = await fixture.connect();
  const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  peer.send(...payloads.map((p) => ping(p)));
  for (const p of payloads) await peer.expectPong(p);
  await peer.closeNormally();
});

// Case 2.11.
test('ten pings sent one byte at a time get ten pongs, in order', async () => {
  const peer = await fixture.connect();
  const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  await peer.sendChopped(Buffer.concat(payloads.map((p) => ping(p))), 1);
  for (const p of payloads) await peer.expectPong(p);
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

test('a ping after the close frame gets no pong', async () => {
  const peer = await fixture.connect();
  peer.send(close(1000), ping('too late'));
  await peer.expectClose(1000);
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
