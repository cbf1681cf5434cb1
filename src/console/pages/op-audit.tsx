// The audit log for operators (#/op/audit?…): search by identifier, actor, action, entity, enterprise and dates; newest first, older pages by beforeId.
import type { JSX } from 'preact';
import { useEffect, useId, useState } from 'preact/hooks';
import { call } from '../api.js';
import { useT } from '../i18n/index.js';
import { href, navigate, useRoute } from '../router.js';
import { ErrorNote, Field, Note, Page, Select, useLoad, when } from '../ui.js';
import './operator.css';

interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  address: string | null;
  action: string;
  entity: string;
  handle: string | null;
  entityId: string | null;
  enterpriseId: number | null;
  before: unknown;
  after: unknown;
}

const LIMIT = 100;
const ENTITIES = ['handle', 'enterprise', 'prefix', 'template', 'user'] as const;
/** Actions the node records, offered as suggestions (any other text is searched as typed; `x.*` matches a family). */
const ACTIONS = [
  'enterprise.*',
  'enterprise.apply',
  'enterprise.review',
  'enterprise.approve',
  'enterprise.reject',
  'enterprise.reapply',
  'enterprise.suspend',
  'enterprise.enable',
  'enterprise.rotate-secret',
  'enterprise.reveal-secret',
  'prefix.create',
  'prefix.suspend',
  'prefix.enable',
  'handle.create',
  'handle.delete',
  'values.add',
  'values.remove',
  'template.*',
  'template.create',
  'template.update',
  'template.delete',
  'user.*',
  'user.create',
  'user.disable',
  'user.enable',
  'user.password',
  'user.role',
];
const KEYS = ['handle', 'actor', 'action', 'entity', 'enterpriseId', 'since', 'until'] as const;
type Filters = Record<(typeof KEYS)[number], string>;

const DAY = 86_400_000;
const isDate = (d: string) => /^\d{4}-\d{2}-\d{2}$/.test(d);
/** A calendar day in Shanghai as the instant it starts. */
const dayStart = (d: string): Date => new Date(`${d}T00:00:00+08:00`);

/** The action field: a labelled text input with the known actions as suggestions. */
function ActionField(props: { label: string; hint: string; value: string; onInput: (v: string) => void }): JSX.Element {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input id={id} name="action" list={`${id}-list`} value={props.value} maxLength={100} aria-describedby={`${id}-hint`} onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)} />
      <datalist id={`${id}-list`}>
        {ACTIONS.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <div id={`${id}-hint`} class="hint">
        {props.hint}
      </div>
    </div>
  );
}

function Json(props: { title: string; value: unknown }): JSX.Element {
  return (
    <>
      <h3>{props.title}</h3>
      <pre class="op-json">{props.value === null || props.value === undefined ? '—' : JSON.stringify(props.value, null, 2)}</pre>
    </>
  );
}

export default function OpAudit(): JSX.Element {
  const t = useT();
  const route = useRoute();
  const asked = Object.fromEntries(KEYS.map((k) => [k, route.query.get(k) ?? ''])) as Filters;
  const beforeIdText = route.query.get('beforeId') ?? '';
  const beforeId = /^[1-9]\d*$/.test(beforeIdText) ? beforeIdText : '';
  const askedKey = KEYS.map((k) => asked[k]).join('\u0000');

  const [form, setForm] = useState<Filters>(asked);
  const [formError, setFormError] = useState<string | null>(null);
  // back / forward: the form follows the route
  useEffect(() => setForm(asked), [askedKey]); // eslint-disable-line react-hooks/exhaustive-deps
  const set = (k: keyof Filters) => (v: string) => setForm((f) => ({ ...f, [k]: v }));

  const list = useLoad(
    (signal) =>
      call<AuditEntry[]>('GET', '/operator/audit', {
        query: {
          handle: asked.handle,
          actor: asked.actor,
          action: asked.action,
          entity: asked.entity,
          enterpriseId: asked.enterpriseId,
          since: isDate(asked.since) ? dayStart(asked.since).toISOString() : undefined,
          // the until day is included: up to the start of the next
          until: isDate(asked.until) ? new Date(dayStart(asked.until).getTime() + DAY).toISOString() : undefined,
          beforeId,
          limit: LIMIT,
        },
        signal,
      }),
    [askedKey, beforeId],
  );

  const search = (f: Filters, before?: number) => navigate('/op/audit', { ...Object.fromEntries(KEYS.map((k) => [k, f[k].trim()])), beforeId: before });
  const entries = list.data;
  const oldest = entries !== undefined && entries.length > 0 ? Math.min(...entries.map((e) => e.id)) : null;

  return (
    <Page title={t('audit.title')}>
      <form
        class="card"
        role="search"
        aria-label={t('audit.filters')}
        onSubmit={(e) => {
          e.preventDefault();
          if (form.enterpriseId.trim() !== '' && !/^[1-9]\d*$/.test(form.enterpriseId.trim())) {
            setFormError(t('audit.badEnterpriseId'));
            return;
          }
          if (isDate(form.since) && isDate(form.until) && form.until < form.since) {
            setFormError(t('audit.badRange'));
            return;
          }
          setFormError(null);
          if (KEYS.every((k) => form[k].trim() === asked[k]) && beforeId === '') list.reload();
          else search(form);
        }}
      >
        <div class="grid">
          <Field label={t('audit.handle')} name="handle" value={form.handle} onInput={set('handle')} maxLength={255} placeholder="88.123.1/…" />
          <Field label={t('audit.actor')} name="actor" value={form.actor} onInput={set('actor')} maxLength={255} hint={t('audit.actorHint')} />
          <ActionField label={t('audit.action')} hint={t('audit.actionHint')} value={form.action} onInput={set('action')} />
          <Select
            label={t('audit.entity')}
            name="entity"
            value={form.entity}
            onChange={set('entity')}
            options={[{ value: '', label: t('common.all') }, ...ENTITIES.map((e) => ({ value: e, label: t(`audit.entity.${e}`) }))]}
          />
          <Field label={t('audit.enterpriseId')} name="enterpriseId" type="number" value={form.enterpriseId} onInput={set('enterpriseId')} />
          <Field label={t('audit.since')} name="since" type="date" value={form.since} onInput={set('since')} />
          <Field label={t('audit.until')} name="until" type="date" value={form.until} onInput={set('until')} hint={t('audit.untilHint')} />
        </div>
        {formError !== null ? <div class="note error" role="alert">{formError}</div> : null}
        <div class="actions">
          <button type="submit" class="primary">
            {t('audit.search')}
          </button>
          <button
            type="button"
            onClick={() => {
              setFormError(null);
              navigate('/op/audit');
            }}
          >
            {t('common.reset')}
          </button>
        </div>
      </form>

      <ErrorNote error={list.error} />
      {list.loading && entries === undefined ? <p aria-live="polite">{t('common.loading')}</p> : null}
      {entries !== undefined ? (
        <>
          <p class="op-count" aria-live="polite">
            {list.loading ? t('common.loading') : beforeId === '' ? t('audit.countNewest', { n: entries.length }) : t('audit.countOlder', { n: entries.length, id: beforeId })}
          </p>
          {beforeId !== '' ? (
            <p>
              <a href={href(`/op/audit?${new URLSearchParams(Object.entries(asked).filter(([, v]) => v !== '')).toString()}`)}>{t('audit.newest')}</a>
            </p>
          ) : null}
          {entries.length === 0 ? (
            <Note>{beforeId === '' ? t('audit.empty') : t('audit.noOlder')}</Note>
          ) : (
            <div class="table-wrap">
              <table class="op-audit">
                <caption>{t('audit.caption')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('common.time')}</th>
                    <th scope="col">{t('audit.actor')}</th>
                    <th scope="col">{t('audit.address')}</th>
                    <th scope="col">{t('audit.action')}</th>
                    <th scope="col">{t('audit.entity')}</th>
                    <th scope="col">{t('audit.subject')}</th>
                    <th scope="col">{t('audit.change')}</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((e) => (
                    <tr key={e.id}>
                      <td class="when">
                        {when(e.at)}
                        <div class="muted">#{e.id}</div>
                      </td>
                      <td>{e.actor}</td>
                      <td>{e.address ?? '—'}</td>
                      <td>
                        <code>{e.action}</code>
                      </td>
                      <td>{t(`audit.entity.${e.entity}`) === `audit.entity.${e.entity}` ? e.entity : t(`audit.entity.${e.entity}`)}</td>
                      <td>
                        {e.handle !== null ? (
                          <code>{e.handle}</code>
                        ) : e.entity === 'enterprise' && e.entityId !== null ? (
                          <a href={href(`/op/enterprise?id=${e.entityId}`)}>{t('audit.enterpriseNo', { id: e.entityId })}</a>
                        ) : (
                          <code>{e.entityId ?? '—'}</code>
                        )}
                        {e.enterpriseId !== null && e.entity !== 'enterprise' ? <div class="muted">{t('audit.enterpriseNo', { id: e.enterpriseId })}</div> : null}
                      </td>
                      <td>
                        <details>
                          <summary>{t('audit.details')}</summary>
                          <Json title={t('audit.before')} value={e.before} />
                          <Json title={t('audit.after')} value={e.after} />
                        </details>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {entries.length >= LIMIT && oldest !== null ? (
            <p>
              <button type="button" onClick={() => search(asked, oldest)}>
                {t('audit.older')}
              </button>
            </p>
          ) : entries.length > 0 ? (
            <p class="muted">{t('audit.end')}</p>
          ) : null}
        </>
      ) : null}
    </Page>
  );
}
