/**
 * Autobahn section 3 from the client's side: a frame with a reserved bit set when no extension
 * defines it fails the connection with 1002 (RFC 6455 section 5.2), whatever the frame and
 * however it arrives; messages before it are echoed, nothing after it is answered.
 */
import { ping, serverFrame, text, useJudge, OP } from './harness';

const fixture = useJudge();

const COMBINATIONS = [1, 2, 3, 4, 5, 6, 7].map((value) => ({
  value,
  bits: { rsv1: (value & 4) !== 0, rsv2: (value & 2) !== 0, rsv3: (value & 1) !== 0 },
}));

describe.each(COMBINATIONS)('RSV = $value', ({ bits }) => {
  test('a text frame fails the connection with 1002 and is not echoed', async () => {
    const judge = await fixture.connect();
    judge.send(text('reserved', bits));
    await judge.expectFailure(1002);
  });

  test('after an echoed message, the bad frame fails the connection; a ping after it gets no pong', async () => {
    const judge = await fixture.connect();
    judge.send(text('fine'));
    await judge.expectMessage('text', 'fine');
    judge.send(text('bad', bits), ping('after'));
    await judge.expectFailure(1002);
  });

  test.each([
    ['binary', OP.binary],
    ['ping', OP.ping],
    ['close', OP.close],
    ['continuation', OP.continuation],
  ])('a %s frame fails the connection with 1002', async (_kind, opcode) => {
    const judge = await fixture.connect();
    judge.send(serverFrame(opcode, opcode === OP.close ? Buffer.from([3, 232]) : 'x', bits));
    await judge.expectFailure(1002);
  });
});

test('RSV1 sent one byte at a time after a good message: echo, then 1002', async () => {
  const judge = await fixture.connect();
  await judge.sendChopped(Buffer.concat([text('good'), text('bad', { rsv1: true })]), 1);
  await judge.expectFailure(1002, [{ kind: 'text', data: Buffer.from('good'), compressed: false }]);
});
