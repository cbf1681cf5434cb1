// What the health page shows, computed from two scrapes of /metrics and the /readyz answer: rates, ratios, latency percentiles, states; no DOM.
import { buckets, byLabel, has, labelValues, observations, quantile, subtractBuckets, value, type Bucket, type Metrics } from './health-prometheus.js';

/** One scrape of /metrics: when it was taken (ms since the epoch) and what it said. */
export interface Scrape {
  at: number;
  m: Metrics;
}

export const TIERS = ['memory', 'redis', 'store'] as const;
export type Tier = (typeof TIERS)[number];

export const LATENCY = 'idnode_http_request_duration_seconds';

/** p50 / p90 / p99 in seconds, and what they were computed over. */
export interface Percentiles {
  p50: number | undefined;
  p90: number | undefined;
  p99: number | undefined;
  /** interval: the observations between the two scrapes; all: every observation since the start (the interval had none); none: no observations */
  basis: 'interval' | 'all' | 'none';
  /** observations they rest on (the histogram is sampled: not the number of requests) */
  samples: number;
}

/** A ratio over the last interval and since the start (null: nothing to divide). */
export interface Ratio {
  interval: number | null;
  all: number | null;
}

export interface HealthView {
  /** seconds between the two scrapes; null on the first */
  interval: number | null;
  /** resolutions per second by tier and in all, over the interval; null on the first scrape */
  rates: (Record<Tier, number> & { total: number }) | null;
  /** resolutions since the start, by tier */
  totals: Record<Tier, number> & { total: number };
  memoryHit: Ratio;
  redisHit: Ratio;
  /** whether the node has counted any Redis look-up (hit or miss) */
  redisUsed: boolean;
  /** latency over every face; null when the node has no latency histogram */
  latency: Percentiles | null;
  /** latency per face (label `face`), sorted by face */
  latencyByFace: ({ face: string } & Percentiles)[];
  /** native Handle protocol requests: null when the node has no such metric */
  native: { rate: number | null; total: number; byTransport: Record<string, number> } | null;
  cache: { bytes: number | undefined; max: number | undefined; entries: number | undefined };
  process: {
    rss: number | undefined;
    heap: number | undefined;
    /** processes (workers) the figures cover */
    processes: number | undefined;
    /** CPU time per wall time over the interval (1 = one core busy) */
    cpu: number | null;
    /** seconds since the (earliest) process start */
    uptime: number | undefined;
  };
  counters: {
    staleServed: number | undefined;
    redisErrors: number | undefined;
    redisErrorsRate: number | null;
    evictions: number | undefined;
    epochChanges: number | undefined;
    negativeHits: number | undefined;
    prefetches: number | undefined;
  };
}

/** How much a counter grew between two readings (a counter that went down was reset: it grew by its new value). */
export function increase(cur: number | undefined, prev: number | undefined): number | undefined {
  if (cur === undefined) return undefined;
  if (prev === undefined) return undefined;
  return cur >= prev ? cur - prev : cur;
}

const ratio = (n: number | undefined, d: number | undefined): number | null => (n === undefined || d === undefined || d <= 0 ? null : n / d);

/** Percentiles of the latency histogram (for `match`'s labels): over the interval, else over all time. */
export function percentiles(cur: Metrics, prev: Metrics | undefined, match?: Record<string, string>): Percentiles | null {
  const now = buckets(cur, LATENCY, match);
  if (now === undefined) return null;
  const before = prev === undefined ? undefined : buckets(prev, LATENCY, match);
  let basis: Percentiles['basis'] = 'none';
  let bs: Bucket[] = [];
  if (prev !== undefined) {
    const diff = subtractBuckets(now, before ?? now.map((b) => ({ le: b.le, count: 0 })));
    if (observations(diff) > 0) {
      bs = diff;
      basis = 'interval';
    }
  }
  if (basis === 'none' && observations(now) > 0) {
    bs = now;
    basis = 'all';
  }
  return { p50: quantile(0.5, bs), p90: quantile(0.9, bs), p99: quantile(0.99, bs), basis, samples: observations(bs) };
}

function tierTotals(m: Metrics): Record<Tier, number> & { total: number } {
  const t = byLabel(m, 'idnode_resolutions_total', 'tier');
  const memory = t.get('memory') ?? 0;
  const redis = t.get('redis') ?? 0;
  const store = t.get('store') ?? 0;
  return { memory, redis, store, total: memory + redis + store };
}

/** The health page's figures from the latest scrape and the one before it (absent on the first). */
export function healthView(cur: Scrape, prev?: Scrape): HealthView {
  const m = cur.m;
  const p = prev?.m;
  const dt = prev === undefined ? null : (cur.at - prev.at) / 1000;
  const interval = dt !== null && dt > 0 ? dt : null;
  const perSecond = (name: string, match?: Record<string, string>): number | null => {
    if (interval === null || p === undefined) return null;
    const inc = increase(value(m, name, match), value(p, name, match));
    return inc === undefined ? null : inc / interval;
  };

  const totals = tierTotals(m);
  let rates: HealthView['rates'] = null;
  if (interval !== null && p !== undefined) {
    const before = tierTotals(p);
    const r = (t: Tier) => (increase(totals[t], before[t]) ?? 0) / interval;
    const memory = r('memory');
    const redis = r('redis');
    const store = r('store');
    rates = { memory, redis, store, total: memory + redis + store };
  }

  const misses = value(m, 'idnode_cache_misses_total');
  const redisMisses = value(m, 'idnode_redis_misses_total');
  const inc = (name: string, match?: Record<string, string>) => (p === undefined ? undefined : increase(value(m, name, match), value(p, name, match)));
  const memInc = inc('idnode_resolutions_total', { tier: 'memory' });
  const missInc = inc('idnode_cache_misses_total');
  const redisInc = inc('idnode_resolutions_total', { tier: 'redis' });
  const redisMissInc = inc('idnode_redis_misses_total');

  const faces = labelValues(m, `${LATENCY}_bucket`, 'face');
  const latencyByFace = faces.flatMap((face) => {
    const pc = percentiles(m, p, { face });
    return pc === null ? [] : [{ face, ...pc }];
  });

  const nativeNames = 'idnode_native_requests_total';
  const native = has(m, nativeNames)
    ? {
        rate: perSecond(nativeNames),
        total: value(m, nativeNames) ?? 0,
        byTransport: Object.fromEntries(byLabel(m, nativeNames, 'transport')),
      }
    : null;

  const cpu = perSecond('process_cpu_seconds_total');
  const start = (m.samples.get('process_start_time_seconds') ?? []).reduce<number | undefined>((a, s) => (a === undefined || s.value < a ? s.value : a), undefined);
  const infos = m.samples.get('idnode_process_info');

  return {
    interval,
    rates,
    totals,
    memoryHit: {
      interval: ratio(memInc, memInc === undefined || missInc === undefined ? undefined : memInc + missInc),
      all: ratio(totals.memory, misses === undefined ? undefined : totals.memory + misses),
    },
    redisHit: {
      interval: ratio(redisInc, redisInc === undefined || redisMissInc === undefined ? undefined : redisInc + redisMissInc),
      all: ratio(totals.redis, redisMisses === undefined ? undefined : totals.redis + redisMisses),
    },
    redisUsed: totals.redis + (redisMisses ?? 0) > 0,
    latency: percentiles(m, p),
    latencyByFace,
    native,
    cache: { bytes: value(m, 'idnode_cache_bytes'), max: value(m, 'idnode_cache_max_bytes'), entries: value(m, 'idnode_cache_entries') },
    process: {
      rss: value(m, 'process_resident_memory_bytes'),
      heap: value(m, 'nodejs_heap_used_bytes') ?? value(m, 'nodejs_heap_size_used_bytes'),
      processes: infos === undefined ? undefined : infos.length,
      cpu,
      uptime: start === undefined ? undefined : Math.max(0, cur.at / 1000 - start),
    },
    counters: {
      staleServed: value(m, 'idnode_cache_stale_served_total'),
      redisErrors: value(m, 'idnode_redis_errors_total'),
      redisErrorsRate: perSecond('idnode_redis_errors_total'),
      evictions: value(m, 'idnode_cache_evictions_total'),
      epochChanges: value(m, 'idnode_cache_epoch_changes_total'),
      negativeHits: value(m, 'idnode_cache_negative_hits_total'),
      prefetches: value(m, 'idnode_cache_prefetches_total'),
    },
  };
}

// --- readiness --------------------------------------------------------------------------------------------------------

/** What /readyz answered: the status always; the details (store kind, Redis, error) only to operators. */
export interface Readiness {
  /** the HTTP status (200 ready, 503 the store does not answer) */
  http: number;
  status: string;
  store?: string;
  redis?: string;
  error?: string;
}

export type State = 'ok' | 'down' | 'off' | 'unknown';

/** Reads a /readyz body (JSON) with its HTTP status; anything unreadable is a status of its own. */
export function readReadiness(http: number, body: unknown): Readiness {
  const o = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const r: Readiness = { http, status: str(o.status) ?? (http === 200 ? 'ready' : 'unavailable') };
  const store = str(o.store);
  const redis = str(o.redis);
  const error = str(o.error);
  if (store !== undefined) r.store = store;
  if (redis !== undefined) r.redis = redis;
  if (error !== undefined) r.error = error;
  return r;
}

/** The database's state: ready is ok, anything else down. */
export function storeState(r: Readiness): State {
  return r.status === 'ready' && r.http === 200 ? 'ok' : 'down';
}

/** Redis's state: ready, down, off (not configured), or unknown (no details: not an operator, or an older node). */
export function redisState(r: Readiness): State {
  if (r.redis === 'ready') return 'ok';
  if (r.redis === 'down') return 'down';
  if (r.redis === 'off') return 'off';
  return 'unknown';
}

/** Whether the answer carried the details (the caller may inspect: an operator). */
export const hasDetails = (r: Readiness): boolean => r.store !== undefined;

/** A store kind as people say it: PostgreSQL, embedded PGlite, memory. */
export function storeKindName(kind: string | undefined): string {
  if (kind === undefined) return 'PostgreSQL';
  if (/^postgres/i.test(kind)) return 'PostgreSQL';
  if (/pglite/i.test(kind)) return 'PGlite';
  return kind;
}

/** Keeps the last `max` values (for the sparkline). */
export function pushHistory(history: readonly number[], v: number, max = 60): number[] {
  const out = [...history, v];
  return out.length > max ? out.slice(out.length - max) : out;
}

/** The polyline points of a sparkline of `values` in a `w`×`h` box (the lowest value at the bottom edge, from 0). */
export function sparkPoints(values: readonly number[], w: number, h: number, pad = 2): string {
  if (values.length === 0) return '';
  const max = Math.max(...values, 0);
  const top = max <= 0 ? 1 : max;
  const step = values.length === 1 ? 0 : (w - 2 * pad) / (values.length - 1);
  return values
    .map((v, i) => {
      const x = pad + i * step;
      const y = h - pad - (Math.max(0, v) / top) * (h - 2 * pad);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}
