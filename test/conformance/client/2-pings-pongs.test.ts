/**
 * Autobahn section 2 from the client's side: the client answers every ping from the server with
 * a pong carrying the same payload (RFC 6455 section 5.5.2), ignores unsolicited pongs (section
 * 5.5.3), and fails the connection for control frames over 125 bytes or fragmented (section 5.5).
 */
import { close, ping, pong, serverFrame, text, useJudge, OP } from './harness';
import { pingPongCases } from '../shared-cases';

const fixture = useJudge();

pingPongCases(() => fixture.connect());

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
