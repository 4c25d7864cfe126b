/**
 * Regression: a text message whose last frame ended inside a UTF-8 code point sent 1007 but left
 * the read waiting for it pending forever.
 *
 * The client conformance suite caught it (`A` followed by a lone 0xC3 in one final frame).
 * `#onMessageEnd` let go of the message before checking the end of its UTF-8, so the failure
 * that followed did not know the message was unfinished: it stayed queued, never done, ahead of
 * the error, and `readMessage` (or the `nextReader` stream) waited for it for good. The message
 * is now let go only once the check has passed.
 */
import { ProtocolError, TextMessage } from '@silverback/websocket';
import { memoryConn } from '../helpers/duplex-pair';
import { frame } from '../helpers/frames';

const CUT = Buffer.from([0x41, 0xc3]); // "A" and the first byte of a two-byte sequence

/** Rejects when `promise` has not settled within `ms`, so a hang fails the test. */
function settled<T>(promise: Promise<T>, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe.each([
  ['server', true],
  ['client', false],
])('as the %s', (_role, isServer) => {
  test('readMessage rejects with 1007, and so does every read after it', async () => {
    const { conn, peer } = memoryConn({ isServer });
    const reading = conn.readMessage();
    peer.send(frame({ opcode: TextMessage, payload: CUT, mask: isServer }));
    await expect(settled(reading)).rejects.toMatchObject({
      name: 'ProtocolError',
      closeCode: 1007,
    });
    await expect(settled(conn.readMessage())).rejects.toBeInstanceOf(ProtocolError);
    const closeFrame = await peer.nextFrame();
    expect(closeFrame?.payload.readUInt16BE(0)).toBe(1007);
    conn.close();
  });

  test('a nextReader stream fails with 1007 instead of waiting for more', async () => {
    const { conn, peer } = memoryConn({ isServer });
    peer.send(
      frame({ opcode: TextMessage, payload: CUT.subarray(0, 1), fin: false, mask: isServer }),
    );
    const { reader } = await settled(conn.nextReader());
    peer.send(frame({ opcode: 0, payload: CUT.subarray(1), mask: isServer }));
    const chunks: Buffer[] = [];
    const err = await settled(
      (async () => {
        for await (const chunk of reader) chunks.push(chunk as Buffer);
      })().catch((e: unknown) => e),
    );
    expect(err).toMatchObject({ name: 'ProtocolError', closeCode: 1007 });
    conn.close();
  });
});
