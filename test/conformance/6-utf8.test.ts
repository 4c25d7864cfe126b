/**
 * Autobahn section 6, UTF-8 handling (RFC 6455 sections 5.6 and 8.1): a text message must be
 * valid UTF-8 (RFC 3629) as a whole, however it is fragmented, and an endpoint that meets invalid
 * UTF-8 fails the connection with 1007. The check is incremental: it fails as soon as the bytes
 * seen so far cannot begin valid UTF-8 ("fail fast"), without waiting for the rest.
 *
 * The sequences of sections 6.5 to 6.23 come from Markus Kuhn's UTF-8 decoder stress test, as
 * Autobahn uses them.
 */
import { binary, continuation, ECHO_PATHS, fragmented, OP, text, useEchoServer } from './harness';

const fixture = useEchoServer();

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');

/** A group of sequences, each valid UTF-8 or not. */
interface Group {
  name: string;
  valid: boolean;
  sequences: string[]; // hex
}

const KOSME = 'ceba e1bdb9 cf83 cebc ceb5'; // κόσμε
const KOSME_BOUNDARIES = [2, 5, 7, 9, 11]; // where its code points end, in bytes

const GROUPS: Group[] = [
  {
    name: 'some valid UTF-8 sequences',
    valid: true,
    sequences: [
      '68656c6c6f 24 776f726c64', // hello$world
      '68656c6c6f c2a2 776f726c64', // hello¢world
      '68656c6c6f e282ac 776f726c64', // hello€world
      '68656c6c6f f0a4ada2 776f726c64', // hello𤭢world
      KOSME,
    ],
  },
  {
    name: 'prefixes of κόσμε that end on a code point',
    valid: true,
    sequences: KOSME_BOUNDARIES.map((n) => hex(KOSME).subarray(0, n).toString('hex')),
  },
  {
    name: 'prefixes of κόσμε that end inside a code point',
    valid: false,
    sequences: [1, 3, 4, 6, 8, 10].map((n) => hex(KOSME).subarray(0, n).toString('hex')),
  },
  {
    name: 'first possible sequence of each length',
    valid: true,
    sequences: ['00', 'c280', 'e0a080', 'f0908080'],
  },
  {
    name: 'first possible five- and six-byte sequences (beyond U+10FFFF)',
    valid: false,
    sequences: ['f888808080', 'fc8480808080'],
  },
  {
    name: 'last possible sequence of each length',
    valid: true,
    sequences: ['7f', 'dfbf', 'efbfbf', 'f48fbfbf'],
  },
  {
    name: 'last possible four-, five- and six-byte sequences (beyond U+10FFFF)',
    valid: false,
    sequences: ['f7bfbfbf', 'fbbfbfbfbf', 'fdbfbfbfbfbf'],
  },
  {
    name: 'other boundary conditions',
    valid: true,
    sequences: ['ed9fbf', 'ee8080', 'efbfbd', 'f48fbfbf'],
  },
  { name: 'U+110000', valid: false, sequences: ['f4908080'] },
  {
    name: 'unexpected continuation bytes',
    valid: false,
    sequences: [
      '80',
      'bf',
      '80bf',
      '80bf80',
      '80bf80bf',
      '80bf80bf80',
      '80bf80bf80bf',
      range(0x80, 0xbf).toString('hex'),
    ],
  },
  {
    name: 'lonely start characters, each followed by a space',
    valid: false,
    sequences: [
      [0xc0, 0xdf],
      [0xe0, 0xef],
      [0xf0, 0xf7],
      [0xf8, 0xfb],
      [0xfc, 0xfd],
    ].map(([from, to]) => interleave(range(from!, to!), 0x20).toString('hex')),
  },
  {
    name: 'sequences with the last continuation byte missing',
    valid: false,
    sequences: INCOMPLETE(),
  },
  {
    name: 'all incomplete sequences concatenated',
    valid: false,
    sequences: [INCOMPLETE().join('')],
  },
  { name: 'impossible bytes', valid: false, sequences: ['fe', 'ff', 'fefeffff'] },
  {
    name: 'overlong forms of "/"',
    valid: false,
    sequences: ['c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af'],
  },
  {
    name: 'maximum overlong sequences',
    valid: false,
    sequences: ['c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf'],
  },
  {
    name: 'overlong forms of NUL',
    valid: false,
    sequences: ['c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080'],
  },
  {
    name: 'single UTF-16 surrogates',
    valid: false,
    sequences: ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'],
  },
  {
    name: 'paired UTF-16 surrogates',
    valid: false,
    sequences: [
      'eda080edb080',
      'eda080edbfbf',
      'edadbfedb080',
      'edadbfedbfbf',
      'edae80edb080',
      'edae80edbfbf',
      'edafbfedb080',
      'edafbfedbfbf',
    ],
  },
  { name: 'non-characters (valid UTF-8)', valid: true, sequences: NONCHARACTERS() },
  {
    name: 'Unicode specials',
    valid: true,
    sequences: ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'],
  },
];

/** Bytes `from` to `to`, `to` excluded. */
function range(from: number, to: number): Buffer {
  return Buffer.from(Array.from({ length: to - from }, (_, i) => from + i));
}

function interleave(bytes: Buffer, filler: number): Buffer {
  return Buffer.from([...bytes].flatMap((b) => [b, filler]));
}

function INCOMPLETE(): string[] {
  return [
    'c0',
    'e080',
    'f08080',
    'f8808080',
    'fc80808080',
    'df',
    'efbf',
    'f7bfbf',
    'fbbfbfbf',
    'fdbfbfbfbf',
  ];
}

// U+FFFE, U+FFFF, and U+nFFFE, U+nFFFF in every supplementary plane.
function NONCHARACTERS(): string[] {
  const out = ['efbfbe', 'efbfbf'];
  for (let plane = 1; plane <= 16; plane++) {
    for (const last of [0xfffe, 0xffff]) {
      out.push(Buffer.from(String.fromCodePoint(plane * 0x10000 + last)).toString('hex'));
    }
  }
  return out;
}

const CASES = GROUPS.flatMap((group) =>
  group.sequences.map((sequence, i) => ({
    name: `${group.name} #${i + 1} (${sequence.length > 24 ? `${sequence.length / 2} bytes` : sequence})`,
    valid: group.valid,
    bytes: hex(sequence),
  })),
);

describe('the UTF-8 stress test, one frame per message (cases 6.5 to 6.23)', () => {
  test.each(CASES)('$name', async ({ valid, bytes }) => {
    const peer = await fixture.connect();
    peer.send(text(bytes));
    if (valid) {
      await peer.expectMessage('text', bytes);
      await peer.closeNormally();
    } else {
      await peer.expectClose(1007);
    }
  });
});

describe('the UTF-8 stress test, one byte per frame', () => {
  test.each(CASES.filter((c) => c.bytes.length > 1))('$name', async ({ valid, bytes }) => {
    const peer = await fixture.connect();
    peer.send(...fragmented(OP.text, bytes, 1));
    if (valid) {
      await peer.expectMessage('text', bytes);
      await peer.closeNormally();
    } else {
      await peer.expectClose(1007);
    }
  });
});

const HELLO = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!');
const KOSME_BYTES = hex(KOSME);
// κόσμε, then a surrogate (invalid), then "edited".
const INVALID = hex(`${KOSME} eda080 656469746564`);

describe.each(ECHO_PATHS)('%s', (_name, path) => {
  // Cases 6.1.1 to 6.1.3.
  test('an empty text message is echoed', async () => {
    const peer = await fixture.connect(path);
    peer.send(text(''));
    await peer.expectMessage('text', '');
    await peer.closeNormally();
  });

  test('a text message of three empty fragments is echoed empty', async () => {
    const peer = await fixture.connect(path);
    peer.send(text('', { fin: false }), continuation('', { fin: false }), continuation(''));
    await peer.expectMessage('text', '');
    await peer.closeNormally();
  });

  test('empty fragments around a non-empty one are echoed as its text', async () => {
    const peer = await fixture.connect(path);
    peer.send(
      text('', { fin: false }),
      continuation('middle frame payload', { fin: false }),
      continuation(''),
    );
    await peer.expectMessage('text', 'middle frame payload');
    await peer.closeNormally();
  });

  // Cases 6.2.1 to 6.2.4.
  test('valid UTF-8 in one frame is echoed', async () => {
    const peer = await fixture.connect(path);
    peer.send(text(HELLO));
    await peer.expectMessage('text', HELLO);
    await peer.closeNormally();
  });

  test('valid UTF-8 fragmented on a code point boundary is echoed', async () => {
    const peer = await fixture.connect(path);
    peer.send(text(HELLO.subarray(0, 8), { fin: false }), continuation(HELLO.subarray(8)));
    await peer.expectMessage('text', HELLO);
    await peer.closeNormally();
  });

  test.each([
    ['Hello-µ@ßöäüàá-UTF-8!!', HELLO],
    ['κόσμε', KOSME_BYTES],
  ])('valid UTF-8 (%s) in one byte per frame is echoed', async (_text, bytes) => {
    const peer = await fixture.connect(path);
    peer.send(...fragmented(OP.text, bytes, 1));
    await peer.expectMessage('text', bytes);
    await peer.closeNormally();
  });

  test('every split of a four-byte code point between two frames is echoed', async () => {
    const peer = await fixture.connect(path);
    const bytes = Buffer.from('a𤭢b');
    for (let split = 0; split <= bytes.length; split++) {
      peer.send(
        text(bytes.subarray(0, split), { fin: false }),
        continuation(bytes.subarray(split)),
      );
      await peer.expectMessage('text', bytes);
    }
    await peer.closeNormally();
  });

  // Cases 6.3.1 and 6.3.2.
  test('invalid UTF-8 in one frame fails the connection with 1007', async () => {
    const peer = await fixture.connect(path);
    peer.send(text(INVALID));
    await peer.expectClose(1007);
  });

  test('invalid UTF-8 in one byte per frame fails the connection with 1007', async () => {
    const peer = await fixture.connect(path);
    peer.send(...fragmented(OP.text, INVALID, 1));
    await peer.expectClose(1007);
  });

  test('a text message that ends inside a code point fails with 1007', async () => {
    const peer = await fixture.connect(path);
    peer.send(text('abc', { fin: false }), continuation(hex('e282')));
    await peer.expectClose(1007);
  });

  test('a binary message is not checked for UTF-8', async () => {
    const peer = await fixture.connect(path);
    peer.send(binary(INVALID));
    await peer.expectMessage('binary', INVALID);
    await peer.closeNormally();
  });

  test('a valid text message after an invalid binary one is echoed', async () => {
    const peer = await fixture.connect(path);
    peer.send(binary(hex('eda080')), text(HELLO));
    await peer.expectMessage('binary', hex('eda080'));
    await peer.expectMessage('text', HELLO);
    await peer.closeNormally();
  });
});

// Cases 6.4.1 to 6.4.4: the server must fail the connection when the byte that makes the text
// invalid arrives, not when the message ends. The third part is never sent.
describe('fail fast', () => {
  const PART1 = KOSME_BYTES;
  const PART2 = hex('f4908080'); // U+110000: invalid from its second byte on
  const PART3 = Buffer.from('edited');
  const WHOLE = Buffer.concat([PART1, PART2, PART3]);

  test.each([
    ['6.4.1: the frame holding U+110000', PART1, PART2],
    [
      '6.4.2: the frame holding only the byte that makes it invalid',
      WHOLE.subarray(0, 12),
      WHOLE.subarray(12, 13),
    ],
  ])('separate frames, %s fails at once with 1007', async (_name, first, second) => {
    const peer = await fixture.connect();
    peer.send(text(first, { fin: false }));
    await peer.expectOpen(); // the valid start is accepted
    peer.send(continuation(second, { fin: false }));
    await peer.expectClose(1007);
  });

  test.each([
    ['6.4.3: the chop holding U+110000', PART1.length, PART1.length + PART2.length],
    ['6.4.4: the chop holding only the byte that makes it invalid', 12, 13],
  ])('chops of one frame, %s fails at once with 1007', async (_name, end1, end2) => {
    const peer = await fixture.connect();
    const bytes = text(WHOLE);
    const header = bytes.length - WHOLE.length;
    await peer.sendExpectingSilence(bytes.subarray(0, header + end1)); // valid so far
    peer.send(bytes.subarray(header + end1, header + end2));
    await peer.expectClose(1007);
  });

  test('the streaming echo fails as soon as the invalid byte arrives too', async () => {
    const peer = await fixture.connect('/stream');
    const bytes = text(WHOLE);
    const header = bytes.length - WHOLE.length;
    peer.send(bytes.subarray(0, header + 12));
    // The valid start may be echoed as a fragment of a message that never finishes.
    peer.send(bytes.subarray(header + 12, header + 13));
    await peer.expectClose(1007);
  });

  test('an invalid byte in the first frame fails without waiting for the last', async () => {
    const peer = await fixture.connect();
    peer.send(text(hex('68656c6c6f ff'), { fin: false }));
    await peer.expectClose(1007);
  });
});
