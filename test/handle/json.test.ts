// Tests for handle/json.ts input side: timestamps, valueFromJson (every format, every bad input), PUT bodies, round trips.
import { describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { parseHandle, type CasePolicy } from '../../handle/identifier.js';
import {
  adminPermissionsFromJson,
  dataFromBytes,
  formatTimestamp,
  parseTimestamp,
  valueFromJson,
  valuesFromBody,
  valueToJson,
  type ValueJson,
} from '../../handle/json.js';
import { expectHandleError } from '../helpers/errors.js';
import { valueOf } from '../helpers/values.js';
import type { HandleValue } from '../../handle/types.js';

const NOW = 1704164645; // 2024-01-02T03:04:05Z
const CI: CasePolicy = { caseSensitiveSuffix: false };
const CS: CasePolicy = { caseSensitiveSuffix: true };


describe('parseTimestamp', () => {
  const good: [string, number][] = [
    ['1970-01-01T00:00:00Z', 0],
    ['2024-01-02T03:04:05Z', NOW],
    ['2024-01-02T03:04:05.678Z', NOW],
    ['2024-01-02T03:04:05,5Z', NOW],
    ['2024-01-02t03:04:05z', NOW],
    ['2024-01-02 03:04:05Z', NOW],
    ['2024-01-02T03:04:05', NOW],
    ['2024-01-02T11:04:05+08:00', NOW],
    ['2024-01-02T11:04:05+0800', NOW],
    ['2024-01-02T11:04:05+08', NOW],
    ['2024-01-01T22:04:05-05:00', NOW],
    ['2024-01-02T03:04Z', NOW - 5],
    ['2024-01-02', 1704153600],
    ['2024-02-29T00:00:00Z', 1709164800],
    ['2038-01-19T03:14:07Z', 2147483647],
  ];
  it.each(good)('%s → %d', (s, want) => {
    expect(parseTimestamp(s)).toBe(want);
  });
  it('round-trips with formatTimestamp, which writes whole seconds in UTC with a Z', () => {
    expect(formatTimestamp(NOW)).toBe('2024-01-02T03:04:05Z');
    expect(formatTimestamp(0)).toBe('1970-01-01T00:00:00Z');
    expect(formatTimestamp(2147483647)).toBe('2038-01-19T03:14:07Z');
    expect(parseTimestamp(formatTimestamp(NOW))).toBe(NOW);
  });
  const bad: unknown[] = [
    '',
    'x',
    '86400',
    '2024-1-2',
    ' 2024-01-02',
    '2024-01-02T03:04:05Zjunk',
    '2024-13-01T00:00:00Z',
    '2024-00-01T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-04-31',
    '2024-01-32',
    '2024-01-00',
    '2024-01-02T24:00:00Z',
    '2024-01-02T03:60:00Z',
    '2024-01-02T03:04:60Z',
    '2024-01-02T03:04:05+25:00',
    '2024-01-02T03:04:05+08:60',
    '1969-12-31T23:59:59Z',
    '2038-01-19T03:14:08Z',
    123,
    null,
  ];
  it.each(bad)('refuses %j', (s) => {
    expectHandleError(() => parseTimestamp(s as string), RC.INVALID_VALUE);
  });
});

describe('valueFromJson: accepted forms', () => {
  const rows: [string, unknown, HandleValue][] = [
    ['bare string data', { index: 1, type: 'URL', data: 'https://example.cn/a' }, valueOf({ timestamp: NOW, index: 1, type: 'URL', data: { format: 'string', value: 'https://example.cn/a' } })],
    ['string format', { index: 2, type: 'EMAIL', data: { format: 'string', value: 'a@b.cn' } }, valueOf({ timestamp: NOW, index: 2, type: 'EMAIL', data: { format: 'string', value: 'a@b.cn' } })],
    ['format case-insensitive', { index: 2, type: 'X', data: { format: 'STRING', value: 'x' } }, valueOf({ timestamp: NOW, index: 2, type: 'X', data: { format: 'string', value: 'x' } })],
    ['numeric string index', { index: '2001', type: 'name', data: '泵' }, valueOf({ timestamp: NOW, index: 2001, type: 'name', data: { format: 'string', value: '泵' } })],
    ['max index', { index: 2147483647, type: 'X', data: '' }, valueOf({ timestamp: NOW, index: 2147483647, type: 'X', data: { format: 'string', value: '' } })],
    ['text with tab/CR/LF stays string', { index: 3, type: 'X', data: 'a\tb\r\nc' }, valueOf({ timestamp: NOW, index: 3, type: 'X', data: { format: 'string', value: 'a\tb\r\nc' } })],
    ['text with NUL becomes base64', { index: 3, type: 'X', data: 'a\u0000b' }, valueOf({ timestamp: NOW, index: 3, type: 'X', data: { format: 'base64', value: 'YQBi' } })],
    ['base64 of text becomes string', { index: 4, type: 'X', data: { format: 'base64', value: 'aMOpbGxv' } }, valueOf({ timestamp: NOW, index: 4, type: 'X', data: { format: 'string', value: 'héllo' } })],
    ['base64 of binary stays base64', { index: 4, type: 'X', data: { format: 'base64', value: 'AAEC/w==' } }, valueOf({ timestamp: NOW, index: 4, type: 'X', data: { format: 'base64', value: 'AAEC/w==' } })],
    ['base64 without padding, canonicalised', { index: 4, type: 'X', data: { format: 'Base64', value: 'AAEC/w' } }, valueOf({ timestamp: NOW, index: 4, type: 'X', data: { format: 'base64', value: 'AAEC/w==' } })],
    ['base64url alphabet', { index: 4, type: 'X', data: { format: 'base64', value: 'AAEC_w' } }, valueOf({ timestamp: NOW, index: 4, type: 'X', data: { format: 'base64', value: 'AAEC/w==' } })],
    ['base64 with line breaks', { index: 4, type: 'X', data: { format: 'base64', value: 'AAEC\r\n/w==' } }, valueOf({ timestamp: NOW, index: 4, type: 'X', data: { format: 'base64', value: 'AAEC/w==' } })],
    ['empty base64', { index: 4, type: 'X', data: { format: 'base64', value: '' } }, valueOf({ timestamp: NOW, index: 4, type: 'X', data: { format: 'string', value: '' } })],
    ['hex of text becomes string', { index: 5, type: 'X', data: { format: 'hex', value: '68C3A96c6c6f' } }, valueOf({ timestamp: NOW, index: 5, type: 'X', data: { format: 'string', value: 'héllo' } })],
    ['hex of binary becomes base64', { index: 5, type: 'X', data: { format: 'HEX', value: '000102ff' } }, valueOf({ timestamp: NOW, index: 5, type: 'X', data: { format: 'base64', value: 'AAEC/w==' } })],
    ['hex of invalid UTF-8 becomes base64', { index: 5, type: 'X', data: { format: 'hex', value: 'c328' } }, valueOf({ timestamp: NOW, index: 5, type: 'X', data: { format: 'base64', value: 'wyg=' } })],
    ['hex of C1 control becomes base64', { index: 5, type: 'X', data: { format: 'hex', value: 'c285' } }, valueOf({ timestamp: NOW, index: 5, type: 'X', data: { format: 'base64', value: 'woU=' } })],
    [
      'admin',
      { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/88.320924', index: 200, permissions: '011111110011' } } },
      valueOf({ timestamp: NOW, index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/88.320924', index: 200, permissions: '011111110011' } } }),
    ],
    [
      'admin with string index and short permissions',
      { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/88.1', index: '300', permissions: '11' } } },
      valueOf({ timestamp: NOW, index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/88.1', index: 300, permissions: '000000000011' } } }),
    ],
    [
      'vlist',
      { index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '0.NA/88.1', index: 300 }, { handle: '88.1/admin', index: '301', extra: 1 }] } },
      valueOf({ timestamp: NOW, index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '0.NA/88.1', index: 300 }, { handle: '88.1/admin', index: 301 }] } }),
    ],
    [
      'ttl number, permissions, references, incoming timestamp ignored',
      {
        index: '7',
        type: 'URL',
        data: 'x',
        ttl: 3600,
        permissions: '1110',
        timestamp: '2020-01-01T00:00:00Z',
        references: [{ handle: '88.1/x', index: 1 }],
      },
      valueOf({ timestamp: NOW, index: 7, type: 'URL', data: { format: 'string', value: 'x' }, ttl: 3600, references: [{ handle: '88.1/x', index: 1 }] }),
    ],
    [
      'absolute ttl, private permissions',
      { index: 8, type: 'URL', data: 'x', ttl: '2030-01-01T00:00:00Z', permissions: '1100' },
      valueOf({
        timestamp: NOW,
        index: 8,
        type: 'URL',
        data: { format: 'string', value: 'x' },
        ttlType: 'absolute',
        ttl: 1893456000,
        permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false },
      }),
    ],
    [
      'permissions *, ttl 0, null references',
      { index: 9, type: 'X', data: 'x', permissions: '*', ttl: 0, references: null },
      valueOf({ timestamp: NOW, index: 9, type: 'X', data: { format: 'string', value: 'x' }, ttl: 0, permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: true } }),
    ],
    [
      'short permission string read from the right',
      { index: 9, type: 'X', data: 'x', permissions: '01' },
      valueOf({ timestamp: NOW, index: 9, type: 'X', data: { format: 'string', value: 'x' }, permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: true } }),
    ],
    [
      'site with servers',
      {
        index: 1,
        type: 'HS_SITE',
        data: { format: 'site', value: { version: 1, primarySite: true, servers: [{ serverId: 1, address: '10.0.0.1', interfaces: [{ query: true, admin: true, protocol: 'TCP', port: 2641 }] }] } },
      },
      valueOf({
        timestamp: NOW,
        index: 1,
        type: 'HS_SITE',
        data: { format: 'site', value: { version: 1, primarySite: true, servers: [{ serverId: 1, address: '10.0.0.1', interfaces: [{ query: true, admin: true, protocol: 'TCP', port: 2641 }] }] } },
      }),
    ],
    [
      'legacy capitalised site',
      {
        index: 1,
        type: 'HS_SITE',
        data: { format: 'site', value: { Version: 1, ServerList: [{ ServerId: 1, Address: '10.0.0.1', InterfaceList: [{ Protocol: 'UDP', Port: 2641 }] }] } },
      },
      valueOf({
        timestamp: NOW,
        index: 1,
        type: 'HS_SITE',
        data: { format: 'site', value: { version: 1, servers: [{ serverId: 1, address: '10.0.0.1', interfaces: [{ protocol: 'UDP', port: 2641 }] }] } },
      }),
    ],
    [
      'RSA key',
      { index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'rsa', n: 'AQAB_-x', e: 'AQAB' } } },
      valueOf({ timestamp: NOW, index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA', n: 'AQAB_-x', e: 'AQAB' } } }),
    ],
    [
      'DSA key',
      { index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'DSA', y: 'AQ', p: 'Ag', q: 'Aw', g: 'BA', extra: 'dropped' } } },
      valueOf({ timestamp: NOW, index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'DSA', y: 'AQ', p: 'Ag', q: 'Aw', g: 'BA' } } }),
    ],
    ['unknown extra keys ignored', { index: 1, type: 'X', data: 'x', foo: 'bar' }, valueOf({ timestamp: NOW, index: 1, type: 'X', data: { format: 'string', value: 'x' } })],
    ['type of 1024 bytes', { index: 1, type: '类'.repeat(341) + 'x', data: 'x' }, valueOf({ timestamp: NOW, index: 1, type: '类'.repeat(341) + 'x', data: { format: 'string', value: 'x' } })],
  ];
  it.each(rows)('%s', (_name, input, want) => {
    expect(valueFromJson(input, NOW)).toEqual(want);
  });

  it('accepts data of exactly 65535 bytes', () => {
    const big = 'a'.repeat(65535);
    expect(valueFromJson({ index: 1, type: 'X', data: big }, NOW).data).toEqual({ format: 'string', value: big });
  });
});

describe('adminPermissionsFromJson (Gson AdminRecord adapter)', () => {
  const rows: [unknown, string][] = [
    ['111111111111', '111111111111'],
    ['011111110011', '011111110011'],
    ['1', '000000000001'],
    ['', '000000000000'],
    ['*', '111111111111'],
    [true, '111111111111'],
    [false, '000000000000'],
    [undefined, '000000000000'],
    [null, '000000000000'],
    [4095, '111111111111'],
    [5, '000000000101'],
    [0, '000000000000'],
    [4096 + 3, '000000000011'],
    [-1, '111111111111'],
    [[true, false, 1, 0, 'x', '', null, {}, [], NaN, 2, true], '110110010101'],
    [[true], '000000000001'],
    [[true, true, true, true, true, true, true, true, true, true, true, true, false], '111111111111'],
    [[], '000000000000'],
  ];
  it.each(rows)('%j → %s', (input, want) => {
    expect(adminPermissionsFromJson(input)).toBe(want);
  });
  const bad: unknown[] = ['1111111111111', '12', 'abc', '**', 1.5, 2 ** 31, { a: 1 }];
  it.each(bad)('refuses %j', (input) => {
    expectHandleError(() => adminPermissionsFromJson(input), RC.INVALID_VALUE);
  });
});

describe('valueFromJson: bad input', () => {
  const site = (value: unknown) => ({ index: 1, type: 'HS_SITE', data: { format: 'site', value } });
  const key = (value: unknown) => ({ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value } });
  const admin = (value: unknown) => ({ index: 100, type: 'HS_ADMIN', data: { format: 'admin', value } });
  // [name, input, text the message must contain]
  const rows: [string, unknown, string][] = [
    ['null', null, 'object'],
    ['array', [], 'object'],
    ['string', 'x', 'object'],
    ['missing index', { type: 'X', data: 'x' }, 'index'],
    ['index 0', { index: 0, type: 'X', data: 'x' }, 'index'],
    ['negative index', { index: -1, type: 'X', data: 'x' }, 'index'],
    ['fractional index', { index: 1.5, type: 'X', data: 'x' }, 'index'],
    ['NaN index', { index: NaN, type: 'X', data: 'x' }, 'index'],
    ['index too large', { index: 2147483648, type: 'X', data: 'x' }, 'index'],
    ['index string too large', { index: '2147483648', type: 'X', data: 'x' }, 'index'],
    ['index non-numeric string', { index: 'abc', type: 'X', data: 'x' }, 'index'],
    ['index string with sign', { index: '+1', type: 'X', data: 'x' }, 'index'],
    ['index string decimal', { index: '1.0', type: 'X', data: 'x' }, 'index'],
    ['index empty string', { index: '', type: 'X', data: 'x' }, 'index'],
    ['index boolean', { index: true, type: 'X', data: 'x' }, 'index'],
    ['missing type', { index: 5, data: 'x' }, 'Value 5: type'],
    ['empty type', { index: 5, type: '', data: 'x' }, 'Value 5: type'],
    ['numeric type', { index: 5, type: 5, data: 'x' }, 'Value 5: type'],
    ['type with control char', { index: 5, type: 'U\nRL', data: 'x' }, 'Value 5: type'],
    ['type with lone surrogate', { index: 5, type: 'U\ud800', data: 'x' }, 'Value 5: type'],
    ['type over 1024 bytes', { index: 5, type: '类'.repeat(342), data: 'x' }, 'Value 5: type'],
    ['missing data', { index: 5, type: 'X' }, 'Value 5: data'],
    ['null data', { index: 5, type: 'X', data: null }, 'Value 5: data'],
    ['numeric data', { index: 5, type: 'X', data: 5 }, 'Value 5: data'],
    ['array data', { index: 5, type: 'X', data: ['x'] }, 'Value 5: data'],
    ['data without format', { index: 5, type: 'X', data: { value: 'x' } }, 'data.format'],
    ['data with numeric format', { index: 5, type: 'X', data: { format: 1, value: 'x' } }, 'data.format'],
    ['unknown format', { index: 5, type: 'X', data: { format: 'json', value: 'x' } }, 'data.format'],
    ['data without value', { index: 5, type: 'X', data: { format: 'string' } }, 'data.value'],
    ['string format with number', { index: 5, type: 'X', data: { format: 'string', value: 5 } }, 'data.value'],
    ['string with lone surrogate', { index: 5, type: 'X', data: 'a\udc00' }, 'data'],
    ['string over 65535 bytes', { index: 5, type: 'X', data: 'a'.repeat(65536) }, 'data.value'],
    ['string over 65535 bytes (multi-byte)', { index: 5, type: 'X', data: '泵'.repeat(21846) }, 'data.value'],
    ['base64 garbage', { index: 5, type: 'X', data: { format: 'base64', value: '@@@@' } }, 'base64'],
    ['base64 bad length', { index: 5, type: 'X', data: { format: 'base64', value: 'AAECA' } }, 'base64'],
    ['base64 too much padding', { index: 5, type: 'X', data: { format: 'base64', value: 'AA===' } }, 'base64'],
    ['base64 padding in middle', { index: 5, type: 'X', data: { format: 'base64', value: 'AA==AA==' } }, 'base64'],
    ['base64 padding with bad length', { index: 5, type: 'X', data: { format: 'base64', value: 'AAE=' + '=' } }, 'base64'],
    ['base64 number', { index: 5, type: 'X', data: { format: 'base64', value: 12 } }, 'data.value'],
    ['base64 over 65535 bytes', { index: 5, type: 'X', data: { format: 'base64', value: Buffer.alloc(65536).toString('base64') } }, 'data.value'],
    ['hex odd length', { index: 5, type: 'X', data: { format: 'hex', value: 'abc' } }, 'hex'],
    ['hex non-hex', { index: 5, type: 'X', data: { format: 'hex', value: 'zz' } }, 'hex'],
    ['hex with 0x', { index: 5, type: 'X', data: { format: 'hex', value: '0x00' } }, 'hex'],
    ['hex over 65535 bytes', { index: 5, type: 'X', data: { format: 'hex', value: '00'.repeat(65536) } }, 'data.value'],
    ['admin not object', admin('0.NA/88.1'), 'data.value'],
    ['admin missing handle', admin({ index: 200, permissions: '1' }), 'data.value.handle'],
    ['admin invalid handle', admin({ handle: 'nohandle', index: 200 }), 'data.value.handle'],
    ['admin numeric handle', admin({ handle: 5, index: 200 }), 'data.value.handle'],
    ['admin missing index', admin({ handle: '0.NA/88.1' }), 'data.value.index'],
    ['admin bad index', admin({ handle: '0.NA/88.1', index: 'x' }), 'data.value.index'],
    ['admin bad permissions', admin({ handle: '0.NA/88.1', index: 200, permissions: '2' }), 'data.value.permissions'],
    ['admin object permissions', admin({ handle: '0.NA/88.1', index: 200, permissions: { x: 1 } }), 'data.value.permissions'],
    ['vlist not array', { index: 5, type: 'HS_VLIST', data: { format: 'vlist', value: { handle: 'a/b', index: 1 } } }, 'data.value'],
    ['vlist null element', { index: 5, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: 'a/b', index: 1 }, null] } }, 'data.value[1]'],
    ['vlist bad handle', { index: 5, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: 'ab', index: 1 }] } }, 'data.value[0].handle'],
    ['vlist bad index', { index: 5, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: 'a/b', index: -3 }] } }, 'data.value[0].index'],
    ['site not object', site('x'), 'data.value'],
    ['site without servers', site({ version: 1 }), 'servers'],
    ['site servers not array', site({ servers: {} }), 'servers'],
    ['site server not object', site({ servers: ['10.0.0.1'] }), 'servers[0]'],
    ['site server without address', site({ servers: [{ serverId: 1 }] }), 'servers[0].address'],
    ['site interfaces not array', site({ servers: [{ address: '1.2.3.4', interfaces: 'TCP' }] }), 'interfaces'],
    ['site interface not object', site({ servers: [{ address: '1.2.3.4', interfaces: [1] }] }), 'interfaces[0]'],
    ['key not object', key('AQAB'), 'data.value'],
    ['key without kty', key({ n: 'AQAB', e: 'AQAB' }), 'kty'],
    ['key unknown kty', key({ kty: 'EC', x: 'AQ', y: 'AQ' }), 'kty'],
    ['RSA key missing e', key({ kty: 'RSA', n: 'AQAB' }), 'data.value.e'],
    ['RSA key bad n', key({ kty: 'RSA', n: '!!', e: 'AQAB' }), 'data.value.n'],
    ['RSA key empty n', key({ kty: 'RSA', n: '', e: 'AQAB' }), 'data.value.n'],
    ['DSA key missing g', key({ kty: 'DSA', y: 'AQ', p: 'AQ', q: 'AQ' }), 'data.value.g'],
    ['negative ttl', { index: 5, type: 'X', data: 'x', ttl: -1 }, 'ttl'],
    ['fractional ttl', { index: 5, type: 'X', data: 'x', ttl: 1.5 }, 'ttl'],
    ['NaN ttl', { index: 5, type: 'X', data: 'x', ttl: NaN }, 'ttl'],
    ['huge ttl', { index: 5, type: 'X', data: 'x', ttl: 2 ** 31 }, 'ttl'],
    ['numeric-string ttl', { index: 5, type: 'X', data: 'x', ttl: '3600' }, 'ttl'],
    ['boolean ttl', { index: 5, type: 'X', data: 'x', ttl: true }, 'ttl'],
    ['null ttl', { index: 5, type: 'X', data: 'x', ttl: null }, 'ttl'],
    ['bad timestamp', { index: 5, type: 'X', data: 'x', timestamp: 'yesterday' }, 'timestamp'],
    ['numeric timestamp', { index: 5, type: 'X', data: 'x', timestamp: 1700000000 }, 'timestamp'],
    ['bad permissions', { index: 5, type: 'X', data: 'x', permissions: '1112' }, 'permissions'],
    ['too long permissions', { index: 5, type: 'X', data: 'x', permissions: '11100' }, 'permissions'],
    ['empty permissions', { index: 5, type: 'X', data: 'x', permissions: '' }, 'permissions'],
    ['numeric permissions', { index: 5, type: 'X', data: 'x', permissions: 1110 }, 'permissions'],
    ['references not array', { index: 5, type: 'X', data: 'x', references: { handle: 'a/b', index: 1 } }, 'references'],
    ['references bad handle', { index: 5, type: 'X', data: 'x', references: [{ handle: '', index: 1 }] }, 'references[0].handle'],
  ];
  it.each(rows)('%s', (_name, input, mention) => {
    const e = expectHandleError(() => valueFromJson(input, NOW), RC.INVALID_VALUE);
    expect(e.message).toContain(mention);
  });
  it('names the value index in the message', () => {
    const e = expectHandleError(() => valueFromJson({ index: 42, type: 'X', data: { format: 'base64', value: '#' } }, NOW), RC.INVALID_VALUE);
    expect(e.message).toMatch(/^Value 42: data\.value is not valid base64/);
  });
});

describe('round trips valueFromJson → valueToJson', () => {
  const rows: [string, unknown, ValueJson][] = [
    ['bare string', { index: 1, type: 'URL', data: 'https://a.cn/?q=1+2' }, { index: 1, type: 'URL', data: { format: 'string', value: 'https://a.cn/?q=1+2' }, ttl: 86400, timestamp: '2024-01-02T03:04:05Z' }],
    ['string', { index: 2, type: 'DESC', data: { format: 'string', value: '水泵 一号' } }, { index: 2, type: 'DESC', data: { format: 'string', value: '水泵 一号' }, ttl: 86400, timestamp: '2024-01-02T03:04:05Z' }],
    ['base64 binary', { index: 3, type: 'BIN', data: { format: 'base64', value: 'AAEC/w==' } }, { index: 3, type: 'BIN', data: { format: 'base64', value: 'AAEC/w==' }, ttl: 86400, timestamp: '2024-01-02T03:04:05Z' }],
    ['base64 text', { index: 3, type: 'BIN', data: { format: 'base64', value: 'aMOpbGxv' } }, { index: 3, type: 'BIN', data: { format: 'string', value: 'héllo' }, ttl: 86400, timestamp: '2024-01-02T03:04:05Z' }],
    ['hex', { index: 4, type: 'H', data: { format: 'hex', value: 'ff00' } }, { index: 4, type: 'H', data: { format: 'base64', value: '/wA=' }, ttl: 86400, timestamp: '2024-01-02T03:04:05Z' }],
    [
      'admin',
      { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/88.1', index: 200, permissions: true } } },
      { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/88.1', index: 200, permissions: '111111111111' } }, ttl: 86400, timestamp: '2024-01-02T03:04:05Z' },
    ],
    [
      'vlist',
      { index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '88.1/a', index: 300 }] } },
      { index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '88.1/a', index: 300 }] }, ttl: 86400, timestamp: '2024-01-02T03:04:05Z' },
    ],
    [
      'site',
      { index: 1, type: 'HS_SITE', data: { format: 'site', value: { serverList: [{ address: '::1' }] } } },
      { index: 1, type: 'HS_SITE', data: { format: 'site', value: { servers: [{ address: '::1' }] } }, ttl: 86400, timestamp: '2024-01-02T03:04:05Z' },
    ],
    [
      'key',
      { index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } } },
      { index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } }, ttl: 86400, timestamp: '2024-01-02T03:04:05Z' },
    ],
    [
      'permissions, absolute ttl, references',
      { index: 5, type: 'X', data: 'x', permissions: '1101', ttl: '2030-01-01T00:00:00+00:00', references: [{ handle: '88.1/r', index: '7' }] },
      {
        index: 5,
        type: 'X',
        data: { format: 'string', value: 'x' },
        permissions: '1101',
        ttl: '2030-01-01T00:00:00Z',
        timestamp: '2024-01-02T03:04:05Z',
        references: [{ handle: '88.1/r', index: 7 }],
      },
    ],
  ];
  it.each(rows)('%s', (_name, input, want) => {
    const out = valueToJson(valueFromJson(input, NOW));
    expect(out).toEqual(want);
    // and the output reads back to the same value
    expect(valueFromJson(out, NOW)).toEqual(valueFromJson(input, NOW));
  });
});

describe('dataFromBytes', () => {
  const rows: [number[], { format: string; value: string }][] = [
    [[], { format: 'string', value: '' }],
    [[0x61, 0x09, 0x0a, 0x0d], { format: 'string', value: 'a\t\n\r' }],
    [[0xe6, 0xb3, 0xb5], { format: 'string', value: '泵' }],
    [[0xef, 0xbb, 0xbf, 0x61], { format: 'string', value: '\ufeffa' }],
    [[0x61, 0x00], { format: 'base64', value: 'YQA=' }],
    [[0x7f], { format: 'base64', value: 'fw==' }],
    [[0xff], { format: 'base64', value: '/w==' }],
    [[0xc0, 0xaf], { format: 'base64', value: 'wK8=' }],
  ];
  it.each(rows)('%j', (bytes, want) => {
    expect(dataFromBytes(new Uint8Array(bytes))).toEqual(want);
  });
});

describe('valuesFromBody', () => {
  const id = parseHandle('88.320924.17/Pump-1', CI);
  const one = { index: 1, type: 'URL', data: 'https://a.cn' };
  const two = { index: 2, type: 'EMAIL', data: 'a@b.cn' };
  const want1 = valueOf({ timestamp: NOW, index: 1, type: 'URL', data: { format: 'string', value: 'https://a.cn' } });
  const want2 = valueOf({ timestamp: NOW, index: 2, type: 'EMAIL', data: { format: 'string', value: 'a@b.cn' } });

  const good: [string, unknown, CasePolicy, HandleValue[]][] = [
    ['array', [one, two], CI, [want1, want2]],
    ['empty array', [], CI, []],
    ['object with values', { values: [one, two] }, CI, [want1, want2]],
    ['object with matching handle', { handle: '88.320924.17/Pump-1', values: [one] }, CI, [want1]],
    ['object with case-variant handle (case-insensitive)', { handle: '88.320924.17/PUMP-1', values: [one] }, CI, [want1]],
    ['object with prefix case variant (case-sensitive policy)', { handle: '88.320924.17/Pump-1', values: [one] }, CS, [want1]],
    ['object with null handle', { handle: null, values: [two] }, CI, [want2]],
    ['single value', one, CI, [want1]],
  ];
  it.each(good)('%s', (_name, body, policy, want) => {
    const target = parseHandle('88.320924.17/Pump-1', policy);
    expect(valuesFromBody(body, target, policy, NOW)).toEqual(want);
  });

  const protocolErrors: [string, unknown, CasePolicy, string][] = [
    ['null', null, CI, 'Invalid JSON in PUT request'],
    ['string', 'x', CI, 'Invalid JSON in PUT request'],
    ['number', 5, CI, 'Invalid JSON in PUT request'],
    ['empty object', {}, CI, 'Invalid JSON in PUT request'],
    ['object missing data', { index: 1, type: 'URL' }, CI, 'Invalid JSON in PUT request'],
    ['values not array', { values: one }, CI, 'Invalid JSON in PUT request'],
    ['mismatched handle', { handle: '88.320924.17/Pump-2', values: [one] }, CI, 'Mismatched handle in PUT request'],
    ['suffix case variant with case-sensitive policy', { handle: '88.320924.17/PUMP-1', values: [one] }, CS, 'Mismatched handle in PUT request'],
    ['invalid handle', { handle: 'nonsense', values: [one] }, CI, 'Mismatched handle in PUT request'],
    ['numeric handle', { handle: 5, values: [one] }, CI, 'Mismatched handle in PUT request'],
  ];
  it.each(protocolErrors)('refuses %s', (_name, body, policy, msg) => {
    const target = parseHandle('88.320924.17/Pump-1', policy);
    const e = expectHandleError(() => valuesFromBody(body, target, policy, NOW), RC.PROTOCOL_ERROR);
    expect(e.message).toBe(msg);
  });

  const valueErrors: [string, unknown, string][] = [
    ['duplicate indexes', [one, { ...two, index: 1 }], 'Duplicate value index 1'],
    ['duplicate index as string', [one, { ...two, index: '1' }], 'Duplicate value index 1'],
    ['bad element', [one, 'x'], 'Value #2'],
    ['bad element value index named', [one, { index: 9, type: 'X', data: { format: 'nope', value: 1 } }], 'Value 9: data.format'],
    ['too many values', Array.from({ length: 1001 }, (_, i) => ({ index: i + 1, type: 'X', data: 'x' })), '1001'],
  ];
  it.each(valueErrors)('refuses %s', (_name, body, msg) => {
    const e = expectHandleError(() => valuesFromBody(body, id, CI, NOW), RC.INVALID_VALUE);
    expect(e.message).toContain(msg);
  });

  it('accepts exactly 1000 values', () => {
    const body = Array.from({ length: 1000 }, (_, i) => ({ index: i + 1, type: 'X', data: 'x' }));
    expect(valuesFromBody(body, id, CI, NOW)).toHaveLength(1000);
  });
});
