// Accounts for operators (#/op/accounts?role=&q=&page=): list and search users, create reviewers and operators, disable/enable, reset passwords, change roles.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, post } from '../api.js';
import { useT } from '../i18n/index.js';
import { href, navigate, useRoute } from '../router.js';
import { session } from '../session.js';
import { ErrorNote, Field, Note, Pager, Page, Select, useAction, useLoad, when } from '../ui.js';
import './operator.css';

interface User {
  id: number;
  username: string;
  role: 'operator' | 'reviewer' | 'enterprise';
  enterpriseId: number | null;
  enterpriseName: string | null;
  disabled: boolean;
  createdAt: string;
}

const PAGE_SIZE = 20;
const MIN_PASSWORD = 8;

/** The inline form that resets one user's password (opened from the user's row; Escape closes it). */
function PasswordRow(props: { user: User; cols: number; onDone: (msg: string) => void; onCancel: () => void }): JSX.Element {
  const t = useT();
  const [password, setPassword] = useState('');
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => ref.current?.querySelector('input')?.focus(), []);
  const save = useAction(async () => {
    await post(`/operator/users/${props.user.id}/password`, { password });
    props.onDone(t('acct.done.password', { username: props.user.username }));
  });
  return (
    <tr class="op-row-form">
      <td colSpan={props.cols}>
        <form
          ref={ref}
          aria-label={t('acct.passwordFor', { username: props.user.username })}
          onKeyDown={(e) => {
            if (e.key === 'Escape') props.onCancel();
          }}
          onSubmit={(e) => {
            e.preventDefault();
            if ([...password].length < MIN_PASSWORD) {
              save.setError(new Error(t('acct.passwordShort', { n: MIN_PASSWORD })));
              return;
            }
            void save.run();
          }}
        >
          <Field
            label={t('acct.newPassword')}
            type="password"
            name="new-password"
            autoComplete="new-password"
            value={password}
            onInput={setPassword}
            required
            maxLength={128}
            hint={t('acct.passwordHint', { username: props.user.username, n: MIN_PASSWORD })}
          />
          <div class="actions">
            <button type="submit" class="primary" disabled={save.busy}>
              {t('acct.savePassword')}
            </button>
            <button type="button" onClick={props.onCancel}>
              {t('common.cancel')}
            </button>
          </div>
        </form>
        <ErrorNote error={save.error} />
      </td>
    </tr>
  );
}

function CreateUser(props: { onCreated: (msg: string) => void }): JSX.Element {
  const t = useT();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'reviewer' | 'operator'>('reviewer');
  const create = useAction(async () => {
    await post('/operator/users', { username: username.trim(), password, role });
    props.onCreated(t('acct.done.create', { username: username.trim(), role: t(`role.${role}`) }));
    setUsername('');
    setPassword('');
  });
  return (
    <form
      class="card"
      aria-labelledby="acct-create"
      onSubmit={(e) => {
        e.preventDefault();
        if ([...password].length < MIN_PASSWORD) {
          create.setError(new Error(t('acct.passwordShort', { n: MIN_PASSWORD })));
          return;
        }
        void create.run();
      }}
    >
      <h2 id="acct-create">{t('acct.createTitle')}</h2>
      <div class="grid">
        <Field label={t('acct.username')} name="username" value={username} onInput={setUsername} required maxLength={50} autoComplete="off" hint={t('acct.usernameHint')} />
        <Field
          label={t('acct.password')}
          type="password"
          name="password"
          value={password}
          onInput={setPassword}
          required
          maxLength={128}
          autoComplete="new-password"
          hint={t('acct.passwordRule', { n: MIN_PASSWORD })}
        />
        <Select
          label={t('acct.role')}
          name="role"
          value={role}
          onChange={(v) => setRole(v === 'operator' ? 'operator' : 'reviewer')}
          options={[
            { value: 'reviewer', label: t('role.reviewer') },
            { value: 'operator', label: t('role.operator') },
          ]}
        />
      </div>
      <p class="hint">{t('acct.roleHint')}</p>
      <ErrorNote error={create.error} />
      <button type="submit" class="primary" disabled={create.busy}>
        {t('acct.create')}
      </button>
    </form>
  );
}

export default function OpAccounts(): JSX.Element {
  const t = useT();
  const route = useRoute();
  const role = route.query.get('role') ?? '';
  const q = route.query.get('q') ?? '';
  const page = Math.max(1, Number(route.query.get('page')) || 1);
  const me = session.account();

  const [qInput, setQInput] = useState(q);
  useEffect(() => setQInput(q), [q]);
  const [done, setDone] = useState<string | null>(null);
  const [pwFor, setPwFor] = useState<number | null>(null);

  const list = useLoad(
    (signal) =>
      call<{ total: number; items: User[] }>('GET', '/operator/users', { query: { role, q, currentPage: page, pageSize: PAGE_SIZE }, signal }),
    [role, q, page],
  );
  const go = (next: { role?: string; q?: string; page?: number }) => {
    const n = { role, q, page: 1, ...next };
    navigate('/op/accounts', { role: n.role, q: n.q, page: n.page > 1 ? n.page : undefined });
  };

  const act = useAction(async (u: User, what: 'disable' | 'enable' | 'role', newRole?: 'operator' | 'reviewer') => {
    if (what === 'role') {
      await post(`/operator/users/${u.id}/role`, { role: newRole });
      setDone(t('acct.done.role', { username: u.username, role: t(`role.${newRole ?? 'reviewer'}`) }));
    } else {
      await post(`/operator/users/${u.id}/${what}`);
      setDone(t(what === 'disable' ? 'acct.done.disable' : 'acct.done.enable', { username: u.username }));
    }
    list.reload();
  });

  // the form closes: the keyboard goes back to the button that opened it
  const closePw = (id: number) => {
    setPwFor(null);
    setTimeout(() => document.querySelector<HTMLButtonElement>(`[data-pw-toggle="${id}"]`)?.focus(), 0);
  };
  const COLS = 6;
  const data = list.data;
  return (
    <Page title={t('acct.title')}>
      {done !== null ? <Note kind="ok">{done}</Note> : null}
      <CreateUser
        onCreated={(msg) => {
          setDone(msg);
          list.reload();
        }}
      />

      <h2 id="acct-list">{t('acct.listTitle')}</h2>
      <form
        class="card op-filters"
        role="search"
        aria-label={t('acct.filters')}
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: qInput.trim() });
        }}
      >
        <Select
          label={t('acct.filterRole')}
          name="role"
          value={role}
          onChange={(v) => go({ role: v, q: qInput.trim() })}
          options={[
            { value: '', label: t('common.all') },
            { value: 'operator', label: t('role.operator') },
            { value: 'reviewer', label: t('role.reviewer') },
            { value: 'enterprise', label: t('role.enterprise') },
          ]}
        />
        <Field label={t('acct.filterName')} type="search" name="q" value={qInput} onInput={setQInput} maxLength={50} />
        <div class="actions">
          <button type="submit" class="primary">
            {t('common.search')}
          </button>
          <button type="button" onClick={() => go({ role: '', q: '' })}>
            {t('common.reset')}
          </button>
        </div>
      </form>

      <ErrorNote error={list.error} />
      <ErrorNote error={act.error} />
      {list.loading && data === undefined ? <p aria-live="polite">{t('common.loading')}</p> : null}
      {data !== undefined ? (
        <>
          <p class="op-count" aria-live="polite">
            {list.loading ? t('common.loading') : t('acct.count', { total: data.total })}
          </p>
          {data.items.length === 0 ? (
            <p class="muted">{t('acct.empty')}</p>
          ) : (
            <div class="table-wrap">
              <table aria-labelledby="acct-list">
                <thead>
                  <tr>
                    <th scope="col">{t('acct.username')}</th>
                    <th scope="col">{t('acct.role')}</th>
                    <th scope="col">{t('acct.enterprise')}</th>
                    <th scope="col">{t('common.status')}</th>
                    <th scope="col">{t('acct.createdAt')}</th>
                    <th scope="col">{t('common.actions')}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((u) => {
                    const self = me !== null && me.userId === u.id;
                    const other = u.role === 'operator' ? 'reviewer' : 'operator';
                    return [
                      <tr key={u.id}>
                        <td>
                          {u.username}
                          {self ? <span class="muted"> {t('acct.you')}</span> : null}
                        </td>
                        <td>{t(`role.${u.role}`)}</td>
                        <td>{u.role === 'enterprise' ? u.enterpriseId !== null ? <a href={href(`/op/enterprise?id=${u.enterpriseId}`)}>{u.enterpriseName ?? `#${u.enterpriseId}`}</a> : '—' : '—'}</td>
                        <td>{u.disabled ? <span class="badge s0">{t('acct.disabled')}</span> : <span class="badge s1">{t('acct.enabled')}</span>}</td>
                        <td>{when(u.createdAt)}</td>
                        <td class="op-actions">
                          {self ? null : u.disabled ? (
                            <button type="button" disabled={act.busy} onClick={() => void act.run(u, 'enable')}>
                              {t('acct.enable')}
                            </button>
                          ) : (
                            <button type="button" class="danger" disabled={act.busy} onClick={() => void act.run(u, 'disable')}>
                              {t('acct.disable')}
                            </button>
                          )}
                          <button type="button" data-pw-toggle={u.id} aria-expanded={pwFor === u.id} onClick={() => setPwFor(pwFor === u.id ? null : u.id)}>
                            {t('acct.resetPassword')}
                          </button>
                          {self || u.role === 'enterprise' ? null : (
                            <button type="button" disabled={act.busy} onClick={() => void act.run(u, 'role', other)}>
                              {t(other === 'operator' ? 'acct.makeOperator' : 'acct.makeReviewer')}
                            </button>
                          )}
                        </td>
                      </tr>,
                      pwFor === u.id ? (
                        <PasswordRow
                          key={`pw-${u.id}`}
                          user={u}
                          cols={COLS}
                          onCancel={() => closePw(u.id)}
                          onDone={(msg) => {
                            closePw(u.id);
                            setDone(msg);
                          }}
                        />
                      ) : null,
                    ];
                  })}
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
