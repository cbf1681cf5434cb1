// An enterprise follows its application: status and reason, what to do next, re-applying after a rejection, its history, prefixes and the one-time Handle credential.
import type { JSX } from 'preact';
import { useId, useRef, useState } from 'preact/hooks';
import { ApiError, get } from '../api.js';
import { useT } from '../i18n/index.js';
import { href } from '../router.js';
import { ErrorNote, Note, Page, useAction, useLoad, when } from '../ui.js';
import { ApplicationForm, splitIndustry, type Details } from './apply.js';
import type { Enterprise, EnterpriseEvent } from '../shapes.js';
import { loadMine } from './ent-common.js';
import './enterprise.css';






/** A status code in words (待审核 / 审核中 / 已通过 / 已驳回 / 已停用 / 待删除). */
export function StatusBadge(props: { status: number }): JSX.Element {
  const t = useT();
  return <span class={`badge s${props.status}`}>{t(`my.status.${props.status}`)}</span>;
}

const CHANGE_LABELS: Record<string, string> = {
  name: 'apply.name',
  town: 'apply.town',
  industry: 'apply.industry',
  address: 'apply.address',
  contact_name: 'apply.contactName',
  contact_phone: 'apply.contactPhone',
  contact_email: 'apply.contactEmail',
};

const shown = (v: unknown): string => (v === null || v === undefined || v === '' ? '—' : String(v));

function History(props: { events: EnterpriseEvent[] }): JSX.Element {
  const t = useT();
  if (props.events.length === 0) return <p class="muted">{t('my.historyNone')}</p>;
  return (
    <ol class="ent-timeline">
      {props.events.map((e, i) => {
        const action = e.action.replace(/^enterprise\./, '');
        const key = `my.action.${action}`;
        const words = t(key);
        return (
          <li key={i}>
            <div class="ent-timeline-head">
              <time dateTime={e.at}>{when(e.at)}</time>
              <strong>{words === key ? e.action : words}</strong>
              {e.status !== null ? <StatusBadge status={e.status} /> : null}
            </div>
            <div class="muted">{t('my.by', { actor: e.actor.replace(/^user:/, '') })}</div>
            {e.reason && action !== 'reapply' ? <div>{t('my.reasonWas', { reason: e.reason })}</div> : null}
            {e.changes && Object.keys(e.changes).length > 0 ? (
              <ul class="ent-changes">
                {Object.entries(e.changes).map(([k, c]) => (
                  <li key={k}>
                    {t(CHANGE_LABELS[k] ?? k)}: {shown(c.from)} → {shown(c.to)}
                  </li>
                ))}
              </ul>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

/** Copies a text, or selects it for the user to copy when the clipboard is not available. */
function CopyButton(props: { text: string; label: string; target: () => HTMLElement | null }): JSX.Element {
  const t = useT();
  const [said, setSaid] = useState('');
  return (
    <>
      <button
        type="button"
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(props.text);
            setSaid(t('my.copied'));
          } catch {
            const el = props.target();
            if (el !== null) {
              const range = document.createRange();
              range.selectNodeContents(el);
              const sel = getSelection();
              sel?.removeAllRanges();
              sel?.addRange(range);
            }
            setSaid(t('my.copySelected'));
          }
        }}
      >
        {props.label}
      </button>
      <span role="status" class="muted">
        {said}
      </span>
    </>
  );
}

interface Credential {
  prefix: string;
  handleAdmin: string;
  handleSecret: string;
}

/** The step that used up the current credential (its reveal, or its drop when the node could not read it), unless an approval or a reset came after. */
function usedUp(history: EnterpriseEvent[]): EnterpriseEvent | null {
  const last = [...history].reverse().find((e) => /(^|\.)(approve|rotate-secret|reveal-secret|drop-secret)$/.test(e.action));
  return last !== undefined && /(reveal|drop)-secret$/.test(last.action) ? last : null;
}

function HandleCredential(props: { history: EnterpriseEvent[]; onRevealed: () => void }): JSX.Element {
  const t = useT();
  const [cred, setCred] = useState<Credential | null>(null);
  const reveal = useAction(async () => {
    setCred(await get<Credential>('/snms/api/v3/ent/handle-secret'));
    props.onRevealed();
  });
  const viewed = usedUp(props.history);
  const adminRef = useRef<HTMLElement>(null);
  const secretRef = useRef<HTMLElement>(null);
  const id = useId();
  const alreadyShown = reveal.error instanceof ApiError && reveal.error.status === -2;
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{t('my.credTitle')}</h2>
      <p>{t('my.credIntro')}</p>
      {cred !== null ? (
        <>
          <Note kind="warn">{t('my.credOnce')}</Note>
          <dl class="facts">
            <dt>{t('my.credPrefix')}</dt>
            <dd>
              <code>{cred.prefix}</code>
            </dd>
            <dt>{t('my.credAdmin')}</dt>
            <dd class="ent-secret-row">
              <code class="secret" ref={adminRef} data-testid="handle-admin">
                {cred.handleAdmin}
              </code>
              <CopyButton text={cred.handleAdmin} label={t('my.copyAdmin')} target={() => adminRef.current} />
            </dd>
            <dt>{t('my.credSecret')}</dt>
            <dd class="ent-secret-row">
              <code class="secret" ref={secretRef} data-testid="handle-secret">
                {cred.handleSecret}
              </code>
              <CopyButton text={cred.handleSecret} label={t('my.copySecret')} target={() => secretRef.current} />
            </dd>
          </dl>
        </>
      ) : (
        <>
          {viewed !== null && !alreadyShown ? (
            <Note kind="info">{t(viewed.action.endsWith('drop-secret') ? 'my.credDropped' : 'my.credViewed', { at: when(viewed.at) })}</Note>
          ) : null}
          <button type="button" class={viewed === null ? 'primary' : undefined} disabled={reveal.busy} onClick={() => void reveal.run()}>
            {t('my.credReveal')}
          </button>
          {alreadyShown ? <Note kind="warn">{t('my.credAlready')}</Note> : null}
          <ErrorNote error={reveal.error} />
        </>
      )}
    </section>
  );
}

/** What the enterprise should do next, by status (the reason prominently when rejected or suspended). */
function NextStep(props: { e: Enterprise; onReapply: () => void; reapplying: boolean }): JSX.Element {
  const t = useT();
  const s = props.e.status;
  if (s === 3) {
    return (
      <div class="note error ent-reason" role="alert">
        <h2>{t('my.rejectedTitle')}</h2>
        <p class="ent-reason-text">{t('my.reason', { reason: props.e.reason ?? t('my.noReason') })}</p>
        <p>{t('my.rejectedNext')}</p>
        {props.reapplying ? null : (
          <button type="button" class="primary" onClick={props.onReapply}>
            {t('my.reapply')}
          </button>
        )}
      </div>
    );
  }
  if (s === 0) {
    return (
      <div class="note error ent-reason" role="alert">
        <h2>{t('my.suspendedTitle')}</h2>
        <p class="ent-reason-text">{t('my.reason', { reason: props.e.reason ?? t('my.noReason') })}</p>
        <p>{t('my.suspendedNext')}</p>
      </div>
    );
  }
  const words: Record<number, string> = { 1: 'my.approvedNext', 2: 'my.deletingNext', 4: 'my.pendingNext', 5: 'my.reviewNext' };
  return <Note kind={s === 1 ? 'ok' : 'info'}>{t(words[s] ?? 'my.unknownNext')}</Note>;
}

function detailsOf(e: Enterprise): Details {
  return {
    name: e.name,
    creditCode: e.creditCode,
    town: e.town,
    ...splitIndustry(e.industry),
    address: e.address,
    contactName: e.contactName,
    contactPhone: e.contactPhone,
    contactEmail: e.contactEmail ?? '',
  };
}

export default function MyApplication(): JSX.Element {
  const t = useT();
  const mine = useLoad(() => loadMine(), []);
  const [reapplying, setReapplying] = useState(false);
  const [resubmitted, setResubmitted] = useState(false);
  const m = mine.data;
  const e = m?.enterprise;
  const prefixes = m === undefined ? [] : m.prefixes;
  return (
    <Page
      title={t('my.title')}
      actions={
        <button type="button" onClick={mine.reload} disabled={mine.loading}>
          {t('common.refresh')}
        </button>
      }
    >
      {mine.loading && m === undefined ? (
        <p aria-live="polite">{t('common.loading')}</p>
      ) : mine.error ? (
        <>
          <p>{t('my.loadFailed')}</p>
          <ErrorNote error={mine.error} />
          <button type="button" onClick={mine.reload}>
            {t('common.retry')}
          </button>
        </>
      ) : e !== undefined && m !== undefined ? (
        <>
          {resubmitted && e.status === 4 ? <Note kind="ok">{t('my.resubmitted', { id: e.id })}</Note> : null}
          <section class="card" aria-labelledby="my-ent">
            <h2 id="my-ent" class="ent-status-line">
              <span>{e.name}</span> <StatusBadge status={e.status} />
            </h2>
            <dl class="facts">
              <dt>{t('apply.number')}</dt>
              <dd data-testid="application-number">{e.id}</dd>
              <dt>{t('common.status')}</dt>
              <dd data-testid="application-status">{t(`my.status.${e.status}`)}</dd>
              <dt>{t('apply.creditCode')}</dt>
              <dd>
                <code>{e.creditCode}</code>
              </dd>
              <dt>{t('apply.town')}</dt>
              <dd>{e.town}</dd>
              <dt>{t('apply.industry')}</dt>
              <dd>
                {e.industry} {t(`apply.industry.${e.industry.slice(0, 1)}`)}
              </dd>
              <dt>{t('apply.address')}</dt>
              <dd>{e.address}</dd>
              <dt>{t('apply.contact')}</dt>
              <dd>
                {e.contactName} · {e.contactPhone}
                {e.contactEmail ? ` · ${e.contactEmail}` : ''}
              </dd>
              <dt>{t('my.appliedAt')}</dt>
              <dd>{when(e.createdAt)}</dd>
              {e.approvedAt ? (
                <>
                  <dt>{t('my.approvedAt')}</dt>
                  <dd>{when(e.approvedAt)}</dd>
                </>
              ) : null}
            </dl>
          </section>
          <NextStep e={e} reapplying={reapplying} onReapply={() => setReapplying(true)} />
          {reapplying && e.status === 3 ? (
            <section aria-labelledby="my-reapply">
              <h2 id="my-reapply">{t('my.reapplyTitle')}</h2>
              <p class="hint">{t('my.reapplyHint')}</p>
              <ApplicationForm
                reapply
                initial={detailsOf(e)}
                onCancel={() => setReapplying(false)}
                onDone={() => {
                  setReapplying(false);
                  setResubmitted(true);
                  mine.reload();
                }}
              />
            </section>
          ) : null}
          {prefixes.length > 0 ? (
            <section class="card" aria-labelledby="my-prefixes">
              <h2 id="my-prefixes">{t('my.prefixes')}</h2>
              <ul class="ent-prefixes">
                {prefixes.map((p) => {
                  const q = `?prefix=${encodeURIComponent(p.prefix)}`;
                  return (
                    <li key={p.prefixKey}>
                      <code class="ent-prefix">{p.prefix}</code>
                      <span class="actions">
                        <a href={href(`/ent/templates${q}`)}>{t('nav.templates')}</a>
                        <a href={href(`/ent/identifiers${q}`)}>{t('nav.identifiers')}</a>
                        <a href={href(`/ent/upload${q}`)}>{t('nav.upload')}</a>
                      </span>
                    </li>
                  );
                })}
              </ul>
            </section>
          ) : null}
          {e.status === 1 || (e.status === 0 && prefixes.length > 0) ? <HandleCredential history={m.history} onRevealed={mine.reload} /> : null}
          <section class="card" aria-labelledby="my-history">
            <h2 id="my-history">{t('my.history')}</h2>
            <History events={m.history} />
          </section>
        </>
      ) : null}
    </Page>
  );
}
