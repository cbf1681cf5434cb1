// Shared by the enterprise identifier pages: the node's shapes (own enterprise, templates, identifiers), the node's value rules mirrored for early checks, and file downloads.
import { call, get } from '../api.js';
import { t } from '../i18n/index.js';
import type { Mine, PrefixInfo, Template, TemplateItem } from '../shapes.js';

export type { Mine, PrefixInfo, Template, TemplateItem };





/** One value as POST /identityv2/data takes it. */
export interface ValueIn {
  auth?: string;
  index: number;
  type: string;
  data: { format: 'string'; value: string };
}

/** An identifier body (IdentifierIn in src/faces/snms/schemas.ts). */
export interface IdentifierBody {
  handle: string;
  templateVersion: string;
  value: ValueIn[];
}

/** GET /identityv2/data/detail */
export interface Detail {
  prefix: string;
  handle: string;
  /** "" when not registered over a template */
  templateVersion: string;
  value: { index: number; type: string; data: { format: string; value: string } }[];
}

/** A page of GET /identityv2/data/page. */
export interface IdentifierPage {
  total: number;
  totalCapped?: boolean;
  items: { handle: string; updatedAt: string }[];
}

/** Values below this index are the Handle face's (HS_ADMIN …): an update keeps them (registry/identifiers.ts). */
export const SNMS_VALUE_FLOOR = 1000;
/** Indexes the node keeps for itself: 1000 TEMPLATE_ID, 1001 TEMPLATE, 1999. */
export const RESERVED_INDEXES: readonly number[] = [1000, 1001, 1999];
/** Template items start here, so every value an enterprise writes has an index at least this. */
export const FIRST_ITEM_INDEX = 2000;
export const MAX_INDEX = 2147483647;
export const MAX_VALUE_CHARS = 255;
export const MAX_VERSION_CHARS = 128;
export const MAX_HANDLE_BYTES = 255;
/** Value types as template items spell them. */
export const TYPE_RE = /^[A-Za-z0-9_.:-]+$/;
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/** The enterprise's own record; prefixes given as plain strings are accepted too. */
export async function loadMine(signal?: AbortSignal): Promise<Mine> {
  const raw = await call<{ enterprise: Mine['enterprise']; prefixes?: unknown[]; history?: Mine['history'] }>('GET', '/snms/api/v3/ent/mine', signal === undefined ? {} : { signal });
  const prefixes: PrefixInfo[] = [];
  for (const p of raw.prefixes ?? []) {
    if (typeof p === 'string') prefixes.push({ prefix: p, prefixKey: asciiUpper(p), status: 1 });
    else if (typeof p === 'object' && p !== null && typeof (p as PrefixInfo).prefix === 'string') {
      const q = p as PrefixInfo;
      prefixes.push({ prefix: q.prefix, prefixKey: q.prefixKey ?? asciiUpper(q.prefix), status: typeof q.status === 'number' ? q.status : 1 });
    }
  }
  return { enterprise: raw.enterprise, prefixes, history: raw.history ?? [] };
}

export const loadTemplate = (prefix: string, version: string): Promise<Template> => get<Template>('/snms/api/v5/template', { prefix, version });

/** ASCII letters upper-cased (how the node keys prefixes). */
export const asciiUpper = (s: string): string => s.replace(/[a-z]+/g, (m) => m.toUpperCase());

/** True when `prefixKey` is `homeKey` or a prefix derived from it (`homeKey.` + more). */
export function isUnderPrefix(prefixKey: string, homeKey: string): boolean {
  if (prefixKey === homeKey) return true;
  return prefixKey.length > homeKey.length + 1 && prefixKey.startsWith(homeKey) && prefixKey.charCodeAt(homeKey.length) === 0x2e;
}

export function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Length in characters (code points), as the node's limits count. */
export const charLength = (s: string): number => {
  let n = 0;
  for (const _c of s) n++;
  return n;
};

/** A problem found before sending: a dictionary key and its placeholders (worded when shown, in the current language). */
export interface Problem {
  key: string;
  vars?: Record<string, string | number>;
  /** what lies behind it (worded into the `{cause}` placeholder) */
  cause?: Problem;
}

const problem = (key: string, vars?: Record<string, string | number>): Problem => (vars === undefined ? { key } : { key, vars });

/**
 * Checks a handle as the node parses it (prefix/suffix, no control characters, ≤ 255 UTF-8 bytes) and, when the
 * enterprise's prefixes are known, that it lies under one of them. null: fine.
 */
export function checkHandle(handle: string, prefixKeys: readonly string[] | null): Problem | null {
  if (handle === '') return problem('ids.err.noHandle');
  const slash = handle.indexOf('/');
  if (slash <= 0) return problem('ids.err.noSlash', { handle });
  if (slash === handle.length - 1) return problem('ids.err.noSuffix', { handle });
  if (CONTROL_RE.test(handle)) return problem('ids.err.control');
  if (/\s/u.test(handle.slice(0, slash))) return problem('ids.err.prefixSpace');
  const bytes = utf8Length(handle);
  if (bytes > MAX_HANDLE_BYTES) return problem('ids.err.tooLong', { bytes, max: MAX_HANDLE_BYTES });
  if (prefixKeys !== null && prefixKeys.length > 0) {
    const key = asciiUpper(handle.slice(0, slash));
    if (!prefixKeys.some((home) => isUnderPrefix(key, home))) return problem('ids.err.notOurs', { prefix: handle.slice(0, slash) });
  }
  return null;
}

/** An index as typed or as a CSV header: an integer from 2000 (the template items' range). null: fine. */
export function checkIndex(raw: string | number): Problem | null {
  const s = String(raw).trim();
  if (!/^\d{1,10}$/.test(s)) return problem('ids.err.indexNotNumber', { index: s });
  const n = Number(s);
  if (RESERVED_INDEXES.includes(n)) return problem('ids.err.indexReserved', { index: n });
  if (n < FIRST_ITEM_INDEX || n > MAX_INDEX) return problem('ids.err.indexRange', { index: n, min: FIRST_ITEM_INDEX });
  return null;
}

export function checkType(type: string): Problem | null {
  if (type === '') return problem('ids.err.typeEmpty');
  if (!TYPE_RE.test(type)) return problem('ids.err.typeChars', { type });
  return null;
}

export function checkVersion(version: string): Problem | null {
  if (version === '') return problem('ids.err.noVersion');
  if (charLength(version) > MAX_VERSION_CHARS) return problem('ids.err.versionLong', { max: MAX_VERSION_CHARS });
  if (CONTROL_RE.test(version)) return problem('ids.err.control');
  return null;
}

/**
 * Values against a template, the node's own rules (registry/template-rules.ts validateValues): every index an item
 * of the template with the same type (case-insensitively), enabled, length within the item's bounds, no index
 * twice, every enabled required item present. The first problem, or null.
 */
export function checkAgainstTemplate(template: Template, values: readonly ValueIn[]): Problem | null {
  const byIndex = new Map(template.items.map((it) => [it.idIndex, it]));
  const seen = new Set<number>();
  for (const v of values) {
    if (RESERVED_INDEXES.includes(v.index)) return problem('ids.err.indexReserved', { index: v.index });
    if (seen.has(v.index)) return problem('ids.err.indexTwice', { index: v.index });
    seen.add(v.index);
    const item = byIndex.get(v.index);
    if (item === undefined) return problem('ids.err.notInTemplate', { index: v.index, version: template.version });
    if (item.idType.toUpperCase() !== v.type.toUpperCase()) return problem('ids.err.wrongType', { index: v.index, type: item.idType, given: v.type });
    if (item.state === 0) return problem('ids.err.itemDisabled', { index: v.index, name: item.name });
    const min = item.metadata.minLength ?? 0;
    const max = item.metadata.maxLength ?? MAX_VALUE_CHARS;
    const n = charLength(v.data.value);
    if (n < min || n > max) return problem('ids.err.length', { index: v.index, name: item.name, min, max, n });
  }
  for (const it of template.items) {
    if (it.required && it.state !== 0 && !seen.has(it.idIndex)) return problem('ids.err.required', { name: it.name, index: it.idIndex });
  }
  return null;
}

/** Values without a template at hand: indexes, types and lengths only. */
export function checkValues(values: readonly ValueIn[]): Problem | null {
  const seen = new Set<number>();
  for (const v of values) {
    const bad = checkIndex(v.index) ?? checkType(v.type);
    if (bad !== null) return bad;
    if (seen.has(v.index)) return problem('ids.err.indexTwice', { index: v.index });
    seen.add(v.index);
    const n = charLength(v.data.value);
    if (n > MAX_VALUE_CHARS) return problem('ids.err.valueLong', { index: v.index, max: MAX_VALUE_CHARS, n });
  }
  return null;
}

/** Enabled items in index order. */
export const enabledItems = (t: Template): TemplateItem[] => t.items.filter((it) => it.state !== 0).sort((a, b) => a.idIndex - b.idIndex);

/** One CSV cell, quoted when needed (RFC 4180). */
export function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV text with a BOM (so spreadsheet programs read the Chinese as UTF-8), CRLF line ends. */
export const toCsv = (rows: readonly (readonly (string | number)[])[]): string => `\uFEFF${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;

/** Offers text as a file download (made in the browser: nothing is sent). */
export function downloadText(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A public resolution link of a handle (the console's resolve page). */
export const resolveHref = (handle: string): string => `#/?h=${encodeURIComponent(handle)}`;

/** A problem in the current language (its cause worded into `{cause}`). */
export function word(p: Problem): string {
  const vars: Record<string, string | number> = { ...(p.vars ?? {}) };
  if (p.cause !== undefined) vars.cause = word(p.cause);
  return t(p.key, vars);
}
