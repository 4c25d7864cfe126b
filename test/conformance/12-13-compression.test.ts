/**
 * Autobahn sections 12 and 13: permessage-deflate (RFC 7692) with each negotiation variant, in
 * both directions, as exact bytes on the wire. Section 12: the client sends plain messages and the
 * server's echoes come back compressed. Section 13: the client sends compressed messages.
 */
import { randomBytes } from 'node:crypto';
import type { CompressionOptions } from '@silverback/websocket';
import { PeerDeflater, PeerInflater } from '../helpers/deflate';
import { closePayload, frame, type ParsedFrame } from '../helpers/frames';
import { echo, startServer, type TestServer } from '../helpers/server';
import { connectRaw, serverSettings } from './harness';
import type { JudgedClient } from './http2-link';

let server: TestServer | undefined;
const clients: JudgedClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await server?.close();
  server = undefined;
});

async function open(offer: string, options: CompressionOptions = {}): Promise<JudgedClient> {
  server ??= await startServer(
    echo,
    { enableCompression: { threshold: 0, ...options } },
    serverSettings(),
  );
  const client = await connectRaw(server.port, '/', { 'Sec-WebSocket-Extensions': offer });
  clients.push(client);
  return client;
}

function answeredExtension(client: JudgedClient): string | undefined {
  const line = client.response.split('\r\n').find((l) => /^sec-websocket-extensions:/i.test(l));
  return line?.slice(line.indexOf(':') + 1).trim();
}

/** Reads one whole message (all its frames); returns its opcode, RSV1 and joined payload. */
async function readMessage(
  client: JudgedClient,
): Promise<{ opcode: number; rsv1: boolean; payload: Buffer }> {
  const frames: ParsedFrame[] = [];
  for (;;) {
    const next = await client.nextFrame();
    if (next === null) throw new Error('connection closed');
    if (next.opcode >= 8) continue; // control frames may come between fragments
    frames.push(next);
    if (next.fin) break;
  }
  return {
    opcode: frames[0]!.opcode,
    rsv1: frames[0]!.rsv1,
    payload: Buffer.concat(frames.map((f) => f.payload)),
  };
}

async function expectClose(client: JudgedClient, code: number): Promise<void> {
  for (;;) {
    const next = await client.nextFrame();
    if (next === null)
      throw new Error(`connection closed without a close frame (expected ${code})`);
    if (next.opcode === 8) {
      expect(next.payload.readUInt16BE(0)).toBe(code);
      break;
    }
  }
  await client.ended;
}

const sizes = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072];

function message(size: number, text: boolean): Buffer {
  // Compressible but not trivial: words from a small vocabulary, or half random bytes for binary.
  if (!text) return Buffer.concat([randomBytes(size >> 1), Buffer.alloc(size - (size >> 1), 7)]);
  const words = ['alpha ', 'beta ', 'gamma ', 'delta ', 'épsilon ', '𝄞 '].map((w) =>
    Buffer.from(w),
  );
  const parts: Buffer[] = [];
  // Whole words only, so the text stays valid UTF-8.
  for (let i = 0, length = 0; ; i++) {
    const word = words[(i * 7) % words.length]!;
    if (length + word.length > size) break;
    parts.push(word);
    length += word.length;
  }
  return Buffer.concat(parts);
}

// Offers and what the server's side of the answer means for decoding its echoes.
const variants: {
  name: string;
  offer: string;
  client: { windowBits?: number; noContextTakeover?: boolean };
  server: { windowBits?: number; noContextTakeover?: boolean };
}[] = [
  { name: 'defaults', offer: 'permessage-deflate', client: {}, server: {} },
  {
    name: 'client_max_window_bits offered',
    offer: 'permessage-deflate; client_max_window_bits',
    client: {},
    server: {},
  },
  {
    name: 'client_no_context_takeover',
    offer: 'permessage-deflate; client_no_context_takeover',
    client: { noContextTakeover: true },
    server: {},
  },
  {
    name: 'server_no_context_takeover',
    offer: 'permessage-deflate; server_no_context_takeover',
    client: {},
    server: { noContextTakeover: true },
  },
  {
    name: 'client_max_window_bits=9',
    offer: 'permessage-deflate; client_max_window_bits=9',
    client: { windowBits: 9 },
    server: {},
  },
  {
    name: 'server_max_window_bits=9',
    offer: 'permessage-deflate; server_max_window_bits=9',
    client: {},
    server: { windowBits: 9 },
  },
  {
    name: 'both no context takeover, both windows 10',
    offer:
      'permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=10; server_max_window_bits=10',
    client: { noContextTakeover: true, windowBits: 10 },
    server: { noContextTakeover: true, windowBits: 10 },
  },
];

describe.each(variants)('compression variant: $name', ({ offer, client: ours, server: theirs }) => {
  test('12: plain messages of every size come back compressed and decode byte-exact', async () => {
    const client = await open(offer);
    expect(answeredExtension(client)).toMatch(/^permessage-deflate/);
    const inflater = new PeerInflater(theirs);
    try {
      for (const size of sizes) {
        for (const text of [true, false]) {
          const data = message(size, text);
          client.send(frame({ opcode: text ? 1 : 2, payload: data }));
          const echoed = await readMessage(client);
          expect(echoed.opcode).toBe(text ? 1 : 2);
          expect(echoed.rsv1).toBe(true);
          expect((await inflater.decompress(echoed.payload)).equals(data)).toBe(true);
        }
      }
      client.send(frame({ opcode: 8, payload: closePayload(1000) }));
      await expectClose(client, 1000);
    } finally {
      inflater.close();
    }
  });

  test('13: compressed messages of every size are decoded and echoed byte-exact', async () => {
    const client = await open(offer);
    const deflater = new PeerDeflater(ours);
    const inflater = new PeerInflater(theirs);
    try {
      for (const size of sizes) {
        const data = message(size, true);
        client.send(frame({ opcode: 1, rsv1: true, payload: await deflater.compress(data) }));
        const echoed = await readMessage(client);
        expect((await inflater.decompress(echoed.payload)).equals(data)).toBe(true);
      }
      client.send(frame({ opcode: 8, payload: closePayload(1000) }));
      await expectClose(client, 1000);
    } finally {
      deflater.close();
      inflater.close();
    }
  });
});

describe('compressed framing', () => {
  test('a compressed message split over fragments (RSV1 on the first only) is decoded', async () => {
    const client = await open('permessage-deflate');
    const deflater = new PeerDeflater();
    const inflater = new PeerInflater();
    const data = message(50000, true);
    const payload = await deflater.compress(data);
    const third = Math.floor(payload.length / 3);
    client.send([
      frame({ opcode: 1, rsv1: true, fin: false, payload: payload.subarray(0, third) }),
      frame({ opcode: 9, payload: 'between' }),
      frame({ opcode: 0, fin: false, payload: payload.subarray(third, 2 * third) }),
      frame({ opcode: 0, payload: payload.subarray(2 * third) }),
    ]);
    const pong = await client.nextFrame();
    expect(pong?.opcode).toBe(10);
    const echoed = await readMessage(client);
    expect((await inflater.decompress(echoed.payload)).equals(data)).toBe(true);
    deflater.close();
    inflater.close();
  });

  test('uncompressed messages still pass on a compressed connection', async () => {
    server = await startServer(echo, { enableCompression: true }, serverSettings()); // default threshold: 1024
    const client = await connectRaw(server.port, '/', {
      'Sec-WebSocket-Extensions': 'permessage-deflate',
    });
    clients.push(client);
    client.send(frame({ opcode: 1, payload: 'small and plain' }));
    const echoed = await readMessage(client);
    expect(echoed.rsv1).toBe(false); // under the threshold: sent plain
    expect(echoed.payload.toString()).toBe('small and plain');
  });

  test('an empty compressed message is echoed empty', async () => {
    const client = await open('permessage-deflate');
    const deflater = new PeerDeflater();
    const inflater = new PeerInflater();
    client.send(frame({ opcode: 1, rsv1: true, payload: await deflater.compress('') }));
    const echoed = await readMessage(client);
    expect((await inflater.decompress(echoed.payload)).length).toBe(0);
    deflater.close();
    inflater.close();
  });

  test.each([
    [
      'RSV1 on a continuation frame',
      [
        frame({ opcode: 1, fin: false, payload: 'a' }),
        frame({ opcode: 0, rsv1: true, payload: 'b' }),
      ],
    ],
    ['RSV1 on a ping', [frame({ opcode: 9, rsv1: true, payload: 'p' })]],
    [
      'RSV2 on a compressed message',
      [frame({ opcode: 1, rsv1: true, rsv2: true, payload: Buffer.from([0x02, 0x00]) })],
    ],
  ])('%s fails the connection with 1002', async (_name, bytes) => {
    const client = await open('permessage-deflate');
    client.send(bytes);
    await expectClose(client, 1002);
  });

  test('RSV1 when the extension was not negotiated fails with 1002', async () => {
    server = await startServer(echo, { enableCompression: true }, serverSettings());
    const client = await connectRaw(server.port);
    clients.push(client);
    expect(answeredExtension(client)).toBeUndefined();
    client.send(frame({ opcode: 1, rsv1: true, payload: Buffer.from([0x02, 0x00]) }));
    await expectClose(client, 1002);
  });

  test('corrupt compressed data fails the connection with 1007', async () => {
    const client = await open('permessage-deflate');
    client.send(
      frame({ opcode: 2, rsv1: true, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]) }),
    );
    await expectClose(client, 1007);
  });

  test('compressed text that inflates to invalid UTF-8 fails with 1007', async () => {
    const client = await open('permessage-deflate');
    const deflater = new PeerDeflater();
    client.send(
      frame({
        opcode: 1,
        rsv1: true,
        payload: await deflater.compress(Buffer.from([0xce, 0xba, 0xed, 0xa0, 0x80])),
      }),
    );
    await expectClose(client, 1007);
    deflater.close();
  });

  test('a decompression bomb ends with 1009 once the read limit is passed', async () => {
    server = await startServer(
      echo,
      { enableCompression: true, readLimit: 1 << 20 },
      serverSettings(),
    );
    const client = await connectRaw(server.port, '/', {
      'Sec-WebSocket-Extensions': 'permessage-deflate',
    });
    clients.push(client);
    const deflater = new PeerDeflater();
    // 64 MiB of zeros compresses to about 64 KiB.
    const bomb = await deflater.compress(Buffer.alloc(64 << 20));
    expect(bomb.length).toBeLessThan(1 << 17);
    client.send(frame({ opcode: 2, rsv1: true, payload: bomb }));
    await expectClose(client, 1009);
    deflater.close();
  });

  test('context is kept across messages: later messages may refer to earlier ones', async () => {
    const client = await open('permessage-deflate');
    const deflater = new PeerDeflater();
    const inflater = new PeerInflater();
    const data = Buffer.from(randomBytes(2000).toString('hex'));
    const first = await deflater.compress(data);
    const second = await deflater.compress(data);
    expect(second.length).toBeLessThan(first.length / 4); // the second is mostly a back-reference
    client.send([
      frame({ opcode: 1, rsv1: true, payload: first }),
      frame({ opcode: 1, rsv1: true, payload: second }),
    ]);
    for (let i = 0; i < 2; i++) {
      const echoed = await readMessage(client);
      expect((await inflater.decompress(echoed.payload)).equals(data)).toBe(true);
    }
    deflater.close();
    inflater.close();
  });

  test('a declined offer leaves the connection uncompressed', async () => {
    const client = await open('permessage-deflate; server_max_window_bits=7');
    expect(answeredExtension(client)).toBeUndefined();
    client.send(frame({ opcode: 1, payload: message(5000, true) }));
    const echoed = await readMessage(client);
    expect(echoed.rsv1).toBe(false);
  });
});
