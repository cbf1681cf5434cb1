// A page of the identifiers under one prefix, searchable by suffix, with their non-secret values: the console's list (bounded work per request).
import { sql } from 'kysely';
import { isSecretKey } from '../handle/value.js';
import type { ValueData } from '../handle/types.js';
import { RegistryError, type RegistryContext } from './context.js';

export const MAX_IDENTIFIER_PAGE_SIZE = 100;
/** `total` is counted up to this many (then `totalCapped`); pages reach no further, so no request scans a whole prefix. */
export const IDENTIFIER_COUNT_CAP = 100_000;

export interface IdentifierListQuery {
  /** the canonical prefix key (parsePrefix(…).prefixKey) */
  prefixKey: string;
  /** substring of the suffix, case-insensitive */
  keyword?: string | undefined;
  /** 1-based */
  page: number;
  /** 1 … 100 */
  pageSize: number;
  /** whether the reader may see values that are not publicly readable (the prefix's own enterprise): else public ones only */
  restricted: boolean;
}

/** A value as listed: where it is, its type and its data. */
export interface ListedValue {
  index: number;
  type: string;
  data: ValueData;
}

/** One identifier of the list: its handle (as first registered), last change, and values other than secret keys. */
export interface IdentifierListItem {
  handle: string;
  updatedAt: Date;
  values: ListedValue[];
}

/**
 * The identifiers whose prefix is exactly `prefixKey` (identifiers under prefixes derived from it are listed under
 * those), ordered by handle key (the table's (prefix_key, key) index: each page costs the same however large the
 * prefix), `keyword` a case-insensitive substring of the suffix (LIKE-escaped). `total` counts at most
 * IDENTIFIER_COUNT_CAP matches (`totalCapped` when there are more); a page beyond them is refused: narrow the keyword.
 * Values by index as {index, type, data}: never HS_SECKEY, and without `restricted` only publicly readable ones.
 */
export async function listIdentifiers(
  ctx: RegistryContext,
  q: IdentifierListQuery,
): Promise<{ total: number; totalCapped: boolean; items: IdentifierListItem[] }> {
  if (!Number.isInteger(q.page) || q.page < 1) throw invalid('页码从1开始 / currentPage must be an integer ≥ 1');
  if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > MAX_IDENTIFIER_PAGE_SIZE) {
    throw invalid(`每页条数应为1-${MAX_IDENTIFIER_PAGE_SIZE} / pageSize must be 1-${MAX_IDENTIFIER_PAGE_SIZE}`);
  }
  const offset = (q.page - 1) * q.pageSize;
  if (offset >= IDENTIFIER_COUNT_CAP) {
    throw invalid(`最多翻到第 ${IDENTIFIER_COUNT_CAP} 条，请用 keyword 缩小范围 / pages reach the first ${IDENTIFIER_COUNT_CAP} matches only: narrow the list with keyword`);
  }
  const db = ctx.store.db;
  let base = db.selectFrom('handles').where('prefix_key', '=', q.prefixKey);
  if (q.keyword !== undefined && q.keyword !== '') {
    // the suffix starts after `<prefix>/`; the handle's prefix is the key's, whatever its case
    const pattern = `%${q.keyword.replace(/[\\%_]/g, '\\$&')}%`;
    base = base.where(sql<string>`substr(handle, ${q.prefixKey.length + 2})`, 'ilike', pattern);
  }
  const [count, rows] = await Promise.all([
    db
      .selectFrom(base.select(sql`1`.as('one')).limit(IDENTIFIER_COUNT_CAP + 1).as('m'))
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow(),
    base.select(['handle', 'updated_at', 'values']).orderBy('key').limit(q.pageSize).offset(offset).execute(),
  ]);
  const n = Number(count.n);
  return {
    total: Math.min(n, IDENTIFIER_COUNT_CAP),
    totalCapped: n > IDENTIFIER_COUNT_CAP,
    items: rows.map((r) => ({
      handle: r.handle,
      updatedAt: r.updated_at,
      values: r.values
        .filter((v) => !isSecretKey(v) && (q.restricted || v.permissions?.publicRead !== false))
        .sort((a, b) => a.index - b.index)
        .map((v) => ({ index: v.index, type: v.type, data: v.data })),
    })),
  };
}

function invalid(message: string): RegistryError {
  return new RegistryError('invalid', message);
}
