import { FrameReader, type FrameHandler } from '../src/frame-reader';
import { frame } from '../../../test/helpers/frames';

type Event =
  | ['data', number, boolean, boolean, number]
  | ['payload', string]
  | ['end', boolean]
  | ['control', number, string]
  | ['error', string];

/** A handler that records what the parser reports; `hooks` run inside the handler calls. */
class Recorder implements FrameHandler {
  readonly events: Event[] = [];
  afterEvent: ((event: Event) => void) | null = null;

  onDataFrame(opcode: number, fin: boolean, compressed: boolean, length: number): void {
    this.#add(['data', opcode, fin, compressed, length]);
  }
  onPayload(piece: Buffer): void {
    this.#add(['payload', piece.toString('hex')]);
  }
  onDataFrameEnd(fin: boolean): void {
    this.#add(['end', fin]);
  }
  onControl(opcode: number, payload: Buffer): void {
    this.#add(['control', opcode, payload.toString('hex')]);
  }
  onProtocolError(problems: string): void {
    this.#add(['error', problems]);
  }
  #add(event: Event): void {
    this.events.push(event);
    this.afterEvent?.(event);
  }
}

/** Joins consecutive payload events: how a payload is cut into pieces depends on the chunking. */
function merged(events: Event[]): Event[] {
  const out: Event[] = [];
  for (const event of events) {
    const last = out[out.length - 1];
    if (event[0] === 'payload' && last?.[0] === 'payload') last[1] += event[1];
    else out.push([...event]);
  }
  return out;
}

type Chunking = 'whole' | 'one byte at a time' | 'halves';
const chunkings: Chunking[] = ['whole', 'one byte at a time', 'halves'];

function chunk(input: Buffer, how: Chunking): Buffer[] {
  // Each run gets its own copy: the parser unmasks in place.
  const bytes = Buffer.from(input);
  if (how === 'whole') return [bytes];
  if (how === 'halves') {
    const mid = bytes.length >> 1;
    return [bytes.subarray(0, mid), bytes.subarray(mid)];
  }
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

function parse(
  input: Buffer,
  how: Chunking,
  options = { isServer: true, allowRsv1: false },
): Event[] {
  const recorder = new Recorder();
  const reader = new FrameReader(recorder, options);
  for (const piece of chunk(input, how)) reader.write(piece);
  return recorder.events;
}

/** Parses `input` with every chunking and expects the same events each time. */
function expectEvents(
  input: Buffer,
  expected: Event[],
  options = { isServer: true, allowRsv1: false },
): void {
  for (const how of chunkings) {
    expect({ how, events: merged(parse(input, how, options)) }).toEqual({ how, events: expected });
  }
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const client = { isServer: false, allowRsv1: false };
const text = (s: string): string => Buffer.from(s).toString('hex');

describe('FrameReader: frames as hex, whatever the chunking', () => {
  test('RFC 6455 5.7: a single-frame masked text message', () => {
    expectEvents(hex('81 85 37fa213d 7f9f4d5158'), [
      ['data', 1, true, false, 5],
      ['payload', text('Hello')],
      ['end', true],
    ]);
  });

  test('RFC 6455 5.7: a single-frame unmasked text message (client side)', () => {
    expectEvents(
      hex('81 05 48656c6c6f'),
      [
        ['data', 1, true, false, 5],
        ['payload', text('Hello')],
        ['end', true],
      ],
      client,
    );
  });

  test('RFC 6455 5.7: a fragmented unmasked text message', () => {
    expectEvents(
      hex('01 03 48656c  80 02 6c6f'),
      [
        ['data', 1, false, false, 3],
        ['payload', text('Hel')],
        ['end', false],
        ['data', 0, true, false, 2],
        ['payload', text('lo')],
        ['end', true],
      ],
      client,
    );
  });

  test('RFC 6455 5.7: unmasked ping and masked pong', () => {
    expectEvents(hex('89 05 48656c6c6f'), [['control', 9, text('Hello')]], client);
    expectEvents(hex('8a 85 37fa213d 7f9f4d5158'), [['control', 10, text('Hello')]]);
  });

  test('RFC 6455 5.7: 256 bytes (16-bit length) and 65536 bytes (64-bit length)', () => {
    const p256 = Buffer.alloc(256, 0x61);
    expectEvents(
      Buffer.concat([hex('82 7e 0100'), p256]),
      [
        ['data', 2, true, false, 256],
        ['payload', p256.toString('hex')],
        ['end', true],
      ],
      client,
    );
    const p64k = Buffer.alloc(65536, 0x62);
    expectEvents(
      Buffer.concat([hex('82 7f 0000000000010000'), p64k]),
      [
        ['data', 2, true, false, 65536],
        ['payload', p64k.toString('hex')],
        ['end', true],
      ],
      client,
    );
  });

  test.each([0, 1, 125, 126, 127, 65535, 65536])(
    'a masked binary payload of %i bytes in its minimal length form',
    (n) => {
      const payload = Buffer.from(Array.from({ length: n }, (_, i) => (i * 31) & 0xff));
      const events = merged(parse(frame({ opcode: 2, payload }), 'whole'));
      const expected: Event[] = [['data', 2, true, false, n]];
      if (n > 0) expected.push(['payload', payload.toString('hex')]);
      expected.push(['end', true]);
      expect(events).toEqual(expected);
      // The chunked replays only for the small ones: one byte at a time is slow for 64 KiB.
      if (n <= 1024) expectEvents(frame({ opcode: 2, payload }), expected);
    },
  );

  test('an empty text frame and an empty close frame', () => {
    expectEvents(Buffer.concat([frame({ opcode: 1 }), frame({ opcode: 8 })]), [
      ['data', 1, true, false, 0],
      ['end', true],
      ['control', 8, ''],
    ]);
  });

  test('control frames between the fragments of a message, payloads split across chunks', () => {
    const ping = Buffer.alloc(125, 0x70);
    const input = Buffer.concat([
      frame({ opcode: 1, payload: 'frag1', fin: false }),
      frame({ opcode: 9, payload: ping }),
      frame({ opcode: 0, payload: 'frag2', fin: false }),
      frame({ opcode: 10, payload: 'pong' }),
      frame({ opcode: 0, payload: 'frag3' }),
    ]);
    expectEvents(input, [
      ['data', 1, false, false, 5],
      ['payload', text('frag1')],
      ['end', false],
      ['control', 9, ping.toString('hex')],
      ['data', 0, false, false, 5],
      ['payload', text('frag2')],
      ['end', false],
      ['control', 10, text('pong')],
      ['data', 0, true, false, 5],
      ['payload', text('frag3')],
      ['end', true],
    ]);
  });

  test('a control payload split across chunks is delivered whole, once', () => {
    const payload = Buffer.from(Array.from({ length: 125 }, (_, i) => i));
    const bytes = frame({ opcode: 9, payload });
    for (let split = 1; split < bytes.length; split++) {
      const recorder = new Recorder();
      const reader = new FrameReader(recorder, { isServer: true, allowRsv1: false });
      const copy = Buffer.from(bytes);
      reader.write(copy.subarray(0, split));
      reader.write(copy.subarray(split));
      expect(recorder.events).toEqual([['control', 9, payload.toString('hex')]]);
    }
  });

  test('data payloads are views of the chunk, unmasked in place (no copy)', () => {
    const payload = Buffer.alloc(4096, 0x41);
    const input = frame({ opcode: 2, payload });
    const pieces: Buffer[] = [];
    const recorder = Object.assign(new Recorder(), {
      onPayload: (piece: Buffer) => pieces.push(piece),
    });
    new FrameReader(recorder, { isServer: true, allowRsv1: false }).write(input);
    expect(pieces).toHaveLength(1);
    expect(pieces[0]!.buffer).toBe(input.buffer);
    expect(pieces[0]!.equals(payload)).toBe(true);
  });

  test('RSV1 on a first data frame is accepted when an extension allows it', () => {
    expectEvents(
      Buffer.concat([
        frame({ opcode: 1, payload: 'a', rsv1: true, fin: false }),
        frame({ opcode: 0, payload: 'b' }),
      ]),
      [
        ['data', 1, false, true, 1],
        ['payload', text('a')],
        ['end', false],
        ['data', 0, true, false, 1],
        ['payload', text('b')],
        ['end', true],
      ],
      { isServer: true, allowRsv1: true },
    );
  });
});

describe('FrameReader: header violations', () => {
  test.each<[string, Buffer, string, { isServer: boolean; allowRsv1: boolean }?]>([
    [
      'unmasked client frame',
      frame({ opcode: 1, payload: 'x', mask: false }),
      'unmasked client frame',
    ],
    ['masked server frame', frame({ opcode: 1, payload: 'x' }), 'masked server frame', client],
    [
      'RSV1 without an extension',
      frame({ opcode: 1, rsv1: true }),
      'RSV1 set without a negotiated extension',
    ],
    ['RSV2', frame({ opcode: 2, rsv2: true }), 'RSV2 set'],
    ['RSV3', frame({ opcode: 2, rsv3: true }), 'RSV3 set'],
    ['reserved data opcode 3', frame({ opcode: 3 }), 'reserved opcode 3'],
    ['reserved control opcode 11', frame({ opcode: 11 }), 'reserved opcode 11'],
    [
      'continuation without a message',
      frame({ opcode: 0 }),
      'continuation frame without a message to continue',
    ],
    ['fragmented ping', frame({ opcode: 9, fin: false }), 'fragmented control frame'],
    [
      'ping of 126 bytes',
      frame({ opcode: 9, payload: Buffer.alloc(126) }),
      'control frame payload of 126 bytes',
    ],
    ['RSV1 on a close frame', frame({ opcode: 8, rsv1: true }), 'RSV1 set on a control frame'],
    [
      '64-bit length with the high bit set',
      hex('82 ff 8000000000000000 00000000'),
      '64-bit payload length with the high bit set',
    ],
  ])('%s', (_name, input, problems, options = { isServer: true, allowRsv1: false }) => {
    expectEvents(input, [['error', problems]], options);
  });

  test('a 64-bit length past 2^53 is no protocol error: it reaches the handler, which finds it too big', () => {
    expectEvents(hex('82 ff 0020000000000000 00000000'), [['data', 2, true, false, 2 ** 53]]);
  });

  test('a new message inside a fragmented one', () => {
    expectEvents(
      Buffer.concat([frame({ opcode: 1, payload: 'a', fin: false }), frame({ opcode: 2 })]),
      [
        ['data', 1, false, false, 1],
        ['payload', text('a')],
        ['end', false],
        ['error', 'new data message before the last one finished'],
      ],
    );
  });

  test('RSV1 on a continuation frame, even with an extension', () => {
    expectEvents(
      Buffer.concat([
        frame({ opcode: 1, payload: 'a', fin: false, rsv1: true }),
        frame({ opcode: 0, rsv1: true }),
      ]),
      [
        ['data', 1, false, true, 1],
        ['payload', text('a')],
        ['end', false],
        ['error', 'RSV1 set on a continuation frame'],
      ],
      { isServer: true, allowRsv1: true },
    );
  });

  test('every violation of a frame is reported at once, in one error', () => {
    // FIN clear, RSV1-3 set, opcode 9 (ping), unmasked, 16-bit length 200.
    expectEvents(hex('79 7e 00c8'), [
      [
        'error',
        'RSV2 set, RSV3 set, fragmented control frame, control frame payload of 200 bytes, ' +
          'RSV1 set on a control frame, unmasked client frame',
      ],
    ]);
    expectEvents(hex('30 00'), [
      [
        'error',
        'RSV2 set, RSV3 set, continuation frame without a message to continue, unmasked client frame',
      ],
    ]);
    expectEvents(
      hex('f7 ff ffffffffffffffff 00000000'),
      [
        [
          'error',
          '64-bit payload length with the high bit set, RSV2 set, RSV3 set, reserved opcode 7, ' +
            'masked server frame',
        ],
      ],
      client,
    );
  });

  test('after a violation the parser reports nothing more', () => {
    const input = Buffer.concat([
      frame({ opcode: 1, payload: 'ok' }),
      frame({ opcode: 5 }),
      frame({ opcode: 1, payload: 'ignored' }),
    ]);
    expectEvents(input, [
      ['data', 1, true, false, 2],
      ['payload', text('ok')],
      ['end', true],
      ['error', 'reserved opcode 5'],
    ]);
    const recorder = new Recorder();
    const reader = new FrameReader(recorder, { isServer: true, allowRsv1: false });
    reader.write(frame({ opcode: 5 }));
    reader.write(frame({ opcode: 1, payload: 'later' }));
    expect(recorder.events).toEqual([['error', 'reserved opcode 5']]);
  });
});

describe('FrameReader: pause(), resume() and stop()', () => {
  const twoMessages = (): Buffer =>
    Buffer.concat([
      frame({ opcode: 1, payload: 'one' }),
      frame({ opcode: 9, payload: 'p' }),
      frame({ opcode: 2, payload: 'two' }),
    ]);
  const allEvents: Event[] = [
    ['data', 1, true, false, 3],
    ['payload', text('one')],
    ['end', true],
    ['control', 9, text('p')],
    ['data', 2, true, false, 3],
    ['payload', text('two')],
    ['end', true],
  ];

  test('pause() inside a handler stops after that event; resume() goes on with the held bytes', () => {
    const recorder = new Recorder();
    const reader = new FrameReader(recorder, { isServer: true, allowRsv1: false });
    recorder.afterEvent = (event) => {
      if (event[0] === 'end') reader.pause();
    };
    reader.write(twoMessages());
    expect(reader.paused).toBe(true);
    expect(recorder.events).toEqual(allEvents.slice(0, 3));
    // Chunks written while paused are held, in order.
    reader.write(frame({ opcode: 1, payload: 'three' }));
    expect(recorder.events).toHaveLength(3);
    recorder.afterEvent = null;
    reader.resume();
    expect(reader.paused).toBe(false);
    expect(recorder.events).toEqual([
      ...allEvents,
      ['data', 1, true, false, 5],
      ['payload', text('three')],
      ['end', true],
    ]);
  });

  test.each(chunkings)(
    'pausing at every event and resuming later loses and reorders nothing (%s)',
    (how) => {
      const recorder = new Recorder();
      const reader = new FrameReader(recorder, { isServer: true, allowRsv1: false });
      recorder.afterEvent = () => reader.pause();
      for (const piece of chunk(twoMessages(), how)) reader.write(piece);
      for (let i = 0; i < 1000 && reader.paused; i++) reader.resume();
      expect(merged(recorder.events)).toEqual(allEvents);
    },
  );

  test('pause() from outside holds every chunk until resume()', () => {
    const recorder = new Recorder();
    const reader = new FrameReader(recorder, { isServer: true, allowRsv1: false });
    reader.pause();
    for (const piece of chunk(twoMessages(), 'one byte at a time')) reader.write(piece);
    expect(recorder.events).toEqual([]);
    reader.resume();
    expect(merged(recorder.events)).toEqual(allEvents);
  });

  test('resume() inside the handler that paused goes on at once', () => {
    const recorder = new Recorder();
    const reader = new FrameReader(recorder, { isServer: true, allowRsv1: false });
    recorder.afterEvent = () => {
      reader.pause();
      reader.resume();
    };
    reader.write(twoMessages());
    expect(merged(recorder.events)).toEqual(allEvents);
  });

  test('stop() inside a handler ignores the rest of the chunk and every later one', () => {
    const recorder = new Recorder();
    const reader = new FrameReader(recorder, { isServer: true, allowRsv1: false });
    recorder.afterEvent = (event) => {
      if (event[0] === 'control') reader.stop();
    };
    reader.write(twoMessages());
    reader.write(frame({ opcode: 1, payload: 'later' }));
    expect(recorder.events).toEqual(allEvents.slice(0, 4));
  });

  test('stop() drops held chunks: a later resume() parses nothing', () => {
    const recorder = new Recorder();
    const reader = new FrameReader(recorder, { isServer: true, allowRsv1: false });
    reader.pause();
    reader.write(twoMessages());
    reader.stop();
    reader.resume();
    expect(recorder.events).toEqual([]);
  });
});
