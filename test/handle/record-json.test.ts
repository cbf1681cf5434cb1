// The value model's stored JSON (handle/record-json.ts): every format round-trips; every corrupt shape is a RecordError (RC 2), never a TypeError.
import { describe, expect, it } from 'vitest';
import { HandleError, RC } from '../../handle/codes.js';
import { parseStoredValues, RecordError, storedValuesJson } from '../../handle/record-json.js';
import type { HandleValue } from '../../handle/types.js';
import { urlValue } from '../helpers/values.js';

const PERMS = { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false };

/** A complete stored value, to break one part of at a time. */
const whole: HandleValue = urlValue('https://example.org/x');

function withField(k: string, v: unknown): Record<string, unknown> {
  return { ...whole, [k]: v };
}

function without(k: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(whole).filter(([n]) => n !== k));
}

/** The RecordError a stored text raises (failing the test when it raises something else, or nothing). */
function recordErrorOf(text: string): RecordError {
  let thrown: unknown;
  try {
    parseStoredValues(text);
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `parsing ${text.slice(0, 120)}`).toBeInstanceOf(RecordError);
  return thrown as RecordError;
}

describe('parseStoredValues', () => {
  it('round-trips every data format, permissions, absolute TTLs and references', () => {
    const values: HandleValue[] = [
      { ...whole, ttlType: 'relative', data: { format: 'string', value: 'https://example.com/ä' } } as HandleValue,
      { ...whole, index: 2, type: 'BIN', data: { format: 'base64', value: 'AAEC' }, permissions: { ...PERMS, publicRead: false } } as HandleValue,
      {
        ...whole,
        index: 100,
        type: 'HS_ADMIN',
        data: { format: 'admin', value: { handle: '0.NA/88.1', index: 200, permissions: '011111110011' } },
      } as HandleValue,
      { ...whole, index: 4, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '88.1/x', index: 1 }] } } as HandleValue,
      { ...whole, index: 5, type: 'HS_SITE', data: { format: 'site', value: { version: 1, servers: [] } } } as HandleValue,
      { ...whole, index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA' } } } as HandleValue,
      { ...whole, index: 6, ttlType: 'absolute', ttl: 1_800_000_000, references: [{ handle: '0.NA/88.1', index: 300 }] } as HandleValue,
    ];
    expect(parseStoredValues(storedValuesJson(values))).toEqual(values);
    expect(parseStoredValues('[]')).toEqual([]);
  });

  it('reads a value without references as having none, and drops fields the model does not have', () => {
    const [v] = parseStoredValues(JSON.stringify([{ ...without('references'), extra: 'x' }]));
    expect(v).toEqual({ ...whole });
    expect(v).not.toHaveProperty('extra');
  });

  const CORRUPT: { name: string; values: unknown; says: RegExp }[] = [
    { name: 'an object instead of a list', values: { x: 1 }, says: /not a list/ },
    { name: 'JSON null', values: null, says: /not a list/ },
    { name: 'a string', values: 'values', says: /not a list/ },
    { name: 'numbers instead of values', values: [1, 2], says: /#1: not an object/ },
    { name: 'a null value', values: [whole, null], says: /#2: not an object/ },
    { name: 'a list as a value', values: [[1]], says: /#1: not an object/ },
    { name: 'a value with an index only', values: [{ index: 1 }], says: /type/ },
    { name: 'a negative index', values: [withField('index', -1)], says: /index/ },
    { name: 'a fractional index', values: [withField('index', 1.5)], says: /index/ },
    { name: 'an index past 2^32', values: [withField('index', 2 ** 32)], says: /index/ },
    { name: 'a text index', values: [withField('index', '1')], says: /index/ },
    { name: 'a null type', values: [withField('type', null)], says: /type/ },
    { name: 'a numeric type', values: [withField('type', 7)], says: /type/ },
    { name: 'an unknown ttlType', values: [withField('ttlType', 'forever')], says: /ttlType/ },
    { name: 'a text ttl', values: [withField('ttl', '60')], says: /ttl/ },
    { name: 'a negative ttl', values: [withField('ttl', -5)], says: /ttl/ },
    { name: 'a text timestamp', values: [withField('timestamp', 'soon')], says: /timestamp/ },
    { name: 'no data', values: [without('data')], says: /format/ },
    { name: 'null data', values: [withField('data', null)], says: /format/ },
    { name: 'data as a string', values: [withField('data', 'https://x')], says: /format/ },
    { name: 'an unknown data format', values: [withField('data', { format: 'hex', value: '00' })], says: /format/ },
    { name: 'string data that is a number', values: [withField('data', { format: 'string', value: 42 })], says: /string data/ },
    { name: 'base64 data that is null', values: [withField('data', { format: 'base64', value: null })], says: /base64 data/ },
    { name: 'admin data without an index', values: [withField('data', { format: 'admin', value: { handle: 'h', permissions: '1' } })], says: /admin/ },
    { name: 'admin data as a string', values: [withField('data', { format: 'admin', value: '300:0.NA/88' })], says: /admin/ },
    { name: 'a vlist that is not a list', values: [withField('data', { format: 'vlist', value: { handle: 'h', index: 1 } })], says: /references/ },
    { name: 'a vlist with a broken reference', values: [withField('data', { format: 'vlist', value: [{ handle: 3, index: 1 }] })], says: /reference/ },
    { name: 'site data that is a list', values: [withField('data', { format: 'site', value: [] })], says: /site data/ },
    { name: 'key data that is null', values: [withField('data', { format: 'key', value: null })], says: /key data/ },
    { name: 'no permissions', values: [without('permissions')], says: /permissions/ },
    { name: 'permissions as a string', values: [withField('permissions', '1110')], says: /permissions/ },
    { name: 'permissions with a missing flag', values: [withField('permissions', { adminRead: true, adminWrite: true, publicRead: true })], says: /permissions/ },
    { name: 'null references', values: [withField('references', null)], says: /references/ },
    { name: 'a reference without an index', values: [withField('references', [{ handle: '88.1/x' }])], says: /reference/ },
  ];

  it.each(CORRUPT)('$name: RecordError (RC 2) naming the problem', ({ values, says }) => {
    const e = recordErrorOf(JSON.stringify(values));
    expect(e).toBeInstanceOf(HandleError);
    expect(e).not.toBeInstanceOf(TypeError);
    expect(e.code).toBe(RC.ERROR);
    expect(e.name).toBe('RecordError');
    expect(e.message).toMatch(/^Stored record is corrupt: /);
    expect(e.message).toMatch(says);
  });

  it('text that is not JSON at all is a RecordError too', () => {
    for (const text of ['', '{not json', '[1,', 'undefined', '\u0000']) {
      const e = recordErrorOf(text);
      expect(e.code).toBe(RC.ERROR);
      expect(e.message).toMatch(/not JSON/);
    }
  });
});
