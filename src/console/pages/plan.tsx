// The county's three-year plan against enterprises registered: county KPIs, a bar per town against a chosen year's target, the table, the CSV.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, get } from '../api.js';
import { lang, useT } from '../i18n/index.js';
import { session } from '../session.js';
import { ErrorNote, Note, Page, Select, useAction, useLoad, when } from '../ui.js';
import { fmtInt, fmtPct, type FormatLang } from './health-format.js';
import { defaultYear, headline, niceMax, planView, ticks, type PlanProgressJson, type PlanRow, type PlanView, type Standing } from './plan-model.js';
import './ops.css';

const STANDINGS: Standing[] = ['reached', 'onTrack', 'behind', 'none'];
const DASH = '—';

/** Fetches the CSV with the session's token and hands it to the browser as a download (plan-progress.csv). */
async function downloadCsv(): Promise<void> {
  const token = session.token();
  let res: Response;
  try {
    res = await fetch('/operator/plan.csv', { headers: { accept: 'text/csv', ...(token === null ? {} : { authorization: `Bearer ${token}` }) } });
  } catch {
    throw new ApiError(-4, '无法连接节点，请检查网络后重试 / cannot reach the node: check the network and try again');
  }
  // errors come as the JSON envelope
  if ((res.headers.get('content-type') ?? '').includes('application/json')) {
    const env = (await res.json().catch(() => ({}))) as { status?: number; message?: string };
    if (env.status === -1 && session.token() !== null) session.expired();
    throw new ApiError(typeof env.status === 'number' ? env.status : -4, env.message ?? `HTTP ${res.status}`);
  }
  if (!res.ok) throw new ApiError(-4, `HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = 'plan-progress.csv';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // the download has started by then; the URL is freed later, not at once (some browsers read it after the click)
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const fmtOr = (l: FormatLang, v: number | undefined) => (v === undefined ? DASH : fmtInt(l, v));

/** One bar per town: registered now against the chosen year's target. */
function Chart(props: { view: PlanView; l: FormatLang }): JSX.Element {
  const t = useT();
  const { view, l } = props;
  const rows = view.towns;
  const W = 760;
  const labelW = 84;
  const figW = 132;
  const rowH = 26;
  const barH = 14;
  const top = 6;
  const x0 = labelW + 8;
  const barW = W - x0 - figW;
  const max = niceMax(Math.max(1, ...rows.map((r) => Math.max(r.current, r.target ?? 0))));
  const scale = (v: number) => (v / max) * barW;
  const plotH = rows.length * rowH;
  const H = top + plotH + 24;
  const summary = t('plan.chart.summary', {
    year: view.year,
    towns: rows.length,
    reached: view.counts.reached,
    onTrack: view.counts.onTrack,
    behind: view.counts.behind,
    none: view.counts.none,
    current: fmtInt(l, view.totals.current),
    target: fmtOr(l, view.totals.target),
  });
  return (
    <figure class="plan-chart chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} data-testid="plan-chart">
        {ticks(max).map((v) => (
          <g key={`tick-${v}`} class="axis">
            <line x1={x0 + scale(v)} x2={x0 + scale(v)} y1={top - 2} y2={top + plotH} />
            <text x={x0 + scale(v)} y={top + plotH + 16} text-anchor="middle">
              {fmtInt(l, v)}
            </text>
          </g>
        ))}
        {rows.map((r, i) => {
          const y = top + i * rowH + (rowH - barH) / 2;
          const fill = scale(r.current);
          const track = r.target === undefined ? 0 : scale(r.target);
          const end = x0 + Math.max(fill, track);
          const figure =
            r.target === undefined
              ? `${fmtInt(l, r.current)} / ${DASH}`
              : t('plan.chart.figure', { current: fmtInt(l, r.current), target: fmtInt(l, r.target), pct: fmtPct(l, r.pct, 0) });
          return (
            <g key={r.town} class={`bar ${r.standing}`}>
              <text class="town" x={labelW} y={y + barH - 2} text-anchor="end">
                {r.town}
              </text>
              {r.target !== undefined ? <rect class="track" x={x0} y={y} width={Math.max(track, 0.5)} height={barH} /> : null}
              <rect class="fill" x={x0} y={y + 2} width={fill} height={barH - 4} />
              {r.target !== undefined ? <line class="goal" x1={x0 + track} x2={x0 + track} y1={y - 3} y2={y + barH + 3} /> : null}
              <text class="fig" x={end + 6} y={y + barH - 2}>
                {figure}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="legend" aria-label={t('plan.legend')}>
          {STANDINGS.map((s) => (
            <li key={s}>
              <span class={`swatch ${s}`} aria-hidden="true" />
              {t(`plan.standing.${s}`)}
            </li>
          ))}
          <li>
            <span class="swatch goal" aria-hidden="true" />
            {t('plan.legend.goal', { year: view.year })}
          </li>
          <li>
            <span class="swatch track" aria-hidden="true" />
            {t('plan.legend.track')}
          </li>
        </ul>
        <p class="muted">{t('plan.chart.note', { year: view.year })}</p>
      </figcaption>
    </figure>
  );
}

function Row(props: { r: PlanRow; label: string; view: PlanView; l: FormatLang; years: number[]; total?: boolean }): JSX.Element {
  const t = useT();
  const { r, l, view } = props;
  return (
    <tr class={props.total ? 'total' : undefined}>
      <th scope="row">{props.label}</th>
      {props.years.map((y, i) => (
        <td key={y} class={`num${y === view.year ? ' chosen' : ''}`}>
          {fmtOr(l, r.targets[i])}
        </td>
      ))}
      <td class="num">{fmtInt(l, r.current)}</td>
      {view.over ? <td class="num">{fmtInt(l, r.byYearEnd)}</td> : null}
      <td class="num">{fmtOr(l, r.gap)}</td>
      <td class="num">{r.pct === undefined ? DASH : fmtPct(l, r.pct)}</td>
      <td>
        <span class={`standing ${r.standing}`}>{t(`plan.standing.${r.standing}`)}</span>
      </td>
    </tr>
  );
}

function Table(props: { p: PlanProgressJson; view: PlanView; l: FormatLang }): JSX.Element {
  const t = useT();
  const { p, view, l } = props;
  const u = view.unplanned;
  return (
    <div class="table-wrap">
      <table class="plan-table">
        <caption>{t('plan.table.caption', { year: view.year })}</caption>
        <thead>
          <tr>
            <th scope="col">{t('plan.col.town')}</th>
            {p.years.map((y) => (
              <th key={y} scope="col" class={`num${y === view.year ? ' chosen' : ''}`}>
                {t('plan.col.target', { year: y })}
              </th>
            ))}
            <th scope="col" class="num">
              {t('plan.col.current')}
            </th>
            {view.over ? (
              <th scope="col" class="num">
                {t('plan.col.byYearEnd', { year: view.year })}
              </th>
            ) : null}
            <th scope="col" class="num">
              {t('plan.col.gap', { year: view.year })}
            </th>
            <th scope="col" class="num">
              {t('plan.col.pct', { year: view.year })}
            </th>
            <th scope="col">{t('plan.col.standing')}</th>
          </tr>
        </thead>
        <tbody>
          {view.towns.map((r) => (
            <Row key={r.town} r={r} label={r.town} view={view} l={l} years={p.years} />
          ))}
          {u !== null ? (
            <tr class="unplanned">
              <th scope="row">{t('plan.unplanned', { towns: u.towns.join('、') })}</th>
              {p.years.map((y) => (
                <td key={y} class="num">
                  {DASH}
                </td>
              ))}
              <td class="num">{fmtInt(l, u.current)}</td>
              {view.over ? <td class="num">{fmtInt(l, u.byYearEnd)}</td> : null}
              <td class="num">{DASH}</td>
              <td class="num">{DASH}</td>
              <td>{t('plan.standing.none')}</td>
            </tr>
          ) : null}
        </tbody>
        <tfoot>
          <Row r={view.totals} label={t('plan.total')} view={view} l={l} years={p.years} total />
        </tfoot>
      </table>
    </div>
  );
}

export default function Plan(): JSX.Element {
  const t = useT();
  const l = lang.get();
  const loaded = useLoad<PlanProgressJson>(() => get<PlanProgressJson>('/operator/plan'), []);
  const [chosen, setChosen] = useState<number | null>(null);
  const csv = useAction(downloadCsv);
  const p = loaded.data;
  const year = p === undefined ? null : chosen !== null && p.years.includes(chosen) ? chosen : defaultYear(p.years, new Date(p.asOf));
  const view = p === undefined || year === null ? null : planView(p, year);
  const head = p === undefined ? null : headline(p);

  return (
    <Page
      title={t('plan.title')}
      actions={
        <>
          <button type="button" onClick={loaded.reload} disabled={loaded.loading}>
            {loaded.loading && p !== undefined ? t('plan.refreshing') : t('common.refresh')}
          </button>
          <button type="button" class="primary" onClick={() => void csv.run()} disabled={csv.busy}>
            {csv.busy ? t('plan.csv.busy') : t('plan.csv')}
          </button>
        </>
      }
    >
      <p>{t('plan.intro')}</p>
      <ErrorNote error={csv.error} />
      {loaded.error ? <ErrorNote error={loaded.error} /> : null}
      {p === undefined || view === null || head === null ? (
        loaded.loading ? (
          <p aria-live="polite">{t('common.loading')}</p>
        ) : null
      ) : (
        <>
          <p class="muted">{t('plan.asOf', { asOf: when(p.asOf), county: p.county })}</p>
          <section aria-label={t('plan.kpis')}>
            <div class="kpis">
              <div class="kpi">
                <div class="k">{t('plan.kpi.current')}</div>
                <div class="v" data-testid="plan-current">
                  {fmtInt(l, head.current)}
                </div>
              </div>
              <div class="kpi">
                <div class="k">{t('plan.kpi.target', { year: head.year })}</div>
                <div class="v">{fmtOr(l, head.target)}</div>
              </div>
              <div class="kpi">
                <div class="k">{t('plan.kpi.pct', { year: head.year })}</div>
                <div class="v">{head.pct === undefined ? DASH : fmtPct(l, head.pct)}</div>
              </div>
              <div class="kpi">
                <div class="k">{t('plan.kpi.gap', { year: head.year })}</div>
                <div class="v">{fmtOr(l, head.gap)}</div>
              </div>
            </div>
            {head.ended !== null ? (
              <Note kind={head.ended.pct !== undefined && head.ended.pct >= 1 ? 'ok' : 'warn'}>
                {t('plan.ended', {
                  year: head.ended.year,
                  registered: fmtInt(l, head.ended.registered),
                  target: fmtOr(l, head.ended.target),
                  pct: head.ended.pct === undefined ? DASH : fmtPct(l, head.ended.pct),
                })}
              </Note>
            ) : null}
            {p.unplanned.towns.length > 0 ? <Note kind="info">{t('plan.unplannedNote', { count: fmtInt(l, p.unplanned.current), towns: p.unplanned.towns.join('、') })}</Note> : null}
          </section>
          <section class="card" aria-labelledby="plan-chart-title">
            <div class="plan-chart-head">
              <h2 id="plan-chart-title">{t('plan.chart.title')}</h2>
              <Select
                label={t('plan.year')}
                value={String(view.year)}
                onChange={(v) => setChosen(Number(v))}
                options={p.years.map((y) => ({ value: String(y), label: t('plan.yearOption', { year: y, target: fmtOr(l, p.totals.target[String(y)]) }) }))}
              />
            </div>
            <Chart view={view} l={l} />
          </section>
          <section class="card" aria-labelledby="plan-table-title">
            <h2 id="plan-table-title">{t('plan.table.title')}</h2>
            <Table p={p} view={view} l={l} />
          </section>
        </>
      )}
    </Page>
  );
}
