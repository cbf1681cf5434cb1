// The Redis value of a cached record (resolver/redis-payload.ts): round trips, framing whatever the texts hold, older formats and garbage.
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, PayloadError } from '../../resolver/redis-payload.js';
import type { RecordText } from '../../resolver/types.js';

describe('Redis payload', () => {
  it('round-trips a record text, its expiry and its min TTL', () => {
    const text: RecordText = { handle: '88.1/Abc', valuesJson: '[{"index":1}]', publicJson: '[{"index":1,"type":"URL"}]' };
    const s = encodePayload(text, 1_800_000_000_123, 600);
    expect(s).toBe('41800000000123\n600\n"88.1/Abc"\n26\n[{"index":1,"type":"URL"}][{"index":1}]');
    expect(decodePayload(s)).toEqual({ text, expiresAt: 1_800_000_000_123, minTtl: 600 });
    // a fractional expiry is floored; an unknown min TTL travels as -1 and comes back as null
    expect(decodePayload(encodePayload(text, 1_800_000_000_123.9)).expiresAt).toBe(1_800_000_000_123);
    expect(encodePayload(text, 5)).toBe('45\n-1\n"88.1/Abc"\n26\n[{"index":1,"type":"URL"}][{"index":1}]');
    expect(decodePayload(encodePayload(text, 5)).minTtl).toBeNull();
  });

  it('"not found" is a marker that decodes to no text, no expiry and no min TTL', () => {
    expect(encodePayload(null, 1_800_000_000_000)).toBe('0');
    expect(decodePayload('0')).toEqual({ text: null, expiresAt: null, minTtl: null });
  });

  it('frames texts that hold newlines, header-like lines, quotes and non-ASCII anywhere', () => {
    const cases: RecordText[] = [
      { handle: '88.1/a\nb', valuesJson: '[\n{"index":1}\n]', publicJson: '[\n  {"index": 1,\n "data": "x\\ny"}\n]' },
      { handle: '88.1/"q"', valuesJson: '[]\n3\n5\n', publicJson: '3123\n"h"\n2\n[]' },
      { handle: '88.1/ä€😀', valuesJson: '["ä€😀"]', publicJson: '["😀\n"]' },
      { handle: '88.1/empty', valuesJson: '', publicJson: '[]' },
    ];
    for (const text of cases) expect(decodePayload(encodePayload(text, 1_800_000_000_000, 7))).toEqual({ text, expiresAt: 1_800_000_000_000, minTtl: 7 });
  });

  it('a text without a public answer comes back without one', () => {
    const text: RecordText = { handle: 'h', valuesJson: '[]', publicJson: null };
    expect(decodePayload(encodePayload(text, 5, 1))).toEqual({ text, expiresAt: 5, minTtl: 1 });
  });

  const GARBAGE: [string, string][] = [
    ['empty', ''],
    ['version 1 (JSON tuple)', `1${JSON.stringify(['88.1/X', [[1, 'URL', 'string', 'https://a', 86400, 1_700_000_000, 10]]])}`],
    ['version 2 (expiry, handle tuple, values)', '21800000000000\n["88.1/X",1]\n[]'],
    ['version 3 (no min TTL)', '31800000000000\n"h"\n2\n[][]'],
    ['an unknown version', '9[]'],
    ['a bare version', '4'],
    ['not framed', '41800000000000\n60\n"h"'],
    ['only three lines', '41800000000000\n60\n"h"\n2'],
    ['a non-numeric expiry', '4soon\n60\n"h"\n2\n[][]'],
    ['an empty expiry', '4\n60\n"h"\n2\n[][]'],
    ['a hexadecimal expiry', '40x10\n60\n"h"\n2\n[][]'],
    ['a non-numeric min TTL', '41800000000000\nsoon\n"h"\n2\n[][]'],
    ['a non-numeric length', '41800000000000\n60\n"h"\nxx\n[][]'],
    ['a negative length', '41800000000000\n60\n"h"\n-1\n[]'],
    ['a fractional length', '41800000000000\n60\n"h"\n1.5\n[][]'],
    ['a length past the end', '41800000000000\n60\n"h"\n99\n[][]'],
    ['a handle that is not JSON', '41800000000000\n60\nh\n2\n[][]'],
    ['a handle that is not a string', '41800000000000\n60\n5\n2\n[][]'],
    ['a handle that is null', '41800000000000\n60\nnull\n2\n[][]'],
    ['JSON', '{"handle":"h"}'],
  ];

  it.each(GARBAGE)('%s: PayloadError', (_name, s) => {
    let thrown: unknown;
    try {
      decodePayload(s);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(PayloadError);
    expect((thrown as Error).message).toMatch(/^unreadable Redis record payload: /);
  });
});
