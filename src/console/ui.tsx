// Shared console widgets: labelled fields, messages, paging, progress, and a hook for data loaded from the node.
import type { ComponentChildren, InputHTMLAttributes, JSX } from 'preact';
import { useCallback, useEffect, useId, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { t, useT } from './i18n/index.js';

/**
 * A field's label: its text alone (so the control's accessible name is exactly the text), the required mark beside
 * it, hidden from assistive technology (the control says `required` itself).
 */
function Label(props: { for: string; text: string; required: boolean | undefined }): JSX.Element {
  return (
    <div class="label-row">
      <label for={props.for}>{props.text}</label>
      {props.required ? (
        <span class="req" aria-hidden="true">
          *
        </span>
      ) : null}
    </div>
  );
}

/** A labelled text input (every form field has a visible label tied to it). */
export function Field(props: {
  label: string;
  value: string;
  onInput: (v: string) => void;
  type?: 'text' | 'password' | 'email' | 'tel' | 'search' | 'number' | 'url' | 'date' | 'datetime-local';
  required?: boolean;
  placeholder?: string;
  hint?: ComponentChildren;
  error?: string | null;
  autoComplete?: string;
  name?: string;
  maxLength?: number;
  disabled?: boolean;
}): JSX.Element {
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <Label for={id} text={props.label} required={props.required} />
      <input
        {...({
          id,
          name: props.name,
          type: props.type ?? 'text',
          value: props.value,
          required: props.required,
          placeholder: props.placeholder,
          autoComplete: props.autoComplete,
          maxLength: props.maxLength,
          disabled: props.disabled,
          'aria-invalid': props.error ? 'true' : undefined,
          'aria-describedby': props.hint || props.error ? hintId : undefined,
          onInput: (e: Event) => props.onInput((e.currentTarget as HTMLInputElement).value),
        } as InputHTMLAttributes<HTMLInputElement>)}
      />
      {props.error ? (
        <div id={hintId} class="field-error">
          {props.error}
        </div>
      ) : props.hint ? (
        <div id={hintId} class="hint">
          {props.hint}
        </div>
      ) : null}
    </div>
  );
}

/** A labelled select. */
export function Select(props: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  options: { value: string; label: string }[];
  required?: boolean;
  name?: string;
}): JSX.Element {
  const id = useId();
  return (
    <div class="field">
      <Label for={id} text={props.label} required={props.required} />
      <select id={id} name={props.name} value={props.value} required={props.required} onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A labelled multi-line text area. */
export function TextArea(props: { label: string; value: string; onInput: (v: string) => void; required?: boolean; rows?: number; name?: string }): JSX.Element {
  const id = useId();
  return (
    <div class="field">
      <Label for={id} text={props.label} required={props.required} />
      <textarea id={id} name={props.name} rows={props.rows ?? 3} value={props.value} required={props.required} onInput={(e) => props.onInput((e.currentTarget as HTMLTextAreaElement).value)} />
    </div>
  );
}

/** An error message for the user (announced by screen readers). */
export function ErrorNote(props: { error: unknown }): JSX.Element | null {
  useT();
  if (props.error === null || props.error === undefined) return null;
  return (
    <div class="note error" role="alert">
      {t('common.error', { message: messageOf(props.error) })}
    </div>
  );
}

/** A success or information message. */
export function Note(props: { kind?: 'ok' | 'info' | 'warn'; children: ComponentChildren }): JSX.Element {
  return (
    <div class={`note ${props.kind ?? 'info'}`} role="status">
      {props.children}
    </div>
  );
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Previous / next paging with the position in words. */
export function Pager(props: { page: number; pageSize: number; total: number; onPage: (p: number) => void }): JSX.Element | null {
  useT();
  const pages = Math.max(1, Math.ceil(props.total / props.pageSize));
  return (
    <nav class="pager" aria-label={t('common.page', { page: props.page, pages, total: props.total })}>
      <button type="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        {t('common.prev')}
      </button>
      <span>{t('common.page', { page: props.page, pages, total: props.total })}</span>
      <button type="button" disabled={props.page >= pages} onClick={() => props.onPage(props.page + 1)}>
        {t('common.next')}
      </button>
    </nav>
  );
}

/** A progress bar with its figure in words. */
export function Progress(props: { value: number; max: number; label: string }): JSX.Element {
  const pct = props.max <= 0 ? 0 : Math.floor((props.value / props.max) * 100);
  return (
    <div class="progress">
      <progress value={props.value} max={Math.max(1, props.max)} aria-label={props.label} />
      <span>
        {props.label}: {props.value} / {props.max} ({pct}%)
      </span>
    </div>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Data loaded from the node when `deps` change: data, error, loading, and reload(). */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    setError(null);
    load(ctl.signal).then(
      (d) => {
        if (ctl.signal.aborted) return;
        setData(d);
        setLoading(false);
      },
      (err: unknown) => {
        if (ctl.signal.aborted) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** Runs an action with busy / error state (a form's submit). */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>): {
  run: (...args: A) => Promise<R | undefined>;
  busy: boolean;
  error: unknown;
  setError: (e: unknown) => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (...args: A): Promise<R | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn(...args);
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, setError };
}

/** A page's frame: its heading (focused on arrival, for keyboard and screen-reader users) and content. */
export function Page(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }): JSX.Element {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {props.title}
        </h1>
        {props.actions ? <div class="page-actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

/** A date-time in the console's language (Asia/Shanghai, as the county reads it). */
export function when(iso: string | number | Date | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(document.documentElement.lang === 'en' ? 'en-GB' : 'zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
}
