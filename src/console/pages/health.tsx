// Node health from its own /metrics (scraped every 5 s while the tab is visible) and /readyz: resolution rates, hit ratios, latency, memory, database and Redis state.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { lang, useT } from '../i18n/index.js';
import { session } from '../session.js';
import { Note, Page, messageOf, when } from '../ui.js';
import { fmtBytes, fmtInt, fmtNum, fmtPct, fmtSeconds, fmtUptime, type FormatLang } from './health-format.js';
import {
  hasDetails,
  healthView,
  pushHistory,
  readReadiness,
  redisState,
  sparkPoints,
  storeKindName,
  storeState,
  type HealthView,
  type Percentiles,
  type Readiness,
  type Scrape,
  type State,
} from './health-model.js';
import { parseMetrics } from './health-prometheus.js';
import './ops.css';

const PERIOD_MS = 5000;
const HISTORY = 60;

/** GET /metrics (public, Prometheus text). */
async function scrapeMetrics(signal: AbortSignal): Promise<Scrape> {
  let res: Response;
  try {
    res = await fetch('/metrics', { headers: { accept: 'text/plain' }, signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new Error('无法连接节点 / cannot reach the node');
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.trim().slice(0, 200)}`);
  return { at: Date.now(), m: parseMetrics(text) };
}

/** GET /readyz with the session's token (operators get the details), read whatever its HTTP status. */
async function checkReady(signal: AbortSignal): Promise<Readiness> {
  const token = session.token();
  let res: Response;
  try {
    res = await fetch('/readyz', { headers: { accept: 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) }, signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new Error('无法连接节点 / cannot reach the node');
  }
  const body: unknown = await res.json().catch(() => null);
  return readReadiness(res.status, body);
}

const STATE_CLASS: Record<State, string> = { ok: 's1', down: 's0', off: 's2', unknown: 's2' };

function StateBadge(props: { state: State }): JSX.Element {
  const t = useT();
  return <span class={`badge ${STATE_CLASS[props.state]} state-${props.state}`}>{t(`health.state.${props.state}`)}</span>;
}

function Kpi(props: { label: string; value: string; sub?: ComponentChildren; testId?: string }): JSX.Element {
  return (
    <div class="kpi">
      <div class="k">{props.label}</div>
      <div class="v" data-testid={props.testId}>
        {props.value}
      </div>
      {props.sub !== undefined ? <div class="sub muted">{props.sub}</div> : null}
    </div>
  );
}

/** The last samples of total resolutions per second, as a line. */
function Sparkline(props: { values: number[]; l: FormatLang }): JSX.Element {
  const t = useT();
  const { values, l } = props;
  const W = 300;
  const H = 56;
  const pts = sparkPoints(values, W, H, 3);
  const label =
    values.length === 0
      ? t('health.spark.empty')
      : t('health.spark.label', {
          n: values.length,
          min: fmtNum(l, Math.min(...values)),
          max: fmtNum(l, Math.max(...values)),
          last: fmtNum(l, values[values.length - 1]!),
        });
  return (
    <figure class="spark">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} data-testid="health-sparkline" preserveAspectRatio="none">
        <line class="base" x1="0" x2={W} y1={H - 3} y2={H - 3} />
        {values.length > 1 ? <polygon class="area" points={`3,${H - 3} ${pts} ${W - 3},${H - 3}`} /> : null}
        {values.length > 0 ? <polyline class="line" points={pts} /> : null}
      </svg>
      <figcaption class="muted">{label}</figcaption>
    </figure>
  );
}

function latencyBasis(t: (k: string, v?: Record<string, string | number>) => string, p: Percentiles, l: FormatLang, secs: number): string {
  if (p.basis === 'interval') return t('health.latency.interval', { n: fmtInt(l, p.samples) });
  if (p.basis === 'all') return t('health.latency.all', { n: fmtInt(l, p.samples), s: secs });
  return t('health.latency.none');
}

function Status(props: { ready: Readiness | null; readyError: string | null; metricsError: string | null; l: FormatLang }): JSX.Element {
  const t = useT();
  const { ready, readyError, metricsError } = props;
  const unreachable = readyError !== null && metricsError !== null;
  const store: State = ready === null ? 'unknown' : storeState(ready);
  const redis: State = ready === null ? 'unknown' : redisState(ready);
  const details = ready !== null && hasDetails(ready);
  const kind = storeKindName(ready?.store);
  const embedded = ready?.store === 'pglite';
  const node: State = unreachable ? 'down' : ready === null && metricsError === null && readyError === null ? 'unknown' : 'ok';
  return (
    <section class="card" aria-labelledby="health-status-title">
      <h2 id="health-status-title">{t('health.status.title')}</h2>
      <dl class="facts status-list">
        <dt>{t('health.node')}</dt>
        <dd data-testid="health-node">
          <StateBadge state={node} />
        </dd>
        <dt>{details ? t('health.store', { kind }) : t('health.storePlain')}</dt>
        <dd data-testid="health-store">
          <StateBadge state={unreachable ? 'unknown' : store} />
          {ready?.error ? <span class="detail"> {ready.error}</span> : null}
        </dd>
        <dt>{t('health.redis')}</dt>
        <dd data-testid="health-redis">
          <StateBadge state={unreachable ? 'unknown' : redis} />
          {redis === 'off' ? <span class="detail muted"> {t('health.redis.offHint')}</span> : null}
        </dd>
      </dl>
      {unreachable ? (
        <div class="note error" role="alert">
          {t('health.do.unreachable')}
        </div>
      ) : null}
      {!unreachable && store === 'down' ? (
        <div class="note error" role="alert">
          {embedded ? t('health.do.pgliteDown') : t('health.do.storeDown')}
        </div>
      ) : null}
      {!unreachable && redis === 'down' ? (
        <div class="note warn" role="alert">
          {t('health.do.redisDown')}
        </div>
      ) : null}
      {!unreachable && metricsError !== null ? (
        <div class="note warn" role="alert">
          {t('health.do.metrics', { message: metricsError })}
        </div>
      ) : null}
      {!unreachable && readyError !== null && metricsError === null ? (
        <div class="note warn" role="alert">
          {t('health.do.ready', { message: readyError })}
        </div>
      ) : null}
      {!unreachable && ready !== null && !details ? <Note kind="info">{t('health.noDetails')}</Note> : null}
      {!unreachable && ready !== null && details && ready.redis === undefined ? <p class="muted">{t('health.redis.unknownHint')}</p> : null}
    </section>
  );
}

function Figures(props: { v: HealthView; history: number[]; l: FormatLang; redis: State }): JSX.Element {
  const t = useT();
  const { v, history, l } = props;
  const redisOff = props.redis === 'off';
  const perSec = (x: number | null | undefined) => (x === null || x === undefined ? '—' : t('health.perSecond', { n: fmtNum(l, x) }));
  const since = (n: number) => t('health.sinceStart', { n: fmtInt(l, n) });
  const secs = Math.max(1, Math.round(v.interval ?? 5));
  const ratioSub = (r: { interval: number | null; all: number | null }) =>
    r.interval === null ? t('health.ratio.noRecent', { s: secs }) : t('health.ratio.recent', { pct: fmtPct(l, r.interval), s: secs });
  const lat = v.latency;
  const fill = v.cache.bytes !== undefined && v.cache.max !== undefined && v.cache.max > 0 ? v.cache.bytes / v.cache.max : undefined;
  return (
    <>
      <section class="card" aria-labelledby="health-res-title">
        <h2 id="health-res-title">{t('health.res.title')}</h2>
        <div class="kpis">
          <Kpi label={t('health.res.total')} value={perSec(v.rates?.total)} sub={since(v.totals.total)} testId="health-rate-total" />
          <Kpi label={t('health.res.memory')} value={perSec(v.rates?.memory)} sub={since(v.totals.memory)} testId="health-rate-memory" />
          <Kpi label={t('health.res.redis')} value={perSec(v.rates?.redis)} sub={since(v.totals.redis)} testId="health-rate-redis" />
          <Kpi label={t('health.res.store')} value={perSec(v.rates?.store)} sub={since(v.totals.store)} testId="health-rate-store" />
        </div>
        {v.rates === null ? <p class="muted">{t('health.res.first')}</p> : null}
        <h3 class="ops-h3">{t('health.spark.title')}</h3>
        <Sparkline values={history} l={l} />
      </section>

      <section class="card" aria-labelledby="health-hit-title">
        <h2 id="health-hit-title">{t('health.hit.title')}</h2>
        <div class="kpis">
          <Kpi label={t('health.hit.memory')} value={fmtPct(l, v.memoryHit.all)} sub={ratioSub(v.memoryHit)} testId="health-hit-memory" />
          <Kpi
            label={t('health.hit.redis')}
            value={redisOff ? t('health.state.off') : fmtPct(l, v.redisHit.all)}
            sub={redisOff ? t('health.redis.offHint') : v.redisUsed ? ratioSub(v.redisHit) : t('health.hit.redisUnused')}
            testId="health-hit-redis"
          />
        </div>
        <p class="muted">{t('health.hit.explain')}</p>
      </section>

      <section class="card" aria-labelledby="health-lat-title">
        <h2 id="health-lat-title">{t('health.latency.title')}</h2>
        <div class="kpis">
          <Kpi label="p50" value={fmtSeconds(l, lat?.p50)} testId="health-p50" />
          <Kpi label="p90" value={fmtSeconds(l, lat?.p90)} testId="health-p90" />
          <Kpi label="p99" value={fmtSeconds(l, lat?.p99)} testId="health-p99" />
        </div>
        <p class="muted">{lat === null ? t('health.latency.absent') : latencyBasis(t, lat, l, secs)}</p>
        {v.latencyByFace.length > 1 ? (
          <div class="table-wrap">
            <table class="ops-table">
              <caption>{t('health.latency.byFace')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('health.latency.face')}</th>
                  <th scope="col" class="num">
                    p50
                  </th>
                  <th scope="col" class="num">
                    p90
                  </th>
                  <th scope="col" class="num">
                    p99
                  </th>
                  <th scope="col">{t('health.latency.basis')}</th>
                </tr>
              </thead>
              <tbody>
                {v.latencyByFace.map((f) => (
                  <tr key={f.face}>
                    <th scope="row">{f.face}</th>
                    <td class="num">{fmtSeconds(l, f.p50)}</td>
                    <td class="num">{fmtSeconds(l, f.p90)}</td>
                    <td class="num">{fmtSeconds(l, f.p99)}</td>
                    <td>{latencyBasis(t, f, l, secs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>

      <section class="card" aria-labelledby="health-mem-title">
        <h2 id="health-mem-title">{t('health.mem.title')}</h2>
        <div class="meter-row">
          <label for="health-cache-fill">{t('health.cache.fill')}</label>
          <meter id="health-cache-fill" min={0} max={1} value={fill ?? 0} high={0.9} optimum={0.5} />
          <span data-testid="health-cache-bytes">
            {t('health.cache.bytes', { bytes: fmtBytes(l, v.cache.bytes), max: fmtBytes(l, v.cache.max), pct: fmtPct(l, fill) })}
          </span>
        </div>
        <dl class="facts">
          <dt>{t('health.cache.entries')}</dt>
          <dd>{fmtInt(l, v.cache.entries)}</dd>
          <dt>{t('health.proc.rss')}</dt>
          <dd data-testid="health-rss">{fmtBytes(l, v.process.rss)}</dd>
          <dt>{t('health.proc.heap')}</dt>
          <dd data-testid="health-heap">{fmtBytes(l, v.process.heap)}</dd>
          <dt>{t('health.proc.cpu')}</dt>
          <dd>{v.process.cpu === null ? '—' : fmtPct(l, v.process.cpu)}</dd>
          <dt>{t('health.proc.processes')}</dt>
          <dd>{fmtInt(l, v.process.processes)}</dd>
          <dt>{t('health.proc.uptime')}</dt>
          <dd>{fmtUptime(l, v.process.uptime)}</dd>
        </dl>
      </section>

      <section class="card" aria-labelledby="health-more-title">
        <h2 id="health-more-title">{t('health.more.title')}</h2>
        <dl class="facts">
          <dt>{t('health.native')}</dt>
          <dd data-testid="health-native">
            {v.native === null
              ? t('health.native.absent')
              : `${perSec(v.native.rate)} · ${t('health.native.total', {
                  n: fmtInt(l, v.native.total),
                  tcp: fmtInt(l, v.native.byTransport.tcp ?? 0),
                  udp: fmtInt(l, v.native.byTransport.udp ?? 0),
                })}`}
          </dd>
          <dt>{t('health.more.stale')}</dt>
          <dd>{fmtInt(l, v.counters.staleServed)}</dd>
          <dt>{t('health.more.redisErrors')}</dt>
          <dd>
            {fmtInt(l, v.counters.redisErrors)}
            {v.counters.redisErrorsRate !== null && v.counters.redisErrorsRate > 0 ? ` (${perSec(v.counters.redisErrorsRate)})` : ''}
          </dd>
          <dt>{t('health.more.negative')}</dt>
          <dd>{fmtInt(l, v.counters.negativeHits)}</dd>
          <dt>{t('health.more.evictions')}</dt>
          <dd>{fmtInt(l, v.counters.evictions)}</dd>
          <dt>{t('health.more.prefetches')}</dt>
          <dd>{fmtInt(l, v.counters.prefetches)}</dd>
          <dt>{t('health.more.epoch')}</dt>
          <dd>{fmtInt(l, v.counters.epochChanges)}</dd>
        </dl>
      </section>
    </>
  );
}

export default function Health(): JSX.Element {
  const t = useT();
  const l = lang.get();
  const [view, setView] = useState<HealthView | null>(null);
  const [history, setHistory] = useState<number[]>([]);
  const [ready, setReady] = useState<Readiness | null>(null);
  const [readyError, setReadyError] = useState<string | null>(null);
  const [metricsError, setMetricsError] = useState<string | null>(null);
  const [lastAt, setLastAt] = useState<number | null>(null);
  const [paused, setPaused] = useState(false);
  const [hidden, setHidden] = useState(typeof document !== 'undefined' && document.hidden);
  const [busy, setBusy] = useState(false);
  const last = useRef<Scrape | undefined>(undefined);
  const poll = useRef<() => void>(() => undefined);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    const ctl = new AbortController();

    const once = async (): Promise<void> => {
      if (running || stopped) return;
      running = true;
      setBusy(true);
      clearTimeout(timer);
      const [m, r] = await Promise.allSettled([scrapeMetrics(ctl.signal), checkReady(ctl.signal)]);
      running = false;
      if (stopped) return;
      setBusy(false);
      if (m.status === 'fulfilled') {
        const v = healthView(m.value, last.current);
        last.current = m.value;
        setView(v);
        if (v.rates !== null) setHistory((h) => pushHistory(h, v.rates!.total, HISTORY));
        setMetricsError(null);
        setLastAt(m.value.at);
      } else {
        setMetricsError(messageOf(m.reason));
      }
      if (r.status === 'fulfilled') {
        setReady(r.value);
        setReadyError(null);
      } else {
        setReadyError(messageOf(r.reason));
      }
      schedule();
    };
    const schedule = () => {
      clearTimeout(timer);
      if (stopped || paused || document.hidden) return;
      timer = setTimeout(() => void once(), PERIOD_MS);
    };
    const onVisibility = () => {
      setHidden(document.hidden);
      if (document.hidden) clearTimeout(timer);
      else if (!paused) void once();
    };
    poll.current = () => void once();
    document.addEventListener('visibilitychange', onVisibility);
    if (!document.hidden && !paused) void once();
    return () => {
      stopped = true;
      clearTimeout(timer);
      ctl.abort();
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [paused]);

  const state = paused ? t('health.poll.paused') : hidden ? t('health.poll.hidden') : t('health.poll.on');
  return (
    <Page
      title={t('health.title')}
      actions={
        <>
          <button type="button" onClick={() => poll.current()} disabled={busy}>
            {t('health.refreshNow')}
          </button>
          <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
            {paused ? t('health.resume') : t('health.pause')}
          </button>
        </>
      }
    >
      <p class="muted" data-testid="health-poll">
        {state}
        {lastAt !== null ? ` · ${t('health.updated', { at: when(lastAt) })}` : ''}
      </p>
      <Status ready={ready} readyError={readyError} metricsError={metricsError} l={l} />
      {view === null ? (
        metricsError === null ? (
          <p aria-live="polite">{t('common.loading')}</p>
        ) : null
      ) : (
        <Figures v={view} history={history} l={l} redis={ready === null ? 'unknown' : redisState(ready)} />
      )}
    </Page>
  );
}
