// Tests for handle/admin.ts: permission bit order, admin references of a value list, the HS_ADMIN builder.
import { describe, expect, it } from 'vitest';
import { ADMIN_OP_BITS, ALL_ADMIN_PERMISSIONS, adminPermits, adminRefsFor, adminValue, type AdminOp } from '../../handle/admin.js';
import type { HandleValue } from '../../handle/types.js';

const OPS_LAST_TO_FIRST: AdminOp[] = [
  'addHandle',
  'deleteHandle',
  'addDerivedPrefix',
  'deleteDerivedPrefix',
  'modifyValue',
  'removeValue',
  'addValue',
  'modifyAdmin',
  'removeAdmin',
  'addAdmin',
  'readValue',
  'listHandles',
];

describe('adminPermits', () => {
  // A string with only one bit set grants exactly that operation.
  const single = OPS_LAST_TO_FIRST.map((op, bit): [AdminOp, string] => [op, '0'.repeat(11 - bit) + '1' + '0'.repeat(bit)]);
  it.each(single)('%s is granted by %s and nothing else is', (op, perms) => {
    for (const other of OPS_LAST_TO_FIRST) expect(adminPermits(perms, other)).toBe(other === op);
  });
  it('addHandle is the last character, listHandles the first', () => {
    expect(adminPermits('000000000001', 'addHandle')).toBe(true);
    expect(adminPermits('100000000000', 'listHandles')).toBe(true);
    expect(adminPermits('100000000000', 'addHandle')).toBe(false);
    expect(ADMIN_OP_BITS.addHandle).toBe(0);
    expect(ADMIN_OP_BITS.listHandles).toBe(11);
    // Handle.Net AdminRecord: MODIFY_ADMIN = 7, REMOVE_ADMIN = 8, ADD_ADMIN = 9, READ_VALUE = 10
    expect([ADMIN_OP_BITS.modifyAdmin, ADMIN_OP_BITS.removeAdmin, ADMIN_OP_BITS.addAdmin, ADMIN_OP_BITS.readValue]).toEqual([7, 8, 9, 10]);
    expect(adminPermits('010000000000', 'readValue')).toBe(true);
    expect(adminPermits('000010000000', 'modifyAdmin')).toBe(true);
  });
  it('all and none', () => {
    for (const op of OPS_LAST_TO_FIRST) {
      expect(adminPermits(ALL_ADMIN_PERMISSIONS, op)).toBe(true);
      expect(adminPermits('000000000000', op)).toBe(false);
    }
  });
  it('the typical Handle.Net default 011111110011 denies list handles and derived prefixes', () => {
    const p = '011111110011';
    expect(adminPermits(p, 'listHandles')).toBe(false);
    expect(adminPermits(p, 'addDerivedPrefix')).toBe(false);
    expect(adminPermits(p, 'deleteDerivedPrefix')).toBe(false);
    expect(adminPermits(p, 'addHandle')).toBe(true);
    expect(adminPermits(p, 'addAdmin')).toBe(true);
  });
  it('shorter strings are read from the right', () => {
    expect(adminPermits('10', 'deleteHandle')).toBe(true);
    expect(adminPermits('10', 'addHandle')).toBe(false);
    expect(adminPermits('10', 'listHandles')).toBe(false);
    expect(adminPermits('', 'addHandle')).toBe(false);
  });
});

describe('adminValue and adminRefsFor', () => {
  it('builds an HS_ADMIN value with defaults', () => {
    expect(adminValue('0.NA/88.320924', 300)).toEqual({
      index: 100,
      type: 'HS_ADMIN',
      data: { format: 'admin', value: { handle: '0.NA/88.320924', index: 300, permissions: '111111111111' } },
      ttlType: 'relative',
      ttl: 86400,
      timestamp: 0,
      permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
      references: [],
    });
  });
  it('takes permissions, value index and time', () => {
    const v = adminValue('88.1/admin', 301, '011111110011', 101, 1700000000);
    expect(v.index).toBe(101);
    expect(v.timestamp).toBe(1700000000);
    expect(v.data).toEqual({ format: 'admin', value: { handle: '88.1/admin', index: 301, permissions: '011111110011' } });
  });
  it('collects admin data of HS_ADMIN values only, in order', () => {
    const url: HandleValue = { ...adminValue('x/y', 1), index: 1, type: 'URL', data: { format: 'string', value: 'https://a.cn' } };
    const odd: HandleValue = { ...adminValue('x/y', 1), index: 102, data: { format: 'string', value: 'not admin data' } };
    const values = [url, adminValue('0.NA/88.1', 300, '111111111111', 100), odd, { ...adminValue('88.1/b', 301, '000000000001', 103), type: 'hs_admin' }];
    expect(adminRefsFor(values)).toEqual([
      { handle: '0.NA/88.1', index: 300, permissions: '111111111111' },
      { handle: '88.1/b', index: 301, permissions: '000000000001' },
    ]);
    expect(adminRefsFor([])).toEqual([]);
  });
});
