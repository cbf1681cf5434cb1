// Pure validation rules for enterprise data: GB 32100-2015 credit codes and GB/T 4754-2017 industry codes.
import { RegistryError } from './context.js';

/** The 31 characters of a unified social credit code (GB 32100-2015: no I, O, Z, S, V). */
export const CREDIT_CODE_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
/** Weights of positions 1–17; position 18 is the check character. */
export const CREDIT_CODE_WEIGHTS: readonly number[] = Object.freeze([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]);

/** The check character for the first 17 characters of a credit code (assumed to be from the charset). */
export function creditCodeCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += CREDIT_CODE_CHARSET.indexOf(first17.charAt(i)) * CREDIT_CODE_WEIGHTS[i]!;
  return CREDIT_CODE_CHARSET.charAt((31 - (sum % 31)) % 31);
}

/**
 * Validates a unified social credit code (统一社会信用代码, GB 32100-2015) and returns it normalised (trimmed,
 * upper-cased). Throws RegistryError('invalid') saying what is wrong.
 */
export function checkCreditCode(code: string): string {
  if (typeof code !== 'string') throw invalid('统一社会信用代码必须是字符串 / credit code must be a string');
  const c = code.trim().toUpperCase();
  if (c.length !== 18) {
    throw invalid(`统一社会信用代码应为18位 / credit code must be 18 characters (got ${[...c].length})`);
  }
  for (let i = 0; i < 18; i++) {
    const ch = c.charAt(i);
    if (!CREDIT_CODE_CHARSET.includes(ch)) {
      throw invalid(
        `统一社会信用代码第${i + 1}位字符非法 / credit code has an invalid character at position ${i + 1}: ${JSON.stringify(ch)} (allowed: 0-9 and A-Z except I, O, Z, S, V)`,
      );
    }
  }
  if (!/^\d{6}$/.test(c.slice(2, 8))) {
    throw invalid('统一社会信用代码第3-8位应为行政区划码数字 / credit code characters 3-8 (administrative division code) must be digits');
  }
  const expected = creditCodeCheckChar(c.slice(0, 17));
  if (c.charAt(17) !== expected) {
    throw invalid(`统一社会信用代码校验位错误 / credit code check character mismatch: expected ${expected}, got ${c.charAt(17)}`);
  }
  return c;
}

/** GB/T 4754-2017 sections (门类) and their division (大类) ranges. */
export const INDUSTRY_SECTIONS: Readonly<Record<string, readonly [number, number]>> = Object.freeze({
  A: [1, 5],
  B: [6, 12],
  C: [13, 43],
  D: [44, 46],
  E: [47, 50],
  F: [51, 52],
  G: [53, 60],
  H: [61, 62],
  I: [63, 65],
  J: [66, 69],
  K: [70, 70],
  L: [71, 72],
  M: [73, 75],
  N: [76, 79],
  O: [80, 82],
  P: [83, 83],
  Q: [84, 85],
  R: [86, 90],
  S: [91, 96],
  T: [97, 97],
});

/** The four levels as SNMS sends them (industryCategory / industrySpecific / industryTrade / industrySubclass). */
export interface IndustryInput {
  category: string;
  specific?: string | undefined;
  trade?: string | undefined;
  subclass?: string | undefined;
}

/**
 * Validates a GB/T 4754-2017 industry code and returns its canonical form: the section letter followed by the most
 * specific digits given (`C`, `C34`, `C344`, `C3441`). Accepts the four SNMS fields (empty strings count as absent;
 * a more specific level must extend the less specific ones) or one string such as `C3441`.
 */
export function checkIndustryCode(input: IndustryInput | string): string {
  let parts: IndustryInput;
  if (typeof input === 'string') {
    const s = input.trim().toUpperCase();
    const m = /^([A-Z])(\d*)$/.exec(s);
    if (!m) throw invalid(`行业代码格式错误 / industry code must be a section letter followed by 0, 2, 3 or 4 digits (e.g. C3441): ${JSON.stringify(input)}`);
    const d = m[2]!;
    if (d.length === 1 || d.length > 4) {
      throw invalid(`行业代码格式错误 / industry code must be a section letter followed by 0, 2, 3 or 4 digits (e.g. C3441): ${JSON.stringify(input)}`);
    }
    parts = {
      category: m[1]!,
      specific: d.length >= 2 ? d.slice(0, 2) : undefined,
      trade: d.length >= 3 ? d.slice(0, 3) : undefined,
      subclass: d.length === 4 ? d : undefined,
    };
  } else if (typeof input === 'object' && input !== null) {
    parts = input;
  } else {
    throw invalid('行业代码缺失 / industry code is missing');
  }

  const category = level(parts.category, 'category').toUpperCase();
  if (category === '') throw invalid('行业门类缺失 / industry category (section letter A-T) is missing');
  const range = INDUSTRY_SECTIONS[category];
  if (range === undefined || category.length !== 1) {
    throw invalid(`行业门类错误 / industry category must be one letter A-T (GB/T 4754-2017): ${JSON.stringify(category)}`);
  }
  const specific = level(parts.specific, 'specific');
  const trade = level(parts.trade, 'trade');
  const subclass = level(parts.subclass, 'subclass');
  if (specific !== '' && !/^\d{2}$/.test(specific)) throw invalid(`行业大类应为2位数字 / industry division must be 2 digits: ${JSON.stringify(specific)}`);
  if (trade !== '' && !/^\d{3}$/.test(trade)) throw invalid(`行业中类应为3位数字 / industry group must be 3 digits: ${JSON.stringify(trade)}`);
  if (subclass !== '' && !/^\d{4}$/.test(subclass)) throw invalid(`行业小类应为4位数字 / industry class must be 4 digits: ${JSON.stringify(subclass)}`);
  if (trade !== '' && specific !== '' && !trade.startsWith(specific)) {
    throw invalid(`行业中类 ${trade} 不属于大类 ${specific} / industry group ${trade} does not belong to division ${specific}`);
  }
  if (subclass !== '' && trade !== '' && !subclass.startsWith(trade)) {
    throw invalid(`行业小类 ${subclass} 不属于中类 ${trade} / industry class ${subclass} does not belong to group ${trade}`);
  }
  if (subclass !== '' && trade === '' && specific !== '' && !subclass.startsWith(specific)) {
    throw invalid(`行业小类 ${subclass} 不属于大类 ${specific} / industry class ${subclass} does not belong to division ${specific}`);
  }
  const digits = subclass || trade || specific;
  if (digits !== '') {
    const division = Number(digits.slice(0, 2));
    if (division < range[0] || division > range[1]) {
      const lo = String(range[0]).padStart(2, '0');
      const hi = String(range[1]).padStart(2, '0');
      throw invalid(
        `行业大类 ${digits.slice(0, 2)} 不属于门类 ${category} / industry division ${digits.slice(0, 2)} is not in section ${category} (${lo}-${hi})`,
      );
    }
  }
  return category + digits;
}

function level(v: unknown, name: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalid(`行业代码字段 ${name} 必须是字符串 / industry ${name} must be a string`);
  return v.trim();
}

function invalid(message: string): RegistryError {
  return new RegistryError('invalid', message);
}
