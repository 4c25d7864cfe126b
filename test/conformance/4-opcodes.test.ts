/**
 * Autobahn section 4, opcodes (RFC 6455 section 5.2): 3 to 7 are reserved for further non-control
 * frames and 11 to 15 for further control frames; receiving one fails the connection with 1002,
 * and nothing after it is processed.
 */
import { ping, rawFrame, text, useEchoServer, echoOf } from './harness';

const fixture = useEchoServer();

const RESERVED = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15];

describe.each(RESERVED)('reserved opcode %i', (opcode) => {
  // Cases 4.1.1 and 4.2.1.
  test('a frame without payload fails the connection with 1002', async () => {
    const peer = await fixture.connect();
    peer.send(rawFrame(opcode));
    await peer.expectClose(1002);
  });

  // Cases 4.1.2 and 4.2.2.
  test('a frame with a payload fails the connection with 1002', async () => {
    const peer = await fixture.connect();
    peer.send(rawFrame(opcode, 'reserved opcode payload'));
    await peer.expectClose(1002);
  });

  // Cases 4.1.3 to 4.1.5 and 4.2.3 to 4.2.5: the text before may or may not be echoed (the
  // server may read the bad frame first), the ping after gets no pong.
  test('between a text message and a ping, in one write: 1002 and no pong', async () => {
    const peer = await fixture.connect();
    peer.send(text('Hello, world!'), rawFrame(opcode, 'payload'), ping());
    await peer.expectCloseAfter([echoOf('Hello, world!')], 1002);
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

  test('sent one byte at a time: 1002', async () => {
    const peer = await fixture.connect();
    await peer.sendChopped(rawFrame(opcode, 'payload'), 1);
    await peer.expectClose(1002);
  });
});
