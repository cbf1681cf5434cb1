// An enterprise's identifiers: its prefix's list (suffix search, paging, state in the route), register one, edit one, delete one after a confirm step.
import type { JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { call, del, post, put } from '../api.js';
import { useT } from '../i18n/index.js';
import { href, navigate, useRoute } from '../router.js';
import { ErrorNote, Field, Note, Page, Pager, useAction, useLoad, when } from '../ui.js';
import {
  checkAgainstTemplate,
  checkHandle,
  checkIndex,
  checkType,
  checkValues,
  checkVersion,
  enabledItems,
  RESERVED_INDEXES,
  resolveHref,
  SNMS_VALUE_FLOOR,
  word,
  type Detail,
  type IdentifierPage,
  type Mine,
  type Problem,
  type TemplateItem,
  type ValueIn,
} from './ent-common.js';
import { MineGate, PrefixField, TemplateHint, useMine, useTemplate } from './ent-widgets.js';
import './identifiers.css';

const PATH = '/ent/identifiers';
const PAGE_SIZE = 20;

/** A focus target on arrival (a stable ref callback, so it fires once). */
function useFocusOnMount(): (el: HTMLElement | null) => void {
  return useCallback((el: HTMLElement | null) => el?.focus(), []);
}

export default function EntIdentifiers(): JSX.Element {
  const t = useT();
  const mine = useMine();
  return (
    <Page
      title={t('ids.title')}
      actions={
        <a class="button" href={href('/ent/upload')}>
          {t('ids.toUpload')}
        </a>
      }
    >
      <MineGate mine={mine}>{(m) => <Identifiers mine={m} />}</MineGate>
    </Page>
  );
}

type QueryPatch = Partial<Record<'prefix' | 'q' | 'page' | 'edit' | 'new', string | number | undefined>>;

function Identifiers(props: { mine: Mine }): JSX.Element {
  const t = useT();
  const route = useRoute();
  const q = route.query;
  const prefixes = props.mine.prefixes;
  const asked = q.get('prefix');
  const prefix = prefixes.find((p) => p.prefix === asked)?.prefix ?? prefixes[0]!.prefix;
  const prefixKeys = prefixes.map((p) => p.prefixKey);
  const keyword = q.get('q') ?? '';
  const page = Math.max(1, Math.floor(Number(q.get('page'))) || 1);
  const editing = q.get('edit');
  const creating = q.get('new') === '1';
  const current: QueryPatch = { prefix: asked ?? undefined, q: keyword || undefined, page: page > 1 ? page : undefined };
  const go = (patch: QueryPatch): void => navigate(PATH, { ...current, ...patch });

  const [search, setSearch] = useState(keyword);
  useEffect(() => setSearch(keyword), [keyword]);
  const [flash, setFlash] = useState<Problem | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const focusConfirm = useFocusOnMount();

  const list = useLoad(
    (signal) => call<IdentifierPage>('GET', '/identityv2/data/page', { query: { prefix, keyword, currentPage: page, pageSize: PAGE_SIZE }, signal }),
    [prefix, keyword, page],
  );
  const items = list.data?.items ?? [];
  const total = list.data?.total ?? 0;

  const remove = useAction(async (handle: string) => {
    await del('/identityv2/data', { handle });
    setConfirming(null);
    setFlash({ key: 'ids.deleted', vars: { handle } });
    if (items.length === 1 && page > 1) go({ page: page - 1 });
    else list.reload();
  });

  const closeForm = (): void => go({ edit: undefined, new: undefined });
  const saved = (handle: string, how: 'created' | 'updated'): void => {
    setFlash({ key: how === 'created' ? 'ids.created' : 'ids.updated', vars: { handle } });
    closeForm();
    list.reload();
  };

  return (
    <>
      <div class="ids-bar">
        <PrefixField prefixes={prefixes} value={prefix} onChange={(p) => go({ prefix: p, q: undefined, page: undefined })} />
        {creating || editing !== null ? null : (
          <button
            type="button"
            class="primary"
            onClick={() => {
              setFlash(null);
              go({ new: 1, edit: undefined });
            }}
          >
            {t('ids.new')}
          </button>
        )}
      </div>
      {flash !== null ? <Note kind="ok">{word(flash)}</Note> : null}
      {creating ? <IdentifierForm prefix={prefix} prefixKeys={prefixKeys} onSaved={saved} onCancel={closeForm} /> : null}
      {editing !== null && !creating ? <EditIdentifier key={editing} handle={editing} prefixKeys={prefixKeys} onSaved={saved} onCancel={closeForm} /> : null}

      <form
        class="inline ids-search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setFlash(null);
          const k = search.trim();
          if (k === keyword) list.reload();
          else go({ q: k || undefined, page: undefined });
        }}
      >
        <Field label={t('ids.search')} type="search" value={search} onInput={setSearch} name="q" placeholder={t('ids.searchHint')} maxLength={255} />
        <button type="submit">{t('common.search')}</button>
        {keyword !== '' ? (
          <button type="button" onClick={() => go({ q: undefined, page: undefined })}>
            {t('ids.clearSearch')}
          </button>
        ) : null}
      </form>

      <ErrorNote error={remove.error} />
      <p class="hint ids-loading" aria-live="polite">
        {list.loading && list.data !== undefined ? t('common.loading') : ''}
      </p>
      {list.error ? (
        <div>
          <ErrorNote error={list.error} />
          <button type="button" onClick={list.reload}>
            {t('common.retry')}
          </button>
        </div>
      ) : list.data === undefined ? (
        <p aria-live="polite">{t('common.loading')}</p>
      ) : items.length === 0 && total > 0 ? (
        <Note>
          {t('ids.pastEnd')}{' '}
          <button type="button" onClick={() => go({ page: undefined })}>
            {t('ids.firstPage')}
          </button>
        </Note>
      ) : items.length === 0 ? (
        <Note>{keyword !== '' ? t('ids.noMatch', { keyword }) : t('ids.empty')}</Note>
      ) : (
        <>
          <div class="table-wrap">
            <table class="ids-table" aria-busy={list.loading ? 'true' : 'false'}>
              <caption>{keyword !== '' ? t('ids.captionSearch', { prefix, keyword }) : t('ids.caption', { prefix })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('ids.handle')}</th>
                  <th scope="col">{t('ids.updatedAt')}</th>
                  <th scope="col">{t('common.actions')}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((it, i) => (
                  <tr key={it.handle}>
                    <td class="data">
                      <a href={resolveHref(it.handle)}>
                        <code>{it.handle}</code>
                      </a>
                    </td>
                    <td>{when(it.updatedAt)}</td>
                    <td>
                      {confirming === it.handle ? (
                        <div class="actions" role="group" aria-label={t('ids.confirmGroup', { handle: it.handle })}>
                          <span>{t('ids.confirmDelete')}</span>
                          <button type="button" class="danger" ref={focusConfirm} disabled={remove.busy} onClick={() => void remove.run(it.handle)}>
                            {remove.busy ? t('ids.deleting') : t('ids.deleteConfirm')}
                          </button>
                          <button
                            type="button"
                            disabled={remove.busy}
                            onClick={() => {
                              setConfirming(null);
                              requestAnimationFrame(() => document.getElementById(`ids-del-${i}`)?.focus());
                            }}
                          >
                            {t('common.cancel')}
                          </button>
                        </div>
                      ) : (
                        <div class="actions">
                          <button
                            type="button"
                            aria-label={t('ids.editOne', { handle: it.handle })}
                            onClick={() => {
                              setFlash(null);
                              go({ edit: it.handle, new: undefined });
                            }}
                          >
                            {t('common.edit')}
                          </button>
                          <button
                            type="button"
                            id={`ids-del-${i}`}
                            class="danger"
                            aria-label={t('ids.deleteOne', { handle: it.handle })}
                            onClick={() => {
                              setFlash(null);
                              remove.setError(null);
                              setConfirming(it.handle);
                            }}
                          >
                            {t('common.delete')}
                          </button>
                        </div>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.data.totalCapped ? <p class="hint">{t('ids.capped', { total })}</p> : null}
          <Pager page={page} pageSize={PAGE_SIZE} total={total} onPage={(p) => go({ page: p > 1 ? p : undefined })} />
        </>
      )}
    </>
  );
}

/** Loads an identifier, then the form to change it. */
function EditIdentifier(props: { handle: string; prefixKeys: string[]; onSaved: (h: string, how: 'created' | 'updated') => void; onCancel: () => void }): JSX.Element {
  const t = useT();
  const d = useLoad((signal) => call<Detail>('GET', '/identityv2/data/detail', { query: { handle: props.handle }, signal }), [props.handle]);
  if (d.data !== undefined) return <IdentifierForm prefix={d.data.prefix} prefixKeys={props.prefixKeys} initial={d.data} onSaved={props.onSaved} onCancel={props.onCancel} />;
  return (
    <div class="card">
      {d.error ? (
        <>
          <ErrorNote error={d.error} />
          <button type="button" onClick={props.onCancel}>
            {t('common.close')}
          </button>
        </>
      ) : (
        <p aria-live="polite">{t('common.loading')}</p>
      )}
    </div>
  );
}

interface ValueRow {
  key: number;
  index: string;
  type: string;
  data: string;
}

let rowKeys = 0;
const valueRow = (index = '', type = '', data = ''): ValueRow => ({ key: ++rowKeys, index, type, data });

const lengthOf = (it: TemplateItem): string => `${it.metadata.minLength ?? 0}–${it.metadata.maxLength ?? 255}`;

/** Register one identifier (no `initial`) or change one: suffix, template version, values by the template's items or as free index/type/data rows. */
function IdentifierForm(props: {
  prefix: string;
  prefixKeys: string[];
  initial?: Detail;
  onSaved: (handle: string, how: 'created' | 'updated') => void;
  onCancel: () => void;
}): JSX.Element {
  const t = useT();
  const initial = props.initial;
  const editing = initial !== undefined;
  const focusTitle = useFocusOnMount();
  const [suffix, setSuffix] = useState('');
  const [suffixError, setSuffixError] = useState<string | null>(null);
  const [version, setVersion] = useState(initial?.templateVersion ?? '');
  const [rows, setRows] = useState<ValueRow[]>(() => {
    const given = (initial?.value ?? []).filter((v) => v.index >= SNMS_VALUE_FLOOR && !RESERVED_INDEXES.includes(v.index));
    return given.length > 0 ? given.map((v) => valueRow(String(v.index), v.type, v.data.value)) : [valueRow()];
  });
  const [mode, setMode] = useState<'template' | 'free'>('template');
  const handlePrefix = initial !== undefined ? initial.handle.slice(0, initial.handle.indexOf('/')) : props.prefix;
  const tpl = useTemplate(handlePrefix, version);
  const template = tpl.status === 'ok' ? tpl.template : null;
  const items = template === null ? [] : enabledItems(template);
  const byTemplate = template !== null && mode === 'template';
  const handleFaceValues = (initial?.value ?? []).filter((v) => v.index < SNMS_VALUE_FLOOR).length;

  // the template's items become rows (their types as the template spells them); empty rows of no item go
  useEffect(() => {
    if (template === null) return;
    const its = enabledItems(template);
    setRows((cur) => {
      const out = cur
        .filter((r) => r.data !== '' || its.some((it) => String(it.idIndex) === r.index.trim()))
        .map((r) => {
          const it = its.find((i) => String(i.idIndex) === r.index.trim());
          return it === undefined ? r : { ...r, type: it.idType };
        });
      for (const it of its) if (!out.some((r) => r.index.trim() === String(it.idIndex))) out.push(valueRow(String(it.idIndex), it.idType, ''));
      return out;
    });
  }, [template]);

  const dataOf = (it: TemplateItem): string => rows.find((r) => r.index.trim() === String(it.idIndex))?.data ?? '';
  const setItem = (it: TemplateItem, data: string): void =>
    setRows((cur) =>
      cur.some((r) => r.index.trim() === String(it.idIndex))
        ? cur.map((r) => (r.index.trim() === String(it.idIndex) ? { ...r, data } : r))
        : [...cur, valueRow(String(it.idIndex), it.idType, data)],
    );
  const setRow = (key: number, patch: Partial<ValueRow>): void => setRows((cur) => cur.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  const outside = byTemplate ? rows.filter((r) => r.data !== '' && !items.some((it) => String(it.idIndex) === r.index.trim())) : [];

  /** The values to send, or the first problem with them. */
  const values = (): ValueIn[] | Problem => {
    if (byTemplate) {
      return items.filter((it) => dataOf(it) !== '').map((it) => ({ index: it.idIndex, type: it.idType, data: { format: 'string' as const, value: dataOf(it) } }));
    }
    const out: ValueIn[] = [];
    for (const r of rows) {
      if (r.data === '') continue; // an empty value is not registered (as in the template mode)
      const bad = checkIndex(r.index) ?? checkType(r.type.trim());
      if (bad !== null) return bad;
      out.push({ index: Number(r.index.trim()), type: r.type.trim(), data: { format: 'string', value: r.data } });
    }
    return out;
  };

  const save = useAction(async () => {
    const handle = initial?.handle ?? `${props.prefix}/${suffix.trim()}`;
    if (!editing) {
      const bad = suffix.trim() === '' ? { key: 'ids.err.suffixEmpty' } : checkHandle(handle, props.prefixKeys);
      setSuffixError(bad === null ? null : word(bad));
      if (bad !== null) throw new Error(word(bad));
    }
    const v = version.trim();
    const badVersion = checkVersion(v) ?? (tpl.status === 'missing' ? { key: 'ids.err.noTemplate', vars: { version: v } } : null);
    if (badVersion !== null) throw new Error(word(badVersion));
    const value = values();
    if (!Array.isArray(value)) throw new Error(word(value));
    const bad = template !== null ? checkAgainstTemplate(template, value) : checkValues(value);
    if (bad !== null) throw new Error(word(bad));
    const body = { handle, templateVersion: v, value };
    if (editing) await put('/identityv2/data', body);
    else await post('/identityv2/data', body);
    props.onSaved(handle, editing ? 'updated' : 'created');
  });

  return (
    <form
      class="card ids-form"
      aria-labelledby="ids-form-title"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <h2 id="ids-form-title" tabIndex={-1} ref={focusTitle}>
        {editing ? t('ids.editTitle', { handle: initial.handle }) : t('ids.newTitle')}
      </h2>
      {editing && initial.templateVersion === '' ? <Note kind="warn">{t('ids.noTemplateYet')}</Note> : null}
      {handleFaceValues > 0 ? <p class="hint">{t('ids.keptValues', { n: handleFaceValues })}</p> : null}
      <div class="grid">
        {editing ? (
          <p class="ent-prefix">
            <span class="muted">{t('ids.handleIs')}</span>
            <code>{initial.handle}</code>
          </p>
        ) : (
          <Field
            label={t('ids.suffix')}
            value={suffix}
            onInput={(s) => {
              setSuffix(s);
              setSuffixError(null);
            }}
            required
            name="suffix"
            maxLength={250}
            error={suffixError}
            hint={t('ids.suffixHint', { handle: `${props.prefix}/${suffix.trim() || '…'}` })}
          />
        )}
        <Field label={t('ids.version')} value={version} onInput={setVersion} required name="templateVersion" maxLength={128} hint={<TemplateHint tpl={tpl} version={version} idle={t('ids.versionHint')} />} />
      </div>
      {tpl.status === 'error' ? <ErrorNote error={tpl.error} /> : null}

      <fieldset class="ids-mode">
        <legend>{t('ids.mode')}</legend>
        <label>
          <input type="radio" name="ids-mode" value="template" checked={byTemplate} disabled={template === null} onChange={() => setMode('template')} />{' '}
          {t('ids.modeTemplate')}
        </label>
        <label>
          <input type="radio" name="ids-mode" value="free" checked={!byTemplate} onChange={() => setMode('free')} /> {t('ids.modeFree')}
        </label>
        {template === null ? <p class="hint">{t('ids.modeHint')}</p> : null}
      </fieldset>

      {byTemplate ? (
        <div class="grid ids-values">
          {items.length === 0 ? <Note kind="warn">{t('ids.tplNoItems')}</Note> : null}
          {items.map((it) => (
            <Field
              key={it.idIndex}
              label={it.name}
              value={dataOf(it)}
              onInput={(v) => setItem(it, v)}
              required={it.required}
              maxLength={it.metadata.maxLength ?? 255}
              type={/^URL(\.|$)/i.test(it.idType) ? 'url' : 'text'}
              hint={t('ids.itemHint', { type: it.idType, index: it.idIndex, length: lengthOf(it) })}
            />
          ))}
          {outside.length > 0 ? (
            <Note kind="warn">{t('ids.outside', { list: outside.map((r) => `${r.index} ${r.type}`).join('，'), version: template.version })}</Note>
          ) : null}
        </div>
      ) : (
        <div class="ids-rows">
          <p class="hint">{t('ids.freeHint')}</p>
          {rows.map((r, i) => (
            <div class="ids-row" key={r.key} role="group" aria-label={t('ids.row', { n: i + 1 })}>
              <Field label={t('ids.rowIndex', { n: i + 1 })} value={r.index} onInput={(v) => setRow(r.key, { index: v })} name={`index-${i}`} maxLength={10} placeholder="2000" />
              <Field label={t('ids.rowType', { n: i + 1 })} value={r.type} onInput={(v) => setRow(r.key, { type: v })} name={`type-${i}`} maxLength={128} placeholder="URL" />
              <Field label={t('ids.rowData', { n: i + 1 })} value={r.data} onInput={(v) => setRow(r.key, { data: v })} name={`data-${i}`} maxLength={255} />
              <button type="button" class="ids-row-del" onClick={() => setRows((cur) => cur.filter((x) => x.key !== r.key))}>
                {t('ids.rowRemove', { n: i + 1 })}
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setRows((cur) => [...cur, valueRow()])}>
            {t('ids.rowAdd')}
          </button>
        </div>
      )}

      <ErrorNote error={save.error} />
      <p class="actions">
        <button type="submit" class="primary" disabled={save.busy}>
          {save.busy ? t('ids.saving') : editing ? t('ids.saveEdit') : t('ids.register')}
        </button>
        <button type="button" onClick={props.onCancel} disabled={save.busy}>
          {t('common.cancel')}
        </button>
      </p>
    </form>
  );
}
