// The console's frame: header with navigation by role, the language switch and the session; the page for the route.
import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { lang, useT } from './i18n/index.js';
import { href, navigate, useRoute } from './router.js';
import { ROUTES } from './routes.js';
import { expiredNotice, session } from './session.js';
import { useObservable } from './store.js';
import { Note } from './ui.js';

export function App(): JSX.Element {
  const t = useT();
  const route = useRoute();
  const s = useObservable(session.state);
  const expired = useObservable(expiredNotice);
  const account = s?.account ?? null;
  const page = ROUTES.find((r) => r.path === route.path);
  const allowed = page !== undefined && (page.roles === null || (account !== null && page.roles.includes(account.role)));

  // a page that needs a login sends the visitor to it, and back afterwards
  useEffect(() => {
    if (page !== undefined && page.roles !== null && account === null) navigate('/login', { next: route.path + (route.query.toString() ? `?${route.query}` : '') });
  }, [page, account, route]);
  // the new page's heading takes the focus, so keyboard and screen-reader users start there
  useEffect(() => {
    document.getElementById('page-title')?.focus({ preventScroll: true });
  }, [route.path]);

  const links = ROUTES.filter((r) => r.nav !== undefined && (r.roles === null ? !(r.anonymousOnly && account !== null) : account !== null && r.roles.includes(account.role)));
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('page-title')?.focus(); }}>
        {lang.get() === 'zh' ? '跳到正文' : 'Skip to content'}
      </a>
      <header class="top">
        <a class="brand" href={href('/')}>
          <span class="brand-mark" aria-hidden="true">88</span>
          <span>{t('app.title')}</span>
        </a>
        <div class="top-right">
          {account !== null ? (
            <span class="who" data-testid="who">
              {account.username} · {t(`role.${account.role}`)}
            </span>
          ) : null}
          <button type="button" class="link" lang={lang.get() === 'zh' ? 'en' : 'zh-CN'} title={t('lang.label')} onClick={() => lang.set(lang.get() === 'zh' ? 'en' : 'zh')}>
            {t('lang.switch')}
          </button>
          {account !== null ? (
            <button type="button" class="link" onClick={() => { session.end(); navigate('/'); }}>
              {t('nav.logout')}
            </button>
          ) : (
            <a href={href('/login')}>{t('nav.login')}</a>
          )}
        </div>
      </header>
      <nav class="nav" aria-label={t('nav.menu')}>
        <ul>
          {links.map((r) => (
            <li key={r.path}>
              <a href={href(r.path)} aria-current={r.path === route.path ? 'page' : undefined}>
                {t(r.nav!)}
              </a>
            </li>
          ))}
          <li>
            <a href="/docs" target="_blank" rel="noopener">
              {t('nav.docs')}
            </a>
          </li>
        </ul>
      </nav>
      <main id="main">
        {expired && route.path === '/login' ? <Note kind="warn">{t('login.expired')}</Note> : null}
        {page === undefined ? (
          <Note kind="warn">{t('common.notFoundPage')}</Note>
        ) : allowed ? (
          <page.component key={route.path} />
        ) : account === null ? (
          <Note kind="warn">{t('login.required')}</Note>
        ) : (
          <Note kind="warn">{t('login.forbidden')}</Note>
        )}
      </main>
      <footer class="foot">{t('app.footer')}</footer>
    </div>
  );
}
