import { isValidUtf8, Utf8Validator } from '../src/utf8';

const cases: { name: string; bytes: number[]; valid: boolean }[] = [
  { name: 'empty', bytes: [], valid: true },
  { name: 'ASCII', bytes: [...Buffer.from('Hello-µ@ßöäüàá-UTF-8!!')], valid: true },
  { name: 'two-byte sequence', bytes: [0xc2, 0xa9], valid: true },
  { name: 'three-byte sequence', bytes: [0xe2, 0x82, 0xac], valid: true },
  { name: 'four-byte sequence (U+10FFFF)', bytes: [0xf4, 0x8f, 0xbf, 0xbf], valid: true },
  { name: 'overlong C0', bytes: [0xc0, 0xaf], valid: false },
  { name: 'overlong E0', bytes: [0xe0, 0x80, 0xaf], valid: false },
  { name: 'overlong F0', bytes: [0xf0, 0x80, 0x80, 0xaf], valid: false },
  { name: 'surrogate U+D800', bytes: [0xed, 0xa0, 0x80], valid: false },
  { name: 'beyond U+10FFFF', bytes: [0xf4, 0x90, 0x80, 0x80], valid: false },
  { name: 'lead F5', bytes: [0xf5, 0x80, 0x80, 0x80], valid: false },
  { name: 'lone continuation', bytes: [0x80], valid: false },
  { name: 'truncated sequence', bytes: [0xe2, 0x82], valid: false },
  { name: 'FE and FF', bytes: [0xfe, 0xff], valid: false },
];

describe('UTF-8 validation', () => {
  test.each(cases)('isValidUtf8: $name', ({ bytes, valid }) => {
    expect(isValidUtf8(Buffer.from(bytes))).toBe(valid);
  });

  test.each(cases)('Utf8Validator across every split point: $name', ({ bytes, valid }) => {
    const data = Buffer.from(bytes);
    for (let split = 0; split <= data.length; split++) {
      const validator = new Utf8Validator();
      const ok =
        validator.write(data.subarray(0, split)) &&
        validator.write(data.subarray(split)) &&
        validator.end();
      expect(ok).toBe(valid);
    }
  });

  test('Utf8Validator fed one byte at a time', () => {
    const text = Buffer.from('κόσμε 𝄞 € ok');
    const validator = new Utf8Validator();
    for (const byte of text) expect(validator.write(Buffer.from([byte]))).toBe(true);
    expect(validator.end()).toBe(true);
  });

  test('Utf8Validator fails fast on the byte that breaks a sequence', () => {
    const validator = new Utf8Validator();
    // A valid start, then the first byte of a surrogate: known bad before the message ends.
    expect(validator.write(Buffer.from('κόσμε'))).toBe(true);
    expect(validator.write(Buffer.from([0xed]))).toBe(true);
    expect(validator.write(Buffer.from([0xa0]))).toBe(false);
  });
});
