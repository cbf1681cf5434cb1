// The console's Prometheus text parser and histogram quantiles (src/console/pages/health-prometheus.ts).
import { describe, expect, it } from 'vitest';
import { buckets, byLabel, has, labelValues, observations, parseMetrics, parseSampleLine, parseValue, quantile, subtractBuckets, value } from '../../src/console/pages/health-prometheus.js';

const TEXT = `# HELP idnode_resolutions_total Resolutions answered, by the tier that answered.
# TYPE idnode_resolutions_total counter
idnode_resolutions_total{tier="memory"} 120
idnode_resolutions_total{tier="redis"} 30
idnode_resolutions_total{tier="store"} 7

# TYPE idnode_cache_max_bytes gauge
idnode_cache_max_bytes 1.00663296e+08
# TYPE idnode_http_request_duration_seconds histogram
idnode_http_request_duration_seconds_bucket{face="rest",le="0.001"} 2
idnode_http_request_duration_seconds_bucket{face="rest",le="0.01"} 8
idnode_http_request_duration_seconds_bucket{face="rest",le="0.1"} 10
idnode_http_request_duration_seconds_bucket{face="rest",le="+Inf"} 10
idnode_http_request_duration_seconds_sum{face="rest"} 0.05
idnode_http_request_duration_seconds_count{face="rest"} 10
idnode_http_request_duration_seconds_bucket{le="0.001",face="snms"} 0
idnode_http_request_duration_seconds_bucket{le="0.01",face="snms"} 0
idnode_http_request_duration_seconds_bucket{le="0.1",face="snms"} 10
idnode_http_request_duration_seconds_bucket{le="+Inf",face="snms"} 10
weird{path="a\\"b\\\\c\\nd",x="1",} 3 1700000000000
bad line here
nan_metric NaN
`;

describe('Prometheus text parser', () => {
  const m = parseMetrics(TEXT);

  it('reads samples, labels, types, and counts unreadable lines', () => {
    expect(value(m, 'idnode_resolutions_total', { tier: 'memory' })).toBe(120);
    expect(value(m, 'idnode_resolutions_total')).toBe(157);
    expect(value(m, 'idnode_cache_max_bytes')).toBe(100663296);
    expect(value(m, 'absent')).toBeUndefined();
    expect(has(m, 'idnode_resolutions_total')).toBe(true);
    expect(has(m, 'absent')).toBe(false);
    expect(m.types.get('idnode_http_request_duration_seconds')).toBe('histogram');
    expect(m.errors).toBe(1);
    expect(Number.isNaN(value(m, 'nan_metric'))).toBe(true);
  });

  it('unescapes label values and ignores timestamps and a trailing comma', () => {
    const s = m.samples.get('weird')![0]!;
    expect(s.labels).toEqual({ path: 'a"b\\c\nd', x: '1' });
    expect(s.value).toBe(3);
  });

  it('sums by label', () => {
    expect(Object.fromEntries(byLabel(m, 'idnode_resolutions_total', 'tier'))).toEqual({ memory: 120, redis: 30, store: 7 });
    expect(labelValues(m, 'idnode_http_request_duration_seconds_bucket', 'face')).toEqual(['rest', 'snms']);
  });

  it('reads values and refuses malformed lines', () => {
    expect(parseValue('+Inf')).toBe(Infinity);
    expect(parseValue('-Inf')).toBe(-Infinity);
    expect(parseValue('1e3')).toBe(1000);
    expect(parseValue('.5')).toBe(0.5);
    expect(parseValue('abc')).toBeUndefined();
    expect(parseSampleLine('x{a="1" 2')).toBeUndefined();
    expect(parseSampleLine('x{a=1} 2')).toBeUndefined();
    expect(parseSampleLine('x 1 2 3')).toBeUndefined();
    expect(parseSampleLine('x')).toBeUndefined();
    expect(parseSampleLine('x{} 4')).toEqual({ name: 'x', labels: {}, value: 4 });
    expect(parseMetrics('a 1\r\nb 2\r\n').samples.get('b')![0]!.value).toBe(2);
  });
});

describe('histogram buckets and quantiles', () => {
  const m = parseMetrics(TEXT);

  it('sums buckets over the other labels, ordered by le with +Inf last', () => {
    expect(buckets(m, 'idnode_http_request_duration_seconds')).toEqual([
      { le: 0.001, count: 2 },
      { le: 0.01, count: 8 },
      { le: 0.1, count: 20 },
      { le: Infinity, count: 20 },
    ]);
    expect(buckets(m, 'idnode_http_request_duration_seconds', { face: 'rest' })![1]).toEqual({ le: 0.01, count: 8 });
    expect(buckets(m, 'absent')).toBeUndefined();
  });

  it('interpolates linearly within the bucket the rank falls in', () => {
    const bs = buckets(m, 'idnode_http_request_duration_seconds', { face: 'rest' })!;
    // 10 observations: rank 5 falls in (0.001, 0.01] which holds ranks 3..8 → 0.001 + 0.009 * (5-2)/6
    expect(quantile(0.5, bs)).toBeCloseTo(0.001 + 0.009 * (3 / 6), 10);
    // rank 1 in the first bucket, from 0
    expect(quantile(0.1, bs)).toBeCloseTo(0.0005, 10);
    // rank 9.9 in (0.01, 0.1] holding 9..10
    expect(quantile(0.99, bs)).toBeCloseTo(0.01 + 0.09 * (1.9 / 2), 10);
  });

  it('gives the highest finite bound for a rank in the +Inf bucket, nothing without observations', () => {
    const bs = [
      { le: 0.1, count: 1 },
      { le: 1, count: 2 },
      { le: Infinity, count: 10 },
    ];
    expect(quantile(0.99, bs)).toBe(1);
    expect(quantile(0.5, [{ le: 0.1, count: 0 }, { le: Infinity, count: 0 }])).toBeUndefined();
    expect(quantile(0.5, [])).toBeUndefined();
  });

  it('subtracts the previous scrape, and takes the current one whole after a reset', () => {
    const prev = [
      { le: 0.01, count: 5 },
      { le: Infinity, count: 6 },
    ];
    const cur = [
      { le: 0.01, count: 9 },
      { le: Infinity, count: 12 },
    ];
    expect(subtractBuckets(cur, prev)).toEqual([
      { le: 0.01, count: 4 },
      { le: Infinity, count: 6 },
    ]);
    expect(observations(subtractBuckets(cur, prev))).toBe(6);
    const reset = [
      { le: 0.01, count: 1 },
      { le: Infinity, count: 1 },
    ];
    expect(subtractBuckets(reset, prev)).toEqual(reset);
    expect(subtractBuckets(cur, undefined)).toEqual(cur);
  });
});
