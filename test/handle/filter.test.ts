// Tests for handle/filter.ts: type matching (case, subtypes) and the union / publicOnly semantics of filterValues.
import { describe, expect, it } from 'vitest';
import { filterValues, typeMatches } from '../../handle/filter.js';
import { val } from '../helpers/values.js';

describe('typeMatches', () => {
  const rows: [string, string, boolean][] = [
    ['URL', 'URL', true],
    ['url', 'URL', true],
    ['URL', 'url', true],
    ['URL', 'URL.backup', false],
    ['URL', 'URLX', false],
    ['URL.', 'URL', true],
    ['URL.', 'URL.backup', true],
    ['url.', 'URL.Backup.2', true],
    ['URL.', 'URLX', false],
    ['URL.', 'URL.', false],
    ['URL.', 'XURL.a', false],
    ['URL.backup', 'URL.BACKUP', true],
    ['URL.backup', 'URL', false],
    ['EMAIL', 'URL', false],
    ['名称', '名称', true],
    ['', 'URL', false],
    ['HS_ADMIN', 'hs_admin', true],
  ];
  it.each(rows)('typeMatches(%j, %j) = %s', (req, act, want) => {
    expect(typeMatches(req, act)).toBe(want);
  });
});

describe('filterValues', () => {
  const values = [val(1, 'URL', 'u1'), val(2, 'URL.backup', 'u2'), val(3, 'EMAIL', 'e3'), val(100, 'HS_ADMIN', 'a100', 86400, false), val(2000, 'name', 'n2000'), val(5, 'url', 'u5', 86400, false)];
  const rows: [string, { types: string[]; indexes: number[]; publicOnly: boolean }, number[]][] = [
    ['no filter', { types: [], indexes: [], publicOnly: false }, [1, 2, 3, 100, 2000, 5]],
    ['no filter, public only', { types: [], indexes: [], publicOnly: true }, [1, 2, 3, 2000]],
    ['type URL', { types: ['URL'], indexes: [], publicOnly: false }, [1, 5]],
    ['type URL.', { types: ['URL.'], indexes: [], publicOnly: false }, [1, 2, 5]],
    ['type url. public only', { types: ['url.'], indexes: [], publicOnly: true }, [1, 2]],
    ['index only', { types: [], indexes: [3, 100], publicOnly: false }, [3, 100]],
    ['union of type and index', { types: ['EMAIL'], indexes: [2000], publicOnly: false }, [3, 2000]],
    ['union overlapping', { types: ['URL'], indexes: [1, 3], publicOnly: false }, [1, 3, 5]],
    ['public only drops listed private index', { types: [], indexes: [100, 3], publicOnly: true }, [3]],
    ['no match', { types: ['NOPE'], indexes: [999], publicOnly: false }, []],
    ['several types', { types: ['hs_admin', 'NAME'], indexes: [], publicOnly: false }, [100, 2000]],
  ];
  it.each(rows)('%s', (_name, f, want) => {
    expect(filterValues(values, f).map((v) => v.index)).toEqual(want);
  });
  it('returns the same value objects and leaves the input untouched', () => {
    const out = filterValues(values, { types: ['EMAIL'], indexes: [], publicOnly: false });
    expect(out[0]).toBe(values[2]);
    expect(values).toHaveLength(6);
  });
});
