// The county plan: the plan file's schema and loader, progress per town and year from two SQL aggregates, CSV and table output.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import type { RegistryContext } from './context.js';
import { STATUS } from './db.js';

/** Cumulative targets by year: `{"2022": 12, "2023": 24}`. */
const TargetsSchema = z.record(z.string().regex(/^\d{4}$/, 'year keys must be 4 digits'), z.number().int().nonnegative());

const TownSchema = z.object({
  name: z.string().trim().min(1),
  /** 2021 above-scale (规上) enterprises */
  aboveScaleEnterprises2021: z.number().int().nonnegative(),
  /** enterprises registered with identifiers, cumulative at each year end; absent: no target for this town */
  identifierRegisteredEnterprises: TargetsSchema.optional(),
});

export const PlanSchema = z
  .object({
    source: z.string().optional(),
    county: z.object({ name: z.string().min(1), adminCode: z.string().regex(/^\d{6}$/, 'adminCode must be 6 digits') }),
    years: z.array(z.number().int().min(2000).max(2100)).min(1),
    note: z.string().optional(),
    totals: z
      .object({ aboveScaleEnterprises2021: z.number().int().nonnegative(), identifierRegisteredEnterprises: TargetsSchema })
      .optional(),
    towns: z.array(TownSchema).min(1),
  })
  .superRefine((plan, ctx) => {
    for (let i = 1; i < plan.years.length; i++) {
      if (plan.years[i]! <= plan.years[i - 1]!) ctx.addIssue({ code: 'custom', path: ['years', i], message: 'years must be strictly increasing' });
    }
    const seen = new Set<string>();
    plan.towns.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: ['towns', i, 'name'], message: `duplicate town ${t.name}` });
      seen.add(t.name);
      for (const y of Object.keys(t.identifierRegisteredEnterprises ?? {})) {
        if (!plan.years.includes(Number(y))) {
          ctx.addIssue({ code: 'custom', path: ['towns', i, 'identifierRegisteredEnterprises', y], message: `year ${y} is not in years` });
        }
      }
    });
  });

export type Plan = z.infer<typeof PlanSchema>;

function repoRoot(from: string): string | null {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The shipped county plan, found from the source tree (registry/) and from dist/registry/ alike. */
export const DEFAULT_PLAN_FILE: string = join(
  repoRoot(dirname(fileURLToPath(import.meta.url))) ?? process.cwd(),
  'plan',
  'sheyang-2022-2024.json',
);

/** Reads and validates a plan file; any problem is an Error naming the file and what is wrong. */
export function loadPlan(file: string): Plan {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`plan file ${path}: cannot read it (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new Error(`plan file ${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = PlanSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`plan file ${path}: ${issues}`);
  }
  return parsed.data;
}

// --- progress ---------------------------------------------------------------------------------------------------------

export interface TownProgress {
  town: string;
  aboveScale2021: number;
  /** plan target per year (cumulative); empty for towns without a target */
  target: Record<number, number>;
  /** enterprises registered by the end of each year (so far, for years not over yet) */
  registered: Record<number, number>;
  /** registered at the last plan year / aboveScale2021; null when aboveScale2021 is 0 */
  coverage: number | null;
  /** enterprises registered as of now (after the plan's last year, the figure that keeps moving) */
  current: number;
}

export interface PlanProgress {
  county: string;
  asOf: Date;
  years: number[];
  towns: TownProgress[];
  /** over the plan's towns (enterprises in unplanned towns are not included) */
  totals: Omit<TownProgress, 'town'>;
  /** enterprises in towns the plan does not list */
  unplanned: { registered: Record<number, number>; current: number; towns: string[] };
}

/** End of a year in Asia/Shanghai. */
export function yearEnd(year: number): Date {
  return new Date(`${year}-12-31T23:59:59.999+08:00`);
}

/**
 * Per town (plan order) and plan year: enterprises with status 1 whose approval and first identifier (the earliest
 * handle under any of its prefixes) both fall on or before the end of that year (or `now`, for a year not over).
 */
export async function planProgress(ctx: RegistryContext, plan: Plan, now: Date = ctx.now()): Promise<PlanProgress> {
  // Two aggregates and a walk: enabled, approved enterprises with their prefixes; the earliest identifier per
  // prefix key (one pass over handles, grouped); then each prefix key is owned by the nearest delegated prefix at or
  // above it (88.320924.1.9 → 88.320924.1), so identifiers under derived prefixes count for their enterprise.
  const owners = await ctx.store.db
    .selectFrom('enterprises as e')
    .innerJoin('prefixes as p', 'p.enterprise_id', 'e.id')
    .select(['e.id', 'e.town', 'e.approved_at', 'p.prefix_key'])
    .where('e.status', '=', STATUS.ENABLED)
    .where('e.approved_at', 'is not', null)
    .execute();
  const firsts = await ctx.store.db
    .selectFrom('handles')
    .select((eb) => ['prefix_key', eb.fn.min('created_at').as('first_at')])
    .where('prefix_key', '<>', '0.NA')
    .groupBy('prefix_key')
    .execute();
  const ownerOf = new Map(owners.map((o) => [o.prefix_key, o]));
  const firstBy = new Map<string | number, { town: string; approvedAt: number; first: number }>();
  for (const f of firsts) {
    let p = f.prefix_key;
    let o = ownerOf.get(p);
    while (o === undefined) {
      const dot = p.lastIndexOf('.');
      if (dot <= 0) break;
      p = p.slice(0, dot);
      o = ownerOf.get(p);
    }
    if (o === undefined) continue;
    const at = new Date(f.first_at as Date | string).getTime();
    const cur = firstBy.get(o.id);
    if (cur === undefined) firstBy.set(o.id, { town: o.town, approvedAt: new Date(o.approved_at as Date).getTime(), first: at });
    else if (at < cur.first) cur.first = at;
  }
  const rows = [...firstBy.values()];

  const cutoffs = plan.years.map((y) => Math.min(yearEnd(y).getTime(), now.getTime()));
  const counts = new Map<string, number[]>();
  const current = new Map<string, number>();
  for (const r of rows) {
    const from = Math.max(r.approvedAt, r.first);
    if (from <= now.getTime()) current.set(r.town, (current.get(r.town) ?? 0) + 1);
    const list = counts.get(r.town) ?? plan.years.map(() => 0);
    cutoffs.forEach((c, i) => {
      if (from <= c) list[i]! += 1;
    });
    counts.set(r.town, list);
  }

  const byYear = (list: readonly number[]): Record<number, number> => Object.fromEntries(plan.years.map((y, i) => [y, list[i] ?? 0]));
  const last = plan.years[plan.years.length - 1]!;
  const ratio = (n: number, d: number) => (d > 0 ? n / d : null);

  const towns: TownProgress[] = plan.towns.map((t) => {
    const registered = byYear(counts.get(t.name) ?? []);
    const target: Record<number, number> = {};
    for (const y of plan.years) {
      const v = t.identifierRegisteredEnterprises?.[String(y)];
      if (v !== undefined) target[y] = v;
    }
    return {
      town: t.name,
      aboveScale2021: t.aboveScaleEnterprises2021,
      target,
      registered,
      coverage: ratio(registered[last]!, t.aboveScaleEnterprises2021),
      current: current.get(t.name) ?? 0,
    };
  });

  const planned = new Set(plan.towns.map((t) => t.name));
  const unplannedTowns = [...counts.keys()].filter((t) => !planned.has(t)).sort();
  const sum = (lists: readonly number[][]) => plan.years.map((_, i) => lists.reduce((a, l) => a + (l[i] ?? 0), 0));

  const totalRegistered = byYear(sum(plan.towns.map((t) => counts.get(t.name) ?? [])));
  const totalTarget: Record<number, number> = {};
  for (const y of plan.years) {
    const given = plan.totals?.identifierRegisteredEnterprises[String(y)];
    const parts = towns.map((t) => t.target[y]).filter((v): v is number => v !== undefined);
    if (given !== undefined) totalTarget[y] = given;
    else if (parts.length > 0) totalTarget[y] = parts.reduce((a, b) => a + b, 0);
  }
  const aboveScale = plan.totals?.aboveScaleEnterprises2021 ?? towns.reduce((a, t) => a + t.aboveScale2021, 0);

  return {
    county: plan.county.name,
    asOf: now,
    years: [...plan.years],
    towns,
    totals: {
      aboveScale2021: aboveScale,
      target: totalTarget,
      registered: totalRegistered,
      coverage: ratio(totalRegistered[last]!, aboveScale),
      current: towns.reduce((a, t) => a + t.current, 0),
    },
    unplanned: {
      registered: byYear(sum(unplannedTowns.map((t) => counts.get(t)!))),
      current: unplannedTowns.reduce((a, t) => a + (current.get(t) ?? 0), 0),
      towns: unplannedTowns,
    },
  };
}

// --- output -----------------------------------------------------------------------------------------------------------

export const TOTAL_LABEL = '合计';
export const UNPLANNED_LABEL = '(unplanned)';

/**
 * One row per town and year, then one for `now`, then the totals (`合计`) and the unplanned towns (`(unplanned)`);
 * `gap` is how many are still missing to reach the target (0 when reached), `coverage` that year's registered /
 * aboveScale2021.
 */
export function progressToCsv(p: PlanProgress): string {
  const records: string[][] = [['town', 'year', 'target', 'registered', 'gap', 'aboveScale2021', 'coverage']];
  const rows = (town: string, target: Record<number, number>, registered: Record<number, number>, above: number | null, current: number) => {
    const coverage = (r: number) => (above === null || above === 0 ? '' : (r / above).toFixed(4));
    for (const y of p.years) {
      const t = target[y];
      const r = registered[y] ?? 0;
      records.push([town, String(y), t === undefined ? '' : String(t), String(r), t === undefined ? '' : String(Math.max(0, t - r)), above === null ? '' : String(above), coverage(r)]);
    }
    // as of now (the year column says `now`; no target)
    records.push([town, 'now', '', String(current), '', above === null ? '' : String(above), coverage(current)]);
  };
  for (const t of p.towns) rows(t.town, t.target, t.registered, t.aboveScale2021, t.current);
  rows(TOTAL_LABEL, p.totals.target, p.totals.registered, p.totals.aboveScale2021, p.totals.current);
  if (p.unplanned.towns.length > 0) rows(UNPLANNED_LABEL, {}, p.unplanned.registered, null, p.unplanned.current);
  // LF line ends, a field quoted only when it holds a comma, quote or line break, no BOM
  return stringify(records, { record_delimiter: 'unix' });
}

/** Terminal columns a string takes: East Asian wide and fullwidth characters count 2, combining marks 0. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) || c === 0xfe0f) continue;
    if (
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0x303e) ||
      (c >= 0x3041 && c <= 0x33ff) ||
      (c >= 0x3400 && c <= 0x4dbf) ||
      (c >= 0x4e00 && c <= 0x9fff) ||
      (c >= 0xa000 && c <= 0xa4cf) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x1f300 && c <= 0x1f64f) ||
      (c >= 0x1f900 && c <= 0x1f9ff) ||
      (c >= 0x20000 && c <= 0x3fffd)
    ) {
      w += 2;
    } else {
      w += 1;
    }
  }
  return w;
}

function pad(s: string, width: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)));
  return right ? fill + s : s + fill;
}

/** A fixed-width table: town, 2021 above-scale count, `registered/target` per year, coverage at the last year. */
export function progressToTable(p: PlanProgress): string {
  const header = ['town 乡镇', 'above-scale 2021', ...p.years.map((y) => `${y} reg/target`), 'coverage', 'now'];
  const cell = (target: Record<number, number>, registered: Record<number, number>, y: number) =>
    `${registered[y] ?? 0}/${target[y] === undefined ? '-' : target[y]}`;
  const pct = (c: number | null) => (c === null ? '-' : `${(c * 100).toFixed(1)}%`);
  const body: string[][] = p.towns.map((t) => [
    t.town,
    String(t.aboveScale2021),
    ...p.years.map((y) => cell(t.target, t.registered, y)),
    pct(t.coverage),
    String(t.current),
  ]);
  const total = [
    TOTAL_LABEL,
    String(p.totals.aboveScale2021),
    ...p.years.map((y) => cell(p.totals.target, p.totals.registered, y)),
    pct(p.totals.coverage),
    String(p.totals.current),
  ];
  const extra =
    p.unplanned.towns.length > 0
      ? [[`${UNPLANNED_LABEL} ${p.unplanned.towns.join('、')}`, '-', ...p.years.map((y) => `${p.unplanned.registered[y] ?? 0}/-`), '-', String(p.unplanned.current)]]
      : [];
  const all = [header, ...body, total, ...extra];
  const widths = header.map((_, i) => Math.max(...all.map((r) => displayWidth(r[i] ?? ''))));
  const line = (r: string[]) => r.map((c, i) => pad(c, widths[i]!, i > 0)).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const asOf = new Date(p.asOf.getTime() + 8 * 3600_000).toISOString().slice(0, 16).replace('T', ' ');
  return [`${p.county} — plan progress as of ${asOf} (UTC+8)`, line(header), rule, ...body.map(line), rule, line(total), ...extra.map(line)].join('\n') + '\n';
}
