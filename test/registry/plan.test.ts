// Plan progress on a seeded county (PGlite and PostgreSQL): registered vs target per town and year, coverage, CSV and table.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CASE_POLICY } from '../../handle/identifier.js';
import { jsonb } from '../../registry/audit.js';
import type { RegistryContext, RegistryEvents } from '../../registry/context.js';
import { applyEnterprise, approveEnterprise, suspendEnterprise } from '../../registry/enterprises.js';
import {
  DEFAULT_PLAN_FILE,
  displayWidth,
  loadPlan,
  planProgress,
  progressToCsv,
  progressToTable,
  yearEnd,
  type Plan,
} from '../../registry/plan.js';
import { creditCodeCheckChar } from '../../registry/rules.js';
import type { Store } from '../../registry/store.js';
import { storeBackends, type Opened } from '../helpers/registry-backends.js';

const backends = storeBackends;

const noEvents: RegistryEvents = { changed: async () => {} };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idnode-plan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function planFile(content: unknown, name = 'plan.json'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content), 'utf8');
  return file;
}

const SMALL_PLAN = {
  county: { name: '测试县', adminCode: '320924' },
  years: [2022, 2023, 2024, 2025],
  totals: { aboveScaleEnterprises2021: 30, identifierRegisteredEnterprises: { '2022': 3, '2023': 6, '2024': 9, '2025': 12 } },
  towns: [
    { name: '合德镇', aboveScaleEnterprises2021: 10, identifierRegisteredEnterprises: { '2022': 2, '2023': 4, '2024': 6, '2025': 8 } },
    { name: '海通镇', aboveScaleEnterprises2021: 8, identifierRegisteredEnterprises: { '2022': 1, '2023': 2, '2024': 3, '2025': 4 } },
    { name: '淮海农场', aboveScaleEnterprises2021: 2 },
    { name: '空镇', aboveScaleEnterprises2021: 0 },
  ],
};

describe('loadPlan', () => {
  it('loads the shipped county plan from the default path', () => {
    expect(DEFAULT_PLAN_FILE.endsWith(join('plan', 'sheyang-2022-2024.json'))).toBe(true);
    expect(existsSync(DEFAULT_PLAN_FILE)).toBe(true);
    const plan = loadPlan(DEFAULT_PLAN_FILE);
    expect(plan.county).toEqual({ name: '射阳县', adminCode: '320924' });
    expect(plan.years).toEqual([2022, 2023, 2024]);
    expect(plan.towns).toHaveLength(17);
    expect(plan.towns[0]).toEqual({ name: '经开区', aboveScaleEnterprises2021: 83, identifierRegisteredEnterprises: { '2022': 12, '2023': 24, '2024': 36 } });
    expect(plan.towns.find((t) => t.name === '淮海农场')!.identifierRegisteredEnterprises).toBeUndefined();
    // the town targets add up to the county's
    for (const y of plan.years) expect(plan.towns.reduce((a, t) => a + (t.identifierRegisteredEnterprises?.[String(y)] ?? 0), 0)).toBe(plan.totals!.identifierRegisteredEnterprises[String(y)]);
    expect(plan.towns.reduce((a, t) => a + t.aboveScaleEnterprises2021, 0)).toBe(430);
  });

  it('refuses bad plan files with an error naming the file and the problem', async () => {
    const cases: [unknown, RegExp][] = [
      ['{ not json', /not valid JSON/],
      [{ ...SMALL_PLAN, years: [2023, 2022] }, /years\.1: years must be strictly increasing/],
      [{ ...SMALL_PLAN, towns: [SMALL_PLAN.towns[0], SMALL_PLAN.towns[0]] }, /towns\.1\.name: duplicate town 合德镇/],
      [{ ...SMALL_PLAN, towns: [{ name: '合德镇', aboveScaleEnterprises2021: 1, identifierRegisteredEnterprises: { '2030': 1 } }] }, /year 2030 is not in years/],
      [{ ...SMALL_PLAN, towns: [{ name: '合德镇', aboveScaleEnterprises2021: -1 }] }, /towns\.0\.aboveScaleEnterprises2021/],
      [{ ...SMALL_PLAN, towns: [] }, /towns/],
      [{ ...SMALL_PLAN, county: { name: '测试县', adminCode: '32' } }, /county\.adminCode/],
      [[], /\(root\)/],
    ];
    let n = 0;
    for (const [content, message] of cases) {
      const file = await planFile(content, `bad${++n}.json`);
      expect(() => loadPlan(file)).toThrow(message);
      expect(() => loadPlan(file)).toThrow(`plan file ${file}`);
    }
    expect(() => loadPlan(join(dir, 'missing.json'))).toThrow(/plan file .*missing\.json: cannot read it/);
    // a BOM is tolerated
    expect(loadPlan(await planFile('\uFEFF' + JSON.stringify(SMALL_PLAN), 'bom.json')).towns).toHaveLength(4);
  });
});

describe('displayWidth', () => {
  it.each([
    ['', 0],
    ['abc', 3],
    ['合德镇', 6],
    ['海通镇 12', 9],
    ['８', 2],
    ['e\u0301', 1],
    ['🏭', 2],
    ['—', 1],
    ['（unplanned）', 13],
  ])('%s → %i', (s, w) => {
    expect(displayWidth(s)).toBe(w);
  });
});

describe.each(backends)('plan progress on %s', (_name, open) => {
  let opened: Opened;
  let ctx: RegistryContext;
  let clock = new Date('2022-01-01T00:00:00Z');
  let plan: Plan;
  let seq = 0;
  const op = { id: 'user:op' };
  const towns = ['合德镇', '海通镇', '淮海农场', '空镇', '外县镇'];

  /** t in Shanghai wall-clock time */
  const sh = (t: string) => new Date(`${t}+08:00`);

  /** Applies and (optionally) approves an enterprise, then registers identifiers created at the given times. */
  async function seed(town: string, approvedAt: string | null, identifiers: string[]): Promise<number> {
    seq += 1;
    const head = `91320924MA${String(seq).padStart(7, '0')}`;
    clock = sh('2021-12-01T09:00:00');
    const { enterpriseId } = await applyEnterprise(
      ctx,
      {
        name: `企业${seq}`,
        creditCode: head + creditCodeCheckChar(head),
        town,
        industry: 'C34',
        address: '射阳县',
        contactName: '李四',
        contactPhone: '13800000000',
        username: `plan_user${seq}`,
        password: { plain: 'plan-password' },
      },
      op,
      towns,
    );
    if (approvedAt === null) return enterpriseId;
    clock = sh(approvedAt);
    const { prefix } = await approveEnterprise(ctx, enterpriseId, {}, op);
    let i = 0;
    for (const at of identifiers) {
      i += 1;
      await opened.store.db
        .insertInto('handles')
        .values({ key: `${prefix}/ID${i}`, handle: `${prefix}/id${i}`, prefix_key: prefix, values: jsonb([]), version: 1, created_at: sh(at), updated_at: sh(at) })
        .execute();
    }
    return enterpriseId;
  }

  beforeAll(async () => {
    opened = await open();
    await opened.store.migrate();
    ctx = { store: opened.store, nodePrefix: '88.320924', nodePrefixKey: '88.320924', policy: DEFAULT_CASE_POLICY, events: noEvents, now: () => clock };
    plan = loadPlan(await planFile(SMALL_PLAN, `small-${_name}.json`));

    // 合德镇
    await seed('合德镇', '2022-03-01T10:00:00', ['2022-06-01T10:00:00', '2024-01-01T10:00:00']); // from 2022
    await seed('合德镇', '2022-11-01T10:00:00', ['2023-01-05T10:00:00']); // from 2023
    await seed('合德镇', '2023-12-31T23:00:00', ['2023-12-31T23:59:59.999']); // from 2023, the last millisecond
    await seed('合德镇', '2023-12-31T23:00:00', ['2024-01-01T00:00:00']); // from 2024 (still 2023 in UTC)
    await seed('合德镇', '2022-02-01T10:00:00', []); // approved, no identifier: never (its 0.NA record does not count)
    const suspended = await seed('合德镇', '2022-02-01T10:00:00', ['2022-02-02T10:00:00']); // suspended: not counted
    clock = sh('2024-04-01T10:00:00');
    await suspendEnterprise(ctx, suspended, '停产', op);
    await seed('合德镇', '2022-11-01T10:00:00', ['2022-10-01T10:00:00']); // identifier before approval: from approval, 2022
    await seed('合德镇', null, []); // still pending
    // 海通镇
    await seed('海通镇', '2024-02-01T10:00:00', ['2024-03-01T10:00:00', '2024-03-02T10:00:00']); // from 2024
    await seed('海通镇', '2024-05-01T10:00:00', ['2024-06-01T10:00:00']); // identifier after "now": not yet
    // a town the plan does not list
    await seed('外县镇', '2023-06-01T10:00:00', ['2023-06-02T10:00:00']);
    clock = sh('2024-05-15T00:00:00');
  });
  afterAll(async () => {
    await opened?.cleanup();
  });

  it('counts per town and year: approved, enabled, with an identifier by the year end (Shanghai time)', async () => {
    const p = await planProgress(ctx, plan);
    expect(p.county).toBe('测试县');
    expect(p.asOf.getTime()).toBe(sh('2024-05-15T00:00:00').getTime());
    expect(p.years).toEqual([2022, 2023, 2024, 2025]);
    expect(p.towns.map((t) => t.town)).toEqual(['合德镇', '海通镇', '淮海农场', '空镇']);
    expect(p.towns[0]).toEqual({
      town: '合德镇',
      aboveScale2021: 10,
      target: { 2022: 2, 2023: 4, 2024: 6, 2025: 8 },
      registered: { 2022: 2, 2023: 4, 2024: 5, 2025: 5 },
      coverage: 0.5,
      current: 5,
    });
    expect(p.towns[1]).toEqual({
      town: '海通镇',
      aboveScale2021: 8,
      target: { 2022: 1, 2023: 2, 2024: 3, 2025: 4 },
      registered: { 2022: 0, 2023: 0, 2024: 1, 2025: 1 },
      coverage: 0.125,
      current: 1,
    });
    expect(p.towns[2]).toEqual({ town: '淮海农场', aboveScale2021: 2, target: {}, registered: { 2022: 0, 2023: 0, 2024: 0, 2025: 0 }, coverage: 0, current: 0 });
    expect(p.towns[3]).toMatchObject({ town: '空镇', coverage: null });
    expect(p.totals).toEqual({
      aboveScale2021: 30,
      target: { 2022: 3, 2023: 6, 2024: 9, 2025: 12 },
      registered: { 2022: 2, 2023: 4, 2024: 6, 2025: 6 },
      coverage: 0.2,
      current: 6,
    });
    expect(p.unplanned).toEqual({ towns: ['外县镇'], registered: { 2022: 0, 2023: 1, 2024: 1, 2025: 1 }, current: 1 });

    // later, the identifier registered after "now" counts too
    const later = await planProgress(ctx, plan, sh('2024-07-01T00:00:00'));
    expect(later.towns[1]!.registered).toEqual({ 2022: 0, 2023: 0, 2024: 2, 2025: 2 });
    expect(later.towns[1]!.current).toBe(2);
    // at the very end of 2023 in Shanghai the last-millisecond identifier is in, the next one is not
    const at2023End = await planProgress(ctx, plan, yearEnd(2023));
    expect(at2023End.towns[0]!.registered).toEqual({ 2022: 2, 2023: 4, 2024: 4, 2025: 4 });
    // before anything happened
    const early = await planProgress(ctx, plan, sh('2022-01-01T00:00:00'));
    expect(early.totals.registered).toEqual({ 2022: 0, 2023: 0, 2024: 0, 2025: 0 });
  });

  it('works with the shipped plan: targets from the file, totals summed', async () => {
    const shipped = loadPlan(DEFAULT_PLAN_FILE);
    const p = await planProgress(ctx, shipped);
    expect(p.towns).toHaveLength(17);
    expect(p.totals.target).toEqual({ 2022: 100, 2023: 200, 2024: 300 });
    expect(p.towns.find((t) => t.town === '合德镇')!.registered).toEqual({ 2022: 2, 2023: 4, 2024: 5 });
    expect(p.totals.registered).toEqual({ 2022: 2, 2023: 4, 2024: 6 });
    expect(p.unplanned.towns).toEqual(['外县镇']);
    // a plan without totals sums its towns
    const noTotals = { ...plan, totals: undefined };
    const q = await planProgress(ctx, noTotals);
    expect(q.totals.target).toEqual({ 2022: 3, 2023: 6, 2024: 9, 2025: 12 });
    expect(q.totals.aboveScale2021).toBe(20);
  });

  it('writes CSV and a fixed-width table', async () => {
    const p = await planProgress(ctx, plan);
    const csv = progressToCsv(p);
    const lines = csv.trimEnd().split('\n');
    expect(lines[0]).toBe('town,year,target,registered,gap,aboveScale2021,coverage');
    expect(lines).toHaveLength(1 + 4 * 5 + 5 + 5);
    expect(lines).toContain('合德镇,now,,5,,10,0.5000');
    expect(lines).toContain('合计,now,,6,,30,0.2000');
    expect(lines).toContain('(unplanned),now,,1,,,');
    expect(lines).toContain('合德镇,2022,2,2,0,10,0.2000');
    expect(lines).toContain('合德镇,2024,6,5,1,10,0.5000');
    expect(lines).toContain('海通镇,2023,2,0,2,8,0.0000');
    expect(lines).toContain('淮海农场,2024,,0,,2,0.0000');
    expect(lines).toContain('空镇,2022,,0,,0,');
    expect(lines).toContain('合计,2024,9,6,3,30,0.2000');
    expect(lines).toContain('(unplanned),2023,,1,,,');
    expect(csv.charCodeAt(0)).not.toBe(0xfeff);
    expect(csv.endsWith('\n')).toBe(true);

    const table = progressToTable(p);
    const rows = table.trimEnd().split('\n');
    expect(rows[0]).toContain('测试县');
    expect(rows[0]).toContain('2024-05-15 00:00');
    const body = rows.slice(1);
    // every row is exactly as wide on a terminal (CJK counts double), so the columns line up
    const widths = new Set(body.map(displayWidth));
    expect(widths.size).toBe(1);
    const hede = body.find((r) => r.startsWith('合德镇'))!;
    expect(hede).toMatch(/合德镇\s+10\s+2\/2\s+4\/4\s+5\/6\s+5\/8\s+50\.0%\s+5$/);
    expect(body.find((r) => r.startsWith('淮海农场'))).toMatch(/0\/-\s+0\.0%\s+0$/);
    expect(body.find((r) => r.startsWith('空镇'))).toMatch(/-\s+0$/);
    expect(body.find((r) => r.startsWith('合计'))).toMatch(/30\s+2\/3\s+4\/6\s+6\/9\s+6\/12\s+20\.0%\s+6$/);
    expect(body.find((r) => r.startsWith('(unplanned)'))).toContain('外县镇');
    // the right-aligned counts end in the same terminal column on every row
    const endOf = (r: string, cellText: string) => displayWidth(r.slice(0, r.indexOf(cellText) + cellText.length));
    expect(endOf(hede, '5/6')).toBe(endOf(body.find((r) => r.startsWith('合计'))!, '6/9'));
  });
});
