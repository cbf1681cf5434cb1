// SNMS wire shapes: the registry's identifier and prefix results as SNMS `data`, in SNMS's words and its Shanghai dates.
import { STATUS } from '../../../registry/db.js';
import type { DelegatedPrefix } from '../../../registry/enterprises.js';
import { succeeded, type IdentifierDetail, type ItemProblem, type ItemResult } from '../../../registry/identifiers.js';
import type { SnmsValueItem } from '../../../registry/template-rules.js';
import { SNMS, SnmsError } from './envelope.js';

/** What SNMS answers per item and for single writes. */
export const MSG = {
  SUCCESS: 'success',
  EXISTS: '标识已存在',
  NOT_FOUND: '标识不存在',
  /** a single delete of an absent identifier */
  DELETE_NOT_FOUND: '没有找到标识',
  FORBIDDEN: '无权操作该前缀 / no permission for this prefix',
  NO_TEMPLATE: '模板不存在 / template not found',
} as const;

/** Registrar shown as `ghrName` in the SNMS prefix query. */
export const GHR_NAME = '国家顶级节点';

/** How SNMS words what was wrong with an invalid item. */
export function problemMessage(p: ItemProblem): string {
  switch (p.kind) {
    case 'not-an-object':
      return '标识数据必须是对象 / each item must be an object';
    case 'missing-handle':
      return '缺少必要的请求参数: handle';
    case 'bad-handle':
      return `标识格式错误 / invalid handle: ${p.message}`;
    case 'missing-template-version':
      return '缺少必要的请求参数: templateVersion';
    case 'template-version-too-long':
      return `templateVersion 长度不能超过${p.max} / templateVersion is too long`;
    case 'no-template':
      return MSG.NO_TEMPLATE;
    case 'values':
      return p.message;
  }
}

/** An item's `msg`: "success" for every success (an idempotent retry included), else what went wrong. */
export function itemMessage(r: ItemResult): string {
  switch (r.outcome) {
    case 'created':
    case 'unchanged':
    case 'updated':
    case 'deleted':
      return MSG.SUCCESS;
    case 'exists':
      return MSG.EXISTS;
    case 'not-found':
      return MSG.NOT_FOUND;
    case 'forbidden':
      return MSG.FORBIDDEN;
    case 'invalid':
      return problemMessage(r.problem);
  }
}

/** `data` of POST /identityv2/data/batchCreate and PUT …/batchUpdate: `[{handle, msg}]` in item order. */
export function batchWriteData(results: readonly ItemResult[]): { handle: string; msg: string }[] {
  return results.map((r) => ({ handle: r.handle, msg: itemMessage(r) }));
}

/** `data` of DELETE /identityv2/data/batchDelete: `[{handle, code: 1 | -2, msg}]` in item order. */
export function batchDeleteData(results: readonly ItemResult[]): { handle: string; code: 1 | -2; msg: string }[] {
  return results.map((r) => ({ handle: r.handle, code: succeeded(r.outcome) ? 1 : -2, msg: itemMessage(r) }));
}

/**
 * A single POST / PUT / DELETE /identityv2/data: returns on success, else throws the SnmsError SNMS answers it with
 * (-3 when the prefix is not the caller's, -2 otherwise; a missing identifier on delete is "没有找到标识").
 */
export function singleWriteResult(r: ItemResult, op: 'create' | 'update' | 'delete'): void {
  if (succeeded(r.outcome)) return;
  if (r.outcome === 'forbidden') throw new SnmsError(SNMS.FORBIDDEN, MSG.FORBIDDEN);
  if (r.outcome === 'not-found' && op === 'delete') throw new SnmsError(SNMS.BUSINESS, MSG.DELETE_NOT_FOUND);
  throw new SnmsError(SNMS.BUSINESS, itemMessage(r));
}

/** `data` of GET /identityv2/data/detail. */
export interface SnmsDetail {
  code: '200';
  prefix: string;
  handle: string;
  /** "" when the identifier was not registered over a template */
  templateVersion: string;
  /** the string values by index, TEMPLATE (1001) included */
  value: SnmsValueItem[];
}

export function detailData(d: IdentifierDetail): SnmsDetail {
  const value: SnmsValueItem[] = [];
  for (const v of d.values) {
    if (v.data.format !== 'string') continue;
    value.push({ index: v.index, type: v.type, data: { format: 'string', value: v.data.value } });
  }
  return { code: '200', prefix: d.prefix, handle: d.handle, templateVersion: d.templateVersion ?? '', value };
}

/** `data` of GET /snms/api/prefix/query. */
export interface SnmsPrefixDetail {
  prefix: string;
  createDate: string;
  ghrName: string;
  status: number;
  entNameCn: string;
  entWebSite: string;
  /** the industry section letter */
  entIndustry: string;
  entAddrCn: string;
  entDesc: string;
}

export function prefixDetailData(p: DelegatedPrefix): SnmsPrefixDetail {
  return {
    prefix: p.prefix,
    createDate: shanghaiDateTime(p.createdAt),
    ghrName: GHR_NAME,
    status: p.status,
    entNameCn: p.enterpriseName ?? '',
    entWebSite: '',
    entIndustry: (p.industry ?? '').slice(0, 1),
    entAddrCn: p.address ?? '',
    entDesc: '',
  };
}

/** One prefix of GET /snms/api/prefix/page. */
export interface SnmsPrefixItem {
  /** the enterprise id (a prefix has no numeric id of its own); 0 without an enterprise */
  id: number;
  createDate: string;
  updateDate: string;
  entPrefix: string;
  entId: number | null;
  /** 0 disabled, 1 enabled */
  state: number;
  /** the full SNMS status code */
  status: number;
  entName: string;
  /** 1: not hosted */
  proxyState: number;
}

/** A Spring Data page as SNMS returns it; `number` is 0-based as in Spring (`currentPage` − 1). */
export interface SpringPage<T> {
  first: boolean;
  last: boolean;
  totalPages: number;
  totalElements: number;
  number: number;
  size: number;
  sort: null;
  numberOfElements: number;
  content: T[];
}

/** `data` of GET /snms/api/prefix/page from one page of delegated prefixes. */
export function prefixPageData(p: { total: number; page: number; pageSize: number; items: readonly DelegatedPrefix[] }): SpringPage<SnmsPrefixItem> {
  const totalPages = Math.ceil(p.total / p.pageSize);
  return {
    first: p.page === 1,
    last: p.page >= totalPages,
    totalPages,
    totalElements: p.total,
    number: p.page - 1,
    size: p.pageSize,
    sort: null,
    numberOfElements: p.items.length,
    content: p.items.map((r) => ({
      id: r.enterpriseId ?? 0,
      createDate: shanghaiDateTime(r.createdAt),
      updateDate: shanghaiDateTime(r.updatedAt),
      entPrefix: r.prefix,
      entId: r.enterpriseId,
      state: r.status === STATUS.ENABLED ? 1 : 0,
      status: r.status,
      entName: r.enterpriseName ?? '',
      proxyState: 1,
    })),
  };
}

/** `yyyy-MM-dd HH:mm:ss` in Asia/Shanghai (UTC+8, no DST). */
export function shanghaiDateTime(d: Date): string {
  return new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * `yyyy-MM-dd HH:mm:ss` (or `yyyy-MM-dd`, seconds optional) in Asia/Shanghai → the instant; undefined when absent.
 * A bare date as the end of a range means the whole day. SnmsError -2 when it is not a valid date and time.
 */
export function parseShanghaiDateTime(s: string | undefined, field: string, endOfRange: boolean): Date | undefined {
  if (s === undefined || s === '') return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s.trim());
  if (!m) throw new SnmsError(SNMS.BUSINESS, `${field} 格式应为 yyyy-MM-dd HH:mm:ss / ${field} must be yyyy-MM-dd HH:mm:ss: ${s}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dateOnly = m[4] === undefined;
  const h = dateOnly ? (endOfRange ? 23 : 0) : Number(m[4]);
  const mi = dateOnly ? (endOfRange ? 59 : 0) : Number(m[5]);
  const se = m[6] !== undefined ? Number(m[6]) : endOfRange && dateOnly ? 59 : 0;
  const ms = endOfRange ? 999 : 0;
  const utc = new Date(Date.UTC(y, mo - 1, d, h, mi, se, ms));
  if (utc.getUTCFullYear() !== y || utc.getUTCMonth() !== mo - 1 || utc.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    throw new SnmsError(SNMS.BUSINESS, `${field} 不是有效时间 / ${field} is not a valid date and time: ${s}`);
  }
  return new Date(utc.getTime() - 8 * 3600_000);
}
