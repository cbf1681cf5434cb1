// HS_ADMIN permission bits (Handle.Net AdminRecord order) and helpers over a handle's admin values.
import type { HandleValue } from './types.js';
import { DEFAULT_PERMISSIONS, DEFAULT_TTL, TYPE } from './types.js';
import { asciiUpper } from './identifier.js';

export type AdminOp =
  | 'addHandle'
  | 'deleteHandle'
  | 'addDerivedPrefix'
  | 'deleteDerivedPrefix'
  | 'modifyValue'
  | 'removeValue'
  | 'addValue'
  | 'readValue'
  | 'modifyAdmin'
  | 'removeAdmin'
  | 'addAdmin'
  | 'listHandles';

/** Bit number of each operation (Handle.Net AdminRecord constants); bit 0 is the LAST character of the string. */
export const ADMIN_OP_BITS: Readonly<Record<AdminOp, number>> = Object.freeze({
  addHandle: 0,
  deleteHandle: 1,
  addDerivedPrefix: 2,
  deleteDerivedPrefix: 3,
  modifyValue: 4,
  removeValue: 5,
  addValue: 6,
  modifyAdmin: 7,
  removeAdmin: 8,
  addAdmin: 9,
  readValue: 10,
  listHandles: 11,
});

export const ALL_ADMIN_PERMISSIONS = '111111111111';

/** Whether the 12-character permission string grants `op` (read from the right, so shorter strings work too). */
export function adminPermits(permissions12: string, op: AdminOp): boolean {
  const pos = permissions12.length - 1 - ADMIN_OP_BITS[op];
  return pos >= 0 && permissions12.charAt(pos) === '1';
}

/** The admin data of the HS_ADMIN values (format `admin`) in a value list, in stored order. */
export function adminRefsFor(values: readonly HandleValue[]): { handle: string; index: number; permissions: string }[] {
  const out: { handle: string; index: number; permissions: string }[] = [];
  for (const v of values) {
    if (v.data.format !== 'admin' || asciiUpper(v.type) !== TYPE.ADMIN) continue;
    const a = v.data.value;
    out.push({ handle: a.handle, index: a.index, permissions: a.permissions });
  }
  return out;
}

/** Builds an HS_ADMIN value naming `index:handle` as administrator. */
export function adminValue(
  handle: string,
  index: number,
  permissions = ALL_ADMIN_PERMISSIONS,
  valueIndex = 100,
  nowSec = 0,
): HandleValue {
  return {
    index: valueIndex,
    type: TYPE.ADMIN,
    data: { format: 'admin', value: { handle, index, permissions } },
    ttlType: 'relative',
    ttl: DEFAULT_TTL,
    timestamp: nowSec,
    permissions: { ...DEFAULT_PERMISSIONS },
    references: [],
  };
}
