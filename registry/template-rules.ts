// SNMS v5 templates and template-bound values, pure: input normalisation, incremental item merge, value validation.
import { HandleError } from '../handle/codes.js';
import { parsePrefix, PREFIX_RECORD_PREFIX } from '../handle/identifier.js';
import { RegistryError } from './context.js';
import type { TemplateItem } from './db.js';
import { INDUSTRY_SECTIONS } from './rules.js';

/** Value indexes the node keeps for itself: 1000 TEMPLATE_ID, 1001 TEMPLATE, 1999 (SNMS v5). */
export const RESERVED_VALUE_INDEXES: readonly number[] = Object.freeze([1000, 1001, 1999]);
export const TEMPLATE_VALUE_INDEX = 1001;
export const TEMPLATE_VALUE_TYPE = 'TEMPLATE';
export const FIRST_ITEM_INDEX = 2000;
export const MAX_ITEM_INDEX = 2147483647;
export const MAX_ITEMS = 200;
export const MAX_VERSION_CHARS = 128;
export const MAX_DESCRIPTION_CHARS = 1024;
export const MAX_NAME_CHARS = 64;
export const MAX_IDTYPE_CHARS = 128;
export const MAX_VALUE_CHARS = 255;
/** Most values one identifier may carry through the SNMS face (a template has at most 200 items). */
export const MAX_SNMS_VALUES = 1000;
/** Types a template item may not claim (compared case-insensitively). */
export const RESERVED_TYPES: readonly string[] = Object.freeze([
  'HS_ADMIN',
  'HS_SECKEY',
  'HS_PUBKEY',
  'HS_SITE',
  'HS_VLIST',
  'TEMPLATE',
  'TEMPLATE_ID',
]);

/** An item as sent: on update, omitted `idIndex` means a new item; omitted `required`/`state`/`metadata` keep the current. */
export interface TemplateItemPatch {
  name: string;
  idType: string;
  idIndex?: number;
  required?: boolean;
  /** 0 disabled, 1 enabled */
  state?: number;
  metadata?: TemplateItem['metadata'];
}

export interface TemplateInput {
  prefix: string;
  /** prefix with ASCII upper-cased: the key */
  prefixKey: string;
  version: string;
  /** canonical GB/T 4754 code (letter + most specific digits, e.g. C3441); update: undefined keeps the current */
  industry?: string;
  /** 1 active identification carrier, 2 other; create: default 2; update: undefined keeps the current */
  type?: 1 | 2;
  /** create: null when absent; update: undefined keeps the current */
  description?: string | null;
  /** create: complete items (idIndex assigned, defaults filled); update: patches for mergeTemplateItems */
  items: TemplateItemPatch[];
}

/** One value as the SNMS identifier API sends and returns it. */
export interface SnmsValueItem {
  index: number;
  type: string;
  auth?: string;
  data: { format: string; value: string };
}


const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const IDTYPE_RE = /^[A-Za-z0-9_.:-]+$/;
const DIGITS_RE = /^\d+$/;

function bad(zh: string, en: string): RegistryError {
  return new RegistryError('invalid', `${zh} / ${en}`);
}

/** Length in characters (code points), as the SNMS limits count. */
export function charLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function absent(x: unknown): boolean {
  return x === undefined || x === null;
}

/** A text field: string, length in [min, max] characters, no control characters or broken surrogates. */
function text(x: unknown, field: string, min: number, max: number): string {
  if (typeof x !== 'string') {
    if (absent(x) && min > 0) throw bad(`缺少必要的参数: ${field}`, `${field} is required`);
    throw bad(`${field} 必须是字符串`, `${field} must be a string`);
  }
  const n = charLength(x);
  if (n < min) throw bad(`缺少必要的参数: ${field}`, `${field} is required`);
  if (n > max) throw bad(`${field} 长度不能超过${max}`, `${field} is longer than ${max} characters (${n})`);
  if (CONTROL_RE.test(x)) throw bad(`${field} 含有控制字符`, `${field} contains a control character`);
  if (LONE_SURROGATE_RE.test(x)) throw bad(`${field} 含有非法字符`, `${field} is not valid Unicode`);
  return x;
}

/** An integer given as a number or a decimal digit string (the SNMS examples send `"2000"`). */
function integer(x: unknown, field: string, min: number, max: number): number {
  let n: number;
  if (typeof x === 'number') n = x;
  else if (typeof x === 'string' && DIGITS_RE.test(x.trim()) && x.trim().length <= 12) n = Number(x.trim());
  else throw bad(`${field} 必须是整数`, `${field} must be an integer`);
  if (!Number.isSafeInteger(n)) throw bad(`${field} 必须是整数`, `${field} must be an integer`);
  if (n < min || n > max) throw bad(`${field} 必须在${min}到${max}之间`, `${field} must be between ${min} and ${max} (got ${n})`);
  return n;
}

function parsePrefixField(x: unknown): { prefix: string; prefixKey: string } {
  const prefix = text(x, 'prefix', 1, 64);
  let parsed: { prefix: string; prefixKey: string };
  try {
    parsed = parsePrefix(prefix);
  } catch (e) {
    if (e instanceof HandleError) throw bad('前缀格式错误', `prefix is invalid: ${e.message}`);
    throw e;
  }
  if (parsed.prefixKey === PREFIX_RECORD_PREFIX) throw bad('前缀格式错误', `prefix ${PREFIX_RECORD_PREFIX} cannot hold templates`);
  return parsed;
}

/** Validates a template version (the template's key within its prefix): 1–128 characters, no control characters. */
export function normaliseVersion(x: unknown, field = 'version'): string {
  return text(x, field, 1, MAX_VERSION_CHARS);
}

/** Validates a bare prefix as templates use it; throws RegistryError('invalid'). */
export function normaliseTemplatePrefix(x: unknown): { prefix: string; prefixKey: string } {
  return parsePrefixField(x);
}

function optionalCode(x: unknown): string | undefined {
  if (absent(x) || x === '') return undefined;
  return x as string;
}

/**
 * GB/T 4754 industry fields → the canonical code: section letter + the most specific digits given
 * (`C`, `C34`, `C344`, `C3441`). Division 2 digits within the section's range, group 3 digits extending the
 * division, class 4 digits extending the group; a level may be omitted only when every deeper one is too.
 */
export function industryCode(category: unknown, specific: unknown, trade: unknown, subclass: unknown): string {
  if (typeof category !== 'string' || category.length === 0) {
    throw bad('缺少必要的参数: industryCategory', 'industryCategory is required');
  }
  const letter = category.trim().toUpperCase();
  const range = INDUSTRY_SECTIONS[letter];
  if (letter.length !== 1 || range === undefined) {
    throw bad('industryCategory 必须是A到T的门类代码', `industryCategory must be a GB/T 4754 section letter A–T (got ${JSON.stringify(category)})`);
  }
  const levels: [string, unknown, number][] = [
    ['industrySpecific', optionalCode(specific), 2],
    ['industryTrade', optionalCode(trade), 3],
    ['industrySubclass', optionalCode(subclass), 4],
  ];
  let code = '';
  let missing: string | null = null;
  for (const [field, raw, digits] of levels) {
    if (raw === undefined) {
      missing ??= field;
      continue;
    }
    if (missing !== null) throw bad(`缺少必要的参数: ${missing}`, `${field} is given but ${missing} is not`);
    if (typeof raw !== 'string' || raw.length !== digits || !DIGITS_RE.test(raw)) {
      throw bad(`${field} 必须是${digits}位数字`, `${field} must be ${digits} digits (got ${JSON.stringify(raw)})`);
    }
    if (digits === 2) {
      const division = Number(raw);
      if (division < range[0] || division > range[1]) {
        throw bad(`${field} 不属于门类${letter}`, `${field} ${raw} is not a division of section ${letter}`);
      }
    } else if (!raw.startsWith(code)) {
      throw bad(`${field} 必须以上一级代码${code}开头`, `${field} ${raw} does not extend ${code}`);
    }
    code = raw;
  }
  return letter + code;
}

/** The canonical industry code back into the four SNMS fields (levels not recorded are ""). */
export function industryFields(code: string): {
  industryCategory: string;
  industrySpecific: string;
  industryTrade: string;
  industrySubclass: string;
} {
  const digits = code.slice(1);
  return {
    industryCategory: code.slice(0, 1),
    industrySpecific: digits.length >= 2 ? digits.slice(0, 2) : '',
    industryTrade: digits.length >= 3 ? digits.slice(0, 3) : '',
    industrySubclass: digits.length >= 4 ? digits.slice(0, 4) : '',
  };
}

function metadataOf(x: unknown, field: string): TemplateItemPatch['metadata'] {
  if (absent(x)) return undefined;
  if (!isObject(x)) throw bad(`${field} 必须是对象`, `${field} must be an object`);
  if (!absent(x.type) && x.type !== 'string') {
    throw bad(`${field}.type 只支持string`, `${field}.type must be "string" (the only supported type)`);
  }
  const minLength = absent(x.minLength) ? 0 : integer(x.minLength, `${field}.minLength`, 0, MAX_VALUE_CHARS);
  const maxLength = absent(x.maxLength) ? MAX_VALUE_CHARS : integer(x.maxLength, `${field}.maxLength`, 0, MAX_VALUE_CHARS);
  if (maxLength < minLength) {
    throw bad(`${field}.maxLength 不能小于 minLength`, `${field}.maxLength (${maxLength}) is less than minLength (${minLength})`);
  }
  return { type: 'string', minLength, maxLength };
}

function itemOf(x: unknown, i: number): TemplateItemPatch {
  const f = `items[${i}]`;
  if (!isObject(x)) throw bad(`${f} 必须是对象`, `${f} must be an object`);
  const name = text(x.name, `${f}.name`, 1, MAX_NAME_CHARS);
  const idType = text(x.idType, `${f}.idType`, 1, MAX_IDTYPE_CHARS);
  if (!IDTYPE_RE.test(idType)) {
    throw bad(`${f}.idType 只能包含字母、数字和 _ . : -`, `${f}.idType may contain only letters, digits and _ . : -`);
  }
  if (RESERVED_TYPES.includes(idType.toUpperCase())) {
    throw bad(`${f}.idType ${idType} 为系统保留类型`, `${f}.idType ${idType} is a reserved type`);
  }
  const item: TemplateItemPatch = { name, idType };
  if (!absent(x.idIndex)) item.idIndex = integer(x.idIndex, `${f}.idIndex`, FIRST_ITEM_INDEX, MAX_ITEM_INDEX);
  if (!absent(x.required)) {
    if (typeof x.required !== 'boolean') throw bad(`${f}.required 必须是布尔值`, `${f}.required must be true or false`);
    item.required = x.required;
  }
  if (!absent(x.state)) {
    if (x.state !== 0 && x.state !== 1 && x.state !== '0' && x.state !== '1') {
      throw bad(`${f}.state 必须是0或1`, `${f}.state must be 0 (disabled) or 1 (enabled)`);
    }
    item.state = Number(x.state);
  }
  const metadata = metadataOf(x.metadata, `${f}.metadata`);
  if (metadata !== undefined) item.metadata = metadata;
  return item;
}

/**
 * Validates an SNMS v5 template body. Create: every field checked, items completed (idIndex assigned from 2000
 * where omitted, required false, state 1, metadata {string, 0, 255}). Update: industry, type and description may be
 * omitted (kept), items are patches for mergeTemplateItems. Throws RegistryError('invalid') naming the field.
 */
export function normaliseTemplateInput(body: unknown, mode: 'create' | 'update'): TemplateInput {
  if (!isObject(body)) throw bad('请求体必须是JSON对象', 'the body must be a JSON object');
  const { prefix, prefixKey } = parsePrefixField(body.prefix);
  const version = normaliseVersion(body.version);
  const input: TemplateInput = { prefix, prefixKey, version, items: [] };

  const industryGiven = [body.industryCategory, body.industrySpecific, body.industryTrade, body.industrySubclass].some(
    (x) => !absent(x) && x !== '',
  );
  if (mode === 'create' || industryGiven) {
    input.industry = industryCode(body.industryCategory, body.industrySpecific, body.industryTrade, body.industrySubclass);
  }
  if (!absent(body.type)) {
    if (body.type !== 1 && body.type !== 2 && body.type !== '1' && body.type !== '2') {
      throw bad('type 必须是1或2', 'type must be 1 (active identification carrier) or 2 (other)');
    }
    input.type = Number(body.type) as 1 | 2;
  } else if (mode === 'create') input.type = 2;
  if (!absent(body.description)) input.description = text(body.description, 'description', 0, MAX_DESCRIPTION_CHARS);
  else if (mode === 'create') input.description = null;

  if (!Array.isArray(body.items)) throw bad('缺少必要的参数: items', 'items must be an array');
  if (body.items.length === 0) throw bad('items 不能为空', 'items must not be empty');
  if (body.items.length > MAX_ITEMS) throw bad(`items 最多${MAX_ITEMS}项`, `items has more than ${MAX_ITEMS} entries`);
  const items = body.items.map(itemOf);

  // Unique within the body: names, types (case-insensitively) and given indexes.
  const names = new Set<string>();
  const types = new Set<string>();
  const indexes = new Set<number>();
  items.forEach((it, i) => {
    if (names.has(it.name)) throw bad(`items[${i}].name ${it.name} 重复`, `items[${i}].name ${it.name} is not unique`);
    names.add(it.name);
    const t = it.idType.toUpperCase();
    if (types.has(t)) throw bad(`items[${i}].idType ${it.idType} 重复`, `items[${i}].idType ${it.idType} is not unique`);
    types.add(t);
    if (it.idIndex !== undefined) {
      if (indexes.has(it.idIndex)) throw bad(`items[${i}].idIndex ${it.idIndex} 重复`, `items[${i}].idIndex ${it.idIndex} is not unique`);
      indexes.add(it.idIndex);
    }
  });

  input.items = mode === 'create' ? mergeTemplateItems([], items) : items;
  return input;
}

/**
 * The v5 incremental update: an item matches an existing one by idIndex and idType (case-insensitively) and may
 * change its name, required, state and metadata; an idIndex held by another idType is refused; an item without
 * a matching idIndex is new (appended; its idType must be new too; omitted idIndex → the lowest free from 2000).
 * Items not sent stay as they are: nothing is ever removed. Throws RegistryError('invalid').
 */
export function mergeTemplateItems(existing: readonly TemplateItem[], update: readonly TemplateItemPatch[]): TemplateItem[] {
  const out: TemplateItem[] = existing.map((it) => ({ ...it, metadata: { ...it.metadata } }));
  const byIndex = new Map<number, number>();
  out.forEach((it, i) => byIndex.set(it.idIndex, i));
  // Indexes already taken or asked for explicitly: an item without idIndex never steals one of them.
  const taken = new Set<number>(out.map((it) => it.idIndex));
  for (const p of update) if (p.idIndex !== undefined) taken.add(p.idIndex);
  let nextFree = FIRST_ITEM_INDEX;
  const allocate = (): number => {
    while (taken.has(nextFree)) nextFree++;
    if (nextFree > MAX_ITEM_INDEX) throw bad('没有可用的索引', 'no free idIndex left');
    taken.add(nextFree);
    return nextFree;
  };

  update.forEach((p, i) => {
    const at = p.idIndex === undefined ? undefined : byIndex.get(p.idIndex);
    if (at !== undefined) {
      const cur = out[at]!;
      if (cur.idType.toUpperCase() !== p.idType.toUpperCase()) {
        throw bad(
          `items[${i}]: 索引${cur.idIndex}已被${cur.idType}使用，idType不可修改`,
          `items[${i}]: idIndex ${cur.idIndex} belongs to idType ${cur.idType}; idType cannot change`,
        );
      }
      cur.name = p.name;
      if (p.required !== undefined) cur.required = p.required;
      if (p.state !== undefined) cur.state = p.state;
      if (p.metadata !== undefined) cur.metadata = { ...p.metadata };
      return;
    }
    const clash = out.find((it) => it.idType.toUpperCase() === p.idType.toUpperCase());
    if (clash) {
      throw bad(
        `items[${i}].idType ${p.idType} 已存在(索引${clash.idIndex})`,
        `items[${i}].idType ${p.idType} already exists at idIndex ${clash.idIndex}`,
      );
    }
    const item: TemplateItem = {
      name: p.name,
      idType: p.idType,
      idIndex: p.idIndex ?? allocate(),
      required: p.required ?? false,
      state: p.state ?? 1,
      metadata: p.metadata ? { ...p.metadata } : { type: 'string', minLength: 0, maxLength: MAX_VALUE_CHARS },
    };
    byIndex.set(item.idIndex, out.length);
    out.push(item);
  });

  if (out.length > MAX_ITEMS) throw bad(`模板最多${MAX_ITEMS}项`, `a template has at most ${MAX_ITEMS} items (would have ${out.length})`);
  const names = new Set<string>();
  for (const it of out) {
    if (names.has(it.name)) throw bad(`模板项名称${it.name}重复`, `item name ${it.name} is not unique in the template`);
    names.add(it.name);
  }
  return out;
}

/**
 * Checks identifier values against a template: null when valid, else the SNMS-style message (Chinese / English).
 * Index 1000/1001/1999 are the node's; every index must be a template item with the same type (case-insensitive),
 * enabled, format "string", length (characters) within the item's bounds; no index twice; every enabled required
 * item present.
 */
export function validateValues(template: { version: string; items: readonly TemplateItem[] }, values: readonly SnmsValueItem[]): string | null {
  const byIndex = new Map<number, TemplateItem>();
  for (const it of template.items) byIndex.set(it.idIndex, it);
  const seen = new Set<number>();
  for (const v of values) {
    if (RESERVED_VALUE_INDEXES.includes(v.index)) return `索引${v.index}为系统保留 / index ${v.index} is reserved`;
    if (seen.has(v.index)) return `索引${v.index}重复 / index ${v.index} appears more than once`;
    seen.add(v.index);
    const item = byIndex.get(v.index);
    if (item === undefined) {
      return `非法操作，索引${v.index}在模板中不存在 / index ${v.index} is not in template ${template.version}`;
    }
    if (item.idType.toUpperCase() !== v.type.toUpperCase()) {
      return `索引${v.index}的类型应为${item.idType} / index ${v.index} must have type ${item.idType}, not ${v.type}`;
    }
    if (item.state === 0) return `索引${v.index}(${item.idType})已停用 / item ${item.idType} at index ${v.index} is disabled`;
    if (v.data.format !== 'string') {
      return `索引${v.index}的数据格式只支持string / index ${v.index}: data.format must be "string"`;
    }
    const min = item.metadata.minLength ?? 0;
    const max = item.metadata.maxLength ?? MAX_VALUE_CHARS;
    const n = charLength(v.data.value);
    if (n < min || n > max) {
      return `索引${v.index}(${item.idType})的值长度应在${min}到${max}之间 / value of ${item.idType} at index ${v.index} must be ${min}–${max} characters (got ${n})`;
    }
  }
  for (const it of template.items) {
    if (it.required && it.state !== 0 && !seen.has(it.idIndex)) {
      return `缺少必填项${it.name}(${it.idType}，索引${it.idIndex}) / required item ${it.idType} (index ${it.idIndex}) is missing`;
    }
  }
  return null;
}

/**
 * The `value` array of an SNMS identifier body, checked for shape only (template checks are validateValues'):
 * `[{index, type, auth?, data:{format, value}}]`, index a non-negative int32 (number or digit string).
 * Throws RegistryError('invalid').
 */
export function parseSnmsValues(raw: unknown): SnmsValueItem[] {
  if (!Array.isArray(raw)) throw bad('value 必须是数组', 'value must be an array');
  if (raw.length > MAX_SNMS_VALUES) throw bad(`value 最多${MAX_SNMS_VALUES}项`, `value has more than ${MAX_SNMS_VALUES} entries`);
  return raw.map((x: unknown, i): SnmsValueItem => {
    const f = `value[${i}]`;
    if (!isObject(x)) throw bad(`${f} 必须是对象`, `${f} must be an object`);
    if (absent(x.index)) throw bad(`缺少必要的参数: ${f}.index`, `${f}.index is required`);
    const index = integer(x.index, `${f}.index`, 0, MAX_ITEM_INDEX);
    const type = text(x.type, `${f}.type`, 1, MAX_IDTYPE_CHARS);
    if (!isObject(x.data)) throw bad(`缺少必要的参数: ${f}.data`, `${f}.data must be an object {format, value}`);
    const format = text(x.data.format, `${f}.data.format`, 1, 32);
    const value = x.data.value;
    if (typeof value !== 'string') throw bad(`${f}.data.value 必须是字符串`, `${f}.data.value must be a string`);
    if (LONE_SURROGATE_RE.test(value)) throw bad(`${f}.data.value 含有非法字符`, `${f}.data.value is not valid Unicode`);
    const item: SnmsValueItem = { index, type, data: { format, value } };
    if (typeof x.auth === 'string') item.auth = x.auth;
    else if (!absent(x.auth) && typeof x.auth !== 'number') throw bad(`${f}.auth 必须是字符串`, `${f}.auth must be a string`);
    else if (typeof x.auth === 'number') item.auth = String(x.auth);
    return item;
  });
}
