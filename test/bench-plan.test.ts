// The plan scenario bench's pure parts: how the county is seeded, and its options (its smoke runs are in test/slow/).
import { describe, expect, it } from 'vitest';
import { creditCodeFor, parseOptions, planEnterprises, SMOKE_DATABASE, suffixOf } from '../bench/plan.js';
import { DEFAULT_PLAN_FILE, loadPlan } from '../registry/plan.js';
import { checkCreditCode } from '../registry/rules.js';

const plan = loadPlan(DEFAULT_PLAN_FILE);
const townsWithTarget = plan.towns.filter((t) => t.identifierRegisteredEnterprises?.['2024'] !== undefined);

describe('plan bench: the county as seeded', () => {
  it('spreads the enterprises over the towns exactly as the 2024 column, with valid, unique credit codes and prefixes', () => {
    const specs = planEnterprises(plan);
    expect(specs).toHaveLength(300);
    for (const t of plan.towns) {
      expect(specs.filter((s) => s.town === t.name)).toHaveLength(t.identifierRegisteredEnterprises?.['2024'] ?? 0);
    }
    for (const s of specs) expect(checkCreditCode(s.creditCode)).toBe(s.creditCode);
    expect(new Set(specs.map((s) => s.creditCode)).size).toBe(300);
    expect(new Set(specs.map((s) => s.username)).size).toBe(300);
    expect(specs.map((s) => s.prefix)).toEqual(specs.map((_s, i) => `88.320924.${i + 1}`));
    expect(creditCodeFor(7)).toBe(planEnterprises(plan)[6]!.creditCode);
    expect(suffixOf(12)).toBe('PUMP-2024-00000012');
  });

  it('parses the options', () => {
    expect(parseOptions([])).toMatchObject({ perEnterprise: 1000, seconds: 10, connections: 100, database: 'idnode_bench_plan', reset: false, smoke: false });
    expect(parseOptions(['--smoke'])).toMatchObject({ perEnterprise: 5, seconds: 2, connections: 10, database: SMOKE_DATABASE, reset: true });
    expect(parseOptions(['--smoke', '--no-reset']).reset).toBe(false);
    expect(parseOptions(['--per-enterprise', '10000', '--seconds=3', '--reset', '--database', 'x_1'])).toMatchObject({
      perEnterprise: 10000,
      seconds: 3,
      reset: true,
      database: 'x_1',
    });
    expect(() => parseOptions(['--per-enterprise', '0'])).toThrow(/per-enterprise/);
    expect(() => parseOptions(['--database', 'Bad-Name'])).toThrow(/database/);
    expect(() => parseOptions(['--frobnicate'])).toThrow(/unknown option/);
    expect(() => parseOptions(['--no-reset'])).toThrow(/smoke/);
  });
});
