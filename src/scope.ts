// Which prefixes a principal may read or write on the SNMS, operator and Handle faces.
import { isUnderPrefix } from '../handle/identifier.js';
import type { Principal } from '../registry/context.js';
import { STATUS } from '../registry/db.js';
import { prefixesOf } from '../registry/enterprises.js';
import type { IdNode } from './node.js';

export type PrefixScope = (prefixKey: string) => boolean;

/**
 * Operators: everything the node homes. Reviewers: read everything, write nothing. Enterprises: their own
 * enabled prefixes and prefixes derived from them (a suspended enterprise can neither read nor write).
 */
export async function scopeOf(node: IdNode, p: Principal, mode: 'read' | 'write'): Promise<PrefixScope> {
  if (p.role === 'operator') return (k) => isUnderPrefix(k, node.prefixKey);
  if (p.role === 'reviewer') return mode === 'read' ? (k) => isUnderPrefix(k, node.prefixKey) : () => false;
  if (p.enterpriseId === null) return () => false;
  const own = (await prefixesOf(node.registry, p.enterpriseId)).filter((x) => x.status === STATUS.ENABLED).map((x) => x.prefixKey);
  return (k) => own.some((o) => isUnderPrefix(k, o));
}
