// Template rules (pure): SNMS v5 template input, incremental item merge, value validation and parsing — every bad input.
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../registry/context.js';
import type { TemplateItem } from '../../registry/db.js';
import {
  industryCode,
  industryFields,
  mergeTemplateItems,
  normaliseTemplateInput,
  parseSnmsValues,
  validateValues,
  type SnmsValueItem,
} from '../../registry/template-rules.js';

const item = (extra: Record<string, unknown> = {}) => ({
  name: '产品名称',
  idType: 'productName',
  idIndex: '2000',
  required: true,
  metadata: { type: 'string', minLength: 1, maxLength: 64 },
  ...extra,
});

const body = (extra: Record<string, unknown> = {}) => ({
  prefix: '88.320924.17',
  version: '1.0.0',
  industryCategory: 'C',
  industrySpecific: '34',
  industryTrade: '344',
  industrySubclass: '3441',
  type: 1,
  description: '水泵',
  items: [item(), item({ name: '型号', idType: 'model', idIndex: 2001, required: false })],
  ...extra,
});

function invalid(fn: () => unknown): RegistryError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RegistryError);
    expect((e as RegistryError).kind).toBe('invalid');
    // Chinese / English, like the SNMS messages
    expect((e as RegistryError).message).toMatch(/.+ \/ .+/);
    return e as RegistryError;
  }
  throw new Error('expected RegistryError(invalid), nothing was thrown');
}

describe('normaliseTemplateInput: a good template', () => {
  it('normalises the SNMS v5 body, canonical industry code, indexes as numbers', () => {
    const t = normaliseTemplateInput(body(), 'create');
    expect(t).toEqual({
      prefix: '88.320924.17',
      prefixKey: '88.320924.17',
      version: '1.0.0',
      industry: 'C3441',
      type: 1,
      description: '水泵',
      items: [
        { name: '产品名称', idType: 'productName', idIndex: 2000, required: true, state: 1, metadata: { type: 'string', minLength: 1, maxLength: 64 } },
        { name: '型号', idType: 'model', idIndex: 2001, required: false, state: 1, metadata: { type: 'string', minLength: 1, maxLength: 64 } },
      ],
    });
  });

  it('fills defaults on create: type 2, description null, required false, state 1, metadata string 0–255, indexes from 2000', () => {
    const t = normaliseTemplateInput(
      {
        prefix: 'ab.Cd',
        version: 'v',
        industryCategory: 'a',
        type: undefined,
        items: [{ name: 'x', idType: 'x' }, { name: 'y', idType: 'y', idIndex: 2000 }, { name: 'z', idType: 'z' }],
      },
      'create',
    );
    expect(t.prefixKey).toBe('AB.CD');
    expect(t.industry).toBe('A');
    expect(t.type).toBe(2);
    expect(t.description).toBeNull();
    expect(t.items.map((i) => [i.idType, i.idIndex, i.required, i.state, i.metadata])).toEqual([
      ['x', 2001, false, 1, { type: 'string', minLength: 0, maxLength: 255 }],
      ['y', 2000, false, 1, { type: 'string', minLength: 0, maxLength: 255 }],
      ['z', 2002, false, 1, { type: 'string', minLength: 0, maxLength: 255 }],
    ]);
  });

  it('on update leaves omitted industry, type, description, required, state and metadata undefined (kept)', () => {
    const t = normaliseTemplateInput({ prefix: '88.1', version: '1', items: [{ name: 'n', idType: 't' }] }, 'update');
    expect(t.industry).toBeUndefined();
    expect(t.type).toBeUndefined();
    expect(t.description).toBeUndefined();
    expect(t.items).toEqual([{ name: 'n', idType: 't' }]);
  });

  it('accepts the most specific industry level given, and "" for levels not given', () => {
    expect(industryCode('C', '', '', '')).toBe('C');
    expect(industryCode('C', '34', '', undefined)).toBe('C34');
    expect(industryCode('c', '34', '344', null)).toBe('C344');
    expect(industryCode('T', '97', '970', '9700')).toBe('T9700');
    expect(industryFields('C3441')).toEqual({ industryCategory: 'C', industrySpecific: '34', industryTrade: '344', industrySubclass: '3441' });
    expect(industryFields('C34')).toEqual({ industryCategory: 'C', industrySpecific: '34', industryTrade: '', industrySubclass: '' });
  });

  it('accepts 64-character prefixes, 128-character versions, 1024-character descriptions, 200 items, index 2^31-1', () => {
    const prefix = `88.${'1'.repeat(61)}`;
    const items = Array.from({ length: 200 }, (_x, i) => ({ name: `n${i}`, idType: `t${i}` }));
    items[0] = { ...items[0]!, idIndex: 2147483647 } as never;
    const t = normaliseTemplateInput(body({ prefix, version: '版'.repeat(128), description: 'd'.repeat(1024), items }), 'create');
    expect(t.items).toHaveLength(200);
    expect(t.items[0]!.idIndex).toBe(2147483647);
  });
});

describe('normaliseTemplateInput: every bad input', () => {
  const i = (extra: Record<string, unknown>) => body({ items: [item(extra)] });
  const cases: [string, unknown, RegExp][] = [
    ['body not an object', [], /body/],
    ['body null', null, /body/],
    ['prefix missing', body({ prefix: undefined }), /prefix/],
    ['prefix not a string', body({ prefix: 88 }), /prefix/],
    ['prefix too long', body({ prefix: `88.${'1'.repeat(62)}` }), /prefix/],
    ['prefix with a slash', body({ prefix: '88.1/2' }), /prefix/],
    ['prefix with an empty segment', body({ prefix: '88..1' }), /prefix/],
    ['prefix with whitespace', body({ prefix: '88. 1' }), /prefix/],
    ['prefix 0.NA', body({ prefix: '0.na' }), /prefix/],
    ['version missing', body({ version: undefined }), /version/],
    ['version empty', body({ version: '' }), /version/],
    ['version too long', body({ version: 'v'.repeat(129) }), /version/],
    ['version with a control character', body({ version: '1.0\n' }), /version/],
    ['version a number', body({ version: 1 }), /version/],
    ['industryCategory missing', body({ industryCategory: undefined }), /industryCategory/],
    ['industryCategory not a section', body({ industryCategory: 'U' }), /industryCategory/],
    ['industryCategory two letters', body({ industryCategory: 'CC' }), /industryCategory/],
    ['industrySpecific not two digits', body({ industrySpecific: '3', industryTrade: '', industrySubclass: '' }), /industrySpecific/],
    ['industrySpecific a number', body({ industrySpecific: 34 }), /industrySpecific/],
    ['industrySpecific of another section', body({ industrySpecific: '01', industryTrade: '', industrySubclass: '' }), /industrySpecific/],
    ['industryTrade not extending', body({ industryTrade: '354', industrySubclass: '' }), /industryTrade/],
    ['industryTrade not digits', body({ industryTrade: '34a', industrySubclass: '' }), /industryTrade/],
    ['industrySubclass not extending', body({ industrySubclass: '3451' }), /industrySubclass/],
    ['industrySubclass too long', body({ industrySubclass: '34411' }), /industrySubclass/],
    ['industryTrade skipped', body({ industryTrade: '' }), /industryTrade/],
    ['type 3', body({ type: 3 }), /type/],
    ['type "x"', body({ type: 'x' }), /type/],
    ['description too long', body({ description: 'd'.repeat(1025) }), /description/],
    ['description not a string', body({ description: 5 }), /description/],
    ['items missing', body({ items: undefined }), /items/],
    ['items not an array', body({ items: {} }), /items/],
    ['items empty', body({ items: [] }), /items/],
    ['items over 200', body({ items: Array.from({ length: 201 }, (_x, n) => ({ name: `n${n}`, idType: `t${n}` })) }), /items/],
    ['item not an object', body({ items: ['x'] }), /items\[0\]/],
    ['item name missing', i({ name: undefined }), /items\[0\]\.name/],
    ['item name empty', i({ name: '' }), /items\[0\]\.name/],
    ['item name too long', i({ name: 'n'.repeat(65) }), /items\[0\]\.name/],
    ['item idType missing', i({ idType: undefined }), /items\[0\]\.idType/],
    ['item idType too long', i({ idType: 't'.repeat(129) }), /items\[0\]\.idType/],
    ['item idType with a space', i({ idType: 'product name' }), /items\[0\]\.idType/],
    ['item idType non-ASCII', i({ idType: '名称' }), /items\[0\]\.idType/],
    ['item idType HS_ADMIN', i({ idType: 'HS_ADMIN' }), /reserved/],
    ['item idType hs_seckey (any case)', i({ idType: 'hs_seckey' }), /reserved/],
    ['item idType HS_PUBKEY', i({ idType: 'HS_PUBKEY' }), /reserved/],
    ['item idType HS_SITE', i({ idType: 'HS_SITE' }), /reserved/],
    ['item idType HS_VLIST', i({ idType: 'HS_VLIST' }), /reserved/],
    ['item idType TEMPLATE', i({ idType: 'Template' }), /reserved/],
    ['item idType TEMPLATE_ID', i({ idType: 'TEMPLATE_ID' }), /reserved/],
    ['item idIndex 1999', i({ idIndex: 1999 }), /idIndex/],
    ['item idIndex 1001', i({ idIndex: '1001' }), /idIndex/],
    ['item idIndex 2^31', i({ idIndex: 2147483648 }), /idIndex/],
    ['item idIndex fractional', i({ idIndex: 2000.5 }), /idIndex/],
    ['item idIndex not numeric', i({ idIndex: '20x0' }), /idIndex/],
    ['item idIndex negative string', i({ idIndex: '-2000' }), /idIndex/],
    ['item idIndex boolean', i({ idIndex: true }), /idIndex/],
    ['item required a string', i({ required: 'yes' }), /required/],
    ['item state 2', i({ state: 2 }), /state/],
    ['item state true', i({ state: true }), /state/],
    ['item metadata not an object', i({ metadata: 'string' }), /metadata/],
    ['item metadata type number', i({ metadata: { type: 'number' } }), /metadata\.type/],
    ['item metadata type STRING', i({ metadata: { type: 'STRING' } }), /metadata\.type/],
    ['item metadata minLength negative', i({ metadata: { minLength: -1 } }), /minLength/],
    ['item metadata maxLength 256', i({ metadata: { maxLength: 256 } }), /maxLength/],
    ['item metadata maxLength < minLength', i({ metadata: { minLength: 10, maxLength: 5 } }), /maxLength/],
    ['item metadata minLength not integer', i({ metadata: { minLength: 1.5 } }), /minLength/],
    ['duplicate names', body({ items: [item(), item({ idType: 'b', idIndex: 2001 })] }), /name/],
    ['duplicate idTypes (case-insensitive)', body({ items: [item(), item({ name: 'b', idType: 'PRODUCTNAME', idIndex: 2001 })] }), /idType/],
    ['duplicate idIndex (string vs number)', body({ items: [item(), item({ name: 'b', idType: 'b', idIndex: 2000 })] }), /idIndex/],
  ];
  it.each(cases)('%s', (_name, input, field) => {
    const e = invalid(() => normaliseTemplateInput(input, 'create'));
    expect(e.message).toMatch(field);
  });

  it('refuses the same bad items on update', () => {
    invalid(() => normaliseTemplateInput(body({ items: [item({ idType: 'HS_ADMIN' })] }), 'update'));
    invalid(() => normaliseTemplateInput(body({ items: [] }), 'update'));
    invalid(() => normaliseTemplateInput(body({ industryCategory: 'Z' }), 'update'));
  });
});

const base: TemplateItem[] = [
  { name: 'A', idType: 'a', idIndex: 2000, required: true, state: 1, metadata: { type: 'string', minLength: 1, maxLength: 10 } },
  { name: 'B', idType: 'b', idIndex: 2005, required: false, state: 1, metadata: { type: 'string', minLength: 0, maxLength: 255 } },
];

describe('mergeTemplateItems', () => {
  it('changes a matched item (idIndex + idType, case-insensitive) and keeps items not sent', () => {
    const out = mergeTemplateItems(base, [{ name: 'A2', idType: 'A', idIndex: 2000, required: false, state: 0, metadata: { type: 'string', minLength: 0, maxLength: 20 } }]);
    expect(out).toEqual([
      { name: 'A2', idType: 'a', idIndex: 2000, required: false, state: 0, metadata: { type: 'string', minLength: 0, maxLength: 20 } },
      base[1],
    ]);
    expect(base[0]!.name).toBe('A'); // input untouched
  });

  it('keeps required, state and metadata of a matched item when omitted', () => {
    const out = mergeTemplateItems(base, [{ name: 'A', idType: 'a', idIndex: 2000 }]);
    expect(out).toEqual(base);
  });

  it('appends new items, allocating the lowest free index not claimed by another item of the update', () => {
    const out = mergeTemplateItems(base, [
      { name: 'C', idType: 'c' },
      { name: 'D', idType: 'd', idIndex: 2001 },
      { name: 'E', idType: 'e' },
    ]);
    expect(out.map((x) => [x.idType, x.idIndex, x.state, x.required])).toEqual([
      ['a', 2000, 1, true],
      ['b', 2005, 1, false],
      ['c', 2002, 1, false],
      ['d', 2001, 1, false],
      ['e', 2003, 1, false],
    ]);
  });

  it('never removes an item: an empty update is the existing list', () => {
    expect(mergeTemplateItems(base, [])).toEqual(base);
  });

  const bad: [string, Parameters<typeof mergeTemplateItems>[1], RegExp][] = [
    ['an idIndex held by another idType', [{ name: 'X', idType: 'x', idIndex: 2000 }], /2000/],
    ['a new item repeating an existing idType', [{ name: 'X', idType: 'B' }], /idType/],
    ['a new item repeating an existing idType at a new index', [{ name: 'X', idType: 'b', idIndex: 2100 }], /idType/],
    ['a rename onto an existing name', [{ name: 'B', idType: 'a', idIndex: 2000 }], /name/],
    ['a new item with an existing name', [{ name: 'A', idType: 'z' }], /name/],
    ['more than 200 items in all', Array.from({ length: 199 }, (_x, n) => ({ name: `n${n}`, idType: `t${n}` })), /200/],
  ];
  it.each(bad)('refuses %s', (_name, update, msg) => {
    const e = invalid(() => mergeTemplateItems(base, update));
    expect(e.message).toMatch(msg);
  });
});

const tpl = {
  version: '1.0',
  items: [
    ...base,
    { name: 'Off', idType: 'off', idIndex: 2010, required: true, state: 0, metadata: { type: 'string', minLength: 0, maxLength: 255 } },
  ],
};
const sv = (index: number, type: string, value: string, format = 'string'): SnmsValueItem => ({ index, type, data: { format, value } });

describe('validateValues', () => {
  it('accepts values matching the template (type case-insensitive; disabled required items not needed)', () => {
    expect(validateValues(tpl, [sv(2000, 'A', 'x'), sv(2005, 'b', '')])).toBeNull();
    expect(validateValues(tpl, [sv(2000, 'a', '十个汉字十个汉字十个')])).toBeNull(); // 10 characters, 30 bytes
  });

  const cases: [string, SnmsValueItem[], string][] = [
    ['index 1000 reserved', [sv(2000, 'a', 'x'), sv(1000, 'TEMPLATE_ID', 'x')], '索引1000为系统保留 / index 1000 is reserved'],
    ['index 1001 reserved', [sv(2000, 'a', 'x'), sv(1001, 'TEMPLATE', '1.0')], '索引1001为系统保留 / index 1001 is reserved'],
    ['index 1999 reserved', [sv(1999, 'a', 'x')], '索引1999为系统保留'],
    ['index not in the template', [sv(2000, 'a', 'x'), sv(2001, 'a', 'x')], '非法操作，索引2001在模板中不存在'],
    ['index 100 not in the template', [sv(100, 'HS_ADMIN', 'x')], '非法操作，索引100在模板中不存在'],
    ['type mismatch', [sv(2000, 'b', 'x')], '索引2000的类型应为a'],
    ['disabled item', [sv(2000, 'a', 'x'), sv(2010, 'off', 'x')], '已停用'],
    ['format not string', [sv(2000, 'a', 'eA==', 'base64')], 'string'],
    ['value too short', [sv(2000, 'a', '')], '1到10'],
    ['value too long (characters)', [sv(2000, 'a', '十一个汉字十一个汉字十')], '1到10'],
    ['duplicate index', [sv(2000, 'a', 'x'), sv(2000, 'a', 'y')], '索引2000重复'],
    ['required item missing', [sv(2005, 'b', 'x')], '缺少必填项A'],
    ['required item missing (empty list)', [], 'required item a'],
  ];
  it.each(cases)('%s', (_name, values, msg) => {
    const r = validateValues(tpl, values);
    expect(r).not.toBeNull();
    expect(r).toContain(msg);
    expect(r).toMatch(/.+ \/ .+/);
  });
});

describe('parseSnmsValues', () => {
  it('parses the SNMS value shape; index may be a digit string; auth kept', () => {
    expect(
      parseSnmsValues([
        { index: '2000', type: 'a', auth: '', data: { format: 'string', value: 'x' } },
        { index: 2005, type: 'b', data: { format: 'string', value: '' } },
      ]),
    ).toEqual([
      { index: 2000, type: 'a', auth: '', data: { format: 'string', value: 'x' } },
      { index: 2005, type: 'b', data: { format: 'string', value: '' } },
    ]);
    expect(parseSnmsValues([])).toEqual([]);
  });

  const cases: [string, unknown, RegExp][] = [
    ['not an array', { index: 2000 }, /value/],
    ['null', null, /value/],
    ['too many entries', Array.from({ length: 1001 }, () => ({})), /value/],
    ['entry not an object', ['x'], /value\[0\]/],
    ['index missing', [{ type: 'a', data: { format: 'string', value: 'x' } }], /value\[0\]\.index/],
    ['index not numeric', [{ index: 'abc', type: 'a', data: { format: 'string', value: 'x' } }], /index/],
    ['index negative', [{ index: -1, type: 'a', data: { format: 'string', value: 'x' } }], /index/],
    ['index fractional', [{ index: 2000.5, type: 'a', data: { format: 'string', value: 'x' } }], /index/],
    ['index over int32', [{ index: 2 ** 31, type: 'a', data: { format: 'string', value: 'x' } }], /index/],
    ['type missing', [{ index: 2000, data: { format: 'string', value: 'x' } }], /type/],
    ['type empty', [{ index: 2000, type: '', data: { format: 'string', value: 'x' } }], /type/],
    ['type too long', [{ index: 2000, type: 't'.repeat(129), data: { format: 'string', value: 'x' } }], /type/],
    ['data missing', [{ index: 2000, type: 'a' }], /data/],
    ['data a bare string', [{ index: 2000, type: 'a', data: 'x' }], /data/],
    ['data.format missing', [{ index: 2000, type: 'a', data: { value: 'x' } }], /format/],
    ['data.value missing', [{ index: 2000, type: 'a', data: { format: 'string' } }], /data\.value/],
    ['data.value a number', [{ index: 2000, type: 'a', data: { format: 'string', value: 5 } }], /data\.value/],
    ['data.value a broken surrogate', [{ index: 2000, type: 'a', data: { format: 'string', value: '\ud800' } }], /data\.value/],
    ['auth an object', [{ index: 2000, type: 'a', auth: {}, data: { format: 'string', value: 'x' } }], /auth/],
    ['second entry broken', [{ index: 2000, type: 'a', data: { format: 'string', value: 'x' } }, { index: 2001 }], /value\[1\]/],
  ];
  it.each(cases)('refuses %s', (_name, raw, field) => {
    const e = invalid(() => parseSnmsValues(raw));
    expect(e.message).toMatch(field);
  });
});
