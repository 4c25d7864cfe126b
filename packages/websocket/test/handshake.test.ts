import {
  computeAcceptKey,
  formatExtension,
  generateChallengeKey,
  headerValue,
  isToken,
  isValidChallengeKey,
  originHost,
  parseExtensions,
  parseList,
  tokenListContainsValue,
  type ExtensionOffer,
} from '../src/handshake';

/** An offer as plain data, for readable expectations. */
function plain(offers: ExtensionOffer[] | null): [string, [string, (string | true)[]][]][] | null {
  return offers === null ? null : offers.map((o) => [o.name, [...o.params]]);
}

describe('accept and challenge keys', () => {
  test("RFC 6455 section 1.3's sample accept key", () => {
    expect(computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('generated challenge keys are fresh, valid 16-byte keys', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const key = generateChallengeKey();
      expect(isValidChallengeKey(key)).toBe(true);
      expect(Buffer.from(key, 'base64')).toHaveLength(16);
      keys.add(key);
    }
    expect(keys.size).toBe(100);
  });

  test.each<[string, string | undefined, boolean]>([
    ['the RFC sample', 'dGhlIHNhbXBsZSBub25jZQ==', true],
    ['16 zero bytes', 'AAAAAAAAAAAAAAAAAAAAAA==', true],
    ['16 0xff bytes', '/////////////////////w==', true],
    ['missing', undefined, false],
    ['empty', '', false],
    ['15 bytes', 'AAAAAAAAAAAAAAAAAAAA', false],
    ['17 bytes', 'AAAAAAAAAAAAAAAAAAAAAAA=', false],
    ['no padding', 'dGhlIHNhbXBsZSBub25jZQ', false],
    ['url-safe alphabet', '-_______________________'.slice(0, 22) + '==', false],
    ['a space inside', 'dGhlIHNhbXBsZSBub25j ZQ=', false],
    ['non-zero padding bits', 'dGhlIHNhbXBsZSBub25jZR==', false],
    ['24 characters of padding', '========================', false],
    ['two keys joined', 'dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==', false],
    ['non-ASCII', 'dGhlIHNhbXBsZSBub25jZé==', false],
  ])('challenge key %s: %s -> %s', (_name, key, valid) => {
    expect(isValidChallengeKey(key)).toBe(valid);
  });
});

describe('header values and lists', () => {
  test('headerValue joins repeated headers with commas', () => {
    expect(headerValue({ connection: 'Upgrade' }, 'connection')).toBe('Upgrade');
    expect(headerValue({ 'set-cookie': ['a=1', 'b=2'] }, 'set-cookie')).toBe('a=1, b=2');
    expect(headerValue({}, 'upgrade')).toBeUndefined();
  });

  test.each<[string | undefined, string[]]>([
    [undefined, []],
    ['', []],
    ['chat', ['chat']],
    ['chat, superchat', ['chat', 'superchat']],
    [' \tchat\t ,superchat  ', ['chat', 'superchat']],
    [',,chat,,', ['chat']],
    [' , \t, ', []],
    ['a b, c', ['a b', 'c']],
    ['Upgrade, keep-alive', ['Upgrade', 'keep-alive']],
  ])('parseList(%j) = %j', (value, items) => {
    expect(parseList(value)).toEqual(items);
  });

  test.each<[string | undefined, string, boolean]>([
    ['Upgrade', 'upgrade', true],
    ['keep-alive, Upgrade', 'upgrade', true],
    ['keep-alive,upgrade ', 'upgrade', true],
    ['UPGRADE', 'upgrade', true],
    ['websocket', 'WebSocket', true],
    ['keep-alive', 'upgrade', false],
    ['upgrades', 'upgrade', false],
    ['xupgrade', 'upgrade', false],
    ['up grade', 'upgrade', false],
    ['', 'upgrade', false],
    [undefined, 'upgrade', false],
    ['websocket/13, h2c', 'websocket', false],
  ])('tokenListContainsValue(%j, %j) = %j', (value, token, expected) => {
    expect(tokenListContainsValue(value, token)).toBe(expected);
  });

  test.each([
    ['permessage-deflate', true],
    ["!#$%&'*+-.^_`|~09AZaz", true],
    ['', false],
    ['a b', false],
    ['a,b', false],
    ['a"b', false],
    ['a=b', false],
    ['é', false],
  ])('isToken(%j) = %j', (value, expected) => {
    expect(isToken(value)).toBe(expected);
  });
});

describe('parseExtensions', () => {
  test.each<[string, string | undefined, ReturnType<typeof plain>]>([
    ['no header', undefined, []],
    ['empty', '', []],
    ['one name', 'permessage-deflate', [['permessage-deflate', []]]],
    [
      'parameters with and without values',
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10',
      [
        [
          'permessage-deflate',
          [
            ['client_max_window_bits', [true]],
            ['server_max_window_bits', ['10']],
          ],
        ],
      ],
    ],
    [
      'quoted value',
      'permessage-deflate; server_max_window_bits="10"',
      [['permessage-deflate', [['server_max_window_bits', ['10']]]]],
    ],
    ['escaped characters in a quoted value', 'x; a="\\1\\0"', [['x', [['a', ['10']]]]]],
    [
      'parameter names are case-insensitive, values kept',
      'x; Client_No_Context_Takeover; A=Bc',
      [
        [
          'x',
          [
            ['client_no_context_takeover', [true]],
            ['a', ['Bc']],
          ],
        ],
      ],
    ],
    [
      'whitespace everywhere',
      ' x ;\ta = 1 ; b\t,\ty ',
      [
        [
          'x',
          [
            ['a', ['1']],
            ['b', [true]],
          ],
        ],
        ['y', []],
      ],
    ],
    [
      'empty list elements',
      ', ,x,, ,y,',
      [
        ['x', []],
        ['y', []],
      ],
    ],
    ['duplicate parameters keep every value', 'x; a=1; a=2; a', [['x', [['a', ['1', '2', true]]]]]],
    [
      'several offers of one extension',
      'permessage-deflate; client_max_window_bits=10, permessage-deflate',
      [
        ['permessage-deflate', [['client_max_window_bits', ['10']]]],
        ['permessage-deflate', []],
      ],
    ],
    ['a comma inside quotes is malformed (not a token)', 'x; a="1,2"', null],
    ['an empty quoted value', 'x; a=""', null],
    ['an unterminated quoted string', 'x; a="10', null],
    ['an escape at the end', 'x; a="1\\', null],
    ['a quoted value that is not a token', 'x; a="1 0"', null],
    ['a missing value after =', 'x; a=', null],
    ['a missing parameter name', 'x; =1', null],
    ['a trailing semicolon', 'x;', null],
    ['a missing extension name', '; a=1', null],
    ['two names without a comma', 'x y', null],
    ['junk after a value', 'x; a=1 2', null],
    ['a non-token name', 'x/1', null],
    ['non-ASCII', 'permessage-déflate', null],
    ['a quote inside a token', 'x; a=1"', null],
  ])('%s: %j', (_name, value, expected) => {
    expect(plain(parseExtensions(value))).toEqual(expected);
  });

  test('formatExtension writes what parseExtensions reads', () => {
    const header = formatExtension('permessage-deflate', [
      ['server_no_context_takeover', true],
      ['client_max_window_bits', '12'],
    ]);
    expect(header).toBe(
      'permessage-deflate; server_no_context_takeover; client_max_window_bits=12',
    );
    expect(plain(parseExtensions(header))).toEqual([
      [
        'permessage-deflate',
        [
          ['server_no_context_takeover', [true]],
          ['client_max_window_bits', ['12']],
        ],
      ],
    ]);
  });
});

describe('originHost', () => {
  test.each<[string, string | undefined]>([
    ['http://example.com', 'example.com'],
    ['https://Example.com:8443', 'Example.com:8443'],
    ['http://127.0.0.1:3000/path?q#f', '127.0.0.1:3000'],
    ['http://[::1]:80', '[::1]:80'],
    ['null', undefined],
    ['example.com', undefined],
    ['http://', undefined],
    ['://host', undefined],
  ])('originHost(%j) = %j', (origin, host) => {
    expect(originHost(origin)).toBe(host);
  });
});

// Hostile headers: a backtracking parser would take quadratic (or worse) time on these and never
// finish within the test timeout; a linear scan answers at once.
describe('hostile header values are handled in linear time', () => {
  const n = 1 << 20;

  test('a megabyte of separators and whitespace', () => {
    expect(parseList(', \t'.repeat(n))).toEqual([]);
    expect(tokenListContainsValue(' '.repeat(n) + 'x' + ' '.repeat(n), 'upgrade')).toBe(false);
    expect(tokenListContainsValue(',upgrad'.repeat(n / 8) + ',upgrade', 'upgrade')).toBe(true);
    expect(parseExtensions(','.repeat(n) + ' '.repeat(n))).toEqual([]);
  });

  test('a huge list of items', () => {
    const items = parseList('a,'.repeat(n));
    expect(items).toHaveLength(n);
    const offers = parseExtensions('x; a=1, '.repeat(n / 8));
    expect(offers).toHaveLength(n / 8);
  });

  test('huge malformed extension headers are refused', () => {
    expect(parseExtensions('x' + '; a'.repeat(n) + ' y')).toBeNull();
    expect(parseExtensions('x; a="' + '\\a'.repeat(n))).toBeNull();
    expect(parseExtensions('x; a=' + ' '.repeat(n))).toBeNull();
    expect(parseExtensions('x' + ' '.repeat(n) + ';' + ' '.repeat(n))).toBeNull();
  });

  test('a huge quoted value and a huge token', () => {
    const long = 'b'.repeat(n);
    expect(plain(parseExtensions(`x; a="${long}"`))).toEqual([['x', [['a', [long]]]]]);
    expect(plain(parseExtensions(long))).toEqual([[long, []]]);
    expect(isValidChallengeKey('A'.repeat(n))).toBe(false);
    expect(originHost('http://' + 'h'.repeat(n))).toHaveLength(n);
  });
});
