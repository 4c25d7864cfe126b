import { inflateRawSync, constants } from 'node:zlib';
import {
  acceptServerResponse,
  clientOffer,
  compressionOptions,
  negotiateServer,
  PerMessageDeflate,
  type CompressionOptions,
  type DeflateParams,
} from '../src/compression';

const defaults: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

describe('negotiateServer (RFC 7692 section 7.1)', () => {
  const accepted: {
    offer: string;
    options?: CompressionOptions;
    response: string;
    params: Partial<DeflateParams>;
  }[] = [
    { offer: 'permessage-deflate', response: 'permessage-deflate', params: {} },
    {
      offer: 'permessage-deflate; client_max_window_bits',
      response: 'permessage-deflate',
      params: {},
    },
    {
      offer: 'permessage-deflate; server_no_context_takeover',
      response: 'permessage-deflate; server_no_context_takeover',
      params: { serverNoContextTakeover: true },
    },
    {
      offer: 'permessage-deflate; client_no_context_takeover',
      response: 'permessage-deflate; client_no_context_takeover',
      params: { clientNoContextTakeover: true },
    },
    {
      offer: 'permessage-deflate; server_max_window_bits=10',
      response: 'permessage-deflate; server_max_window_bits=10',
      params: { serverMaxWindowBits: 10 },
    },
    {
      offer: 'permessage-deflate; server_max_window_bits="10"',
      response: 'permessage-deflate; server_max_window_bits=10',
      params: { serverMaxWindowBits: 10 },
    },
    {
      offer: 'permessage-deflate; client_max_window_bits=9',
      response: 'permessage-deflate; client_max_window_bits=9',
      params: { clientMaxWindowBits: 9 },
    },
    {
      offer: 'permessage-deflate',
      options: {
        serverMaxWindowBits: 11,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
      },
      response:
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11',
      params: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 11,
      },
    },
    {
      offer: 'permessage-deflate; server_max_window_bits=12',
      options: { serverMaxWindowBits: 10 },
      response: 'permessage-deflate; server_max_window_bits=10',
      params: { serverMaxWindowBits: 10 },
    },
    {
      offer: 'permessage-deflate; client_max_window_bits',
      options: { clientMaxWindowBits: 12 },
      response: 'permessage-deflate; client_max_window_bits=12',
      params: { clientMaxWindowBits: 12 },
    },
    {
      offer: 'x-webkit-deflate-frame, permessage-deflate; client_max_window_bits',
      response: 'permessage-deflate',
      params: {},
    },
    {
      // The first offer is declined (unknown parameter), the second accepted.
      offer: 'permessage-deflate; foo, permessage-deflate; server_no_context_takeover',
      response: 'permessage-deflate; server_no_context_takeover',
      params: { serverNoContextTakeover: true },
    },
  ];

  test.each(accepted)('accepts "$offer"', ({ offer, options, response, params }) => {
    const result = negotiateServer(offer, options ?? {});
    expect(result).toEqual({ params: { ...defaults, ...params }, response });
  });

  const declined: { offer: string | undefined; options?: CompressionOptions }[] = [
    { offer: undefined },
    { offer: '' },
    { offer: 'x-webkit-deflate-frame' },
    { offer: 'permessage-deflate; foo' },
    { offer: 'permessage-deflate; server_no_context_takeover; server_no_context_takeover' },
    { offer: 'permessage-deflate; server_no_context_takeover=1' },
    { offer: 'permessage-deflate; server_max_window_bits' },
    { offer: 'permessage-deflate; server_max_window_bits=7' },
    { offer: 'permessage-deflate; server_max_window_bits=16' },
    { offer: 'permessage-deflate; server_max_window_bits=08' },
    { offer: 'permessage-deflate; client_max_window_bits=abc' },
    { offer: 'permessage-deflate; client_max_window_bits=10; client_max_window_bits=11' },
    { offer: 'permessage-deflate;;' },
    { offer: 'permessage-deflate; server_max_window_bits="1 0"' },
    // The server wants to limit the client's window, which an offer without the parameter cannot agree to.
    { offer: 'permessage-deflate', options: { clientMaxWindowBits: 10 } },
  ];

  test.each(declined)('declines "$offer"', ({ offer, options }) => {
    expect(negotiateServer(offer, options ?? {})).toBeUndefined();
  });
});

describe('clientOffer', () => {
  test('offers client_max_window_bits by default', () => {
    expect(clientOffer({})).toBe('permessage-deflate; client_max_window_bits');
  });

  test('offers every configured parameter', () => {
    expect(
      clientOffer({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 12,
      }),
    ).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  test('every offer is one the server side accepts', () => {
    const options = {
      serverNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 11,
    };
    expect(negotiateServer(clientOffer(options), {})?.params).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 11,
    });
  });
});

describe('acceptServerResponse (the client checks the answer)', () => {
  test('no answer means the server declined', () => {
    expect(acceptServerResponse(undefined, {})).toBeUndefined();
    expect(acceptServerResponse('', {})).toBeUndefined();
  });

  test.each([
    ['permessage-deflate', {}, defaults],
    [
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      {},
      { ...defaults, serverNoContextTakeover: true, clientNoContextTakeover: true },
    ],
    ['permessage-deflate; client_max_window_bits=10', {}, { ...defaults, clientMaxWindowBits: 10 }],
    ['permessage-deflate; server_max_window_bits=9', {}, { ...defaults, serverMaxWindowBits: 9 }],
    [
      'permessage-deflate; server_max_window_bits=9',
      { serverMaxWindowBits: 10 },
      { ...defaults, serverMaxWindowBits: 9 },
    ],
    ['permessage-deflate', { clientMaxWindowBits: 12 }, { ...defaults, clientMaxWindowBits: 12 }],
    [
      'permessage-deflate',
      { clientNoContextTakeover: true },
      { ...defaults, clientNoContextTakeover: true },
    ],
  ] as [string, CompressionOptions, DeflateParams][])(
    'accepts "%s" for %j',
    (header, options, params) => {
      expect(acceptServerResponse(header, options)).toEqual(params);
    },
  );

  test.each([
    ['x-foo', {}],
    ['permessage-deflate, permessage-deflate', {}],
    ['permessage-deflate; foo', {}],
    ['permessage-deflate; client_max_window_bits', {}],
    ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
    ['permessage-deflate', { serverMaxWindowBits: 10 }],
    ['permessage-deflate', { serverNoContextTakeover: true }],
    ['permessage-deflate; server_max_window_bits=20', {}],
    ['permessage-deflate;', {}],
    ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }],
  ] as [string, CompressionOptions][])('fails the handshake on "%s" for %j', (header, options) => {
    expect(typeof acceptServerResponse(header, options)).toBe('string');
  });

  test('an extension answered without any offer fails the handshake', () => {
    expect(typeof acceptServerResponse('permessage-deflate', undefined)).toBe('string');
  });
});

describe('compressionOptions', () => {
  test('normalises true and false', () => {
    expect(compressionOptions(undefined)).toBeUndefined();
    expect(compressionOptions(false)).toBeUndefined();
    expect(compressionOptions(true)).toEqual({});
  });

  test.each([
    { serverMaxWindowBits: 7 },
    { clientMaxWindowBits: 16 },
    { level: 10 },
    { level: 1.5 },
  ])('rejects %j', (options) => {
    expect(() => compressionOptions(options)).toThrow(RangeError);
  });
});

function compress(engine: PerMessageDeflate, data: Buffer, fin = true): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    engine.compress(data, fin, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

function decompress(engine: PerMessageDeflate, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = [];
    const decompressor = engine.decompressor((piece) => {
      pieces.push(Buffer.from(piece));
      return true;
    }, reject);
    decompressor.write(payload);
    decompressor.end(() => resolve(Buffer.concat(pieces)));
  });
}

describe('PerMessageDeflate', () => {
  test('a message compressed by one side decompresses on the other, with context taken over', async () => {
    const server = new PerMessageDeflate(defaults, true, {});
    const client = new PerMessageDeflate(defaults, false, {});
    const text = Buffer.from('the same words again and again and again. '.repeat(20));
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const payload = await compress(server, text);
      sizes.push(payload.length);
      expect((await decompress(client, payload)).equals(text)).toBe(true);
    }
    // With context takeover the repeats refer back to the earlier messages.
    expect(sizes[1]!).toBeLessThan(sizes[0]!);
    server.close();
    client.close();
  });

  test('without context takeover each message stands alone', async () => {
    const params = { ...defaults, serverNoContextTakeover: true };
    const server = new PerMessageDeflate(params, true, {});
    const text = Buffer.from('hello hello hello hello');
    const first = await compress(server, text);
    const second = await compress(server, text);
    expect(second.equals(first)).toBe(true);
    const alone = inflateRawSync(Buffer.concat([second, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    expect(alone.equals(text)).toBe(true);
    server.close();
  });

  test('a message compressed in pieces keeps the trailer until the final piece', async () => {
    const server = new PerMessageDeflate(defaults, true, {});
    const client = new PerMessageDeflate(defaults, false, {});
    const first = await compress(server, Buffer.from('part one, '), false);
    const last = await compress(server, Buffer.from('part two'), true);
    expect(first.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff]))).toBe(true);
    expect((await decompress(client, Buffer.concat([first, last]))).toString()).toBe(
      'part one, part two',
    );
    server.close();
    client.close();
  });

  test('prepared frames are shared only without context takeover', () => {
    expect(new PerMessageDeflate(defaults, true, {}).preparedKey).toBeUndefined();
    const alone = new PerMessageDeflate({ ...defaults, serverNoContextTakeover: true }, true, {});
    expect(alone.preparedKey).toBe('server:deflate:15:1');
    const payload = alone.compressAlone(Buffer.from('broadcast'));
    const data = inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    expect(data.toString()).toBe('broadcast');
  });

  test('an 8-bit window cannot be honoured by zlib, so that side sends uncompressed', () => {
    const params = { ...defaults, serverMaxWindowBits: 8 };
    expect(new PerMessageDeflate(params, true, {}).canCompress).toBe(false);
    expect(new PerMessageDeflate(params, false, {}).canCompress).toBe(true);
  });

  test('the decompressor stops as soon as the output callback refuses more', async () => {
    const server = new PerMessageDeflate(defaults, true, {});
    const client = new PerMessageDeflate(defaults, false, {});
    const payload = await compress(server, Buffer.alloc(4 << 20));
    let delivered = 0;
    let calls = 0;
    await new Promise<void>((resolve) => {
      const decompressor = client.decompressor(
        (piece) => {
          delivered += piece.length;
          calls++;
          if (delivered > 64 * 1024) {
            setImmediate(resolve);
            return false;
          }
          return true;
        },
        () => {},
      );
      decompressor.write(payload);
      decompressor.end(() => resolve());
    });
    // Stopped after the limit plus one zlib chunk, not after 4 MiB.
    expect(delivered).toBeLessThan(64 * 1024 + 64 * 1024);
    expect(calls).toBeGreaterThan(1);
    server.close();
    client.close();
  });

  test('compressing after close fails instead of hanging', async () => {
    const server = new PerMessageDeflate(defaults, true, {});
    server.close();
    await expect(compress(server, Buffer.from('late'))).rejects.toThrow('closed');
  });
});

test('a message ended by a BFINAL block (RFC 7692 section 7.2.3.4) is decoded, and so is the next', async () => {
  const { deflateRawSync } = await import('node:zlib');
  const client = new PerMessageDeflate(defaults, false, {});
  for (const text of ['first message', 'second message', 'third']) {
    // Z_FINISH ends the DEFLATE stream with a final block.
    const payload = deflateRawSync(Buffer.from(text));
    expect((await decompress(client, payload)).toString()).toBe(text);
  }
  client.close();
});

describe('on-the-spot and thread-pool work mix within one context', () => {
  test('a message whose pieces start small and grow large switches to the thread pool mid-message', async () => {
    const { randomBytes } = await import('node:crypto');
    const server = new PerMessageDeflate(defaults, true, {});
    const client = new PerMessageDeflate(defaults, false, {});
    for (let round = 0; round < 3; round++) {
      // Incompressible, so the compressed payload is large; compressed through the pool (> 64 KiB).
      const data = randomBytes(200 * 1024);
      expect(server.compressSync(data, true)).toBeUndefined();
      const payload = await compress(server, data);
      const pieces: Buffer[] = [];
      const out = await new Promise<Buffer>((resolve, reject) => {
        const decompressor = client.decompressor((piece) => {
          pieces.push(Buffer.from(piece));
          return true;
        }, reject);
        decompressor.write(payload.subarray(0, 1000)); // on the spot
        decompressor.write(payload.subarray(1000, 2000)); // on the spot
        decompressor.write(payload.subarray(2000)); // too large: the pool
        decompressor.end(() => resolve(Buffer.concat(pieces)));
      });
      expect(out.equals(data)).toBe(true);
      // And a small message after it, on the spot again, on the same context.
      const small = Buffer.from(`round ${round}`);
      expect((await decompress(client, server.compressSync(small, true)!)).equals(small)).toBe(
        true,
      );
    }
    server.close();
    client.close();
  });

  test('corrupt data inflated on the spot reports an error', async () => {
    const client = new PerMessageDeflate(defaults, false, {});
    await expect(decompress(client, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]))).rejects.toThrow(
      'invalid compressed data',
    );
    // The next message gets a fresh inflater.
    const server = new PerMessageDeflate(defaults, true, {});
    const ok = await compress(server, Buffer.from('fine again'));
    expect((await decompress(client, ok)).toString()).toBe('fine again');
    server.close();
    client.close();
  });
});

test('a fresh context compresses its first message in the thread pool, later ones on the spot', async () => {
  const server = new PerMessageDeflate(defaults, true, {});
  const client = new PerMessageDeflate(defaults, false, {});
  const text = Buffer.from('warm up the tables first, then compress on the spot');
  expect(server.compressSync(text, true)).toBeUndefined(); // first use: to the pool
  const first = await compress(server, text);
  const second = server.compressSync(text, true);
  expect(second).toBeDefined();
  expect((await decompress(client, first)).equals(text)).toBe(true);
  expect((await decompress(client, second!)).equals(text)).toBe(true);
  server.setLevel(6); // a new level means a new context: to the pool again
  expect(server.compressSync(text, true)).toBeUndefined();
  server.close();
  client.close();
});

test('large inflations queue as thread-pool jobs, one piece at a time per message', async () => {
  const { randomBytes } = await import('node:crypto');
  const server = new PerMessageDeflate(defaults, true, {});
  // Many connections' worth of decompressors, all fed large pieces at once: each still finishes.
  const clients = Array.from({ length: 40 }, () => new PerMessageDeflate(defaults, false, {}));
  const data = Buffer.from(randomBytes(96 * 1024).toString('hex')); // 192 KiB of text
  const payload = await compress(server, data);
  const outputs = await Promise.all(
    clients.map(
      (client) =>
        new Promise<Buffer>((resolve, reject) => {
          const pieces: Buffer[] = [];
          let drained = 0;
          const decompressor = client.decompressor((piece) => {
            pieces.push(Buffer.from(piece));
            return true;
          }, reject);
          const half = payload.length >> 1;
          // Large pieces go to the pool: write() asks the caller to wait.
          expect(decompressor.write(payload.subarray(0, half))).toBe(false);
          expect(decompressor.write(payload.subarray(half))).toBe(false);
          decompressor.drained(() => drained++);
          decompressor.end(() => {
            expect(drained).toBe(1);
            resolve(Buffer.concat(pieces));
          });
        }),
    ),
  );
  for (const out of outputs) expect(out.equals(data)).toBe(true);
  server.close();
  for (const client of clients) client.close();
});
