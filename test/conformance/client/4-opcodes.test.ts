/**
 * Autobahn section 4 from the client's side: frames with reserved opcodes (3 to 7 for data, 11
 * to 15 for control) fail the connection with 1002 (RFC 6455 section 5.2).
 */
import { serverFrame, text, useJudge, OP } from './harness';
import { RESERVED_OPCODES, reservedOpcodeCases } from '../shared-cases';

const fixture = useJudge();

describe.each(RESERVED_OPCODES)('reserved opcode %i', (opcode) => {
  reservedOpcodeCases(() => fixture.connect(), opcode);

  test('inside a fragmented message: 1002', async () => {
    const judge = await fixture.connect();
    judge.send(
      text('frag', { fin: false }),
      serverFrame(opcode, 'reserved', { fin: opcode < 8 ? false : true }),
      serverFrame(OP.continuation, 'ment'),
    );
    await judge.expectFailure(1002);
  });
});
