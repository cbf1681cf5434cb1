// Cached records (public JSON, min TTL) and the Redis payload codec round trip.
import { describe, expect, it } from 'vitest';
import type { HandleValue } from '../../handle/types.js';
import { valuesToJson } from '../../handle/json.js';
import { buildRecord, decodeFromRedis, encodeForRedis, recordFromRedis } from '../../resolver/record.js';
import { val } from './helpers.js';

describe('buildRecord', () => {
  it('pre-serialises only publicly readable values and keeps all values', () => {
    const values = [val(1, 'URL', 'https://a'), val(2, 'SECRET', 's', 86400, false)];
    const r = buildRecord('88.1/Abc', '88.1/abc', values, 1_700_000_000);
    expect(r.handle).toBe('88.1/Abc');
    expect(r.key).toBe('88.1/abc');
    expect(r.values).toHaveLength(2);
    expect(r.publicValuesJson).toBe(valuesToJson([values[0]!]));
    // the values are immutable; only the faces' pre-encoded slot may be set
    expect(Object.isFrozen(r.values)).toBe(true);
    expect(r.slot).toBeNull();
  });

  it('minTtl: smallest effective TTL, absolute TTLs as time left, 86400 when there are no values', () => {
    const abs: HandleValue = { ...val(2, 'X', 'x'), ttlType: 'absolute', ttl: 1_700_000_042 };
    expect(buildRecord('h', 'h', [val(1, 'URL', 'u', 600), abs], 1_700_000_000).minTtl).toBe(42);
    expect(buildRecord('h', 'h', [], 1_700_000_000).minTtl).toBe(86400);
    expect(buildRecord('h', 'h', [], 1_700_000_000).publicValuesJson).toBe('[]');
  });
});

describe('Redis payload codec', () => {
  it('round-trips every value field', () => {
    const values: HandleValue[] = [
      val(1, 'URL', 'https://example.com/ä'),
      { ...val(2, 'SECRET', 's'), permissions: { adminRead: true, adminWrite: false, publicRead: false, publicWrite: true } },
      { ...val(3, 'EXPIRES', 'e'), ttlType: 'absolute', ttl: 1_800_000_000, references: [{ handle: '0.NA/88.1', index: 300 }] },
      {
        ...val(100, 'HS_ADMIN', ''),
        data: { format: 'admin', value: { handle: '0.NA/88.1', index: 200, permissions: '011111110011' } },
      },
      { ...val(4, 'HS_VLIST', ''), data: { format: 'vlist', value: [{ handle: '88.1/x', index: 1 }] } },
      { ...val(5, 'BIN', ''), data: { format: 'base64', value: 'AAEC' } },
    ];
    const s = encodeForRedis(buildRecord('88.1/X', '88.1/x', values, 1_700_000_000), 1_800_000_000_000);
    expect(decodeFromRedis(s)).toEqual({ handle: '88.1/X', values });
  });

  it('a Redis hit carries the pre-serialised public answer and its expiry; values are parsed only when asked', () => {
    const values = [val(1, 'URL', 'https://a'), val(2, 'SECRET', 's', 600, false)];
    const built = buildRecord('88.1/X', '88.1/x', values, 1_700_000_000);
    const { record, expiresAt } = recordFromRedis(encodeForRedis(built, 1_800_000_000_123), '88.1/x', 1_700_000_000);
    expect(expiresAt).toBe(1_800_000_000_123);
    expect(record!.publicValuesJson).toBe(built.publicValuesJson);
    expect(record!.minTtl).toBe(600);
    expect(record!.handle).toBe('88.1/X');
    expect(record!.values).toEqual(values);
    expect(recordFromRedis(encodeForRedis(null, 0), 'k', 0)).toEqual({ record: null, expiresAt: null });
    // the previous payload version is still read
    const v1 = `1${JSON.stringify(['88.1/X', [[1, 'URL', 'string', 'https://a', 86400, 1_700_000_000, 10]]])}`;
    expect(recordFromRedis(v1, '88.1/x', 1_700_000_000).record!.values[0]!.data.value).toBe('https://a');
  });

  it('encodes "not found" as a marker that decodes to null', () => {
    expect(decodeFromRedis(encodeForRedis(null, 0))).toBeNull();
  });

  it('throws on payloads it does not understand', () => {
    expect(() => decodeFromRedis('')).toThrow();
    expect(() => decodeFromRedis('9[]')).toThrow();
    expect(() => decodeFromRedis('1{')).toThrow();
    expect(() => decodeFromRedis('1["h",[[1,"URL","nope","x",1,0,2]]]')).toThrow();
    expect(() => decodeFromRedis('2123\n["h",1]\n[]')).toThrow();
    expect(() => recordFromRedis('2abc\n["h",1]\n[]\n[]', 'k', 0)).toThrow();
  });
});
