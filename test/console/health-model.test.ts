// The health page's figures from two scrapes and /readyz (src/console/pages/health-model.ts) and its number formats.
import { describe, expect, it } from 'vitest';
import { fmtBytes, fmtInt, fmtPct, fmtSeconds, fmtUptime } from '../../src/console/pages/health-format.js';
import { healthView, increase, percentiles, pushHistory, readReadiness, redisState, sparkPoints, storeKindName, storeState, type Scrape } from '../../src/console/pages/health-model.js';
import { parseMetrics } from '../../src/console/pages/health-prometheus.js';

function scrape(at: number, o: { mem: number; redis: number; store: number; misses: number; rmiss: number; lat?: [string, number][]; native?: number; cpu?: number }): Scrape {
  const lines = [
    `idnode_resolutions_total{tier="memory"} ${o.mem}`,
    `idnode_resolutions_total{tier="redis"} ${o.redis}`,
    `idnode_resolutions_total{tier="store"} ${o.store}`,
    `idnode_cache_misses_total ${o.misses}`,
    `idnode_redis_misses_total ${o.rmiss}`,
    'idnode_cache_bytes 1048576',
    'idnode_cache_max_bytes 4194304',
    'idnode_cache_entries 12',
    'process_resident_memory_bytes 104857600',
    'nodejs_heap_used_bytes 52428800',
    'process_start_time_seconds 1000',
    `process_cpu_seconds_total ${o.cpu ?? 0}`,
    'idnode_process_info{pid="1"} 1',
    'idnode_process_info{pid="2"} 1',
  ];
  if (o.native !== undefined) lines.push(`idnode_native_requests_total{transport="tcp"} ${o.native}`, 'idnode_native_requests_total{transport="udp"} 0');
  for (const [le, n] of o.lat ?? []) lines.push(`idnode_http_request_duration_seconds_bucket{face="rest",le="${le}"} ${n}`);
  return { at, m: parseMetrics(lines.join('\n')) };
}

describe('healthView', () => {
  const a = scrape(1_000_000, { mem: 100, redis: 10, store: 5, misses: 15, rmiss: 5, lat: [['0.01', 4], ['0.1', 5], ['+Inf', 5]], native: 3, cpu: 1 });
  const b = scrape(1_005_000, { mem: 150, redis: 20, store: 10, misses: 30, rmiss: 10, lat: [['0.01', 4], ['0.1', 9], ['+Inf', 9]], native: 13, cpu: 1.5 });

  it('has no rates on the first scrape, totals and ratios since the start', () => {
    const v = healthView(a);
    expect(v.rates).toBeNull();
    expect(v.totals).toEqual({ memory: 100, redis: 10, store: 5, total: 115 });
    expect(v.memoryHit.all).toBeCloseTo(100 / 115);
    expect(v.memoryHit.interval).toBeNull();
    expect(v.redisHit.all).toBeCloseTo(10 / 15);
    expect(v.latency?.basis).toBe('all');
    expect(v.process.processes).toBe(2);
    expect(v.process.uptime).toBe(0);
    expect(v.cache).toEqual({ bytes: 1048576, max: 4194304, entries: 12 });
  });

  it('rates by tier over the elapsed time, ratios over the interval', () => {
    const v = healthView(b, a);
    expect(v.interval).toBe(5);
    expect(v.rates).toEqual({ memory: 10, redis: 2, store: 1, total: 13 });
    expect(v.memoryHit.interval).toBeCloseTo(50 / 65);
    expect(v.redisHit.interval).toBeCloseTo(10 / 15);
    expect(v.native?.rate).toBe(2);
    expect(v.native?.byTransport).toEqual({ tcp: 13, udp: 0 });
    expect(v.process.cpu).toBeCloseTo(0.1);
    // the 4 observations of the interval all fall in (0.01, 0.1]
    expect(v.latency?.basis).toBe('interval');
    expect(v.latency?.samples).toBe(4);
    expect(v.latency?.p50).toBeCloseTo(0.01 + 0.09 * 0.5);
    expect(v.latencyByFace.map((f) => f.face)).toEqual(['rest']);
  });

  it('falls back to all-time latency when the interval has none, and to none when the histogram is absent', () => {
    const c = scrape(1_010_000, { mem: 150, redis: 20, store: 10, misses: 30, rmiss: 10, lat: [['0.01', 4], ['0.1', 9], ['+Inf', 9]] });
    expect(healthView(c, b).latency?.basis).toBe('all');
    expect(healthView(c, b).latency?.samples).toBe(9);
    const none = scrape(1_010_000, { mem: 1, redis: 0, store: 0, misses: 0, rmiss: 0 });
    expect(healthView(none, a).latency).toBeNull();
    expect(healthView(none, a).native).toBeNull();
    expect(percentiles(none.m, undefined)).toBeNull();
  });

  it('treats a counter that went down as restarted', () => {
    expect(increase(5, 100)).toBe(5);
    expect(increase(105, 100)).toBe(5);
    expect(increase(undefined, 1)).toBeUndefined();
    const restarted = scrape(1_005_000, { mem: 20, redis: 0, store: 3, misses: 5, rmiss: 0 });
    expect(healthView(restarted, a).rates).toEqual({ memory: 4, redis: 0, store: 0.6, total: 4.6 });
  });

  it('no Redis look-ups: no ratio', () => {
    const v = healthView(scrape(0, { mem: 3, redis: 0, store: 1, misses: 1, rmiss: 0 }));
    expect(v.redisHit.all).toBeNull();
    expect(v.redisUsed).toBe(false);
  });
});

describe('readiness', () => {
  it('reads the states from /readyz', () => {
    const ok = readReadiness(200, { status: 'ready', store: 'postgres', redis: 'ready', cache: {} });
    expect(storeState(ok)).toBe('ok');
    expect(redisState(ok)).toBe('ok');
    const down = readReadiness(503, { status: 'unavailable', store: 'postgres', error: 'store ping timed out' });
    expect(storeState(down)).toBe('down');
    expect(down.error).toBe('store ping timed out');
    expect(redisState(readReadiness(200, { status: 'ready', store: 'pglite', redis: 'off' }))).toBe('off');
    expect(redisState(readReadiness(200, { status: 'ready', redis: 'down' }))).toBe('down');
    expect(redisState(readReadiness(200, { status: 'ready' }))).toBe('unknown');
    expect(storeState(readReadiness(503, null))).toBe('down');
    expect(storeKindName('postgres')).toBe('PostgreSQL');
    expect(storeKindName('pglite')).toBe('PGlite');
  });
});

describe('sparkline and formats', () => {
  it('keeps the last values and draws them in the box', () => {
    let h: number[] = [];
    for (let i = 0; i < 70; i++) h = pushHistory(h, i, 60);
    expect(h).toHaveLength(60);
    expect(h[0]).toBe(10);
    expect(sparkPoints([0, 10], 100, 20, 0)).toBe('0.0,20.0 100.0,0.0');
    expect(sparkPoints([], 100, 20)).toBe('');
    expect(sparkPoints([0, 0], 100, 20, 0)).toBe('0.0,20.0 100.0,20.0');
  });

  it('formats in both languages', () => {
    expect(fmtInt('zh', 12345)).toBe('12,345');
    expect(fmtInt('en', undefined)).toBe('—');
    expect(fmtPct('en', 0.875)).toBe('87.5%');
    expect(fmtBytes('zh', 1048576)).toBe('1.0 MB');
    expect(fmtBytes('en', 512)).toBe('512 B');
    expect(fmtSeconds('en', 0.0123)).toBe('12.3 ms');
    expect(fmtSeconds('en', 1.5)).toBe('1.5 s');
    expect(fmtSeconds('zh', undefined)).toBe('—');
    expect(fmtUptime('zh', 90061)).toBe('1 天 1 小时');
    expect(fmtUptime('en', 125)).toBe('2 min');
  });
});
