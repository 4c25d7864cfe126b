/**
 * Autobahn section 4, opcodes (RFC 6455 section 5.2): 3 to 7 are reserved for further non-control
 * frames and 11 to 15 for further control frames; receiving one fails the connection with 1002,
 * and nothing after it is processed.
 */
import { ping, rawFrame, text, useEchoServer } from './harness';
import { RESERVED_OPCODES, reservedOpcodeCases } from './shared-cases';

const fixture = useEchoServer();

describe.each(RESERVED_OPCODES)('reserved opcode %i', (opcode) => {
  reservedOpcodeCases(() => fixture.connect(), opcode);

  // Cases 4.1.2 and 4.2.2.
  test('a frame with a payload fails the connection with 1002', async () => {
    const peer = await fixture.connect();
    peer.send(rawFrame(opcode, 'reserved opcode payload'));
    await peer.expectClose(1002);
  });

  test('after an echoed message: 1002, and a ping sent after it gets no pong', async () => {
    const peer = await fixture.connect();
    peer.send(text('Hello, world!'));
    await peer.expectMessage('text', 'Hello, world!');
    peer.send(rawFrame(opcode, 'payload'), ping('after'));
    await peer.expectClose(1002);
  });

  test('inside a fragmented message: 1002', async () => {
    const peer = await fixture.connect();
    peer.send(text('frag', { fin: false }));
    await peer.expectOpen();
    peer.send(rawFrame(opcode, 'payload'));
    await peer.expectClose(1002);
  });
});
