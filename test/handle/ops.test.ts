// Tests for handle/ops.ts: Handle.Net create / add / remove / delete semantics and sameValues.
import { describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { addValues, createValues, deleteHandle, removeValues, sameValues } from '../../handle/ops.js';
import type { HandleValue } from '../../handle/types.js';
import { expectHandleError } from '../helpers/errors.js';
import { val } from '../helpers/values.js';

const data = (vs: HandleValue[] | null): unknown => vs?.map((v) => [v.index, v.data.value]) ?? null;

describe('createValues', () => {
  const rows: [string, HandleValue[] | null, HandleValue[], boolean, unknown][] = [
    ['absent handle', null, [val(2, 'URL', 'v2'), val(1, 'URL', 'v1')], false, [[2, 'v2'], [1, 'v1']]],
    ['absent handle, overwrite', null, [val(1, 'URL', 'v1')], true, [[1, 'v1']]],
    ['absent handle, empty values', null, [], false, []],
    ['present handle, overwrite replaces all', [val(1, 'URL', 'v1'), val(2, 'URL', 'v2'), val(3, 'URL', 'v3')], [val(2, 'URL', 'new')], true, [[2, 'new']]],
    ['present handle, overwrite with empty', [val(1, 'URL', 'v1')], [], true, []],
  ];
  it.each(rows)('%s', (_name, cur, values, overwrite, want) => {
    expect(data(createValues(cur, values, overwrite))).toEqual(want);
  });
  const bad: [string, HandleValue[] | null, HandleValue[], boolean, number][] = [
    ['present handle without overwrite', [val(1, 'URL', 'v1')], [val(2, 'URL', 'v2')], false, RC.HANDLE_ALREADY_EXISTS],
    ['present empty handle without overwrite', [], [val(2, 'URL', 'v2')], false, RC.HANDLE_ALREADY_EXISTS],
    ['duplicate indexes', null, [val(1, 'URL', 'v1'), val(1, 'URL', 'x')], false, RC.INVALID_VALUE],
  ];
  it.each(bad)('refuses %s', (_name, cur, values, overwrite, code) => {
    expectHandleError(() => createValues(cur, values, overwrite), code);
  });
  it('does not alias the input array', () => {
    const values = [val(1, 'URL', 'v1')];
    const out = createValues(null, values, false);
    expect(out).not.toBe(values);
    expect(out).toEqual(values);
  });
});

describe('addValues', () => {
  const cur = [val(1, 'URL', 'v1'), val(3, 'URL', 'v3'), val(100, 'URL', 'v100')];
  const rows: [string, HandleValue[], boolean, unknown][] = [
    ['adds a new index, sorted', [val(2, 'URL', 'v2')], false, [[1, 'v1'], [2, 'v2'], [3, 'v3'], [100, 'v100']]],
    ['adds several, sorted', [val(200, 'URL', 'v200'), val(50, 'URL', 'v50')], false, [[1, 'v1'], [3, 'v3'], [50, 'v50'], [100, 'v100'], [200, 'v200']]],
    ['replaces with overwrite', [val(3, 'URL', 'new')], true, [[1, 'v1'], [3, 'new'], [100, 'v100']]],
    ['replaces and adds with overwrite', [val(4, 'URL', 'v4'), val(1, 'URL', 'one')], true, [[1, 'one'], [3, 'v3'], [4, 'v4'], [100, 'v100']]],
    ['adding nothing', [], false, [[1, 'v1'], [3, 'v3'], [100, 'v100']]],
  ];
  it.each(rows)('%s', (_name, values, overwrite, want) => {
    expect(data(addValues(cur, values, overwrite))).toEqual(want);
    expect(cur.map((v) => v.index)).toEqual([1, 3, 100]);
  });
  it('sorts an unsorted current list', () => {
    expect(data(addValues([val(5, 'URL', 'v5'), val(2, 'URL', 'v2')], [val(3, 'URL', 'v3')], false))).toEqual([[2, 'v2'], [3, 'v3'], [5, 'v5']]);
  });
  const bad: [string, HandleValue[] | null, HandleValue[], boolean, number][] = [
    ['absent handle', null, [val(1, 'URL', 'v1')], false, RC.HANDLE_NOT_FOUND],
    ['absent handle with overwrite', null, [val(1, 'URL', 'v1')], true, RC.HANDLE_NOT_FOUND],
    ['existing index without overwrite', cur, [val(2, 'URL', 'v2'), val(3, 'URL', 'v3')], false, RC.VALUE_ALREADY_EXISTS],
    ['duplicate indexes', cur, [val(7, 'URL', 'v7'), val(7, 'URL', 'v7')], true, RC.INVALID_VALUE],
  ];
  it.each(bad)('refuses %s', (_name, c, values, overwrite, code) => {
    expectHandleError(() => addValues(c, values, overwrite), code);
  });
  it('names the clashing index', () => {
    expect(expectHandleError(() => addValues(cur, [val(100, 'URL', 'v100')], false), RC.VALUE_ALREADY_EXISTS).message).toContain('100');
  });
});

describe('removeValues', () => {
  const cur = [val(1, 'URL', 'v1'), val(3, 'URL', 'v3'), val(100, 'URL', 'v100')];
  const rows: [string, number[], number[]][] = [
    ['one index', [3], [1, 100]],
    ['several indexes', [1, 100], [3]],
    ['some missing', [3, 999], [1, 100]],
    ['all', [1, 3, 100], []],
    ['repeated index', [1, 1], [3, 100]],
  ];
  it.each(rows)('%s', (_name, indexes, want) => {
    expect(removeValues(cur, indexes).map((v) => v.index)).toEqual(want);
  });
  const bad: [string, HandleValue[] | null, number[], number][] = [
    ['absent handle', null, [1], RC.HANDLE_NOT_FOUND],
    ['none present', cur, [2, 4], RC.VALUES_NOT_FOUND],
    ['empty index list', cur, [], RC.VALUES_NOT_FOUND],
    ['empty handle', [], [1], RC.VALUES_NOT_FOUND],
  ];
  it.each(bad)('refuses %s', (_name, c, indexes, code) => {
    expectHandleError(() => removeValues(c, indexes), code);
  });
});

describe('deleteHandle', () => {
  it('deletes a present handle', () => {
    expect(deleteHandle([val(1, 'URL', 'v1')])).toBeNull();
    expect(deleteHandle([])).toBeNull();
  });
  it('refuses an absent handle', () => {
    expectHandleError(() => deleteHandle(null), RC.HANDLE_NOT_FOUND);
  });
});

describe('sameValues', () => {
  const a = [{ ...val(1, 'URL', 'x'), timestamp: 100 }, { ...val(2, 'URL', 'y'), timestamp: 100 }];
  const rows: [string, HandleValue[], HandleValue[], boolean][] = [
    ['identical', a, [{ ...val(1, 'URL', 'x'), timestamp: 100 }, { ...val(2, 'URL', 'y'), timestamp: 100 }], true],
    ['timestamps differ', a, [{ ...val(1, 'URL', 'x'), timestamp: 999 }, { ...val(2, 'URL', 'y'), timestamp: 5 }], true],
    ['order differs', a, [val(2, 'URL', 'y'), val(1, 'URL', 'x')], true],
    ['both empty', [], [], true],
    ['data differs', a, [val(1, 'URL', 'x'), val(2, 'URL', 'z')], false],
    ['length differs', a, [val(1, 'URL', 'x')], false],
    ['index differs', a, [val(1, 'URL', 'x'), val(3, 'URL', 'y')], false],
    ['type differs', a, [val(1, 'URL', 'x'), { ...val(2, 'URL', 'y'), type: 'url' }], false],
    ['ttl differs', a, [val(1, 'URL', 'x'), { ...val(2, 'URL', 'y'), ttl: 60 }], false],
    ['ttl type differs', a, [val(1, 'URL', 'x'), { ...val(2, 'URL', 'y'), ttlType: 'absolute' }], false],
    ['permissions differ', a, [val(1, 'URL', 'x'), { ...val(2, 'URL', 'y'), permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false } }], false],
    ['references differ', a, [val(1, 'URL', 'x'), { ...val(2, 'URL', 'y'), references: [{ handle: 'a/b', index: 1 }] }], false],
    ['format differs', a, [val(1, 'URL', 'x'), { ...val(2, 'URL', 'y'), data: { format: 'base64', value: 'y' } }], false],
    ['duplicate index on one side', a, [val(1, 'URL', 'x'), val(1, 'URL', 'x')], false],
  ];
  it.each(rows)('%s → %s', (_name, x, y, want) => {
    expect(sameValues(x, y)).toBe(want);
    expect(sameValues(y, x)).toBe(want);
  });
  it('compares structured data deeply, ignoring key order', () => {
    const admin = (perm: string, keyFirst: boolean): HandleValue => ({
      ...val(100, 'URL', 'v100'),
      type: 'HS_ADMIN',
      data: {
        format: 'admin',
        value: keyFirst ? { handle: '0.NA/88.1', index: 300, permissions: perm } : { permissions: perm, index: 300, handle: '0.NA/88.1' },
      },
    });
    expect(sameValues([admin('111111111111', true)], [admin('111111111111', false)])).toBe(true);
    expect(sameValues([admin('111111111111', true)], [admin('011111111111', true)])).toBe(false);
  });
});
