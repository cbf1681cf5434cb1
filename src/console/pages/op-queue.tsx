// The applications queue for operators and reviewers: filters and paging kept in the route (#/op/queue?status=&town=&name=&page=).
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, get } from '../api.js';
import { useT } from '../i18n/index.js';
import { href, navigate, useRoute } from '../router.js';
import { ErrorNote, Field, Pager, Page, Select, useLoad, when } from '../ui.js';
import type { Enterprise } from '../shapes.js';
import './operator.css';

export type { Enterprise };


export const STATUSES = [4, 5, 1, 3, 0, 2] as const;
const PAGE_SIZE = 20;

/** An enterprise's status as a badge (class `badge s<status>`), in words. */
export function StatusBadge(props: { status: number }): JSX.Element {
  const t = useT();
  return <span class={`badge s${props.status}`}>{t(`queue.status.${props.status}`)}</span>;
}

interface Towns {
  county: string;
  towns: { name: string; targets: Record<string, number> | null }[];
}

export default function OpQueue(): JSX.Element {
  const t = useT();
  const route = useRoute();
  const status = route.query.get('status') ?? '4';
  const town = route.query.get('town') ?? '';
  const name = route.query.get('name') ?? '';
  const page = Math.max(1, Number(route.query.get('page')) || 1);

  const [nameInput, setNameInput] = useState(name);
  const [townInput, setTownInput] = useState(town);
  // back / forward: the form follows the route
  useEffect(() => setNameInput(name), [name]);
  useEffect(() => setTownInput(town), [town]);

  const towns = useLoad<Towns>(() => get<Towns>('/snms/api/v3/ent/towns'), []);
  const list = useLoad(
    (signal) =>
      call<{ total: number; items: Enterprise[] }>('GET', '/operator/enterprises', {
        query: { status: status === 'all' ? undefined : status, town, name, currentPage: page, pageSize: PAGE_SIZE },
        signal,
      }),
    [status, town, name, page],
  );

  const go = (q: { status?: string; town?: string; name?: string; page?: number }) => {
    const next = { status, town, name, page: 1, ...q };
    navigate('/op/queue', {
      status: next.status === '4' ? undefined : next.status,
      town: next.town,
      name: next.name,
      page: next.page > 1 ? next.page : undefined,
    });
  };

  const statusOptions = [{ value: 'all', label: t('common.all') }, ...STATUSES.map((s) => ({ value: String(s), label: t(`queue.status.${s}`) }))];
  const townList = towns.data?.towns ?? null;
  const data = list.data;

  return (
    <Page title={t('queue.title')}>
      <p class="muted">{t('queue.intro')}</p>
      <form
        class="card op-filters"
        role="search"
        aria-label={t('queue.filters')}
        onSubmit={(e) => {
          e.preventDefault();
          go({ town: townInput.trim(), name: nameInput.trim() });
        }}
      >
        <Select label={t('queue.filterStatus')} name="status" value={status} options={statusOptions} onChange={(v) => go({ status: v, town: townInput.trim(), name: nameInput.trim() })} />
        {townList !== null ? (
          <Select
            label={t('queue.filterTown')}
            name="town"
            value={townInput}
            options={[
              { value: '', label: t('common.all') },
              // a town in the route that the plan does not name still shows (an old link, a renamed town)
              ...(townInput !== '' && !townList.some((x) => x.name === townInput) ? [{ value: townInput, label: townInput }] : []),
              ...townList.map((x) => ({ value: x.name, label: x.name })),
            ]}
            onChange={(v) => {
              setTownInput(v);
              go({ town: v, name: nameInput.trim() });
            }}
          />
        ) : towns.loading ? null : (
          <Field label={t('queue.filterTown')} name="town" value={townInput} onInput={setTownInput} maxLength={64} hint={t('queue.townsUnavailable')} />
        )}
        <Field label={t('queue.filterName')} type="search" name="name" value={nameInput} onInput={setNameInput} maxLength={255} />
        <div class="actions">
          <button type="submit" class="primary">
            {t('common.search')}
          </button>
          <button type="button" onClick={() => go({ status: '4', town: '', name: '' })}>
            {t('common.reset')}
          </button>
        </div>
      </form>

      <ErrorNote error={list.error} />
      {list.loading && data === undefined ? <p aria-live="polite">{t('common.loading')}</p> : null}
      {data !== undefined ? (
        <>
          <p class="op-count" aria-live="polite">
            {list.loading ? t('common.loading') : t('queue.count', { total: data.total })}
          </p>
          {data.items.length === 0 ? (
            <p class="muted">{status === '4' ? t('queue.emptyPending') : t('queue.empty')}</p>
          ) : (
            <div class="table-wrap">
              <table>
                <caption>{t('queue.caption')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('queue.col.name')}</th>
                    <th scope="col">{t('queue.col.creditCode')}</th>
                    <th scope="col">{t('queue.col.town')}</th>
                    <th scope="col">{t('queue.col.industry')}</th>
                    <th scope="col">{t('queue.col.appliedAt')}</th>
                    <th scope="col">{t('common.status')}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((e) => (
                    <tr key={e.id}>
                      <td>
                        <a href={href(`/op/enterprise?id=${e.id}`)}>{e.name}</a>
                      </td>
                      <td>
                        <code>{e.creditCode}</code>
                      </td>
                      <td>{e.town}</td>
                      <td>{e.industry}</td>
                      <td>{when(e.createdAt)}</td>
                      <td>
                        <StatusBadge status={e.status} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {data.total > PAGE_SIZE ? <Pager page={page} pageSize={PAGE_SIZE} total={data.total} onPage={(p) => go({ page: p })} /> : null}
        </>
      ) : null}
    </Page>
  );
}
