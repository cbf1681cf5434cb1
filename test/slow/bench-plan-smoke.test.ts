// Smoke runs of the plan bench (bench/plan.ts --smoke) over PostgreSQL and Redis: seeds the county, runs the mixed load, writes a well-formed report; slow, so not in the default `npm test` (.ci/run runs it).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SMOKE_DATABASE } from '../../bench/plan.js';
import { DEFAULT_PLAN_FILE, loadPlan } from '../../registry/plan.js';
import { hasPostgres, hasRedis, requireServices } from '../helpers/services.js';

const plan = loadPlan(DEFAULT_PLAN_FILE);
const townsWithTarget = plan.towns.filter((t) => t.identifierRegisteredEnterprises?.['2024'] !== undefined);

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
  for (const t of [
    'enterprises registered, total',
    'identifiers registered',
    'resolution p99 under the mixed load',
    'sustained req/s with zero errors',
    'mixed req/s, zero errors (national size)',
    'resolution p99, mixed load (national size)',
    'registration over HTTP, 2 calls in flight',
  ]) {
    expect(targets).toContain(t);
    expect(md).toContain(`| ${t} |`);
  }
  expect(rows).toHaveLength(townsWithTarget.length + 7);
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
  // the cold pass resolved distinct identifiers once each, all from the store, and registration at size ran
  const scale = (json as unknown as { scale: { identifiers: number; cold: { requests: number; errors: number; storeReads: number }; registrationPerSecond: number } }).scale;
  expect(scale.identifiers).toBe(1500);
  expect(scale.cold).toMatchObject({ requests: 200, errors: 0 });
  expect(scale.cold.storeReads).toBeGreaterThanOrEqual(200);
  expect(scale.registrationPerSecond).toBeGreaterThan(0);
  expect(md).toMatch(/## By size/);
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
