/**
 * Autobahn section 2 from the client's side: the client answers every ping from the server with
 * a pong carrying the same payload (RFC 6455 section 5.5.2), ignores unsolicited pongs (section
 * 5.5.3), and fails the connection for control frames over 125 bytes or fragmented (section 5.5).
 */
import { binaryPayload, close, ping, pong, serverFrame, text, useJudge, OP } from './harness';

const fixture = useJudge();

test.each([
  ['no payload', Buffer.alloc(0)],
  ['a text payload', Buffer.from('Hello, world!')],
  ['a binary payload', Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])],
  ['a 125-byte payload', binaryPayload(125)],
])('a ping with %s gets a pong with the same payload', async (_name, payload) => {
  const judge = await fixture.connect();
  judge.send(ping(payload));
  await judge.expectPong(payload);
  await judge.closeNormally();
});

test('a ping with a 126-byte payload fails the connection with 1002 and gets no pong', async () => {
  const judge = await fixture.connect();
  judge.send(ping(binaryPayload(126)));
  await judge.expectFailure(1002);
});

test('a pong with a 126-byte payload fails the connection with 1002', async () => {
  const judge = await fixture.connect();
  judge.send(pong(binaryPayload(126)));
  await judge.expectFailure(1002);
});

test('a 125-byte ping sent one byte at a time gets its pong', async () => {
  const judge = await fixture.connect();
  const payload = binaryPayload(125, 9);
  await judge.sendChopped(ping(payload), 1);
  await judge.expectPong(payload);
  await judge.closeNormally();
});

test.each([
  ['no payload', Buffer.alloc(0)],
  ['a payload', Buffer.from('unsolicited')],
])('an unsolicited pong with %s is ignored', async (_name, payload) => {
  const judge = await fixture.connect();
  judge.send(pong(payload));
  await judge.expectOpen();
  await judge.closeNormally();
});

test('ten pings get ten pongs, in order', async () => {
  const judge = await fixture.connect();
  const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`ping ${i}`));
  judge.send(...payloads.map((p) => ping(p)));
  for (const p of payloads) await judge.expectPong(p);
  await judge.closeNormally();
});

test('ten pings sent one byte at a time get ten pongs, in order', async () => {
  const judge = await fixture.connect();
  const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`ping ${i}`));
  await judge.sendChopped(Buffer.concat(payloads.map((p) => ping(p))), 1);
  for (const p of payloads) await judge.expectPong(p);
  await judge.closeNormally();
});

test('pings between data messages are answered, each stream in its own order', async () => {
  const judge = await fixture.connect();
  judge.send(text('one'), ping('a'), text('two'), ping('b'));
  // Pongs go out as pings are parsed, echoes as the application writes: each kind stays in order.
  const events = [];
  for (let i = 0; i < 4; i++) events.push(await judge.next());
  const pongs = events
    .filter((e) => e?.kind === 'pong')
    .map((e) => e!.kind !== 'close' && e!.data.toString());
  const texts = events
    .filter((e) => e?.kind === 'text')
    .map((e) => e!.kind !== 'close' && e!.data.toString());
  expect(pongs).toEqual(['a', 'b']);
  expect(texts).toEqual(['one', 'two']);
  await judge.closeNormally();
});

test('a ping after the close frame gets no pong', async () => {
  const judge = await fixture.connect();
  judge.send(close(1000), ping('too late'));
  await judge.expectClose(1000);
});

test('a fragmented ping (FIN clear) fails the connection with 1002', async () => {
  const judge = await fixture.connect();
  judge.send(serverFrame(OP.ping, 'frag', { fin: false }), serverFrame(OP.continuation, 'ment'));
  await judge.expectFailure(1002);
});

test('the pong handler sees pongs; a custom ping handler replaces the default answer', async () => {
  const judge = await fixture.connect({ mode: 'none' });
  const pongs: string[] = [];
  const pings: string[] = [];
  judge.conn.setPongHandler((data) => {
    pongs.push(data.toString());
  });
  judge.conn.setPingHandler((data) => {
    pings.push(data.toString());
  });
  const reading = judge.conn.readMessage();
  judge.send(pong('p1'), ping('no answer'), text('after'));
  await expect(reading).resolves.toMatchObject({ data: Buffer.from('after') });
  expect(pongs).toEqual(['p1']);
  expect(pings).toEqual(['no answer']);
  // No pong went out: the next frame from the client is the close reply.
  judge.send(close(1000));
  void judge.conn.readMessage().catch(() => {});
  await judge.expectClose(1000);
});
