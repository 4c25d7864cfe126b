/**
 * Autobahn section 3 from the client's side: a frame with a reserved bit set when no extension
 * defines it fails the connection with 1002 (RFC 6455 section 5.2), whatever the frame and
 * however it arrives; messages before it are echoed, nothing after it is answered.
 */
import { serverFrame, text, useJudge, OP, echoOf } from './harness';
import { RSV_COMBINATIONS, reservedBitsCases } from '../shared-cases';

const fixture = useJudge();

describe.each(RSV_COMBINATIONS)('RSV = $value', ({ bits }) => {
  reservedBitsCases(() => fixture.connect(), bits);

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
  await judge.expectFailure(1002, [echoOf('good')]);
});
