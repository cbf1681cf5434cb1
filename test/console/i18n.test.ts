// The console's dictionaries: every key in both languages, no key defined by two pages, no empty string, placeholders alike.
import { describe, expect, it } from 'vitest';
import common from '../../src/console/i18n/common.js';
import enterprise from '../../src/console/i18n/enterprise.js';
import identifiers from '../../src/console/i18n/identifiers.js';
import operator from '../../src/console/i18n/operator.js';
import ops from '../../src/console/i18n/ops.js';

const DICTS: Record<string, { zh: Record<string, string>; en: Record<string, string> }> = { common, enterprise, identifiers, operator, ops };
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('console dictionaries', () => {
  it('have every key in Chinese and English, with the same placeholders, none empty', () => {
    const problems: string[] = [];
    for (const [name, d] of Object.entries(DICTS)) {
      for (const k of Object.keys(d.zh)) if (!(k in d.en)) problems.push(`${name}: ${k} has no English`);
      for (const k of Object.keys(d.en)) if (!(k in d.zh)) problems.push(`${name}: ${k} has no Chinese`);
      for (const [k, zh] of Object.entries(d.zh)) {
        const en = d.en[k];
        if (zh.trim() === '' || (en !== undefined && en.trim() === '')) problems.push(`${name}: ${k} is empty`);
        if (en !== undefined && placeholders(zh).join() !== placeholders(en).join()) problems.push(`${name}: ${k} placeholders differ`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('define each key once across the pages', () => {
    const owner = new Map<string, string>();
    const twice: string[] = [];
    for (const [name, d] of Object.entries(DICTS)) {
      for (const k of Object.keys(d.zh)) {
        if (owner.has(k)) twice.push(`${k}: ${owner.get(k)} and ${name}`);
        owner.set(k, name);
      }
    }
    expect(twice).toEqual([]);
  });

  it('speak Chinese in the Chinese dictionary', () => {
    const han = /[\u4e00-\u9fff]/;
    const notChinese = Object.entries(common.zh).filter(([, v]) => !han.test(v)).map(([k]) => k);
    // a few are names or marks that read the same in both
    expect(notChinese.filter((k) => !['lang.switch'].includes(k))).toEqual([]);
  });
});
