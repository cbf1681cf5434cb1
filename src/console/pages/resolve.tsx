// Anyone resolves an identifier: its values readable, URL values as links, the proxy redirect and the JSON one click away.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { resolveHandle, type HandleAnswer, type HandleValue } from '../api.js';
import { useT } from '../i18n/index.js';
import { navigate, useRoute } from '../router.js';
import { ErrorNote, Field, Note, Page, useLoad, when } from '../ui.js';

const encodePath = (h: string) => h.split('/').map(encodeURIComponent).join('/');

/** A URL value as a link — only web addresses (never `javascript:` and the like). */
export function safeUrl(s: string): string | null {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

function DataCell(props: { v: HandleValue }): JSX.Element {
  const value = props.v.data.value;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const link = /^URL(\.|$)/i.test(props.v.type) && typeof value === 'string' ? safeUrl(value) : null;
  return <td class="data">{link !== null ? <a href={link} rel="noopener noreferrer" target="_blank">{text}</a> : <code>{text}</code>}</td>;
}

export default function Resolve(): JSX.Element {
  const t = useT();
  const route = useRoute();
  const asked = route.query.get('h') ?? '';
  const [input, setInput] = useState(asked);
  const answer = useLoad<HandleAnswer | null>((signal) => (asked === '' ? Promise.resolve(null) : resolveHandle(asked, signal)), [asked]);
  const a = answer.data;
  const hasUrl = a?.values?.some((v) => /^URL(\.|$)/i.test(v.type)) ?? false;
  return (
    <Page title={t('resolve.title')}>
      <p>{t('resolve.intro')}</p>
      <form
        class="inline"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          const h = input.trim();
          if (h === asked) answer.reload();
          else navigate('/', { h });
        }}
      >
        <Field label={t('resolve.handle')} value={input} onInput={setInput} required name="handle" placeholder="88.123.1/…" maxLength={1024} />
        <button type="submit" class="primary">
          {t('resolve.submit')}
        </button>
      </form>
      {asked === '' ? null : answer.loading ? (
        <p aria-live="polite">{t('resolve.busy')}</p>
      ) : answer.error ? (
        <ErrorNote error={answer.error} />
      ) : a && a.responseCode === 1 ? (
        <div class="card" aria-live="polite">
          <h2>
            <code>{a.handle}</code>
          </h2>
          <p class="actions">
            {hasUrl ? (
              <a class="button" href={`/${encodePath(a.handle)}`} title={t('resolve.redirectHint')}>
                {t('resolve.redirect')}
              </a>
            ) : null}
            <a class="button" href={`/api/handles/${encodePath(a.handle)}?pretty`} target="_blank" rel="noopener">
              {t('resolve.json')}
            </a>
          </p>
          <table>
            <caption>{t('resolve.values')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('resolve.index')}</th>
                <th scope="col">{t('resolve.type')}</th>
                <th scope="col">{t('resolve.data')}</th>
                <th scope="col">{t('resolve.ttl')}</th>
                <th scope="col">{t('resolve.timestamp')}</th>
              </tr>
            </thead>
            <tbody>
              {(a.values ?? []).map((v) => (
                <tr key={v.index}>
                  <td>{v.index}</td>
                  <td>{v.type}</td>
                  <DataCell v={v} />
                  <td>{v.ttl ?? ''}</td>
                  <td>{when(v.timestamp)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : a && (a.responseCode === 100 || a.responseCode === 200) ? (
        <Note kind="warn">{t('resolve.notFound')}</Note>
      ) : a ? (
        <Note kind="warn">{t('resolve.failed', { code: a.responseCode, message: a.message ?? '' })}</Note>
      ) : null}
    </Page>
  );
}
