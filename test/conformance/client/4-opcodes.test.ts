/**
 * Autobahn section 4 from the client's side: frames with reserved opcodes (3 to 7 for data, 11
 * to 15 for control) fail the connection with 1002 (RFC 6455 section 5.2).
 */
import { ping, serverFrame, text, useJudge, OP } from './harness';

const fixture = useJudge();

const RESERVED = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15];

describe.each(RESERVED)('reserved opcode %i', (opcode) => {
  test('a frame without payload fails the connection with 1002', async () => {
    const judge = await fixture.connect();
    judge.send(serverFrame(opcode));
    await judge.expectFailure(1002);
  });

  test('a frame with a payload, between a text message and a ping: echo, 1002, no pong', async () => {
    const judge = await fixture.connect();
    judge.send(text('before'), serverFrame(opcode, 'reserved'), ping('after'));
    await judge.expectFailure(1002, [
      { kind: 'text', data: Buffer.from('before'), compressed: false },
    ]);
  });

  test('inside a fragmented message: 1002', async () => {
    const judge = await fixture.connect();
    judge.send(
      text('frag', { fin: false }),
      serverFrame(opcode, 'reserved', { fin: opcode < 8 ? false : true }),
      serverFrame(OP.continuation, 'ment'),
    );
    await judge.expectFailure(1002);
  });

  test('sent one byte at a time: 1002', async () => {
    const judge = await fixture.connect();
    await judge.sendChopped(serverFrame(opcode, 'chopped'), 1);
    await judge.expectFailure(1002);
  });
});
