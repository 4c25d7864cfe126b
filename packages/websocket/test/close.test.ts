import { formatCloseMessage, isValidReceivedCloseCode, parseClosePayload } from '../src/close';
import { closePayload } from '../../../test/helpers/frames';

describe('formatCloseMessage', () => {
  test('the code in network byte order, then the text as UTF-8', () => {
    expect(formatCloseMessage(1000).toString('hex')).toBe('03e8');
    expect(formatCloseMessage(1001, 'bye').toString('hex')).toBe('03e9' + '627965');
    expect(formatCloseMessage(4999, 'κ')).toEqual(Buffer.from([0x13, 0x87, 0xce, 0xba]));
  });

  test('1005 (no status) gives an empty payload, as gorilla', () => {
    expect(formatCloseMessage(1005, 'ignored')).toHaveLength(0);
  });

  test('the text is cut to fit a control frame, never inside a character', () => {
    expect(formatCloseMessage(1000, 'a'.repeat(200))).toHaveLength(125);
    const accented = formatCloseMessage(1000, 'é'.repeat(100)); // 2 bytes each: 123 is mid-character
    expect(accented).toHaveLength(124);
    expect(accented.subarray(2).toString('utf8')).toBe('é'.repeat(61));
    const clef = formatCloseMessage(1000, '𝄞'.repeat(40)); // 4 bytes each
    expect(clef.subarray(2).toString('utf8')).toBe('𝄞'.repeat(30));
  });

  test.each([-1, 65536, 1000.5, NaN])('throws RangeError for code %p', (code) => {
    expect(() => formatCloseMessage(code)).toThrow(RangeError);
  });
});

describe('received close codes (RFC 6455 section 7.4)', () => {
  test.each([
    [999, false],
    [1000, true],
    [1001, true],
    [1002, true],
    [1003, true],
    [1004, false],
    [1005, false],
    [1006, false],
    [1007, true],
    [1008, true],
    [1009, true],
    [1010, true],
    [1011, true],
    [1012, true],
    [1013, true],
    [1014, true],
    [1015, false],
    [1016, false],
    [1100, false],
    [2000, false],
    [2999, false],
    [3000, true],
    [3999, true],
    [4000, true],
    [4999, true],
    [5000, false],
    [65535, false],
    [0, false],
  ])('code %i valid: %p', (code, valid) => {
    expect(isValidReceivedCloseCode(code)).toBe(valid);
  });
});

describe('parseClosePayload', () => {
  test('an empty payload means 1005 without text', () => {
    expect(parseClosePayload(Buffer.alloc(0))).toEqual({ ok: true, code: 1005, text: '' });
  });

  test('code and text', () => {
    expect(parseClosePayload(closePayload(1000))).toEqual({ ok: true, code: 1000, text: '' });
    expect(parseClosePayload(closePayload(4001, 'done κ'))).toEqual({
      ok: true,
      code: 4001,
      text: 'done κ',
    });
  });

  test.each<[string, Buffer, number]>([
    ['a one-byte payload', Buffer.from([0x03]), 1002],
    ['code 999', closePayload(999), 1002],
    ['code 1005 on the wire', closePayload(1005), 1002],
    ['code 1006 on the wire', closePayload(1006), 1002],
    ['code 1015 on the wire', closePayload(1015), 1002],
    ['code 5000', closePayload(5000), 1002],
    [
      'invalid UTF-8 in the reason',
      Buffer.concat([closePayload(1000), Buffer.from([0xc0, 0xaf])]),
      1007,
    ],
    [
      'a truncated character in the reason',
      Buffer.concat([closePayload(1000), Buffer.from([0xe2, 0x82])]),
      1007,
    ],
  ])('%s fails with %i', (_name, payload, closeCode) => {
    const parsed = parseClosePayload(payload);
    expect(parsed.ok).toBe(false);
    expect(parsed).toMatchObject({ closeCode });
  });

  test('round trip with formatCloseMessage', () => {
    expect(parseClosePayload(formatCloseMessage(3000, 'über'))).toEqual({
      ok: true,
      code: 3000,
      text: 'über',
    });
  });
});
