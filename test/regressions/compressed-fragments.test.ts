/**
 * Regression: a message streamed through `nextWriter` on a compressing connection reached the
 * peer corrupt when its pieces were written one after another.
 *
 * The interop suite caught it: `ws` and gorilla failed our fragmented compressed text with 1007.
 * `MessageWriter` holds each write until the next tick, but a second write that came first sent
 * the held piece and held the new one, so the tick then sent that new piece too while the first
 * was still being compressed. Two compressions ran on the connection's one deflate stream at
 * once, each collecting the other's output. A piece is now sent only after the one before it.
 */
import { PerMessageDeflate, type DeflateParams } from '@silverback/websocket/compression';
import { TextMessage } from '@silverback/websocket';
import { memoryConn } from '../helpers/duplex-pair';
import { PeerInflater } from '../helpers/deflate';

const params: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

test('pieces written one after another arrive as one intact compressed message', async () => {
  const { conn, peer } = memoryConn({ deflate: new PerMessageDeflate(params, true, {}) });
  const pieces = ['first piece, ', 'second piece, ', 'third piece, ', 'and the last one'].map(
    (text) => Buffer.from(text.repeat(50)),
  );
  const writer = await conn.nextWriter(TextMessage);
  for (const piece of pieces.slice(0, -1)) {
    await new Promise<void>((resolve, reject) =>
      writer.write(piece, (err) => (err ? reject(err) : resolve())),
    );
  }
  await new Promise<void>((resolve) => writer.end(pieces.at(-1), resolve));

  const payloads: Buffer[] = [];
  for (;;) {
    const frame = await peer.nextFrame();
    expect(frame).not.toBeNull();
    expect(frame!.rsv1).toBe(payloads.length === 0);
    payloads.push(frame!.payload);
    if (frame!.fin) break;
  }
  expect(payloads.length).toBeGreaterThan(1);
  const inflater = new PeerInflater();
  const message = await inflater.decompress(Buffer.concat(payloads));
  inflater.close();
  const expected = Buffer.concat(pieces);
  expect(message.length).toBe(expected.length);
  expect(message.equals(expected)).toBe(true);
  conn.close();
});
