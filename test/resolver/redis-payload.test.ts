// The Redis value of a cached record (resolver/redis-payload.ts): round trips, framing whatever the texts hold, older formats and garbage.
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, PayloadError } from '../../resolver/redis-payload.js';
import type { RecordText } from '../../resolver/types.js';

describe('Redis payload', () => {
  it('round-trips a record text and its expiry', () => {
    const text: RecordText = { handle: '88.1/Abc', valuesJson: '[{"index":1}]', publicJson: '[{"index":1,"type":"URL"}]' };
    const s = encodePayload(text, 1_800_000_000_123);
    expect(s.startsWith('31800000000123\n')).toBe(true);
    expect(decodePayload(s)).toEqual({ text, expiresAt: 1_800_000_000_123 });
    // a fractional expiry is floored
    expect(decodePayload(encodePayload(text, 1_800_000_000_123.9)).expiresAt).toBe(1_800_000_000_123);
  });

  it('"not found" is a marker that decodes to no text and no expiry', () => {
    expect(encodePayload(null, 1_800_000_000_000)).toBe('0');
    expect(decodePayload('0')).toEqual({ text: null, expiresAt: null });
  });

  it('frames texts that hold newlines, header-like lines, quotes and non-ASCII anywhere', () => {
    const cases: RecordText[] = [
      { handle: '88.1/a\nb', valuesJson: '[\n{"index":1}\n]', publicJson: '[\n  {"index": 1,\n "data": "x\\ny"}\n]' },
      { handle: '88.1/"q"', valuesJson: '[]\n3\n5\n', publicJson: '3123\n"h"\n2\n[]' },
      { handle: '88.1/ä€😀', valuesJson: '["ä€😀"]', publicJson: '["😀\n"]' },
      { handle: '88.1/empty', valuesJson: '', publicJson: '[]' },
    ];
    for (const text of cases) expect(decodePayload(encodePayload(text, 1_800_000_000_000))).toEqual({ text, expiresAt: 1_800_000_000_000 });
  });

  it('a text without a public answer comes back without one', () => {
    const text: RecordText = { handle: 'h', valuesJson: '[]', publicJson: null };
    expect(decodePayload(encodePayload(text, 5))).toEqual({ text, expiresAt: 5 });
  });

  const GARBAGE: [string, string][] = [
    ['empty', ''],
    ['version 1 (JSON tuple)', `1${JSON.stringify(['88.1/X', [[1, 'URL', 'string', 'https://a', 86400, 1_700_000_000, 10]]])}`],
    ['version 2 (expiry, handle tuple, values)', '21800000000000\n["88.1/X",1]\n[]'],
    ['an unknown version', '9[]'],
    ['a bare version', '3'],
    ['not framed', '31800000000000\n"h"'],
    ['only two lines', '31800000000000\n"h"\n2'],
    ['a non-numeric expiry', '3soon\n"h"\n2\n[][]'],
    ['a non-numeric length', '31800000000000\n"h"\nxx\n[][]'],
    ['a negative length', '31800000000000\n"h"\n-1\n[]'],
    ['a fractional length', '31800000000000\n"h"\n1.5\n[][]'],
    ['a length past the end', '31800000000000\n"h"\n99\n[][]'],
    ['a handle that is not JSON', '31800000000000\nh\n2\n[][]'],
    ['a handle that is not a string', '31800000000000\n5\n2\n[][]'],
    ['a handle that is null', '31800000000000\nnull\n2\n[][]'],
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
