// The plan scenario bench's pure parts: how the county is seeded, and its options (its smoke runs are in test/slow/).
import { describe, expect, it } from 'vitest';
import { coldRequests, creditCodeFor, parseOptions, planEnterprises, SMOKE_DATABASE, suffixOf } from '../bench/plan.js';
import { progressLine } from '../bench/progress.js';
import { seededRandom } from '../bench/lib.js';
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
    expect(parseOptions(['--identifiers', '10000000'])).toMatchObject({ identifiers: 10_000_000, cold: 20_000, register: 20_000 });
    expect(parseOptions([]).identifiers).toBeNull();
    expect(() => parseOptions(['--identifiers', '5', '--per-enterprise', '5'])).toThrow(/not both/);
  });
});

describe('plan bench: national size', () => {
  it('draws distinct cold identifiers from the whole key space', () => {
    const prefixes = ['88.320924.1', '88.320924.2'];
    const small = coldRequests(prefixes, 10, 20, seededRandom(1));
    expect(new Set(small.map((r) => r.path)).size).toBe(20);
    const big = coldRequests(prefixes, 5_000_000, 1000, seededRandom(2));
    expect(new Set(big.map((r) => r.path)).size).toBe(1000);
    expect(big.some((r) => r.path.includes('88.320924.2/'))).toBe(true);
    expect(big[0]!.path).toMatch(/^\/api\/handles\/88\.320924\.[12]\/PUMP-2024-\d{8}$/);
  });

  it('shows progress with a rate and what is left', () => {
    expect(progressLine(0, 100, 0)).toMatch(/^\[\.{30}\]   0\.0 %  0\/100/);
    const half = progressLine(5_000_000, 10_000_000, 250, 'identifiers');
    expect(half).toContain('[###############...............]  50.0 %  5,000,000/10,000,000 identifiers  20,000/s  ETA 4m10s');
    expect(progressLine(10, 10, 3725)).toContain('took 1h02m');
  });
});
