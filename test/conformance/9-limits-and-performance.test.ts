/**
 * Autobahn section 9, limits and performance: large messages in one frame (up to 16 MiB), large
 * messages in many small fragments (4 MiB in 64-byte fragments is 65,536 frames), large messages
 * delivered in small chops, and many small messages in a row. Every message must come back whole
 * and unchanged; how fast is measured in `bench/`, not here.
 *
 * Also the read limit (64 MiB by default): a frame that announces more fails the connection with
 * 1009 as soon as its header arrives.
 */
import {
  asciiPayload,
  binary,
  binaryPayload,
  ECHO_PATHS,
  fragmented,
  OP,
  text,
  useEchoServer,
} from './harness';

const fixture = useEchoServer();

const KiB = 1024;
const MiB = 1024 * KiB;
// Large echoes take a while on a loaded two-core machine; each is still bounded.
const LARGE_BOUND_MS = 30_000;

// One payload of each kind, cut to size, so the suite does not regenerate megabytes per case.
const ASCII = asciiPayload(16 * MiB);
const BINARY = binaryPayload(16 * MiB);
const payload = (kind: 'text' | 'binary', size: number): Buffer =>
  (kind === 'text' ? ASCII : BINARY).subarray(0, size);
const opcode = (kind: 'text' | 'binary'): number => (kind === 'text' ? OP.text : OP.binary);

jest.setTimeout(120_000);

describe.each(ECHO_PATHS)('%s', (_name, path) => {
  // Cases 9.1.1 to 9.1.6 and 9.2.1 to 9.2.6.
  describe.each(['text', 'binary'] as const)('a %s message in one frame', (kind) => {
    test.each([64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 8 * MiB, 16 * MiB])(
      'of %i bytes is echoed',
      async (size) => {
        const peer = await fixture.connect(path);
        const data = payload(kind, size);
        peer.send(kind === 'text' ? text(data) : binary(data));
        await peer.expectMessage(kind, data, LARGE_BOUND_MS);
        await peer.closeNormally();
      },
    );
  });

  // Cases 9.3.1 to 9.3.9 and 9.4.1 to 9.4.9.
  describe.each(['text', 'binary'] as const)('a 4 MiB %s message in fragments', (kind) => {
    test.each([64, 256, 1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB])(
      'of %i bytes is echoed',
      async (size) => {
        const peer = await fixture.connect(path);
        const data = payload(kind, 4 * MiB);
        peer.send(...fragmented(opcode(kind), data, size));
        await peer.expectMessage(kind, data, LARGE_BOUND_MS);
        await peer.closeNormally();
      },
    );
  });

  // Cases 9.5.1 to 9.5.6 and 9.6.1 to 9.6.6.
  describe.each(['text', 'binary'] as const)('a 1 MiB %s message sent in chops', (kind) => {
    test.each([64, 128, 256, 512, 1024, 2048])('of %i bytes is echoed', async (chop) => {
      const peer = await fixture.connect(path);
      // Smaller than Autobahn's 1 MiB for the smallest chops: each chop is its own TCP write.
      const data = payload(kind, chop < 1024 ? 128 * KiB : 1 * MiB);
      await peer.sendChopped(kind === 'text' ? text(data) : binary(data), chop);
      await peer.expectMessage(kind, data, LARGE_BOUND_MS);
      await peer.closeNormally();
    });
  });

  // Cases 9.7.1 to 9.7.6 and 9.8.1 to 9.8.6: each message waits for the echo of the last.
  describe.each(['text', 'binary'] as const)('1000 %s messages, one at a time', (kind) => {
    test.each([0, 16, 64, 256, 1 * KiB, 4 * KiB])('of %i bytes are echoed', async (size) => {
      const peer = await fixture.connect(path);
      const data = payload(kind, size);
      const bytes = kind === 'text' ? text(data) : binary(data);
      for (let i = 0; i < 1000; i++) {
        peer.send(bytes);
        await peer.expectMessage(kind, data);
      }
      await peer.closeNormally();
    });
  });

  test.each(['text', 'binary'] as const)(
    '1000 small %s messages written back to back are echoed in order',
    async (kind) => {
      const peer = await fixture.connect(path);
      const messages = Array.from({ length: 1000 }, (_, i) =>
        payload(kind, 4 * KiB).subarray(i, i + (i % 100)),
      );
      peer.send(...messages.map((m) => (kind === 'text' ? text(m) : binary(m))));
      for (const m of messages) await peer.expectMessage(kind, m);
      await peer.closeNormally();
    },
  );
});

describe('the read limit (64 MiB by default)', () => {
  test('a frame announcing 64 MiB + 1 bytes fails the connection with 1009 at its header', async () => {
    const peer = await fixture.connect();
    const length = 64 * MiB + 1;
    const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    header.writeUInt32BE(length, 6);
    peer.send(header);
    await peer.expectClose(1009);
  });

  test('a frame announcing 2^53 - 1 bytes fails the connection with 1009', async () => {
    const peer = await fixture.connect();
    const header = Buffer.from([
      0x81, 0xff, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4,
    ]);
    peer.send(header);
    await peer.expectClose(1009);
  });

  test('a fragmented message that grows past the limit fails with 1009 at the frame that crosses it', async () => {
    const peer = await fixture.connect();
    const first = payload('binary', 4 * MiB);
    peer.send(binary(first, { fin: false }));
    await peer.expectOpen();
    // 4 MiB received so far; a continuation announcing 60 MiB + 1 more crosses 64 MiB.
    const header = Buffer.from([0x00, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    header.writeUInt32BE(60 * MiB + 1, 6);
    peer.send(header);
    await peer.expectClose(1009);
  });
});
