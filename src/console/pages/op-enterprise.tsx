// One application in detail (#/op/enterprise?id=N): its fields, credit-code check, history, prefixes, and the review actions by status and role.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { checkCreditCode } from '../../../registry/rules.js';
import { call, post } from '../api.js';
import { lang, useT } from '../i18n/index.js';
import { href, useRoute } from '../router.js';
import { session } from '../session.js';
import { ErrorNote, Field, Note, Page, TextArea, useAction, useLoad, when } from '../ui.js';
import { PrefixHosting } from './op-prefix-hosting.js';
import { StatusBadge, type Enterprise } from './op-queue.js';
import './operator.css';

interface HistoryEvent {
  at: string;
  action: string;
  actor: string;
  status: number | null;
  reason: string | null;
  changes: Record<string, { from: unknown; to: unknown }>;
}

type Detail = Enterprise & { history: HistoryEvent[] };

interface Credential {
  prefix: string;
  handleAdmin: string;
  handleSecret: string;
}

/** The node's bilingual message ("中文 / English") in the console's language. */
export function inLang(message: string): string {
  const i = message.indexOf(' / ');
  if (i < 0) return message;
  return lang.get() === 'en' ? message.slice(i + 3) : message.slice(0, i);
}

/** The credit code's check: null when valid, else why not. */
function creditCodeProblem(code: string): string | null {
  try {
    checkCreditCode(code);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const CHANGE_FIELDS: Record<string, string> = {
  name: 'opent.name',
  town: 'opent.town',
  industry: 'opent.industry',
  address: 'opent.address',
  contact_name: 'opent.contactName',
  contact_phone: 'opent.contactPhone',
  contact_email: 'opent.contactEmail',
};

const show = (v: unknown): string => (v === null || v === undefined || v === '' ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

function History(props: { events: HistoryEvent[] }): JSX.Element {
  const t = useT();
  if (props.events.length === 0) return <p class="muted">{t('opent.noHistory')}</p>;
  return (
    <div class="table-wrap">
      <table aria-labelledby="op-history">
        <thead>
          <tr>
            <th scope="col">{t('common.time')}</th>
            <th scope="col">{t('opent.actor')}</th>
            <th scope="col">{t('opent.action')}</th>
            <th scope="col">{t('opent.statusAfter')}</th>
            <th scope="col">{t('opent.reasonOrChanges')}</th>
          </tr>
        </thead>
        <tbody>
          {props.events.map((ev, i) => {
            const key = `opent.act.${ev.action.replace(/^enterprise\./, '')}`;
            const label = t(key);
            const changes = Object.entries(ev.changes ?? {});
            return (
              <tr key={i}>
                <td>{when(ev.at)}</td>
                <td>{ev.actor}</td>
                <td>{label === key ? ev.action : label}</td>
                <td>{ev.status === null ? '—' : <StatusBadge status={ev.status} />}</td>
                <td>
                  {ev.reason !== null && ev.reason !== '' ? (
                    // on re-application and re-enabling the reason recorded is the one the step cleared
                    <div>{ev.action === 'enterprise.enable' || ev.action === 'enterprise.reapply' ? t('opent.clearedReason', { reason: ev.reason }) : ev.reason}</div>
                  ) : null}
                  {changes.length > 0 ? (
                    <ul class="op-changes">
                      {changes.map(([field, c]) => (
                        <li key={field}>
                          {CHANGE_FIELDS[field] !== undefined ? t(CHANGE_FIELDS[field]!) : field}: {show(c.from)} → {show(c.to)}
                        </li>
                      ))}
                    </ul>
                  ) : null}
                  {(ev.reason === null || ev.reason === '') && changes.length === 0 ? '—' : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** A Handle credential shown this once, with what to do with it. */
function CredentialBox(props: { cred: Credential; rotated: boolean; onHide: () => void }): JSX.Element {
  const t = useT();
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <div class="card op-secret" ref={ref} tabIndex={-1} role="region" aria-labelledby="op-cred-title">
      <h2 id="op-cred-title">{props.rotated ? t('opent.cred.rotatedTitle') : t('opent.cred.approvedTitle')}</h2>
      <p>{t('opent.cred.prefix')}</p>
      <p class="op-prefix" data-testid="delegated-prefix">
        {props.cred.prefix}
      </p>
      <h3>{t('opent.cred.title')}</h3>
      <dl class="facts secret" data-testid="handle-credential">
        <dt>{t('opent.cred.admin')}</dt>
        <dd>{props.cred.handleAdmin}</dd>
        <dt>{t('opent.cred.secret')}</dt>
        <dd>{props.cred.handleSecret}</dd>
      </dl>
      <Note kind="warn">{props.rotated ? t('opent.cred.noteRotated') : t('opent.cred.note')}</Note>
      <button type="button" onClick={props.onHide}>
        {t('opent.cred.hide')}
      </button>
    </div>
  );
}

/** The rotate step's confirmation: focused when it appears, Escape cancels. */
function ConfirmRotate(props: { busy: boolean; running: boolean; onConfirm: () => void; onCancel: () => void }): JSX.Element {
  const t = useT();
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <div
      class="op-confirm"
      role="group"
      aria-labelledby="op-rotate-q"
      onKeyDown={(ev) => {
        if (ev.key === 'Escape') props.onCancel();
      }}
    >
      <p id="op-rotate-q">{t('opent.rotateConfirmQ')}</p>
      <div class="actions">
        <button type="button" class="danger" ref={ref} disabled={props.busy} onClick={props.onConfirm}>
          {props.running ? t('opent.rotating') : t('opent.rotateConfirm')}
        </button>
        <button type="button" onClick={props.onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </div>
  );
}

/** A form that takes a reason (reject, suspend): the reason required before anything is sent. */
function ReasonForm(props: {
  title: string;
  hint: string;
  label: string;
  name: string;
  submit: string;
  value: string;
  onInput: (v: string) => void;
  action: { run: () => Promise<unknown>; error: unknown; setError: (e: unknown) => void };
  busy: boolean;
}): JSX.Element {
  const t = useT();
  return (
    <form
      class="card"
      onSubmit={(ev) => {
        ev.preventDefault();
        if (props.value.trim() === '') {
          props.action.setError(new Error(t('opent.reasonRequired')));
          return;
        }
        void props.action.run();
      }}
    >
      <h3>{props.title}</h3>
      <p class="hint">{props.hint}</p>
      <TextArea label={props.label} name={props.name} value={props.value} onInput={props.onInput} required rows={3} />
      <ErrorNote error={props.action.error} />
      <button type="submit" class="danger" disabled={props.busy}>
        {props.submit}
      </button>
    </form>
  );
}

export default function OpEnterprise(): JSX.Element {
  const t = useT();
  const route = useRoute();
  const idText = route.query.get('id') ?? '';
  const id = /^[1-9]\d{0,15}$/.test(idText) ? Number(idText) : null;
  const me = session.account();
  const isOperator = me?.role === 'operator';

  const detail = useLoad<Detail | null>((signal) => (id === null ? Promise.resolve(null) : call<Detail>('GET', `/operator/enterprises/${id}`, { signal })), [id]);
  const [done, setDone] = useState<string | null>(null);
  const [cred, setCred] = useState<{ cred: Credential; rotated: boolean } | null>(null);
  const [prefix, setPrefix] = useState('');
  const [rejectReason, setRejectReason] = useState('');
  const [suspendReason, setSuspendReason] = useState('');
  const [confirmRotate, setConfirmRotate] = useState(false);

  // another enterprise: start clean
  useEffect(() => {
    setDone(null);
    setCred(null);
    setPrefix('');
    setRejectReason('');
    setSuspendReason('');
    setConfirmRotate(false);
  }, [id]);

  const after = (message: string) => {
    setDone(message);
    detail.reload();
  };
  const review = useAction(async () => {
    await post(`/operator/enterprises/${id}/review`);
    after(t('opent.done.review'));
  });
  const approve = useAction(async () => {
    const p = prefix.trim();
    const r = await post<Credential>(`/operator/enterprises/${id}/approve`, p === '' ? {} : { prefix: p });
    setCred({ cred: r, rotated: false });
    setPrefix('');
    after(t('opent.done.approve', { prefix: r.prefix }));
  });
  const reject = useAction(async () => {
    await post(`/operator/enterprises/${id}/reject`, { reason: rejectReason.trim() });
    setRejectReason('');
    after(t('opent.done.reject'));
  });
  const suspend = useAction(async () => {
    await post(`/operator/enterprises/${id}/suspend`, { reason: suspendReason.trim() });
    setSuspendReason('');
    after(t('opent.done.suspend'));
  });
  const enable = useAction(async () => {
    await post(`/operator/enterprises/${id}/enable`);
    after(t('opent.done.enable'));
  });
  const rotate = useAction(async () => {
    const r = await post<Credential>(`/operator/enterprises/${id}/rotate-secret`);
    setConfirmRotate(false);
    setCred({ cred: r, rotated: true });
    after(t('opent.done.rotate'));
  });
  const busy = review.busy || approve.busy || reject.busy || suspend.busy || enable.busy || rotate.busy;

  const back = (
    <a class="button" href={href('/op/queue')}>
      {t('opent.back')}
    </a>
  );

  if (id === null) {
    return (
      <Page title={t('opent.title')} actions={back}>
        <Note kind="warn">{t('opent.noId')}</Note>
      </Page>
    );
  }
  const e = detail.data ?? null;
  const problem = e === null ? null : creditCodeProblem(e.creditCode);

  return (
    <Page title={e === null ? t('opent.title') : t('opent.titleNamed', { name: e.name })} actions={back}>
      {done !== null ? <Note kind="ok">{done}</Note> : null}
      {cred !== null ? <CredentialBox cred={cred.cred} rotated={cred.rotated} onHide={() => setCred(null)} /> : null}
      {detail.loading && e === null ? <p aria-live="polite">{t('common.loading')}</p> : null}
      <ErrorNote error={detail.error} />
      {detail.error ? (
        <p>
          <button type="button" onClick={detail.reload}>
            {t('common.retry')}
          </button>
        </p>
      ) : null}
      {e !== null ? (
        <>
          <div class="card">
            <h2>{t('opent.application')}</h2>
            <dl class="facts">
              <dt>{t('common.status')}</dt>
              <dd>
                <StatusBadge status={e.status} />
              </dd>
              {e.reason !== null && e.reason !== '' ? (
                <>
                  <dt>{e.status === 0 ? t('opent.suspendReasonShown') : t('opent.reason')}</dt>
                  <dd>{e.reason}</dd>
                </>
              ) : null}
              <dt>{t('opent.name')}</dt>
              <dd>{e.name}</dd>
              <dt>{t('opent.creditCode')}</dt>
              <dd>
                <code>{e.creditCode}</code>{' '}
                {problem === null ? (
                  <span class="op-check-ok" data-testid="credit-check">
                    ✓ {t('opent.creditValid')}
                  </span>
                ) : (
                  <span class="op-check-bad" data-testid="credit-check">
                    ✗ {inLang(problem)}
                  </span>
                )}
              </dd>
              <dt>{t('opent.town')}</dt>
              <dd>{e.town}</dd>
              <dt>{t('opent.industry')}</dt>
              <dd>{e.industry}</dd>
              <dt>{t('opent.address')}</dt>
              <dd>{e.address}</dd>
              <dt>{t('opent.contactName')}</dt>
              <dd>{e.contactName}</dd>
              <dt>{t('opent.contactPhone')}</dt>
              <dd>{e.contactPhone}</dd>
              <dt>{t('opent.contactEmail')}</dt>
              <dd>{e.contactEmail ?? '—'}</dd>
              <dt>{t('opent.appliedAt')}</dt>
              <dd>{when(e.createdAt)}</dd>
              <dt>{t('opent.updatedAt')}</dt>
              <dd>{when(e.updatedAt)}</dd>
              <dt>{t('opent.reviewedBy')}</dt>
              <dd>{e.reviewedBy ?? '—'}</dd>
              <dt>{t('opent.approvedAt')}</dt>
              <dd>{when(e.approvedAt)}</dd>
              <dt>{t('opent.id')}</dt>
              <dd>{e.id}</dd>
            </dl>
          </div>

          {e.prefixes !== undefined && e.prefixes.length > 0 ? (
            <div class="card">
              <h2>{t('opent.prefixes')}</h2>
              <ul>
                {e.prefixes.map((p) => (
                  <li key={p.prefixKey}>
                    <code>{p.prefix}</code> <StatusBadge status={p.status} />
                    <PrefixHosting prefix={p.prefix} canEdit={isOperator} />
                  </li>
                ))}
              </ul>
            </div>
          ) : null}

          <h2>{t('opent.actions')}</h2>
          <ErrorNote error={review.error ?? enable.error} />
          <div class="op-panels">
            {e.status === 4 ? (
              <div class="card">
                <h3>{t('opent.reviewTitle')}</h3>
                <p class="hint">{t('opent.reviewHint')}</p>
                <button type="button" class="primary" disabled={busy} onClick={() => void review.run()}>
                  {t('opent.startReview')}
                </button>
              </div>
            ) : null}
            {e.status === 4 || e.status === 5 ? (
              <form
                class="card"
                onSubmit={(ev) => {
                  ev.preventDefault();
                  void approve.run();
                }}
              >
                <h3>{t('opent.approveTitle')}</h3>
                <Field label={t('opent.prefix')} name="prefix" value={prefix} onInput={setPrefix} maxLength={64} hint={t('opent.prefixHint')} />
                <ErrorNote error={approve.error} />
                <button type="submit" class="primary" disabled={busy}>
                  {approve.busy ? t('opent.approving') : t('opent.approve')}
                </button>
              </form>
            ) : null}
            {e.status === 4 || e.status === 5 ? (
              <ReasonForm
                title={t('opent.rejectTitle')}
                hint={t('opent.rejectHint')}
                label={t('opent.rejectReason')}
                name="reason"
                submit={t('opent.reject')}
                value={rejectReason}
                onInput={setRejectReason}
                action={reject}
                busy={busy}
              />
            ) : null}
            {isOperator && e.status === 1 ? (
              <ReasonForm
                title={t('opent.suspendTitle')}
                hint={t('opent.suspendHint')}
                label={t('opent.suspendReason')}
                name="suspendReason"
                submit={t('opent.suspend')}
                value={suspendReason}
                onInput={setSuspendReason}
                action={suspend}
                busy={busy}
              />
            ) : null}
            {isOperator && e.status === 1 ? (
              <div class="card">
                <h3>{t('opent.rotateTitle')}</h3>
                <p class="hint">{t('opent.rotateHint')}</p>
                {confirmRotate ? (
                  <ConfirmRotate busy={busy} running={rotate.busy} onConfirm={() => void rotate.run()} onCancel={() => setConfirmRotate(false)} />
                ) : (
                  <button type="button" disabled={busy} onClick={() => setConfirmRotate(true)}>
                    {t('opent.rotate')}
                  </button>
                )}
                <ErrorNote error={rotate.error} />
              </div>
            ) : null}
            {isOperator && e.status === 0 ? (
              <div class="card">
                <h3>{t('opent.enableTitle')}</h3>
                <p class="hint">{t('opent.enableHint')}</p>
                <button type="button" class="primary" disabled={busy} onClick={() => void enable.run()}>
                  {t('opent.enable')}
                </button>
              </div>
            ) : null}
          </div>
          {!(e.status === 4 || e.status === 5 || (isOperator && (e.status === 0 || e.status === 1))) ? (
            <p class="muted">{t(`opent.noActions.${e.status === 3 ? 'rejected' : e.status === 2 ? 'deleting' : 'role'}`)}</p>
          ) : null}

          <h2 id="op-history">{t('opent.history')}</h2>
          <History events={e.history} />
        </>
      ) : null}
    </Page>
  );
}
