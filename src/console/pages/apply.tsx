// Enterprise onboarding: the application form (credit code checked as typed, plan towns, GB/T 4754 section), also used to re-apply after a rejection.
import type { JSX } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { checkCreditCode, checkIndustryCode, creditCodeCheckChar } from '../../../registry/rules.js';
import { get, post } from '../api.js';
import { lang, useT } from '../i18n/index.js';
import { href } from '../router.js';
import { session } from '../session.js';
import { ErrorNote, Field, Note, Page, Select, useAction, useLoad } from '../ui.js';
import './enterprise.css';

/** The node's password policy (registry/users/passwords.ts: MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH). */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
/** registry/users/passwords.ts checkUsername */
const USERNAME_RE = /^[A-Za-z0-9_.@-]{3,50}$/;

/** GB/T 4754-2017 sections (门类), A–T; their names are the dictionary's `apply.industry.<letter>`. */
export const INDUSTRY_LETTERS = 'ABCDEFGHIJKLMNOPQRST'.split('');

/** The half of a bilingual node message (`中文 / English`) in the console's language; the whole when it has no halves. */
export function half(message: string): string {
  const at = message.indexOf(' / ');
  if (at < 0) return message;
  if (lang.get() !== 'en') return message.slice(0, at);
  const en = message.slice(at + 3);
  return en.charAt(0).toUpperCase() + en.slice(1);
}

const errorText = (err: unknown): string => half(err instanceof Error ? err.message : String(err));

/**
 * The credit code as typed so far: '' nothing to say, 'ok' valid, else what is wrong. A partial code is checked by
 * completing it with zeros and its own check character, so only what was typed is judged.
 */
export function creditCodeState(code: string): { ok: boolean; error: string | null; typed: number } {
  const c = code.trim().toUpperCase();
  if (c === '') return { ok: false, error: null, typed: 0 };
  try {
    if (c.length < 18) {
      const first17 = c.padEnd(17, '0');
      checkCreditCode(first17 + creditCodeCheckChar(first17));
      return { ok: false, error: null, typed: c.length };
    }
    checkCreditCode(c);
    return { ok: true, error: null, typed: c.length };
  } catch (err) {
    return { ok: false, error: errorText(err), typed: c.length };
  }
}

/** The finer industry digits (2, 3 or 4) within a section, as the node checks them: null when fine. */
export function industryDetailError(letter: string, digits: string): string | null {
  if (letter === '' || digits.trim() === '') return null;
  try {
    checkIndustryCode(letter + digits.trim());
    return null;
  } catch (err) {
    return errorText(err);
  }
}

/** The four SNMS industry fields from a section letter and optional digits (e.g. C + 3441). */
function industryFields(letter: string, digits: string): Record<string, string> {
  const d = digits.trim();
  const out: Record<string, string> = { industryCategory: letter };
  if (d.length >= 2) out.industrySpecific = d.slice(0, 2);
  if (d.length >= 3) out.industryTrade = d.slice(0, 3);
  if (d.length >= 4) out.industrySubclass = d.slice(0, 4);
  return out;
}

/** What an application says about the enterprise, as the form holds it. */
export interface Details {
  name: string;
  creditCode: string;
  town: string;
  industry: string;
  industryDetail: string;
  address: string;
  contactName: string;
  contactPhone: string;
  contactEmail: string;
}

export const EMPTY_DETAILS: Details = {
  name: '',
  creditCode: '',
  town: '',
  industry: '',
  industryDetail: '',
  address: '',
  contactName: '',
  contactPhone: '',
  contactEmail: '',
};

/** A canonical industry code (C3441) back into the form's section and digits. */
export function splitIndustry(code: string): { industry: string; industryDetail: string } {
  const c = code.trim().toUpperCase();
  return { industry: c.slice(0, 1), industryDetail: c.slice(1) };
}

interface Towns {
  county: string;
  towns: { name: string; targets: Record<string, number> | null }[];
}

/** The hex SHA-256 of a string (a password that looks like a digest is sent as the digest of itself). */
async function sha256hex(s: string): Promise<string> {
  const buf = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s));
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The application form. `reapply`: a rejected enterprise's account applies again — no account fields, the credit
 * code is the enterprise's own (locked), and the node takes the logged-in account from the token.
 */
export function ApplicationForm(props: {
  initial: Details;
  reapply?: boolean;
  onDone: (r: { enterpriseId: number; status: number; username: string }) => void;
  onCancel?: () => void;
}): JSX.Element {
  const t = useT();
  const reapply = props.reapply === true;
  const [d, setD] = useState<Details>(props.initial);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [tried, setTried] = useState(false);
  const towns = useLoad<Towns>(() => get<Towns>('/snms/api/v3/ent/towns'), []);
  const set = (k: keyof Details) => (v: string) => setD((cur) => ({ ...cur, [k]: v }));

  const credit = creditCodeState(d.creditCode);
  const detailError = industryDetailError(d.industry, d.industryDetail);
  const usernameError = !reapply && username !== '' && !USERNAME_RE.test(username.trim()) ? t('apply.usernameBad') : null;
  const pwLen = [...password].length;
  const passwordError = !reapply && password !== '' && (pwLen < PASSWORD_MIN || pwLen > PASSWORD_MAX) ? t('apply.passwordBad', { min: PASSWORD_MIN, max: PASSWORD_MAX }) : null;
  const confirmError = !reapply && confirm !== '' && confirm !== password ? t('apply.confirmBad') : null;
  const problems = [
    credit.ok ? null : credit.error ?? t('apply.creditIncomplete'),
    detailError,
    d.industry === '' ? t('apply.industryMissing') : null,
    usernameError,
    passwordError,
    confirmError,
  ].filter((x): x is string => x !== null);

  const submit = useAction(async () => {
    let pw = password;
    if (!reapply && /^[0-9a-fA-F]{64}$/.test(pw)) {
      // the node reads 64 hex characters as a password's digest: send the digest of this password instead
      if (globalThis.crypto?.subtle === undefined) throw new Error(t('apply.passwordHex'));
      pw = await sha256hex(pw);
    }
    const entBasicInfo: Record<string, string> = {
      orgName: d.name.trim(),
      orgCrtCode: d.creditCode.trim().toUpperCase(),
      town: d.town.trim(),
      ...industryFields(d.industry, d.industryDetail),
      orgAddr: d.address.trim(),
      contactName: d.contactName.trim(),
      contactPhone: d.contactPhone.trim(),
    };
    if (d.contactEmail.trim() !== '') entBasicInfo.contactEmail = d.contactEmail.trim();
    const body = reapply ? { entBasicInfo } : { entBasicInfo, sysUser: { userName: username.trim(), password: pw } };
    const r = await post<{ enterpriseId: number; status: number }>('/snms/api/v3/ent/apply', body);
    props.onDone({ ...r, username: username.trim() });
    return r;
  });

  const townOptions = (towns.data?.towns ?? []).map((x) => ({ value: x.name, label: x.name }));
  if (d.town !== '' && !townOptions.some((o) => o.value === d.town)) townOptions.unshift({ value: d.town, label: d.town });
  const sectionOptions = [
    { value: '', label: t('apply.industryChoose') },
    ...INDUSTRY_LETTERS.map((l) => ({ value: l, label: `${l} ${t(`apply.industry.${l}`)}` })),
  ];

  return (
    <form
      class="card apply-form"
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        if (problems.length > 0) return;
        void submit.run();
      }}
    >
      <fieldset>
        <legend>{t('apply.enterprise')}</legend>
        <div class="grid">
          <Field label={t('apply.name')} value={d.name} onInput={set('name')} required name="orgName" maxLength={255} autoComplete="organization" />
          <Field
            label={t('apply.creditCode')}
            value={d.creditCode}
            onInput={(v) => set('creditCode')(v.toUpperCase().replace(/\s+/g, ''))}
            required
            name="orgCrtCode"
            maxLength={18}
            disabled={reapply}
            error={credit.error ?? (tried && !credit.ok ? t('apply.creditIncomplete') : null)}
            hint={
              credit.ok ? (
                <span class="field-ok">✓ {t('apply.creditOk')}</span>
              ) : (
                t('apply.creditHint', { n: credit.typed })
              )
            }
          />
          {towns.loading ? (
            <p class="muted">{t('apply.townsLoading')}</p>
          ) : towns.error || townOptions.length === 0 ? (
            <Field label={t('apply.town')} value={d.town} onInput={set('town')} required name="town" maxLength={64} hint={t('apply.townFree')} />
          ) : (
            <Select label={t('apply.town')} value={d.town} onChange={set('town')} required name="town" options={[{ value: '', label: t('apply.townChoose') }, ...townOptions]} />
          )}
          <Select label={t('apply.industry')} value={d.industry} onChange={set('industry')} required name="industryCategory" options={sectionOptions} />
          <Field
            label={t('apply.industryDetail')}
            value={d.industryDetail}
            onInput={(v) => set('industryDetail')(v.replace(/\D+/g, ''))}
            name="industryDetail"
            maxLength={4}
            error={detailError}
            hint={t('apply.industryDetailHint')}
          />
          <Field label={t('apply.address')} value={d.address} onInput={set('address')} required name="orgAddr" maxLength={255} autoComplete="street-address" />
        </div>
      </fieldset>
      <fieldset>
        <legend>{t('apply.contact')}</legend>
        <div class="grid">
          <Field label={t('apply.contactName')} value={d.contactName} onInput={set('contactName')} required name="contactName" maxLength={128} autoComplete="name" />
          <Field label={t('apply.contactPhone')} type="tel" value={d.contactPhone} onInput={set('contactPhone')} required name="contactPhone" maxLength={32} autoComplete="tel" hint={t('apply.contactPhoneHint')} />
          <Field label={t('apply.contactEmail')} type="email" value={d.contactEmail} onInput={set('contactEmail')} name="contactEmail" maxLength={128} autoComplete="email" />
        </div>
      </fieldset>
      {reapply ? null : (
        <fieldset>
          <legend>{t('apply.account')}</legend>
          <p class="hint">{t('apply.accountHint')}</p>
          <div class="grid">
            <Field label={t('apply.username')} value={username} onInput={setUsername} required name="username" maxLength={50} autoComplete="username" error={usernameError} hint={t('apply.usernameHint')} />
            <Field
              label={t('apply.password')}
              type="password"
              value={password}
              onInput={setPassword}
              required
              name="password"
              maxLength={PASSWORD_MAX}
              autoComplete="new-password"
              error={passwordError}
              hint={t('apply.passwordHint', { min: PASSWORD_MIN, max: PASSWORD_MAX })}
            />
            <Field label={t('apply.confirm')} type="password" value={confirm} onInput={setConfirm} required name="confirm" maxLength={PASSWORD_MAX} autoComplete="new-password" error={confirmError} />
          </div>
        </fieldset>
      )}
      {tried && problems.length > 0 ? (
        <div class="note warn" role="alert">
          {t('apply.fixFirst')}
          <ul>
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {submit.error ? <p class="field-error">{t(reapply ? 'apply.reapplyFailed' : 'apply.failed')}</p> : null}
      <ErrorNote error={submit.error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={submit.busy}>
          {submit.busy ? t('apply.busy') : t(reapply ? 'apply.resubmit' : 'apply.submit')}
        </button>
        {props.onCancel ? (
          <button type="button" onClick={props.onCancel}>
            {t('common.cancel')}
          </button>
        ) : null}
      </div>
    </form>
  );
}

/** The answer to a submitted application: its number, its status, and how to follow it. */
function Submitted(props: { enterpriseId: number; username: string }): JSX.Element {
  const t = useT();
  const ref = useRef<HTMLHeadingElement>(null);
  const id = useId();
  useEffect(() => ref.current?.focus(), []);
  return (
    <div class="card" role="status" aria-labelledby={id}>
      <h2 id={id} ref={ref} tabIndex={-1}>
        {t('apply.doneTitle')}
      </h2>
      <dl class="facts">
        <dt>{t('apply.number')}</dt>
        <dd>
          <strong data-testid="application-number">{props.enterpriseId}</strong>
        </dd>
        <dt>{t('common.status')}</dt>
        <dd>
          <span class="badge s4">{t('my.status.4')}</span>
        </dd>
        <dt>{t('apply.username')}</dt>
        <dd>{props.username}</dd>
      </dl>
      <p>{t('apply.doneNext', { username: props.username })}</p>
      <p>
        <a class="button primary" href={href('/login?next=/my')}>
          {t('apply.doneLogin')}
        </a>
      </p>
    </div>
  );
}

export default function Apply(): JSX.Element {
  const t = useT();
  const account = session.account();
  const [done, setDone] = useState<{ enterpriseId: number; username: string } | null>(null);
  return (
    <Page title={t('apply.title')}>
      {account !== null ? (
        <Note kind="warn">
          {account.role === 'enterprise' ? (
            <>
              {t('apply.loggedInEnterprise', { username: account.username })} <a href={href('/my')}>{t('nav.myApplication')}</a>
            </>
          ) : (
            t('apply.loggedInStaff', { username: account.username })
          )}
        </Note>
      ) : done !== null ? (
        <Submitted enterpriseId={done.enterpriseId} username={done.username} />
      ) : (
        <>
          <p>{t('apply.intro')}</p>
          <ApplicationForm initial={EMPTY_DETAILS} onDone={(r) => setDone({ enterpriseId: r.enterpriseId, username: r.username })} />
          <p class="hint">
            {t('apply.haveAccount')} <a href={href('/login?next=/my')}>{t('nav.login')}</a>
          </p>
        </>
      )}
    </Page>
  );
}
