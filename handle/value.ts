// Small pure helpers over the value model: TTLs, visibility, permission strings.
import { DEFAULT_PERMISSIONS, DEFAULT_TTL, INDEX, TYPE, type HandleValue, type Permissions } from './types.js';

/** Seconds a value may be cached from `nowSec` on: relative TTLs as given, absolute ones as time left (≥ 0). */
export function effectiveTtl(v: HandleValue, nowSec: number): number {
  if (v.ttlType === 'absolute') return Math.max(0, v.ttl - nowSec);
  return Math.max(0, v.ttl);
}

/** Smallest effective TTL over values; `fallback` when there are none. */
export function minEffectiveTtl(values: readonly HandleValue[], nowSec: number, fallback: number): number {
  let min = Infinity;
  for (const v of values) min = Math.min(min, effectiveTtl(v, nowSec));
  return min === Infinity ? fallback : min;
}

/**
 * Whether anyone may read a value: public read, and never a secret key — an HS_SECKEY stays with its handle's admins
 * whatever its permissions say (Basic credentials are checked against it).
 */
export function isPublicReadable(v: HandleValue): boolean {
  return v.permissions.publicRead && !isSecretKey(v);
}

/** Whether a value is a secret key (HS_SECKEY, any case). */
export function isSecretKey(v: HandleValue): boolean {
  return v.type.length === TYPE.SECKEY.length && v.type.toUpperCase() === TYPE.SECKEY;
}

/** The 4-character form Handle.Net prints: adminRead adminWrite publicRead publicWrite. */
export function permissionsToString(p: Permissions): string {
  return (p.adminRead ? '1' : '0') + (p.adminWrite ? '1' : '0') + (p.publicRead ? '1' : '0') + (p.publicWrite ? '1' : '0');
}

export function hasDefaultPermissions(p: Permissions): boolean {
  return p.adminRead && p.adminWrite && p.publicRead && !p.publicWrite;
}

/** A string value with the defaults (relative TTL 86400, all but public write, no references). */
export function stringValue(index: number, type: string, value: string, nowSec: number, permissions: Permissions = DEFAULT_PERMISSIONS): HandleValue {
  return {
    index,
    type,
    data: { format: 'string', value },
    ttlType: 'relative',
    ttl: DEFAULT_TTL,
    timestamp: nowSec,
    permissions: { ...permissions },
    references: [],
  };
}

/** An HS_SECKEY value at index 300 holding `secret` as stored (a hash), readable by admins only. */
export function secretKeyValue(secret: string, nowSec: number): HandleValue {
  return stringValue(INDEX.SECKEY, TYPE.SECKEY, secret, nowSec, { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false });
}
