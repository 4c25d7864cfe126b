/**
 * Autobahn section 7, the closing handshake (RFC 6455 sections 5.5.1, 7 and 7.4): the server
 * answers a close frame with a close frame (gorilla's default handler echoes the code with no
 * reason), processes nothing after it, and then closes the TCP connection itself (section 7.1.1:
 * "the server ... SHOULD close the underlying TCP connection first"). A close payload is empty or
 * a valid code plus UTF-8 text; a one-byte payload, a code that may not be sent, a reason that
 * is not UTF-8 or a payload over 125 bytes fails the connection.
 */
import {
  asciiPayload,
  close,
  continuation,
  ping,
  rawFrame,
  text,
  useEchoServer,
  type ServerEvent,
} from './harness';
import { CLOSE_REASONS, closeCodeCases, closePayloadCases } from './shared-cases';

const fixture = useEchoServer();

describe('basic closing handshakes', () => {
  // Case 7.1.1.
  test('a message is echoed, then a close 1000 is answered with 1000 and TCP ends', async () => {
    const peer = await fixture.connect();
    peer.send(text('Hello World'));
    await peer.expectMessage('text', 'Hello World');
    peer.send(close(1000));
    await peer.expectClose(1000);
  });

  test('the server closes TCP itself: its FIN arrives while the client still has its half open', async () => {
    const peer = await fixture.connect();
    peer.raw.socket.allowHalfOpen = true; // the client will not send its FIN on its own
    peer.send(close(1000));
    await peer.expectClose(1000);
    expect(peer.raw.socket.writableEnded).toBe(false);
  });

  // Case 7.1.2.
  test('a second close frame is ignored', async () => {
    const peer = await fixture.connect();
    peer.send(close(1000), close(1000));
    await peer.expectClose(1000);
  });

  // Case 7.1.3.
  test('a ping after the close frame gets no pong', async () => {
    const peer = await fixture.connect();
    peer.send(close(1000), ping('Hello World'));
    await peer.expectClose(1000);
  });

  // Case 7.1.4.
  test('a text message after the close frame is not echoed', async () => {
    const peer = await fixture.connect();
    peer.send(close(1000), text('Hello World'));
    await peer.expectClose(1000);
  });

  // Case 7.1.5.
  test('a fragmented message interrupted by the close frame is never echoed', async () => {
    const peer = await fixture.connect();
    peer.send(text('fragment1', { fin: false }), close(1000), continuation('fragment2'));
    await peer.expectClose(1000);
  });

  // Case 7.1.6: the messages may be echoed if the server writes them before it reads the close
  // frame; the ping after the close frame is never answered.
  test('a 256 KiB message, a small one, close and ping, in one write', async () => {
    const peer = await fixture.connect();
    const big = asciiPayload(256 * 1024);
    peer.send(text(big), text('Hello World!'), close(1000), ping());
    const echoes: ServerEvent[] = [
      { kind: 'text', data: big },
      { kind: 'text', data: Buffer.from('Hello World!') },
    ];
    await peer.expectCloseAfter(echoes, 1000);
  });

  test('frames after the close frame, sent after its answer, are ignored', async () => {
    const peer = await fixture.connect();
    peer.raw.socket.allowHalfOpen = true;
    peer.send(close(1000));
    const event = await peer.next();
    expect(event).toMatchObject({ kind: 'close', code: 1000 });
    peer.send(text('too late'), ping('too late'), close(1000));
    await peer.expectEnd();
  });
});

describe('close payloads', () => {
  // Case 7.3.1: no code received (1005), so the answer carries no code either.
  test('an empty close frame is answered with an empty close frame', async () => {
    const peer = await fixture.connect();
    peer.send(close());
    const { reason } = await peer.expectClose(undefined);
    expect(reason.length).toBe(0);
  });

  closePayloadCases(() => fixture.connect());

  // Cases 7.3.3 to 7.3.5.
  test.each(CLOSE_REASONS)('a close 1000 with %s is answered with 1000', async (_name, reason) => {
    const peer = await fixture.connect();
    peer.send(close(1000, reason));
    const answer = await peer.expectClose(1000);
    expect(answer.reason.toString()).toBe(''); // gorilla's default close handler sends no reason
  });

  test('a close reason that ends inside a code point fails with 1007', async () => {
    const peer = await fixture.connect();
    peer.send(close(1000, Buffer.from('abc\xe2\x82', 'latin1')));
    await peer.expectClose(1007);
  });
});

describe('close codes', () => {
  closeCodeCases(() => fixture.connect());

  test('an invalid code with a reason fails with 1002 too', async () => {
    const peer = await fixture.connect();
    peer.send(close(1005, 'no status, but sent'));
    await peer.expectClose(1002);
  });
});

describe('a server-initiated close', () => {
  test('a protocol error sends the close frame first and ends TCP without the client', async () => {
    const peer = await fixture.connect();
    peer.raw.socket.allowHalfOpen = true;
    peer.send(rawFrame(3));
    await peer.expectClose(1002);
    expect(peer.raw.socket.writableEnded).toBe(false);
  });

  test('a client that answers the close frame sees TCP end', async () => {
    const peer = await fixture.connect();
    peer.send(rawFrame(3));
    const event = await peer.next();
    expect(event).toMatchObject({ kind: 'close', code: 1002 });
    peer.send(close(1002));
    await peer.expectEnd();
  });
});
