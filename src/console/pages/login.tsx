// Log in with an SNMS account (operators, reviewers, enterprises): POST /identity/token, then GET /identity/me.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { call, post } from '../api.js';
import { useT } from '../i18n/index.js';
import { href, navigate, useRoute } from '../router.js';
import { session, type Account } from '../session.js';
import { ErrorNote, Field, Page, useAction } from '../ui.js';

/** Where an account starts after logging in. */
export function homeOf(a: Account): string {
  return a.role === 'enterprise' ? '/my' : '/op/queue';
}

export default function Login(): JSX.Element {
  const t = useT();
  const route = useRoute();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const login = useAction(async () => {
    const { token } = await post<{ token: string }>('/identity/token', { username, password });
    // the session starts only once the node has said whose token it is (no moment with a guessed role)
    const me = await call<Account>('GET', '/identity/me', { token });
    session.start(token, me);
    const next = route.query.get('next');
    const target = next !== null && next.startsWith('/') && !next.startsWith('/login') ? next : homeOf(me);
    const [path = '/', q = ''] = target.split('?', 2);
    navigate(path, Object.fromEntries(new URLSearchParams(q)));
  });
  return (
    <Page title={t('login.title')}>
      <form
        class="card narrow"
        onSubmit={(e) => {
          e.preventDefault();
          void login.run();
        }}
      >
        <Field label={t('login.username')} value={username} onInput={setUsername} required autoComplete="username" name="username" maxLength={50} />
        <Field label={t('login.password')} type="password" value={password} onInput={setPassword} required autoComplete="current-password" name="password" maxLength={128} />
        <ErrorNote error={login.error} />
        <button type="submit" class="primary" disabled={login.busy}>
          {login.busy ? t('login.busy') : t('login.submit')}
        </button>
        <p class="hint">
          <a href={href('/apply')}>{t('login.hint')}</a>
        </p>
      </form>
    </Page>
  );
}
