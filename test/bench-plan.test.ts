// The plan scenario bench: its pure parts, and two smoke runs (the second must seed nothing new); figures are never asserted.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { creditCodeFor, parseOptions, planEnterprises, SMOKE_DATABASE, suffixOf } from '../bench/plan.js';
import { DEFAULT_PLAN_FILE, loadPlan } from '../registry/plan.js';
import { checkCreditCode } from '../registry/rules.js';
import { hasPostgres, hasRedis, requireServices } from './helpers/services.js';

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

interface Row {
  target: string;
  kind: string;
  targetValue: number;
  measured: number;
  pass: boolean;
  headroom: number | null;
}

function smoke(extra: string[]) {
  const r = spawnSync(process.execPath, ['dist/bench/plan.js', '--smoke', ...extra], { encoding: 'utf8', timeout: 85_000 });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  const json = JSON.parse(readFileSync('bench/results/plan-smoke.json', 'utf8'));
  const md = readFileSync('bench/results/plan-smoke.md', 'utf8');
  return { r, json, md };
}

function wellFormed(json: { verdict: Row[]; progress: { towns: { town: string; current: number }[] }; seeding: { seconds: number }; load: Record<string, unknown> }, md: string) {
  const rows = json.verdict;
  const targets = rows.map((r) => r.target);
  for (const t of townsWithTarget) {
    expect(targets).toContain(`enterprises registered, ${t.name}`);
    expect(md).toContain(`| enterprises registered, ${t.name} |`);
  }
  for (const t of ['enterprises registered, total', 'identifiers registered', 'resolution p99 under the mixed load', 'sustained req/s with zero errors']) {
    expect(targets).toContain(t);
    expect(md).toContain(`| ${t} |`);
  }
  expect(rows).toHaveLength(townsWithTarget.length + 4);
  for (const r of rows) {
    expect(Number.isFinite(r.targetValue), r.target).toBe(true);
    expect(Number.isFinite(r.measured), r.target).toBe(true);
    expect(r.headroom === null || Number.isFinite(r.headroom), r.target).toBe(true);
    expect(typeof r.pass).toBe('boolean');
    expect(['min', 'max']).toContain(r.kind);
    expect(md).toMatch(new RegExp(`\\| ${r.target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\|.*\\| (PASS|FAIL) \\|`));
  }
  expect(json.progress.towns.map((t) => t.town)).toEqual(plan.towns.map((t) => t.name));
  for (const t of json.progress.towns) expect(Number.isInteger(t.current)).toBe(true);
  expect(Number.isFinite(json.seeding.seconds)).toBe(true);
  for (const k of ['mixed', 'resolution', 'writes']) expect(typeof json.load[k]).toBe('object');
}

describe.skipIf(!requireServices && (!hasPostgres || !hasRedis))('plan bench: smoke runs over PostgreSQL and Redis', () => {
  it('seeds the county, runs the mixed load, writes a well-formed report; the second run seeds nothing new', () => {
    const first = smoke([]); // --smoke resets its database
    wellFormed(first.json, first.md);
    expect(first.json.smoke).toBe(true);
    expect(first.json.seeding.nothingNew).toBe(false);
    expect(first.json.seeding.enterprises).toMatchObject({ total: 300, applied: 300, approved: 300 });
    expect(first.json.identifiers).toEqual({ target: 1500, count: 1500 });

    const second = smoke(['--no-reset']);
    wellFormed(second.json, second.md);
    expect(second.json.seeding).toMatchObject({
      nothingNew: true,
      enterprises: { total: 300, alreadyApproved: 300, applied: 0, approved: 0 },
      templates: { alreadyPresent: 300, created: 0 },
      identifiers: { target: 1500, before: 1500, registered: 0, after: 1500 },
    });
    expect(second.r.stderr).toMatch(/seeded nothing new/);
    expect(second.md).toMatch(/seeded nothing new/);
  }, 180_000);
});
