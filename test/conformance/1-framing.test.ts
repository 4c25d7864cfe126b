/**
 * Autobahn section 1, framing: text and binary messages of every length encoding (RFC 6455
 * section 5.2: 7-bit up to 125, 16-bit up to 65535, 64-bit beyond), delivered whole, in chops,
 * one byte at a time and with the header split at every position; plus the framing rules a
 * server must enforce (masked client frames, section 5.3; the 64-bit length's high bit).
 */
import {
  asciiPayload,
  binary,
  binaryPayload,
  ECHO_PATHS,
  rawFrame,
  text,
  useEchoServer,
} from './harness';
import { framingEchoCases } from './shared-cases';

const fixture = useEchoServer();

describe.each(ECHO_PATHS)('%s', (_name, path) => {
  framingEchoCases(() => fixture.connect(path));

  test.each([
    ['7-bit', 100, 6],
    ['16-bit', 1000, 8],
    ['64-bit', 70000, 14],
  ])(
    'a frame with a %s length is echoed whatever the position of a split in its header',
    async (_form, length, headerSize) => {
      const peer = await fixture.connect(path);
      for (let split = 1; split < headerSize; split++) {
        const payload = binaryPayload(length, split);
        const bytes = binary(payload);
        await peer.sendChopped(bytes, (index) => (index === 0 ? split : bytes.length));
        await peer.expectMessage('binary', payload);
      }
      await peer.closeNormally();
    },
  );

  test('messages written back to back in one TCP write are echoed in order', async () => {
    const peer = await fixture.connect(path);
    const payloads = [0, 1, 125, 126, 65535, 65536, 3].map((n, i) => asciiPayload(n, i));
    peer.send(...payloads.map((p, i) => (i % 2 === 0 ? text(p) : binary(p))));
    for (const [i, p] of payloads.entries()) {
      await peer.expectMessage(i % 2 === 0 ? 'text' : 'binary', p);
    }
    await peer.closeNormally();
  });
});

describe('framing rules', () => {
  test.each([
    ['text', text],
    ['binary', binary],
  ] as const)('an unmasked %s frame fails the connection with 1002', async (_kind, make) => {
    const peer = await fixture.connect();
    peer.send(make('unmasked', { mask: false }));
    await peer.expectClose(1002);
  });

  test('an unmasked frame after valid ones fails the connection with 1002', async () => {
    const peer = await fixture.connect();
    peer.send(text('first'));
    await peer.expectMessage('text', 'first');
    peer.send(text('second', { mask: false }), text('never echoed'));
    await peer.expectClose(1002);
  });

  test('an unmasked ping fails the connection with 1002 and gets no pong', async () => {
    const peer = await fixture.connect();
    peer.send(rawFrame(9, 'ping', { mask: false }));
    await peer.expectClose(1002);
  });

  test('a 64-bit payload length with the most significant bit set fails with 1002', async () => {
    const peer = await fixture.connect();
    // Header only: the server must refuse the length itself, not wait for 2^63 bytes.
    const header = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x37, 0xfa, 0x21, 0x3d]);
    peer.send(header);
    await peer.expectClose(1002);
  });

  test('a 64-bit payload length of exactly 2^63 fails with 1002', async () => {
    const peer = await fixture.connect();
    const header = Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x37, 0xfa, 0x21, 0x3d]);
    peer.send(header);
    await peer.expectClose(1002);
  });
});
