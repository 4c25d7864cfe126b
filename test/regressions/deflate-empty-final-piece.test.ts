/**
 * Regression: with context takeover, the message after a streamed compressed message whose last
 * piece was empty reached the peer corrupt (`ws`: "invalid stored block lengths"), and so did an
 * empty compressed message after any other.
 *
 * The interop suite caught it: `ws` echoing through the autobahn example's streaming echo, whose
 * `pipeline` ends the message writer with `end()` and no data. Each piece of a streamed message
 * is sync-flushed, so the piece before the last already ended in the empty stored block
 * `00 00 ff ff`; the empty last piece then compressed to nothing (zlib ignores a second flush
 * with no new input), and nothing had its trailer removed. The peer appends `00 00 ff ff` to
 * every message (RFC 7692 section 7.2.2), and read those four bytes as the start of a stored
 * block with broken lengths. A final piece that compresses to nothing is now sent as `00`: the
 * start of the empty stored block that the peer's four bytes complete (section 7.2.1).
 */
import { PerMessageDeflate, type DeflateParams } from '@silverback/websocket/compression';
import { TextMessage } from '@silverback/websocket';
import { memoryConn } from '../helpers/duplex-pair';
import { PeerInflater } from '../helpers/deflate';
import type { RawPeer } from '../helpers/raw-client';

const params: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** Reads one message's frames and returns their payloads joined, checking it is compressed. */
async function nextMessagePayload(peer: RawPeer): Promise<Buffer> {
  const payloads: Buffer[] = [];
  for (;;) {
    const frame = await peer.nextFrame();
    expect(frame).not.toBeNull();
    expect(frame!.rsv1).toBe(payloads.length === 0); // RSV1 marks a compressed message's first frame
    payloads.push(frame!.payload);
    if (frame!.fin) return Buffer.concat(payloads);
  }
}

test.each([
  ['small pieces, compressed on the spot', 100],
  ['large pieces, compressed in the thread pool', 200 * 1024],
])(
  'a streamed message ended by an empty end(), then another message: both inflate (%s)',
  async (_name, size) => {
    const { conn, peer } = memoryConn({
      deflate: new PerMessageDeflate(params, true, { threshold: 0 }),
    });
    const first = Buffer.alloc(size, 'streamed piece, ');
    const writer = await conn.nextWriter(TextMessage);
    await new Promise<void>((resolve, reject) =>
      writer.write(first, (err) => (err ? reject(err) : resolve())),
    );
    await new Promise<void>((resolve) => writer.end(resolve));
    await conn.writeMessage(TextMessage, 'the next message');

    const inflater = new PeerInflater();
    expect((await inflater.decompress(await nextMessagePayload(peer))).equals(first)).toBe(true);
    expect((await inflater.decompress(await nextMessagePayload(peer))).toString()).toBe(
      'the next message',
    );
    inflater.close();
    conn.close();
  },
);

test('an empty compressed message between two others inflates to nothing', async () => {
  const { conn, peer } = memoryConn({
    deflate: new PerMessageDeflate(params, true, { threshold: 0 }),
  });
  await conn.writeMessage(TextMessage, 'before');
  await conn.writeMessage(TextMessage, '');
  await conn.writeMessage(TextMessage, 'after');

  const inflater = new PeerInflater();
  expect((await inflater.decompress(await nextMessagePayload(peer))).toString()).toBe('before');
  expect((await inflater.decompress(await nextMessagePayload(peer))).length).toBe(0);
  expect((await inflater.decompress(await nextMessagePayload(peer))).toString()).toBe('after');
  inflater.close();
  conn.close();
});
