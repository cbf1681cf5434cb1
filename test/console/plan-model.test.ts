// The plan page's figures (src/console/pages/plan-model.ts): default year, pace and standing, rows, headline, axis.
import { describe, expect, it } from 'vitest';
import { defaultYear, headline, niceMax, pace, planView, standing, ticks, yearIn, type PlanProgressJson } from '../../src/console/pages/plan-model.js';

const YEARS = [2022, 2023, 2024];
const T = { '2022': 12, '2023': 24, '2024': 36 };

function progress(asOf: string): PlanProgressJson {
  return {
    county: '射阳县',
    asOf,
    years: YEARS,
    towns: [
      { town: '经开区', aboveScale2021: 83, target: T, registered: { '2022': 5, '2023': 20, '2024': 30 }, coverage: 0.36, current: 40 },
      { town: '港开区', aboveScale2021: 51, target: T, registered: { '2022': 1, '2023': 2, '2024': 3 }, coverage: 0.06, current: 3 },
      { town: '淮海农场', aboveScale2021: 1, target: {}, registered: { '2022': 0, '2023': 0, '2024': 0 }, coverage: 0, current: 2 },
    ],
    totals: { aboveScale2021: 430, target: { '2022': 100, '2023': 200, '2024': 300 }, registered: { '2022': 6, '2023': 22, '2024': 33 }, coverage: 0.08, current: 45 },
    unplanned: { registered: { '2022': 0, '2023': 0, '2024': 0 }, current: 0, towns: [] },
  };
}

describe('plan model', () => {
  it('takes the year in Asia/Shanghai and picks the default year', () => {
    expect(yearIn(new Date('2023-12-31T16:00:00Z'))).toBe(2024);
    expect(defaultYear(YEARS, new Date('2023-06-01T00:00:00Z'))).toBe(2023);
    expect(defaultYear(YEARS, new Date('2026-12-01T00:00:00Z'))).toBe(2024);
    expect(defaultYear(YEARS, new Date('2021-03-01T00:00:00Z'))).toBe(2022);
  });

  it('paces linearly from 0 at the plan start through each year-end target', () => {
    // mid-2023 (about half the year): halfway between 12 and 24
    expect(pace(T, YEARS, 2023, new Date('2023-07-02T12:00:00+08:00'))).toBeCloseTo(18, 0);
    // viewing 2024 in mid-2023 reads the same curve now
    expect(pace(T, YEARS, 2024, new Date('2023-07-02T12:00:00+08:00'))).toBeCloseTo(18, 0);
    // a year over: its target
    expect(pace(T, YEARS, 2022, new Date('2026-01-01T00:00:00Z'))).toBe(12);
    expect(pace({}, YEARS, 2022, new Date())).toBeUndefined();
  });

  it('reached, on track, behind, none', () => {
    const mid2023 = new Date('2023-07-02T12:00:00+08:00');
    expect(standing(24, T, YEARS, 2023, mid2023)).toBe('reached');
    expect(standing(19, T, YEARS, 2023, mid2023)).toBe('onTrack');
    expect(standing(10, T, YEARS, 2023, mid2023)).toBe('behind');
    expect(standing(35, T, YEARS, 2024, new Date('2026-01-01T00:00:00Z'))).toBe('behind');
    expect(standing(3, {}, YEARS, 2024, mid2023)).toBe('none');
  });

  it('rows against the chosen year, with gap, share and the towns without a target', () => {
    const v = planView(progress('2026-12-01T00:00:00Z'), 2024);
    expect(v.over).toBe(true);
    expect(v.towns.map((r) => [r.town, r.current, r.byYearEnd, r.target, r.gap, r.standing])).toEqual([
      ['经开区', 40, 30, 36, 0, 'reached'],
      ['港开区', 3, 3, 36, 33, 'behind'],
      ['淮海农场', 2, 0, undefined, undefined, 'none'],
    ]);
    expect(v.towns[0]!.pct).toBeCloseTo(40 / 36);
    expect(v.towns[2]!.targets).toEqual([undefined, undefined, undefined]);
    expect(v.counts).toEqual({ reached: 1, onTrack: 0, behind: 1, none: 1 });
    expect(v.totals.target).toBe(300);
    expect(v.totals.gap).toBe(255);
    expect(v.unplanned).toBeNull();
    expect(planView(progress('2024-06-01T00:00:00Z'), 2024).over).toBe(false);
  });

  it('headline: now against this year, and the plan\'s end once it is over', () => {
    const h = headline(progress('2026-12-01T00:00:00Z'));
    expect(h).toMatchObject({ current: 45, year: 2024, target: 300, gap: 255 });
    expect(h.pct).toBeCloseTo(0.15);
    expect(h.ended).toMatchObject({ year: 2024, registered: 33, target: 300 });
    const during = headline(progress('2023-03-01T00:00:00Z'));
    expect(during.year).toBe(2023);
    expect(during.target).toBe(200);
    expect(during.ended).toBeNull();
  });

  it('rounds the axis', () => {
    expect(niceMax(36)).toBe(50);
    expect(niceMax(40)).toBe(50);
    expect(niceMax(101)).toBe(200);
    expect(niceMax(0)).toBe(1);
    expect(ticks(50)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(ticks(1)).toEqual([0, 1]);
  });
});
