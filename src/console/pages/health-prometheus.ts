// A small parser of the Prometheus text exposition format (what the node's /metrics answers) and histogram quantiles; no DOM.

/** One sample: the metric's name as written (`x_bucket`, `x_sum` …), its labels and its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: samples by name, the declared types (`# TYPE`), and how many lines could not be read. */
export interface Metrics {
  samples: Map<string, Sample[]>;
  types: Map<string, string>;
  /** lines skipped as unreadable (a partial scrape still shows what it has) */
  errors: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** A sample value: a float, or NaN, +Inf, -Inf (any case). */
export function parseValue(s: string): number | undefined {
  const v = s.trim();
  if (/^[+]?inf$/i.test(v)) return Infinity;
  if (/^-inf$/i.test(v)) return -Infinity;
  if (/^nan$/i.test(v)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) return undefined;
  return Number(v);
}

/** The label set at the start of `s` (just after `{`): the labels and where the text after `}` starts, or undefined. */
function parseLabels(s: string, from: number): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let i = from;
  for (;;) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] === '}') return { labels, end: i + 1 };
    const m = LABEL_NAME.exec(s.slice(i));
    if (m === null) return undefined;
    const name = m[0];
    i += name.length;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '=') return undefined;
    i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '"') return undefined;
    i++;
    let value = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) return undefined;
      if (c === '"') break;
      if (c === '\\') {
        const n = s[i + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else if (n === undefined) return undefined;
        else value += `\\${n}`;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') return undefined;
  }
}

/** One sample line, or undefined when it is not one. */
export function parseSampleLine(line: string): Sample | undefined {
  const m = NAME.exec(line);
  if (m === null) return undefined;
  const name = m[0];
  let rest = name.length;
  let labels: Record<string, string> = {};
  if (line[rest] === '{') {
    const l = parseLabels(line, rest + 1);
    if (l === undefined) return undefined;
    labels = l.labels;
    rest = l.end;
  }
  // the value, then an optional timestamp (ignored)
  const parts = line.slice(rest).trim().split(/[ \t]+/);
  if (parts.length < 1 || parts.length > 2 || parts[0] === '') return undefined;
  const value = parseValue(parts[0]!);
  if (value === undefined) return undefined;
  return { name, labels, value };
}

/** Parses a whole exposition; unreadable lines are counted in `errors`, never thrown. */
export function parseMetrics(text: string): Metrics {
  const samples = new Map<string, Sample[]>();
  const types = new Map<string, string>();
  let errors = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const t = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (t !== null) types.set(t[1]!, t[2]!);
      continue;
    }
    const s = parseSampleLine(line);
    if (s === undefined) {
      errors++;
      continue;
    }
    const list = samples.get(s.name);
    if (list === undefined) samples.set(s.name, [s]);
    else list.push(s);
  }
  return { samples, types, errors };
}

const matches = (labels: Record<string, string>, match: Record<string, string> | undefined): boolean =>
  match === undefined || Object.entries(match).every(([k, v]) => labels[k] === v);

/** Whether the exposition has any sample named `name`. */
export function has(m: Metrics, name: string): boolean {
  return (m.samples.get(name)?.length ?? 0) > 0;
}

/** The sum of the samples named `name` whose labels include `match`; undefined when there are none. */
export function value(m: Metrics, name: string, match?: Record<string, string>): number | undefined {
  let found = false;
  let sum = 0;
  for (const s of m.samples.get(name) ?? []) {
    if (!matches(s.labels, match)) continue;
    found = true;
    sum += s.value;
  }
  return found ? sum : undefined;
}

/** The samples named `name` summed by the value of one label (samples without it are left out). */
export function byLabel(m: Metrics, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of m.samples.get(name) ?? []) {
    const k = s.labels[label];
    if (k === undefined) continue;
    out.set(k, (out.get(k) ?? 0) + s.value);
  }
  return out;
}

/** One cumulative histogram bucket: observations ≤ `le`. */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * The cumulative buckets of histogram `base` (its `base_bucket` samples), summed over every other label for the
 * samples whose labels include `match`, ordered by `le` (+Inf last); undefined when the histogram is absent.
 */
export function buckets(m: Metrics, base: string, match?: Record<string, string>): Bucket[] | undefined {
  const byLe = new Map<number, number>();
  for (const s of m.samples.get(`${base}_bucket`) ?? []) {
    if (!matches(s.labels, match)) continue;
    const le = s.labels.le === undefined ? undefined : parseValue(s.labels.le);
    if (le === undefined || Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  if (byLe.size === 0) return undefined;
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** The observations of `cur` made since `prev` (bucket by bucket); `cur` itself when a count went down (a restart). */
export function subtractBuckets(cur: readonly Bucket[], prev: readonly Bucket[] | undefined): Bucket[] {
  if (prev === undefined) return cur.map((b) => ({ ...b }));
  const before = new Map(prev.map((b) => [b.le, b.count]));
  const out = cur.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) }));
  return out.some((b) => b.count < 0) ? cur.map((b) => ({ ...b })) : out;
}

/** How many observations the buckets hold (the +Inf bucket's count, or the last one's). */
export function observations(bs: readonly Bucket[]): number {
  return bs.length === 0 ? 0 : bs[bs.length - 1]!.count;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of cumulative buckets, as Prometheus's histogram_quantile estimates it: linear
 * interpolation within the bucket the rank falls in (the first bucket from 0); a rank in the +Inf bucket gives the
 * highest finite bound. Undefined when there are no observations.
 */
export function quantile(q: number, bs: readonly Bucket[]): number | undefined {
  if (bs.length === 0 || Number.isNaN(q)) return undefined;
  const total = observations(bs);
  if (!(total > 0)) return undefined;
  const rank = Math.min(1, Math.max(0, q)) * total;
  let i = bs.findIndex((b) => b.count >= rank);
  if (i < 0) i = bs.length - 1;
  const b = bs[i]!;
  if (b.le === Infinity) {
    // beyond the highest finite bound: that bound is the best one can say
    const finite = bs.filter((x) => Number.isFinite(x.le));
    return finite.length === 0 ? undefined : finite[finite.length - 1]!.le;
  }
  const lower = i === 0 ? Math.min(0, b.le) : bs[i - 1]!.le;
  const below = i === 0 ? 0 : bs[i - 1]!.count;
  const inBucket = b.count - below;
  if (i === 0 && b.le <= 0) return b.le;
  if (inBucket <= 0) return b.le;
  return lower + (b.le - lower) * ((rank - below) / inBucket);
}

/** The values label `label` takes among the samples named `name`, sorted. */
export function labelValues(m: Metrics, name: string, label: string): string[] {
  const out = new Set<string>();
  for (const s of m.samples.get(name) ?? []) {
    const v = s.labels[label];
    if (v !== undefined) out.add(v);
  }
  return [...out].sort();
}
