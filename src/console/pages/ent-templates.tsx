// An enterprise's identifier templates (SNMS v5): the prefix's list, open by version, create, view, add items, disable / enable items.
import type { JSX } from 'preact';
import { useId, useState } from 'preact/hooks';
import { get, post, put } from '../api.js';
import { useT } from '../i18n/index.js';
import { href, navigate, useRoute } from '../router.js';
import { ErrorNote, Field, Note, Page, Select, TextArea, useAction, useLoad } from '../ui.js';
import { INDUSTRY_LETTERS, industryDetailError } from './apply.js';
import type { Template, TemplateItem } from '../shapes.js';
import { FIRST_ITEM_INDEX, loadMine, MAX_INDEX, MAX_VALUE_CHARS, MAX_VERSION_CHARS, TYPE_RE } from './ent-common.js';
import './enterprise.css';

// The node's template rules (registry/template-rules.ts) for checking as the user types: those the identifier pages
// share come from ent-common.ts, the template-only ones are here.
const MAX_ITEMS = 200;
const MAX_NAME_CHARS = 64;
const MAX_IDTYPE_CHARS = 128;
const RESERVED_TYPES = ['HS_ADMIN', 'HS_SECKEY', 'HS_PUBKEY', 'HS_SITE', 'HS_VLIST', 'TEMPLATE', 'TEMPLATE_ID'];

const TEMPLATE_PATH = '/snms/api/v5/template';

// ---- the item editor ----

interface Draft {
  key: number;
  name: string;
  idType: string;
  idIndex: string;
  required: boolean;
  minLength: string;
  maxLength: string;
}

let draftKey = 0;

/** The lowest index from 2000 that neither the template nor another draft holds. */
function nextFreeIndex(taken: Iterable<number>): number {
  const used = new Set(taken);
  let i = FIRST_ITEM_INDEX;
  while (used.has(i)) i++;
  return i;
}

function newDraft(taken: Iterable<number>): Draft {
  return { key: ++draftKey, name: '', idType: '', idIndex: String(nextFreeIndex(taken)), required: false, minLength: '0', maxLength: String(MAX_VALUE_CHARS) };
}

const intOf = (s: string): number | null => (/^\d{1,12}$/.test(s.trim()) ? Number(s.trim()) : null);

type DraftErrors = Partial<Record<'name' | 'idType' | 'idIndex' | 'minLength' | 'maxLength', string>>;

/** What is wrong with each draft, by the node's rules (names, types and indexes unique with the template's too). */
function checkDrafts(drafts: Draft[], existing: TemplateItem[], t: (k: string, v?: Record<string, string | number>) => string): DraftErrors[] {
  return drafts.map((d, i) => {
    const e: DraftErrors = {};
    const others = drafts.filter((_, j) => j !== i);
    const name = d.name;
    if ([...name].length > MAX_NAME_CHARS) e.name = t('tpl.err.nameLong', { max: MAX_NAME_CHARS });
    else if (name !== '' && (existing.some((x) => x.name === name) || others.some((x) => x.name === name))) e.name = t('tpl.err.nameTaken');
    const type = d.idType.trim();
    if (type !== '') {
      if (!TYPE_RE.test(type)) e.idType = t('tpl.err.typeChars');
      else if (type.length > MAX_IDTYPE_CHARS) e.idType = t('tpl.err.typeLong', { max: MAX_IDTYPE_CHARS });
      else if (RESERVED_TYPES.includes(type.toUpperCase())) e.idType = t('tpl.err.typeReserved', { type });
      else if (existing.some((x) => x.idType.toUpperCase() === type.toUpperCase()) || others.some((x) => x.idType.trim().toUpperCase() === type.toUpperCase())) {
        e.idType = t('tpl.err.typeTaken');
      }
    }
    if (d.idIndex.trim() !== '') {
      const n = intOf(d.idIndex);
      if (n === null || n < FIRST_ITEM_INDEX || n > MAX_INDEX) e.idIndex = t('tpl.err.index', { min: FIRST_ITEM_INDEX });
      else if (existing.some((x) => x.idIndex === n) || others.some((x) => intOf(x.idIndex) === n)) e.idIndex = t('tpl.err.indexTaken');
    }
    const min = d.minLength.trim() === '' ? 0 : intOf(d.minLength);
    const max = d.maxLength.trim() === '' ? MAX_VALUE_CHARS : intOf(d.maxLength);
    if (min === null || min > MAX_VALUE_CHARS) e.minLength = t('tpl.err.length', { max: MAX_VALUE_CHARS });
    if (max === null || max > MAX_VALUE_CHARS) e.maxLength = t('tpl.err.length', { max: MAX_VALUE_CHARS });
    else if (min !== null && max < min) e.maxLength = t('tpl.err.maxBelowMin');
    return e;
  });
}

/** A draft as the node takes it (idIndex omitted: the node assigns the lowest free). */
function itemBody(d: Draft): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: d.name,
    idType: d.idType.trim(),
    required: d.required,
    state: 1,
    metadata: {
      type: 'string',
      minLength: d.minLength.trim() === '' ? 0 : Number(d.minLength.trim()),
      maxLength: d.maxLength.trim() === '' ? MAX_VALUE_CHARS : Number(d.maxLength.trim()),
    },
  };
  if (d.idIndex.trim() !== '') out.idIndex = Number(d.idIndex.trim());
  return out;
}

function ItemEditor(props: { drafts: Draft[]; setDrafts: (f: (d: Draft[]) => Draft[]) => void; existing: TemplateItem[]; errors: DraftErrors[]; first: number }): JSX.Element {
  const t = useT();
  const taken = (drafts: Draft[]) => [...props.existing.map((x) => x.idIndex), ...drafts.map((d) => intOf(d.idIndex)).filter((n): n is number => n !== null)];
  const change = (key: number, patch: Partial<Draft>) => props.setDrafts((ds) => ds.map((d) => (d.key === key ? { ...d, ...patch } : d)));
  return (
    <div class="items-editor">
      {props.drafts.map((d, i) => {
        const e = props.errors[i] ?? {};
        const n = props.first + i;
        return (
          <fieldset key={d.key} class="item-draft">
            <legend>{t('tpl.itemN', { n })}</legend>
            <div class="grid">
              <Field label={t('tpl.itemName')} value={d.name} onInput={(v) => change(d.key, { name: v })} required maxLength={MAX_NAME_CHARS} error={e.name} hint={t('tpl.itemNameHint')} />
              <Field label={t('tpl.idType')} value={d.idType} onInput={(v) => change(d.key, { idType: v })} required maxLength={MAX_IDTYPE_CHARS} error={e.idType} hint={t('tpl.idTypeHint')} />
              <Field label={t('tpl.idIndex')} type="number" value={d.idIndex} onInput={(v) => change(d.key, { idIndex: v })} error={e.idIndex} hint={t('tpl.idIndexHint', { min: FIRST_ITEM_INDEX })} />
              <Select label={t('tpl.metaType')} value="string" onChange={() => undefined} options={[{ value: 'string', label: t('tpl.metaString') }]} />
              <Field label={t('tpl.minLength')} type="number" value={d.minLength} onInput={(v) => change(d.key, { minLength: v })} error={e.minLength} />
              <Field label={t('tpl.maxLength')} type="number" value={d.maxLength} onInput={(v) => change(d.key, { maxLength: v })} error={e.maxLength} hint={t('tpl.maxLengthHint', { max: MAX_VALUE_CHARS })} />
            </div>
            <div class="actions">
              <label class="ent-check">
                <input type="checkbox" checked={d.required} onChange={(ev) => change(d.key, { required: (ev.currentTarget as HTMLInputElement).checked })} /> {t('tpl.required')}
              </label>
              {props.drafts.length > 1 ? (
                <button type="button" class="danger" aria-label={t('tpl.removeDraftN', { n })} onClick={() => props.setDrafts((ds) => ds.filter((x) => x.key !== d.key))}>
                  {t('tpl.removeDraft')}
                </button>
              ) : null}
            </div>
          </fieldset>
        );
      })}
      <button
        type="button"
        disabled={props.existing.length + props.drafts.length >= MAX_ITEMS}
        onClick={() => props.setDrafts((ds) => [...ds, newDraft(taken(ds))])}
      >
        {t('tpl.addItem')}
      </button>
    </div>
  );
}

const hasErrors = (errs: DraftErrors[]) => errs.some((e) => Object.keys(e).length > 0);

// ---- creating a template ----

function CreateTemplate(props: { prefix: string; onCreated: (version: string) => void; onCancel: () => void }): JSX.Element {
  const t = useT();
  const [version, setVersion] = useState('');
  const [industry, setIndustry] = useState('C');
  const [detail, setDetail] = useState('');
  const [type, setType] = useState('2');
  const [description, setDescription] = useState('');
  const [drafts, setDrafts] = useState<Draft[]>(() => [newDraft([])]);
  const [tried, setTried] = useState(false);
  const errors = checkDrafts(drafts, [], t);
  const detailError = industryDetailError(industry, detail);
  const create = useAction(async () => {
    const d = detail.trim();
    const body: Record<string, unknown> = {
      prefix: props.prefix,
      version: version.trim(),
      industryCategory: industry,
      type: Number(type),
      items: drafts.map(itemBody),
    };
    if (d.length >= 2) body.industrySpecific = d.slice(0, 2);
    if (d.length >= 3) body.industryTrade = d.slice(0, 3);
    if (d.length >= 4) body.industrySubclass = d.slice(0, 4);
    if (description.trim() !== '') body.description = description;
    await post<true>(TEMPLATE_PATH, body);
    props.onCreated(version.trim());
  });
  const id = useId();
  return (
    <form
      class="card"
      aria-labelledby={id}
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        if (hasErrors(errors) || detailError !== null) return;
        void create.run();
      }}
    >
      <h2 id={id}>{t('tpl.createTitle', { prefix: props.prefix })}</h2>
      <div class="grid">
        <Field label={t('tpl.version')} value={version} onInput={setVersion} required maxLength={MAX_VERSION_CHARS} hint={t('tpl.versionHint')} />
        <Select
          label={t('tpl.industry')}
          value={industry}
          onChange={setIndustry}
          required
          options={INDUSTRY_LETTERS.map((l) => ({ value: l, label: `${l} ${t(`apply.industry.${l}`)}` }))}
        />
        <Field label={t('apply.industryDetail')} value={detail} onInput={(v) => setDetail(v.replace(/\D+/g, ''))} maxLength={4} error={detailError} hint={t('apply.industryDetailHint')} />
        <Select
          label={t('tpl.type')}
          value={type}
          onChange={setType}
          options={[
            { value: '2', label: t('tpl.type.2') },
            { value: '1', label: t('tpl.type.1') },
          ]}
        />
      </div>
      <TextArea label={t('tpl.description')} value={description} onInput={setDescription} rows={2} />
      <h3>{t('tpl.items')}</h3>
      <p class="hint">{t('tpl.itemsHint')}</p>
      <ItemEditor drafts={drafts} setDrafts={setDrafts} existing={[]} errors={errors} first={1} />
      {tried && (hasErrors(errors) || detailError !== null) ? (
        <div class="note warn" role="alert">
          {t('tpl.fixFirst')}
        </div>
      ) : null}
      {create.error ? <p class="field-error">{t('tpl.createFailed')}</p> : null}
      <ErrorNote error={create.error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={create.busy}>
          {create.busy ? t('tpl.saving') : t('tpl.create')}
        </button>
        <button type="button" onClick={props.onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}

// ---- one template ----

function AddItems(props: { template: Template; onSaved: (n: number) => void; onCancel: () => void }): JSX.Element {
  const t = useT();
  const existing = props.template.items;
  const [drafts, setDrafts] = useState<Draft[]>(() => [newDraft(existing.map((x) => x.idIndex))]);
  const [tried, setTried] = useState(false);
  const errors = checkDrafts(drafts, existing, t);
  const save = useAction(async () => {
    await put<true>(TEMPLATE_PATH, { prefix: props.template.prefix, version: props.template.version, items: drafts.map(itemBody) });
    props.onSaved(drafts.length);
  });
  const id = useId();
  return (
    <form
      class="card"
      aria-labelledby={id}
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        if (hasErrors(errors)) return;
        void save.run();
      }}
    >
      <h3 id={id}>{t('tpl.addTitle')}</h3>
      <ItemEditor drafts={drafts} setDrafts={setDrafts} existing={existing} errors={errors} first={existing.length + 1} />
      {tried && hasErrors(errors) ? (
        <div class="note warn" role="alert">
          {t('tpl.fixFirst')}
        </div>
      ) : null}
      {save.error ? <p class="field-error">{t('tpl.addFailed')}</p> : null}
      <ErrorNote error={save.error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={save.busy}>
          {save.busy ? t('tpl.saving') : t('tpl.saveItems')}
        </button>
        <button type="button" onClick={props.onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}

function industryOf(x: Template): string {
  return (x.industryCategory ?? '') + (x.industrySubclass || x.industryTrade || x.industrySpecific || '');
}

function TemplateView(props: { prefix: string; version: string; created: boolean; onOpened: () => void }): JSX.Element {
  const t = useT();
  const tpl = useLoad(async () => {
    const r = await get<Template>(TEMPLATE_PATH, { prefix: props.prefix, version: props.version });
    props.onOpened();
    return r;
  }, [props.prefix, props.version]);
  const [adding, setAdding] = useState(false);
  const [done, setDone] = useState<string | null>(props.created ? t('tpl.createdDone', { version: props.version }) : null);
  const toggle = useAction(async (it: TemplateItem) => {
    const state = it.state === 0 ? 1 : 0;
    await put<true>(TEMPLATE_PATH, { prefix: props.prefix, version: props.version, items: [{ name: it.name, idType: it.idType, idIndex: it.idIndex, state }] });
    setDone(t(state === 0 ? 'tpl.disabledDone' : 'tpl.enabledDone', { name: it.name }));
    tpl.reload();
  });
  const x = tpl.data;
  const id = useId();
  if (tpl.loading && x === undefined) return <p aria-live="polite">{t('common.loading')}</p>;
  if (tpl.error) {
    return (
      <div>
        <p>{t('tpl.openFailed', { version: props.version })}</p>
        <ErrorNote error={tpl.error} />
      </div>
    );
  }
  if (x === undefined) return <></>;
  const industry = industryOf(x);
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{t('tpl.viewTitle', { version: x.version })}</h2>
      <dl class="facts">
        <dt>{t('tpl.prefix')}</dt>
        <dd>
          <code>{x.prefix}</code>
        </dd>
        <dt>{t('tpl.version')}</dt>
        <dd>
          <code>{x.version}</code>
        </dd>
        <dt>{t('tpl.industry')}</dt>
        <dd>
          {industry} {t(`apply.industry.${x.industryCategory}`)}
        </dd>
        <dt>{t('tpl.type')}</dt>
        <dd>{t(`tpl.type.${x.type}`)}</dd>
        <dt>{t('tpl.descriptionShort')}</dt>
        <dd>{x.description === '' ? '—' : x.description}</dd>
      </dl>
      {done !== null ? <Note kind="ok">{done}</Note> : null}
      <ErrorNote error={toggle.error} />
      <div class="table-wrap">
        <table>
          <caption>{t('tpl.items')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('tpl.idIndex')}</th>
              <th scope="col">{t('tpl.itemName')}</th>
              <th scope="col">{t('tpl.idType')}</th>
              <th scope="col">{t('tpl.required')}</th>
              <th scope="col">{t('tpl.length')}</th>
              <th scope="col">{t('common.status')}</th>
              <th scope="col">{t('common.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {x.items.map((it) => (
              <tr key={it.idIndex} class={it.state === 0 ? 'tpl-off' : undefined}>
                <td class="num">{it.idIndex}</td>
                <td>{it.name}</td>
                <td>
                  <code>{it.idType}</code>
                </td>
                <td>{it.required ? t('common.yes') : t('common.no')}</td>
                <td class="num">
                  {it.metadata.type} · {it.metadata.minLength ?? 0}–{it.metadata.maxLength ?? MAX_VALUE_CHARS}
                </td>
                <td>
                  <span class={`badge ${it.state === 0 ? 's0' : 's1'}`}>{t(it.state === 0 ? 'tpl.off' : 'tpl.on')}</span>
                </td>
                <td>
                  <button
                    type="button"
                    class={it.state === 0 ? undefined : 'danger'}
                    disabled={toggle.busy}
                    aria-label={t(it.state === 0 ? 'tpl.enableItem' : 'tpl.disableItem', { name: it.name })}
                    onClick={() => {
                      setDone(null);
                      void toggle.run(it);
                    }}
                  >
                    {t(it.state === 0 ? 'tpl.enable' : 'tpl.disable')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="hint">{t('tpl.noDelete')}</p>
      {adding ? (
        <AddItems
          template={x}
          onCancel={() => setAdding(false)}
          onSaved={(n) => {
            setAdding(false);
            setDone(t('tpl.addedDone', { n }));
            tpl.reload();
          }}
        />
      ) : (
        <div class="actions">
          <button type="button" class="primary" disabled={x.items.length >= MAX_ITEMS} onClick={() => { setDone(null); setAdding(true); }}>
            {t('tpl.addItems')}
          </button>
          <a href={href(`/ent/identifiers?prefix=${encodeURIComponent(x.prefix)}&template=${encodeURIComponent(x.version)}`)}>{t('tpl.toIdentifiers')}</a>
        </div>
      )}
    </section>
  );
}

// ---- the page ----

export default function EntTemplates(): JSX.Element {
  const t = useT();
  const route = useRoute();
  const mine = useLoad(() => loadMine(), []);
  const prefixes = mine.data === undefined ? [] : mine.data.prefixes;
  const asked = route.query.get('prefix');
  const prefix = prefixes.find((p) => p.prefix === asked || p.prefixKey === asked?.toUpperCase())?.prefix ?? prefixes[0]?.prefix ?? '';
  const version = route.query.get('version') ?? '';
  const creating = route.query.get('new') === '1';
  const [open, setOpen] = useState('');
  // the prefix's templates (GET …/template/list), loaded again after a create or an opened version
  const [tick, setTick] = useState(0);
  const list = useLoad(() => (prefix === '' ? Promise.resolve([] as Template[]) : get<Template[]>(`${TEMPLATE_PATH}/list`, { prefix })), [prefix, tick]);
  const known = list.data ?? [];
  const go = (q: { version?: string; new?: string; created?: string }) => navigate('/ent/templates', { prefix, ...q });

  let body: JSX.Element;
  if (mine.loading && mine.data === undefined) body = <p aria-live="polite">{t('common.loading')}</p>;
  else if (mine.error) {
    body = (
      <>
        <p>{t('tpl.mineFailed')}</p>
        <ErrorNote error={mine.error} />
      </>
    );
  } else if (prefix === '') {
    body = (
      <Note kind="warn">
        {t('tpl.noPrefix')} <a href={href('/my')}>{t('nav.myApplication')}</a>
      </Note>
    );
  } else {
    body = (
      <>
        {prefixes.length > 1 ? (
          <div class="narrow">
            <Select label={t('tpl.prefix')} value={prefix} onChange={(p) => navigate('/ent/templates', { prefix: p })} options={prefixes.map((p) => ({ value: p.prefix, label: p.prefix }))} />
          </div>
        ) : (
          <p>
            {t('tpl.prefix')}: <code class="ent-prefix">{prefix}</code>
          </p>
        )}
        <div class="tpl-layout">
          <section class="card" aria-labelledby="tpl-known">
            <h2 id="tpl-known">{t('tpl.known')}</h2>
            <ErrorNote error={list.error} />
            <form
              class="inline"
              onSubmit={(e) => {
                e.preventDefault();
                const v = open.trim();
                if (v !== '') go({ version: v });
              }}
            >
              <Field label={t('tpl.openVersion')} value={open} onInput={setOpen} required maxLength={MAX_VERSION_CHARS} name="version" />
              <button type="submit">{t('tpl.open')}</button>
            </form>
            {list.loading && list.data === undefined ? (
              <p class="muted">{t('common.loading')}</p>
            ) : known.length === 0 ? (
              <p class="muted">{t('tpl.noneKnown')}</p>
            ) : (
              <ul class="tpl-versions">
                {known.map((x) => (
                  <li key={x.version}>
                    <a href={href(`/ent/templates?prefix=${encodeURIComponent(prefix)}&version=${encodeURIComponent(x.version)}`)} aria-current={x.version === version && !creating ? 'page' : undefined}>
                      {x.version}
                    </a>{' '}
                    <span class="muted">{t('tpl.itemCount', { n: x.items.length })}</span>
                  </li>
                ))}
              </ul>
            )}
            <p>
              <button type="button" class="primary" onClick={() => go({ new: '1' })}>
                {t('tpl.new')}
              </button>
            </p>
          </section>
          <div class="tpl-main">
            {creating ? (
              <CreateTemplate
                prefix={prefix}
                onCancel={() => go({})}
                onCreated={(v) => {
                  setTick((n) => n + 1);
                  go({ version: v, created: '1' });
                }}
              />
            ) : version !== '' ? (
              <TemplateView
                key={`${prefix}/${version}`}
                prefix={prefix}
                version={version}
                created={route.query.get('created') === '1'}
                onOpened={() => setTick((n) => n + 1)}
              />
            ) : (
              <p class="muted">{t('tpl.pick')}</p>
            )}
          </div>
        </div>
      </>
    );
  }
  return <Page title={t('tpl.title')}>{body}</Page>;
}
