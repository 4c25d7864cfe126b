/**
 * Autobahn section 1 from the client's side: text and binary messages of every length encoding
 * sent by the server, whole, in chops, one byte at a time and with the header split at every
 * position, echoed by our client masked with fresh keys; and the framing rules a client must
 * enforce (a masked server frame, RFC 6455 section 5.1; the 64-bit length's high bit).
 */
import { BinaryMessage, ProtocolError, TextMessage } from '@silverback/websocket';
import {
  asciiPayload,
  binary,
  ECHO_MODES,
  serverFrame,
  text,
  useJudge,
  OP,
  echoOf,
} from './harness';
import { framingEchoCases } from '../shared-cases';

const fixture = useJudge();

describe.each(ECHO_MODES)('%s', (mode) => {
  framingEchoCases(() => fixture.connect({ mode }));

  test.each([
    ['7-bit', 100],
    ['16-bit', 300],
    ['64-bit', 70000],
  ])('a frame with a %s length split at every header position is echoed', async (_f, length) => {
    const payload = asciiPayload(length, 3);
    const bytes = text(payload);
    const headerSize = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const judge = await fixture.connect({ mode });
    for (let cut = 1; cut <= headerSize; cut++) {
      await judge.sendChopped(bytes, (index) => (index === 0 ? cut : bytes.length));
      await judge.expectMessage('text', payload);
    }
    await judge.closeNormally();
  });

  test('messages written back to back in one TCP write are echoed in order', async () => {
    const judge = await fixture.connect({ mode });
    const messages = Array.from({ length: 50 }, (_, i) => asciiPayload(i * 37, i));
    judge.send(...messages.map((m, i) => (i % 2 === 0 ? text(m) : binary(m))));
    for (const [i, m] of messages.entries()) {
      await judge.expectMessage(i % 2 === 0 ? 'text' : 'binary', m);
    }
    await judge.closeNormally();
  });
});

describe('client frames', () => {
  test('every frame the client sends is masked with a fresh key', async () => {
    const judge = await fixture.connect({ mode: 'none' });
    const count = 200;
    for (let i = 0; i < count; i++) {
      void judge.conn.writeMessage(i % 2 ? BinaryMessage : TextMessage, asciiPayload(i % 50, i));
    }
    for (let i = 0; i < count; i++) {
      await judge.expectMessage(i % 2 ? 'binary' : 'text', asciiPayload(i % 50, i));
    }
    // Each key differs from the previous one (the judge checks that on every frame); beyond
    // that, keys from a random source hardly ever repeat at all.
    const distinct = new Set(judge.maskKeys.map((k) => k.toString('hex')));
    expect(judge.maskKeys).toHaveLength(count);
    expect(distinct.size).toBeGreaterThan(count - 3);
    await judge.closeNormally();
  });

  test('a streamed message goes out as masked fragments, each with its own key', async () => {
    const judge = await fixture.connect({ mode: 'none' });
    const writer = await judge.conn.nextWriter(TextMessage);
    const parts = ['one ', 'two ', 'three'];
    for (const part of parts) {
      await new Promise<void>((resolve, reject) =>
        writer.write(part, (err) => (err ? reject(err) : resolve())),
      );
    }
    writer.end();
    await judge.expectMessage('text', parts.join(''));
    expect(judge.maskKeys.length).toBeGreaterThanOrEqual(2);
    await judge.closeNormally();
  });
});

describe('framing rules', () => {
  test.each([
    ['a masked text frame', serverFrame(OP.text, 'masked', { mask: true })],
    ['a masked binary frame', serverFrame(OP.binary, Buffer.from([1, 2]), { mask: true })],
    ['a masked ping', serverFrame(OP.ping, 'p', { mask: true })],
    ['a masked empty frame', serverFrame(OP.text, '', { mask: true })],
  ])('%s fails the connection with 1002', async (_name, bytes) => {
    const judge = await fixture.connect();
    judge.send(bytes);
    await judge.expectFailure(1002);
    expect(await judge.clientDone).toBeInstanceOf(ProtocolError);
  });

  test('a masked frame after valid ones: those are echoed, then 1002', async () => {
    const judge = await fixture.connect();
    judge.send(text('fine'), serverFrame(OP.text, 'masked', { mask: true }));
    await judge.expectFailure(1002, [echoOf('fine')]);
  });

  test('a 64-bit payload length with the most significant bit set fails with 1002', async () => {
    const judge = await fixture.connect();
    const header = Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]);
    judge.send(header, Buffer.alloc(16));
    await judge.expectFailure(1002);
  });
});
