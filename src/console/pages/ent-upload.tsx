// Bulk registration: a CSV or NDJSON file read and checked in the browser, then sent in batches of 500 to POST /identityv2/data/batchCreate, with progress, cancel, per-row results and a results download.
import type { JSX } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { post } from '../api.js';
import { useT } from '../i18n/index.js';
import { href } from '../router.js';
import { ErrorNote, Field, Note, Page, Progress, Select, messageOf } from '../ui.js';
import { downloadText, enabledItems, resolveHref, toCsv, word, type IdentifierBody, type Mine, type Template } from './ent-common.js';
import { parseFile, type Parsed, type Phase } from './ent-parse.js';
import { MineGate, PrefixField, TemplateHint, useMine, useTemplate } from './ent-widgets.js';
import './identifiers.css';

/** Items per POST /identityv2/data/batchCreate (the node takes up to 2000). */
const BATCH = 500;
/** Result rows shown on the page (all of them are in the download). */
const SHOWN = 1000;

type Outcome = 'pending' | 'created' | 'exists' | 'error' | 'invalid';
const OUTCOMES: Outcome[] = ['created', 'exists', 'error', 'invalid', 'pending'];

/** One checked file and what became of each of its rows. */
interface Job {
  file: File;
  parsed: Parsed;
  /** the settings it was checked with (prefix, default version) */
  settings: string;
  outcome: Outcome[];
  /** the node's message per row ('' until answered) */
  message: string[];
  /** indexes of the rows to send, in file order */
  sendable: number[];
  /** how many of `sendable` have been answered */
  next: number;
}

type Stage = 'idle' | 'checking' | 'checked' | 'uploading' | 'cancelled' | 'failed' | 'done';

export default function EntUpload(): JSX.Element {
  const t = useT();
  const mine = useMine();
  return (
    <Page
      title={t('upl.title')}
      actions={
        <a class="button" href={href('/ent/identifiers')}>
          {t('upl.toList')}
        </a>
      }
    >
      <MineGate mine={mine}>{(m) => <Upload mine={m} />}</MineGate>
    </Page>
  );
}

const isUrlType = (type: string): boolean => /^URL(\.|$)/i.test(type);

/** Example rows: from the chosen template's items, or a generic two-item template. */
function exampleRows(prefix: string, version: string, template: Template | null): { header: string[]; rows: string[][]; bodies: IdentifierBody[] } {
  const cols =
    template !== null && enabledItems(template).length > 0
      ? enabledItems(template).map((it) => ({ index: it.idIndex, type: it.idType, name: it.name, max: it.metadata.maxLength ?? 255, min: it.metadata.minLength ?? 0 }))
      : [
          { index: 2000, type: 'productName', name: '离心泵', max: 255, min: 0 },
          { index: 2001, type: 'URL', name: '', max: 255, min: 0 },
        ];
  const v = version.trim() || 'v1';
  const header = ['suffix', 'templateVersion', ...cols.map((c) => `${c.index}:${c.type}`)];
  const rows: string[][] = [];
  const bodies: IdentifierBody[] = [];
  for (const n of [1, 2]) {
    const suffix = `demo-00${n}`;
    const cells = cols.map((c) => {
      let s = isUrlType(c.type) ? `https://example.com/products/${suffix}` : `${c.name || c.type}-${n}`;
      while (s.length < c.min) s += '0';
      return s.slice(0, c.max);
    });
    rows.push([suffix, v, ...cells]);
    bodies.push({ handle: `${prefix}/${suffix}`, templateVersion: v, value: cols.map((c, i) => ({ index: c.index, type: c.type, data: { format: 'string', value: cells[i]! } })) });
  }
  return { header, rows, bodies };
}

function outcomeOf(msg: string): Outcome {
  if (msg === 'success') return 'created';
  if (/已存在|already exists/i.test(msg)) return 'exists';
  return 'error';
}

function Upload(props: { mine: Mine }): JSX.Element {
  const t = useT();
  const prefixes = props.mine.prefixes;
  const prefixKeys = prefixes.map((p) => p.prefixKey);
  const [prefix, setPrefix] = useState(prefixes[0]!.prefix);
  const [version, setVersion] = useState('');
  const tpl = useTemplate(prefix, version);
  const template = tpl.status === 'ok' ? tpl.template : null;
  const settings = `${prefix}\n${version.trim()}`;

  const [stage, setStage] = useState<Stage>('idle');
  const [checkProgress, setCheckProgress] = useState<{ phase: Phase; done: number; total: number }>({ phase: 'read', done: 0, total: 1 });
  const [error, setError] = useState<unknown>(null);
  const [, setTick] = useState(0);
  const bump = (): void => setTick((n) => n + 1);
  const job = useRef<Job | null>(null);
  const cancel = useRef(false);
  const checking = useRef<AbortController | null>(null);
  const [filter, setFilter] = useState<'all' | Outcome>('all');
  const [dragging, setDragging] = useState(false);
  const fileId = useId();

  // leaving the page stops the upload after the batch in flight; closing the tab asks first
  useEffect(
    () => () => {
      cancel.current = true;
      checking.current?.abort();
    },
    [],
  );
  useEffect(() => {
    if (stage !== 'uploading' && stage !== 'checking') return;
    const warn = (e: BeforeUnloadEvent): void => e.preventDefault();
    addEventListener('beforeunload', warn);
    return () => removeEventListener('beforeunload', warn);
  }, [stage]);

  const busy = stage === 'checking' || stage === 'uploading';
  const j = job.current;
  const stale = j !== null && j.parsed.format === 'csv' && j.settings !== settings && j.next === 0 && !busy;

  async function check(file: File): Promise<void> {
    checking.current?.abort();
    const ctl = new AbortController();
    checking.current = ctl;
    job.current = null;
    setError(null);
    setFilter('all');
    setStage('checking');
    setCheckProgress({ phase: 'read', done: 0, total: 1 });
    try {
      const parsed = await parseFile(
        file,
        { prefix, prefixKeys, defaultVersion: version.trim() },
        (phase, done, total) => setCheckProgress({ phase, done, total }),
        ctl.signal,
      );
      if (ctl.signal.aborted) return;
      const outcome: Outcome[] = parsed.rows.map((r) => (r.body === null ? 'invalid' : 'pending'));
      const sendable: number[] = [];
      if (parsed.fileProblems.length === 0) outcome.forEach((o, i) => o === 'pending' && sendable.push(i));
      job.current = { file, parsed, settings, outcome, message: parsed.rows.map(() => ''), sendable, next: 0 };
      setStage('checked');
    } catch (e) {
      if (ctl.signal.aborted) return;
      setError(e);
      setStage('idle');
    }
  }

  async function upload(): Promise<void> {
    const jb = job.current;
    if (jb === null) return;
    cancel.current = false;
    setError(null);
    setStage('uploading');
    while (jb.next < jb.sendable.length) {
      if (cancel.current) {
        setStage('cancelled');
        return;
      }
      const slice = jb.sendable.slice(jb.next, jb.next + BATCH);
      let answers: { handle: string; msg: string }[];
      try {
        answers = await post<{ handle: string; msg: string }[]>(
          '/identityv2/data/batchCreate',
          slice.map((i) => jb.parsed.rows[i]!.body!),
        );
      } catch (e) {
        if (job.current !== jb) return;
        setError(e);
        setStage('failed');
        return;
      }
      if (job.current !== jb) return;
      slice.forEach((row, k) => {
        const a = answers[k];
        const msg = a?.msg ?? t('upl.noAnswer');
        jb.outcome[row] = a === undefined ? 'error' : outcomeOf(msg);
        jb.message[row] = msg === 'success' ? '' : msg;
      });
      jb.next += slice.length;
      bump();
    }
    setStage('done');
  }

  function take(files: FileList | null | undefined): void {
    const f = files?.[0];
    if (f !== undefined && !busy) void check(f);
  }

  // counts (a pass over at most the file's rows: cheap next to rendering)
  const counts: Record<Outcome, number> = { pending: 0, created: 0, exists: 0, error: 0, invalid: 0 };
  if (j !== null) for (const o of j.outcome) counts[o]++;
  const shown: number[] = [];
  let matching = 0;
  if (j !== null) {
    j.outcome.forEach((o, i) => {
      if (filter !== 'all' && o !== filter) return;
      matching++;
      if (shown.length < SHOWN) shown.push(i);
    });
  }
  const label = (o: Outcome): string => t(`upl.o.${o}`);
  const rowMessage = (jb: Job, i: number): string => {
    const r = jb.parsed.rows[i]!;
    return r.problem !== null ? word(r.problem) : jb.message[i]!;
  };

  const downloadResults = (): void => {
    if (j === null) return;
    const rows: (string | number)[][] = [[t('upl.col.line'), t('upl.col.handle'), t('upl.col.result'), t('upl.col.message')]];
    j.parsed.rows.forEach((r, i) => rows.push([r.line, r.handle, label(j.outcome[i]!), rowMessage(j, i)]));
    const base = j.file.name.replace(/\.[^.]*$/, '') || 'upload';
    downloadText(`${base}-results.csv`, toCsv(rows), 'text/csv;charset=utf-8');
  };
  const example = exampleRows(prefix, version, template);
  const exampleCsv = toCsv([example.header, ...example.rows]);

  const parsed = j?.parsed;
  const sendable = j?.sendable.length ?? 0;
  const answered = j?.next ?? 0;

  return (
    <>
      <p>{t('upl.intro')}</p>

      <section class="card" aria-labelledby="upl-file">
        <h2 id="upl-file">{t('upl.fileTitle')}</h2>
        <div class="grid">
          <PrefixField prefixes={prefixes} value={prefix} onChange={setPrefix} />
          <Field
            label={t('upl.version')}
            value={version}
            onInput={setVersion}
            name="templateVersion"
            maxLength={128}
            disabled={stage === 'uploading'}
            hint={<TemplateHint tpl={tpl} version={version} idle={t('upl.versionHint')} />}
          />
        </div>
        {template !== null && enabledItems(template).length > 0 ? (
          <div class="table-wrap">
            <table>
              <caption>{t('upl.itemsCaption', { version: template.version })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('upl.itemName')}</th>
                  <th scope="col">{t('upl.itemColumn')}</th>
                  <th scope="col">{t('upl.itemRequired')}</th>
                  <th scope="col">{t('upl.itemLength')}</th>
                </tr>
              </thead>
              <tbody>
                {enabledItems(template).map((it) => (
                  <tr key={it.idIndex}>
                    <td>{it.name}</td>
                    <td>
                      <code>
                        {it.idIndex}:{it.idType}
                      </code>
                    </td>
                    <td>{it.required ? t('common.yes') : t('common.no')}</td>
                    <td>
                      {it.metadata.minLength ?? 0}–{it.metadata.maxLength ?? 255}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}

        <div
          class={`upl-drop${dragging ? ' over' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            if (!busy) setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => {
            e.preventDefault();
            setDragging(false);
            take(e.dataTransfer?.files);
          }}
        >
          <label for={fileId}>{t('upl.file')}</label>
          <input
            id={fileId}
            type="file"
            name="file"
            accept=".csv,.ndjson,.jsonl,.json,.txt,text/csv,application/x-ndjson"
            disabled={busy}
            aria-describedby={`${fileId}-hint`}
            onChange={(e) => {
              const input = e.currentTarget as HTMLInputElement;
              take(input.files);
              input.value = ''; // the same file, chosen again after a correction, is read again
            }}
          />
          <p id={`${fileId}-hint`} class="hint">
            {t('upl.fileHint')}
          </p>
        </div>
      </section>

      {stage === 'checking' ? (
        <div aria-live="polite">
          <Progress
            label={t(`upl.phase.${checkProgress.phase}`)}
            value={checkProgress.phase === 'read' ? 0 : checkProgress.done}
            max={checkProgress.total}
          />
          <button type="button" onClick={() => { checking.current?.abort(); setStage('idle'); }}>
            {t('upl.stopCheck')}
          </button>
        </div>
      ) : null}
      <ErrorNote error={stage === 'failed' ? null : error} />

      {j !== null && parsed !== undefined ? (
        <section class="card" aria-labelledby="upl-check">
          <h2 id="upl-check">{t('upl.checkTitle', { name: j.file.name })}</h2>
          <p>
            {t('upl.summary', {
              format: parsed.format === 'csv' ? 'CSV' : 'NDJSON',
              encoding: parsed.encoding,
              rows: parsed.rows.length,
              ok: parsed.rows.length - counts.invalid,
              bad: counts.invalid,
            })}
          </p>
          {parsed.templates.missing.length > 0 ? <Note kind="warn">{t('upl.tplMissing', { list: [...new Set(parsed.templates.missing)].join('、') })}</Note> : null}
          {parsed.templates.skipped ? <p class="hint">{t('upl.tplSkipped')}</p> : null}
          {parsed.fileProblems.length > 0 ? (
            <div class="note error" role="alert">
              <p>{t('upl.fileBad')}</p>
              <ul>
                {parsed.fileProblems.map((p, i) => (
                  <li key={i}>{p.line > 0 ? t('upl.atLine', { line: p.line, problem: word(p.problem) }) : word(p.problem)}</li>
                ))}
              </ul>
            </div>
          ) : null}
          {stale ? (
            <Note kind="warn">
              {t('upl.stale')}{' '}
              <button type="button" onClick={() => void check(j.file)}>
                {t('upl.recheck')}
              </button>
            </Note>
          ) : null}

          {sendable > 0 ? (
            <div class="upl-run">
              {stage === 'checked' ? (
                <button type="button" class="primary" disabled={stale} onClick={() => void upload()}>
                  {counts.invalid > 0 ? t('upl.startSkipping', { n: sendable, bad: counts.invalid }) : t('upl.start', { n: sendable })}
                </button>
              ) : null}
              {answered > 0 || stage === 'uploading' ? <Progress label={t('upl.progress')} value={answered} max={sendable} /> : null}
              {stage === 'uploading' ? (
                <button type="button" disabled={cancel.current} onClick={() => { cancel.current = true; bump(); }}>
                  {cancel.current ? t('upl.cancelling') : t('upl.cancel')}
                </button>
              ) : null}
              {stage === 'cancelled' ? (
                <Note kind="warn">
                  {t('upl.cancelled', { done: answered, left: sendable - answered })}{' '}
                  <button type="button" onClick={() => void upload()}>
                    {t('upl.resume')}
                  </button>
                </Note>
              ) : null}
              {stage === 'failed' ? (
                <div class="note error" role="alert">
                  {t('upl.batchFailed', { done: answered, message: messageOf(error) })}{' '}
                  <button type="button" onClick={() => void upload()}>
                    {t('upl.resume')}
                  </button>
                </div>
              ) : null}
              {stage === 'done' ? (
                <Note kind={counts.error > 0 ? 'warn' : 'ok'}>{t('upl.finished', { created: counts.created, exists: counts.exists, error: counts.error })}</Note>
              ) : null}
            </div>
          ) : parsed.fileProblems.length === 0 ? (
            <Note kind="warn">{t('upl.nothing')}</Note>
          ) : null}

          <h3>{t('upl.resultsTitle')}</h3>
          <ul class="kpis upl-counts" aria-label={t('upl.countsLabel')}>
            {OUTCOMES.map((o) => (
              <li key={o} class={`kpi upl-${o}`}>
                <div class="v">{counts[o]}</div>
                <div class="k">{label(o)}</div>
              </li>
            ))}
          </ul>
          <div class="actions upl-results-bar">
            <Select
              label={t('upl.filter')}
              value={filter}
              onChange={(v) => setFilter(v as 'all' | Outcome)}
              options={[{ value: 'all', label: t('common.all') }, ...OUTCOMES.map((o) => ({ value: o, label: `${label(o)}（${counts[o]}）` }))]}
            />
            <button type="button" onClick={downloadResults} disabled={parsed.rows.length === 0}>
              {t('upl.download')}
            </button>
          </div>
          {matching > SHOWN ? <p class="hint">{t('upl.shownFirst', { shown: SHOWN, total: matching })}</p> : null}
          {shown.length === 0 ? (
            <p class="muted">{t('common.none')}</p>
          ) : (
            <div class="table-wrap">
              <table class="upl-results">
                <caption>{t('upl.resultsCaption')}</caption>
                <thead>
                  <tr>
                    <th scope="col" class="num">
                      {t('upl.col.line')}
                    </th>
                    <th scope="col">{t('upl.col.handle')}</th>
                    <th scope="col">{t('upl.col.result')}</th>
                    <th scope="col">{t('upl.col.message')}</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((i) => {
                    const r = parsed.rows[i]!;
                    const o = j.outcome[i]!;
                    return (
                      <tr key={i} class={`upl-${o}`}>
                        <td class="num">{r.line}</td>
                        <td class="data">{o === 'created' || o === 'exists' ? <a href={resolveHref(r.handle)}><code>{r.handle}</code></a> : <code>{r.handle}</code>}</td>
                        <td>
                          <span class={`badge ${o === 'created' ? 's1' : o === 'exists' ? 's4' : o === 'pending' ? 's2' : 's0'}`}>{label(o)}</span>
                        </td>
                        <td>{rowMessage(j, i)}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ) : null}

      <details class="card upl-format" open>
        <summary>
          <h2>{t('upl.formatTitle')}</h2>
        </summary>
        <p>{t('upl.csvIntro')}</p>
        <div class="table-wrap">
          <table class="upl-columns">
            <caption>{t('upl.columnsCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('upl.colName')}</th>
                <th scope="col">{t('upl.colMeaning')}</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <td>
                  <code>handle</code> {t('upl.or')} <code>标识</code>
                </td>
                <td>{t('upl.colHandle')}</td>
              </tr>
              <tr>
                <td>
                  <code>suffix</code> {t('upl.or')} <code>后缀</code>
                </td>
                <td>{t('upl.colSuffix', { prefix })}</td>
              </tr>
              <tr>
                <td>
                  <code>templateVersion</code> {t('upl.or')} <code>模板版本</code>
                </td>
                <td>{t('upl.colVersion')}</td>
              </tr>
              <tr>
                <td>
                  <code>{t('upl.colValueName')}</code>
                  <br />
                  <span class="muted">{t('upl.eg')} </span>
                  <code>2001:URL</code>
                </td>
                <td>{t('upl.colValue')}</td>
              </tr>
            </tbody>
          </table>
        </div>
        <p class="hint">{t('upl.csvNotes', { batch: BATCH })}</p>
        <p>{t('upl.exampleIntro')}</p>
        <pre class="upl-example" aria-label={t('upl.exampleLabel')}>
          {exampleCsv.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n')}
        </pre>
        <p>{t('upl.ndjsonIntro')}</p>
        <pre class="upl-example" aria-label={t('upl.ndjsonLabel')}>
          {example.bodies.map((b) => JSON.stringify(b)).join('\n')}
        </pre>
        <p class="actions">
          <button type="button" onClick={() => downloadText('identifiers-example.csv', exampleCsv, 'text/csv;charset=utf-8')}>
            {t('upl.exampleCsv')}
          </button>
          <button
            type="button"
            onClick={() => downloadText('identifiers-example.ndjson', `${example.bodies.map((b) => JSON.stringify(b)).join('\n')}\n`, 'application/x-ndjson')}
          >
            {t('upl.exampleNdjson')}
          </button>
        </p>
      </details>
    </>
  );
}
