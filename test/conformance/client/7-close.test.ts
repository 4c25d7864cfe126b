/**
 * Autobahn section 7 from the client's side: the closing handshake (RFC 6455 sections 5.5.1 and
 * 7): the client answers the server's close frame with the same code, stops answering after it,
 * and closes TCP once the server has; it rejects invalid close codes (1002), one-byte payloads
 * (1002) and reasons that are not UTF-8 (1007); and its own closeGracefully completes against a
 * server that answers.
 */
import { CloseError, TextMessage } from '@silverback/websocket';
import {
  binaryPayload,
  close,
  ECHO_MODES,
  ping,
  serverFrame,
  text,
  useJudge,
  OP,
  within,
} from './harness';
import { CLOSE_REASONS, closeCodeCases, closePayloadCases } from '../shared-cases';

const fixture = useJudge();

describe.each(ECHO_MODES)('%s', (mode) => {
  test('a message is echoed, then a close 1000 is answered with 1000 and TCP ends', async () => {
    const judge = await fixture.connect({ mode });
    judge.send(text('Hello World!'));
    await judge.expectMessage('text', 'Hello World!');
    await judge.closeNormally();
    const err = await judge.clientDone;
    expect(err).toBeInstanceOf(CloseError);
    expect(err).toMatchObject({ code: 1000 });
  });

  test('frames after the close frame are ignored', async () => {
    const judge = await fixture.connect({ mode });
    judge.send(close(1000), text('ignored'), ping('ignored'), close(1000));
    await judge.expectClose(1000);
  });

  test('a 256 KiB message, a small one, close and ping, in one write', async () => {
    const judge = await fixture.connect({ mode });
    const big = binaryPayload(256 * 1024);
    judge.send(serverFrame(OP.binary, big), text('small'), close(1000), ping('after'));
    // The client may drop unread messages once the close frame arrives; it must answer the close.
    for (;;) {
      const event = await judge.next();
      if (event === null) throw new Error('expected the close reply');
      if (event.kind === 'close') {
        expect(event.code).toBe(1000);
        break;
      }
      expect(event.kind === 'binary' || event.kind === 'text').toBe(true);
    }
    judge.socket.end();
    await judge.expectSocketClosed();
  });
});

describe('close payloads', () => {
  test('an empty close frame is answered with an empty close frame', async () => {
    const judge = await fixture.connect();
    judge.send(close());
    await judge.expectClose(undefined);
    expect(await judge.clientDone).toMatchObject({ code: 1005 });
  });

  closePayloadCases(() => fixture.connect());

  test.each(CLOSE_REASONS)('a close 1000 with %s is answered with 1000', async (_name, reason) => {
    const judge = await fixture.connect();
    judge.send(close(1000, reason));
    await judge.expectClose(1000);
    expect(await judge.clientDone).toMatchObject({ code: 1000, text: reason });
  });
});

describe('close codes', () => {
  closeCodeCases(() => fixture.connect());
});

describe('the client closes', () => {
  test('closeGracefully sends its close frame, and resolves once the server answered and closed TCP', async () => {
    const judge = await fixture.connect({ mode: 'none' });
    const closing = judge.conn.closeGracefully(4000, 'done here');
    const event = await judge.next();
    expect(event).toMatchObject({ kind: 'close', code: 4000, reason: Buffer.from('done here') });
    judge.send(close(4000));
    judge.socket.end();
    await within(closing, 3000, 'closeGracefully');
    await judge.expectSocketClosed();
  });

  test('a write after the close frame was sent fails, and nothing more goes out', async () => {
    const judge = await fixture.connect({ mode: 'none' });
    const closing = judge.conn.closeGracefully();
    await expect(judge.conn.writeMessage(TextMessage, 'late')).rejects.toMatchObject({
      name: 'CloseSentError',
    });
    expect(await judge.next()).toMatchObject({ kind: 'close', code: 1000 });
    judge.send(close(1000));
    judge.socket.end();
    await closing;
    expect(await judge.next()).toBeNull();
  });

  test('when the server closes TCP without a close frame, reads fail with 1006', async () => {
    const judge = await fixture.connect({ mode: 'none' });
    const reading = judge.conn.readMessage();
    judge.socket.end();
    await expect(reading).rejects.toMatchObject({ code: 1006 });
    await judge.expectSocketClosed();
  });
});
