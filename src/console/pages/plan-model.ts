// The plan page's figures from GET /operator/plan: the year to compare against, each town's standing, the county totals, the chart's scale; no DOM.

/** One town's progress as the node answers it (JSON: year keys are strings). */
export interface TownProgressJson {
  town: string;
  aboveScale2021: number;
  /** cumulative target per year; empty for towns without one (the farms) */
  target: Record<string, number>;
  /** registered by the end of each year (so far, for a year not over) */
  registered: Record<string, number>;
  coverage: number | null;
  /** registered as of now */
  current: number;
}

/** GET /operator/plan (registry/plan.ts PlanProgress, serialised). */
export interface PlanProgressJson {
  county: string;
  asOf: string;
  years: number[];
  towns: TownProgressJson[];
  totals: Omit<TownProgressJson, 'town'>;
  unplanned: { registered: Record<string, number>; current: number; towns: string[] };
}

/** reached: at or above the year's target; onTrack: at or above the pace towards it; behind: below; none: no target. */
export type Standing = 'reached' | 'onTrack' | 'behind' | 'none';

const HOUR = 3600_000;

/** The calendar year of an instant in Asia/Shanghai. */
export function yearIn(at: Date): number {
  return new Date(at.getTime() + 8 * HOUR).getUTCFullYear();
}

/** The first instant of a year in Asia/Shanghai (ms). */
export const yearStart = (y: number): number => Date.UTC(y, 0, 1) - 8 * HOUR;
/** The instant a year ends in Asia/Shanghai (ms; the next year's first). */
export const yearEnd = (y: number): number => yearStart(y + 1);

/** The year the page compares against by default: this year while the plan runs, else its first or last year. */
export function defaultYear(years: readonly number[], asOf: Date): number {
  if (years.length === 0) return yearIn(asOf);
  const y = yearIn(asOf);
  if (years.includes(y)) return y;
  const first = years[0]!;
  const last = years[years.length - 1]!;
  return y < first ? first : y > last ? last : (years.find((v) => v >= y) ?? last);
}

/** Whether `year` is over at `asOf`. */
export const yearOver = (year: number, asOf: Date): boolean => asOf.getTime() >= yearEnd(year);

/**
 * Where the count should be at `at` on the way to `year`'s target: the targets joined by straight lines from 0 at
 * the start of the plan's first year to each year's target at that year's end, read at min(at, end of `year`).
 * Undefined when `year` has no target.
 */
export function pace(target: Record<string, number>, years: readonly number[], year: number, at: Date): number | undefined {
  if (target[String(year)] === undefined || years.length === 0) return undefined;
  const t = Math.min(at.getTime(), yearEnd(year));
  let fromT = yearStart(years[0]!);
  let fromV = 0;
  for (const y of years) {
    const v = target[String(y)];
    if (v === undefined) continue;
    const toT = yearEnd(y);
    if (t <= toT) {
      if (t <= fromT) return fromV;
      return fromV + ((v - fromV) * (t - fromT)) / (toT - fromT);
    }
    fromT = toT;
    fromV = v;
    if (y === year) return v;
  }
  return fromV;
}

/** A count's standing against `year`'s target (with the pace towards it at `asOf`). */
export function standing(count: number, target: Record<string, number>, years: readonly number[], year: number, asOf: Date): Standing {
  const goal = target[String(year)];
  if (goal === undefined) return 'none';
  if (count >= goal) return 'reached';
  const expected = pace(target, years, year, asOf) ?? goal;
  return count >= Math.floor(expected) ? 'onTrack' : 'behind';
}

/** One row of the page's table and chart. */
export interface PlanRow {
  town: string;
  /** targets per plan year (undefined: none) */
  targets: (number | undefined)[];
  /** registered now */
  current: number;
  /** registered by the end of the chosen year (so far, when it is not over) */
  byYearEnd: number;
  /** the chosen year's target */
  target: number | undefined;
  /** how many are still missing to reach it (0 when reached) */
  gap: number | undefined;
  /** registered now / the chosen year's target */
  pct: number | undefined;
  standing: Standing;
}

function row(town: string, p: Omit<TownProgressJson, 'town'>, years: readonly number[], year: number, asOf: Date): PlanRow {
  const target = p.target[String(year)];
  return {
    town,
    targets: years.map((y) => p.target[String(y)]),
    current: p.current,
    byYearEnd: p.registered[String(year)] ?? 0,
    target,
    gap: target === undefined ? undefined : Math.max(0, target - p.current),
    pct: target === undefined || target <= 0 ? undefined : p.current / target,
    standing: standing(p.current, p.target, years, year, asOf),
  };
}

export interface PlanView {
  year: number;
  /** the chosen year is over: the by-year-end column means something of its own */
  over: boolean;
  towns: PlanRow[];
  totals: PlanRow;
  /** enterprises in towns the plan does not list (null when there are none) */
  unplanned: { current: number; byYearEnd: number; towns: string[] } | null;
  /** towns per standing (the chart's summary) */
  counts: Record<Standing, number>;
}

/** The rows for the chosen year. */
export function planView(p: PlanProgressJson, year: number): PlanView {
  const asOf = new Date(p.asOf);
  const towns = p.towns.map((t) => row(t.town, t, p.years, year, asOf));
  const counts: Record<Standing, number> = { reached: 0, onTrack: 0, behind: 0, none: 0 };
  for (const t of towns) counts[t.standing]++;
  return {
    year,
    over: yearOver(year, asOf),
    towns,
    totals: row('', p.totals, p.years, year, asOf),
    unplanned: p.unplanned.towns.length === 0 ? null : { current: p.unplanned.current, byYearEnd: p.unplanned.registered[String(year)] ?? 0, towns: p.unplanned.towns },
    counts,
  };
}

/** The county's headline: registered now against the target of this year's end (or the plan's last / first year). */
export interface Headline {
  current: number;
  year: number;
  target: number | undefined;
  pct: number | undefined;
  gap: number | undefined;
  /** the plan is over: what was registered by its last year's end */
  ended: { year: number; registered: number; target: number | undefined; pct: number | undefined } | null;
}

export function headline(p: PlanProgressJson): Headline {
  const asOf = new Date(p.asOf);
  const year = defaultYear(p.years, asOf);
  const target = p.totals.target[String(year)];
  const current = p.totals.current;
  const last = p.years[p.years.length - 1];
  let ended: Headline['ended'] = null;
  if (last !== undefined && yearOver(last, asOf)) {
    const t = p.totals.target[String(last)];
    const r = p.totals.registered[String(last)] ?? 0;
    ended = { year: last, registered: r, target: t, pct: t === undefined || t <= 0 ? undefined : r / t };
  }
  return {
    current,
    year,
    target,
    pct: target === undefined || target <= 0 ? undefined : current / target,
    gap: target === undefined ? undefined : Math.max(0, target - current),
    ended,
  };
}

/** A round upper bound for the chart's axis (1, 2, 2.5, 5 × 10ⁿ) at or above `n`, at least 1. */
export function niceMax(n: number): number {
  if (!(n > 0)) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(n)));
  for (const f of [1, 2, 2.5, 5, 10]) if (f * exp >= n) return f * exp;
  return 10 * exp;
}

/** The axis ticks from 0 to `max` (about `count` steps, whole numbers). */
export function ticks(max: number, count = 5): number[] {
  const step = Math.max(1, niceMax(max / count));
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v));
  return out;
}
