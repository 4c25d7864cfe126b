import { maskInPlace, newMaskKey } from '../src/mask';

function naiveMask(data: Buffer, key: Buffer, position = 0): Buffer {
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i]! ^= key[(position + i) % 4]!;
  return out;
}

describe('maskInPlace', () => {
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);

  test.each([0, 1, 3, 31, 32, 33, 100, 1000, 65537])(
    'matches the byte-wise XOR for %i bytes',
    (n) => {
      const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff));
      const expected = naiveMask(data, key);
      const copy = Buffer.from(data);
      maskInPlace(copy, key);
      expect(copy.equals(expected)).toBe(true);
    },
  );

  test('works at every alignment and key position', () => {
    const backing = Buffer.alloc(200, 0xa5);
    for (let offset = 0; offset < 8; offset++) {
      for (let position = 0; position < 4; position++) {
        const view = Buffer.from(backing).subarray(offset, offset + 150);
        const expected = naiveMask(view, key, position);
        const next = maskInPlace(view, key, position);
        expect(view.equals(expected)).toBe(true);
        expect(next).toBe((position + 150) % 4);
      }
    }
  });

  test('unmasking a payload in pieces equals unmasking it whole', () => {
    const data = Buffer.from(Array.from({ length: 777 }, (_, i) => i & 0xff));
    const whole = naiveMask(data, key);
    const pieces = Buffer.from(data);
    let position = 0;
    for (const [start, end] of [
      [0, 5],
      [5, 64],
      [64, 65],
      [65, 777],
    ] as const) {
      position = maskInPlace(pieces.subarray(start, end), key, position);
    }
    expect(pieces.equals(whole)).toBe(true);
  });
});

test('newMaskKey returns distinct four-byte keys', () => {
  const keys = new Set<string>();
  for (let i = 0; i < 5000; i++) keys.add(newMaskKey().toString('hex'));
  expect([...keys].every((k) => k.length === 8)).toBe(true);
  expect(keys.size).toBeGreaterThan(4990);
});
