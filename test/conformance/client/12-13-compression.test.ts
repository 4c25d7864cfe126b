/**
 * Autobahn sections 12 and 13 from the client's side: permessage-deflate (RFC 7692) as the
 * server answers it, in each negotiation variant. Section 12: the server sends plain messages and
 * the client's echoes come back compressed; section 13: the server sends compressed messages
 * (with its own context and window) and the client decodes and echoes them byte-exact. Then the
 * compressed framing rules (RSV1 on the first frame only, never on control frames), corrupt data
 * (1007) and a decompression bomb against the read limit (1009).
 */
import { CloseMessageTooBig, ProtocolError, ReadLimitError } from '@silverback/websocket';
import { deflateRawSync } from 'node:zlib';
import {
  asciiPayload,
  binaryPayload,
  continuation,
  ping,
  serverFrame,
  text,
  useJudge,
  OP,
  type JudgeCompression,
} from './harness';

const fixture = useJudge();

const SIZES = [16, 64, 256, 1023, 1024, 4096, 32768, 131072];
const MIB = 1 << 20;

interface Variant extends JudgeCompression {
  name: string;
}

const variants: Variant[] = [
  { name: 'no parameters', answer: 'permessage-deflate' },
  {
    name: 'server_no_context_takeover',
    answer: 'permessage-deflate; server_no_context_takeover',
    serverNoContextTakeover: true,
  },
  {
    name: 'client_no_context_takeover',
    answer: 'permessage-deflate; client_no_context_takeover',
    clientNoContextTakeover: true,
  },
  {
    name: 'server_max_window_bits=9, unasked',
    answer: 'permessage-deflate; server_max_window_bits=9',
    serverMaxWindowBits: 9,
  },
  {
    name: 'client_max_window_bits=9',
    answer: 'permessage-deflate; client_max_window_bits=9',
    clientMaxWindowBits: 9,
  },
  {
    name: 'client_max_window_bits=8 (the client sends uncompressed)',
    answer: 'permessage-deflate; client_max_window_bits=8',
    clientMaxWindowBits: 8,
  },
  {
    name: 'everything at once',
    answer:
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
      'server_max_window_bits=10; client_max_window_bits=11',
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 10,
    clientMaxWindowBits: 11,
  },
];

describe.each(variants)('compression variant: $name', (variant) => {
  const clientCompresses = (variant.clientMaxWindowBits ?? 15) > 8;

  test('the client offers permessage-deflate and agrees to the answer', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: variant,
    });
    expect(judge.offer).toMatch(/^permessage-deflate/);
    expect(judge.conn.extensions()).toBe(variant.answer);
    await judge.closeNormally();
  });

  test('12: plain messages of every size are echoed compressed and decode byte-exact', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: variant,
    });
    for (const size of [...SIZES, MIB]) {
      const payload = asciiPayload(size, size);
      judge.send(text(payload));
      const event = await judge.expectMessage('text', payload);
      expect(event.compressed).toBe(clientCompresses && size >= 1024);
    }
    await judge.closeNormally();
  });

  test('13: compressed messages of every size are decoded and echoed byte-exact', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: variant,
    });
    for (const size of [...SIZES, MIB]) {
      const payload = size === MIB ? asciiPayload(size, 5) : binaryPayload(size, size);
      const kind = size === MIB ? 'text' : 'binary';
      judge.send(await judge.compressedFrame(kind === 'text' ? OP.text : OP.binary, payload));
      await judge.expectMessage(kind, payload);
    }
    await judge.closeNormally();
  });

  test('the same message twice: context takeover shrinks the second unless it is off', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: variant,
    });
    const payload = binaryPayload(8192, 77);
    const sizes: number[] = [];
    for (let i = 0; i < 2; i++) {
      judge.send(serverFrame(OP.binary, payload));
      const event = await judge.expectMessage('binary', payload);
      sizes.push(event.wireLength ?? -1);
    }
    if (!clientCompresses) expect(sizes).toEqual([8192, 8192]);
    else if (variant.clientNoContextTakeover) expect(sizes[1]).toBe(sizes[0]);
    // A window smaller than the message cannot reach back to the first copy.
    else if ((variant.clientMaxWindowBits ?? 15) >= 14)
      expect(sizes[1]).toBeLessThan(sizes[0]! / 4);
    await judge.closeNormally();
  });
});

describe('compressed framing', () => {
  const plain: JudgeCompression = { answer: 'permessage-deflate' };

  test('a compressed message split over fragments (RSV1 on the first only) is decoded', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: plain,
    });
    const payload = asciiPayload(20000, 9);
    const compressed = await judge.compress(payload);
    const third = Math.ceil(compressed.length / 3);
    judge.send(
      serverFrame(OP.text, compressed.subarray(0, third), { rsv1: true, fin: false }),
      ping('between'),
      continuation(compressed.subarray(third, 2 * third), { fin: false }),
      continuation(compressed.subarray(2 * third)),
    );
    await judge.expectPong('between');
    await judge.expectMessage('text', payload);
    await judge.closeNormally();
  });

  test('uncompressed messages still pass on a compressed connection', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: plain,
    });
    judge.send(text('not compressed'));
    await judge.expectMessage('text', 'not compressed');
    await judge.closeNormally();
  });

  test('an empty compressed message is echoed empty', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: plain,
    });
    judge.send(serverFrame(OP.binary, Buffer.from([0x00]), { rsv1: true }));
    await judge.expectMessage('binary', Buffer.alloc(0));
    await judge.closeNormally();
  });

  test.each([
    [
      'RSV1 on a continuation frame',
      [text('a', { fin: false }), continuation('b', { rsv1: true })],
    ],
    ['RSV1 on a ping', [ping('p', { rsv1: true })]],
    ['RSV2 on a data frame', [text('a', { rsv2: true })]],
  ])('%s fails the connection with 1002', async (_name, frames) => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: plain,
    });
    judge.send(...frames);
    await judge.expectFailure(1002);
  });

  test('RSV1 when the server declined compression fails with 1002', async () => {
    const judge = await fixture.connect({ dialer: { enableCompression: true } });
    expect(judge.conn.extensions()).toBe('');
    judge.send(serverFrame(OP.text, deflateRawSync('hello').subarray(0, -4), { rsv1: true }));
    await judge.expectFailure(1002);
  });

  test('corrupt compressed data fails the connection with 1007', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: plain,
    });
    judge.send(serverFrame(OP.binary, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]), { rsv1: true }));
    await judge.expectFailure(1007);
    const err: unknown = await judge.conn.readMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
  });

  test('compressed text that inflates to invalid UTF-8 fails with 1007', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true },
      compression: plain,
    });
    judge.send(await judge.compressedFrame(OP.text, Buffer.from([0x61, 0xed, 0xa0, 0x80])));
    await judge.expectFailure(1007);
  });

  test('a decompression bomb ends with 1009 once the read limit is passed', async () => {
    const judge = await fixture.connect({
      dialer: { enableCompression: true, readLimit: 1 << 20 },
      compression: plain,
    });
    // 64 MiB of zeros compresses to about 64 KiB.
    const bomb = await judge.compress(Buffer.alloc(64 << 20));
    judge.send(serverFrame(OP.binary, bomb, { rsv1: true }));
    await judge.expectFailure(CloseMessageTooBig);
    const err: unknown = await judge.conn.readMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadLimitError);
  });
});
