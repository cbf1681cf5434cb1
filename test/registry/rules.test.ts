// Table-driven tests of the pure enterprise rules: GB 32100 credit codes and GB/T 4754 industry codes.
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../registry/context.js';
import { checkCreditCode, checkIndustryCode, creditCodeCheckChar } from '../../registry/rules.js';

/**
 * An independent check-character computation: the GB 32100 weights are 3^i mod 31, and the characters are looked up
 * in a map built from the standard's code table rather than the module's string.
 */
function referenceCheckChar(first17: string): string {
  const table: Record<string, number> = {};
  '0123456789'.split('').forEach((d, i) => (table[d] = i));
  ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'T', 'U', 'W', 'X', 'Y'].forEach((c, i) => (table[c] = 10 + i));
  const chars = Object.keys(table).sort((a, b) => table[a]! - table[b]!);
  let sum = 0;
  let w = 1;
  for (const ch of first17) {
    if (table[ch] === undefined) throw new Error(`not a credit-code character: ${ch}`);
    sum += table[ch]! * w;
    w = (w * 3) % 31;
  }
  const c = 31 - (sum % 31);
  return chars[c === 31 ? 0 : c]!;
}

function withCheck(first17: string): string {
  return first17 + referenceCheckChar(first17);
}

function registryError(fn: () => unknown): RegistryError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RegistryError);
    return e as RegistryError;
  }
  throw new Error('expected a RegistryError');
}

describe('checkCreditCode', () => {
  // published examples (a Beijing company in SNMS docs, a Shenzhen company, the GB 32100 sample) and computed ones
  const valid: [string, string][] = [
    ['91110108589104047H', '91110108589104047H'],
    ['91440300708461136T', '91440300708461136T'],
    ['91350100M000100Y43', '91350100M000100Y43'],
    [withCheck('91320924MA1XYW0P0'), withCheck('91320924MA1XYW0P0')],
    [withCheck('12320924466000000'), withCheck('12320924466000000')],
    [withCheck('Y1320924000000000'), withCheck('Y1320924000000000')],
    // trimmed and upper-cased
    ['  91110108589104047h ', '91110108589104047H'],
    ['91350100m000100y43', '91350100M000100Y43'],
  ];
  it.each(valid)('accepts %s', (input, normalised) => {
    expect(checkCreditCode(input)).toBe(normalised);
  });

  it('the reference computation agrees with the published examples', () => {
    for (const c of ['91110108589104047H', '91440300708461136T', '91350100M000100Y43']) {
      expect(referenceCheckChar(c.slice(0, 17))).toBe(c[17]);
      expect(creditCodeCheckChar(c.slice(0, 17))).toBe(c[17]);
    }
  });

  it('agrees with the reference on many random codes', () => {
    const cs = '0123456789ABCDEFGHJKLMNPQRTUWXY';
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 500; n++) {
      let head = '';
      for (let i = 0; i < 17; i++) head += i >= 2 && i < 8 ? String(Math.floor(rnd() * 10)) : cs[Math.floor(rnd() * 31)];
      const code = withCheck(head);
      expect(checkCreditCode(code)).toBe(code);
      // every other check character is refused
      const wrong = cs[(cs.indexOf(code[17]!) + 1 + Math.floor(rnd() * 30)) % 31]!;
      expect(() => checkCreditCode(head + wrong)).toThrow(RegistryError);
    }
  });

  const invalid: [string, string, RegExp][] = [
    ['wrong check character', '91110108589104047A', /expected H, got A/],
    ['too short', '91110108589104047', /18 characters \(got 17\)/],
    ['too long', '91110108589104047HH', /18 characters \(got 19\)/],
    ['empty', '', /18 characters/],
    ['letter I', '9111010858910404IH', /position 17/],
    ['letter O', 'O1110108589104047H', /position 1/],
    ['letter Z', '9Z110108589104047H', /position 2/],
    ['letter S', '91110108S89104047H', /position 9/],
    ['letter V', '91110108589104047V', /position 18/],
    ['non-digit in the division code', '9111A108589104047H', /characters 3-8/],
    ['inner space', '911101 8589104047H', /position 7/],
    ['full-width digits', '９１110108589104047H', /position 1/],
  ];
  it.each(invalid)('refuses %s', (_what, input, message) => {
    const e = registryError(() => checkCreditCode(input));
    expect(e.kind).toBe('invalid');
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/统一社会信用代码/);
  });

  it('names the expected check character', () => {
    const e = registryError(() => checkCreditCode('91110108589104047X'));
    expect(e.message).toBe('统一社会信用代码校验位错误 / credit code check character mismatch: expected H, got X');
  });
});

describe('checkIndustryCode', () => {
  const valid: [string, Parameters<typeof checkIndustryCode>[0], string][] = [
    ['a full class as a string', 'C3441', 'C3441'],
    ['a division as a string', 'C34', 'C34'],
    ['a group as a string', 'c344', 'C344'],
    ['a section alone', 'C', 'C'],
    ['spaces trimmed', ' a0111 ', 'A0111'],
    ['the four SNMS fields', { category: 'C', specific: '34', trade: '344', subclass: '3441' }, 'C3441'],
    ['SNMS fields with empty strings', { category: 'I', specific: '65', trade: '', subclass: '' }, 'I65'],
    ['section only', { category: 'a' }, 'A'],
    ['first division of A', 'A01', 'A01'],
    ['last division of A', 'A05', 'A05'],
    ['first division of B', 'B06', 'B06'],
    ['last division of C', 'C43', 'C43'],
    ['K has one division', 'K70', 'K70'],
    ['P has one division', 'P83', 'P83'],
    ['T has one division (T9700 international organisations)', 'T97', 'T97'],
    ['S ends at 96', 'S96', 'S96'],
    ['group without division', { category: 'C', trade: '344' }, 'C344'],
  ];
  it.each(valid)('accepts %s', (_what, input, out) => {
    expect(checkIndustryCode(input)).toBe(out);
  });

  const invalid: [string, Parameters<typeof checkIndustryCode>[0], RegExp][] = [
    ['an unknown section', 'U01', /industry code|section|category/],
    ['a lower-case unknown section', 'z', /category must be one letter A-T/],
    ['digits without a letter', '3441', /section letter/],
    ['one digit', 'C3', /0, 2, 3 or 4 digits/],
    ['five digits', 'C34411', /0, 2, 3 or 4 digits/],
    ['division outside its section', 'A06', /division 06 is not in section A \(01-05\)/],
    ['division 00', 'A00', /not in section A/],
    ['division 99', 'T99', /not in section T/],
    ['S97 is not a division (GB/T 4754-2017)', 'S97', /not in section S \(91-96\)/],
    ['T98 is not a division', 'T98', /not in section T \(97-97\)/],
    ['C starts at 13', 'C12', /not in section C \(13-43\)/],
    ['group not under division', { category: 'C', specific: '34', trade: '354' }, /group 354 does not belong to division 34/],
    ['class not under group', { category: 'C', specific: '34', trade: '344', subclass: '3451' }, /class 3451 does not belong to group 344/],
    ['class not under division', { category: 'C', specific: '34', subclass: '3541' }, /class 3541 does not belong to division 34/],
    ['non-digit division', { category: 'C', specific: '3X' }, /division must be 2 digits/],
    ['missing section', { category: '' }, /category/],
    ['two letters', { category: 'CC' }, /one letter/],
    ['empty string', '', /section letter/],
  ];
  it.each(invalid)('refuses %s', (_what, input, message) => {
    const e = registryError(() => checkIndustryCode(input));
    expect(e.kind).toBe('invalid');
    expect(e.message).toMatch(message);
  });
});
