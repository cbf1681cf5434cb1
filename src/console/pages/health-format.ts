// Number formatting for the ops pages (plan and health) in the console's language: counts, rates, ratios, bytes, durations; no DOM.

export type FormatLang = 'zh' | 'en';

const locale = (l: FormatLang) => (l === 'en' ? 'en-GB' : 'zh-CN');
const DASH = '—';
const ok = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);

/** A whole count: 1,234 (— when unknown). */
export function fmtInt(l: FormatLang, v: number | null | undefined): string {
  return ok(v) ? new Intl.NumberFormat(locale(l), { maximumFractionDigits: 0 }).format(v) : DASH;
}

/** A rate or a measure with up to `digits` decimals: 12.5, 1,234.6, 0.25 (— when unknown). */
export function fmtNum(l: FormatLang, v: number | null | undefined, digits = 1): string {
  if (!ok(v)) return DASH;
  const d = Math.abs(v) >= 100 ? Math.min(digits, 1) : Math.abs(v) > 0 && Math.abs(v) < 1 ? Math.max(digits, 2) : digits;
  return new Intl.NumberFormat(locale(l), { maximumFractionDigits: d, minimumFractionDigits: 0 }).format(v);
}

/** A ratio 0..1 as a percentage: 87.5% (— when unknown). */
export function fmtPct(l: FormatLang, v: number | null | undefined, digits = 1): string {
  return ok(v) ? new Intl.NumberFormat(locale(l), { style: 'percent', maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(v) : DASH;
}

/** Bytes in binary units: 512 B, 12.3 KB, 96 MB, 1.2 GB (— when unknown). */
export function fmtBytes(l: FormatLang, v: number | null | undefined): string {
  if (!ok(v)) return DASH;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let n = v;
  let u = 0;
  while (Math.abs(n) >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  const digits = u === 0 || n >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(locale(l), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(n)} ${units[u]}`;
}

/** A duration given in seconds, as ms below a second: 0.42 ms, 12.3 ms, 1.25 s (— when unknown). */
export function fmtSeconds(l: FormatLang, v: number | null | undefined): string {
  if (!ok(v)) return DASH;
  if (v >= 1) return `${new Intl.NumberFormat(locale(l), { maximumFractionDigits: 2 }).format(v)} s`;
  const ms = v * 1000;
  const digits = ms >= 100 ? 0 : ms >= 10 ? 1 : 2;
  return `${new Intl.NumberFormat(locale(l), { maximumFractionDigits: digits }).format(ms)} ms`;
}

/** A span of time in seconds as days, hours, minutes: 3 天 4 小时 / 3 d 4 h; 5 分钟 / 5 min (— when unknown). */
export function fmtUptime(l: FormatLang, seconds: number | null | undefined): string {
  if (!ok(seconds) || seconds < 0) return DASH;
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const zh = l === 'zh';
  if (d > 0) return zh ? `${d} 天 ${h} 小时` : `${d} d ${h} h`;
  if (h > 0) return zh ? `${h} 小时 ${m} 分钟` : `${h} h ${m} min`;
  if (m > 0) return zh ? `${m} 分钟` : `${m} min`;
  return zh ? `${Math.floor(seconds)} 秒` : `${Math.floor(seconds)} s`;
}
