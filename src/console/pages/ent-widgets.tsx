// Widgets shared by the enterprise identifier pages: the enterprise's prefixes (loaded once, with what to do when there are none) and the prefix chooser.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useT } from '../i18n/index.js';
import { href } from '../router.js';
import { ErrorNote, Note, Select, useLoad, type Loaded } from '../ui.js';
import { checkVersion, enabledItems, loadMine, loadTemplate, type Mine, type PrefixInfo, type Template } from './ent-common.js';

export const useMine = (): Loaded<Mine> => useLoad((signal) => loadMine(signal), []);

/** The page's content once the enterprise's prefixes are known; until then, or without any, what is happening and what to do. */
export function MineGate(props: { mine: Loaded<Mine>; children: (m: Mine) => ComponentChildren }): JSX.Element {
  const t = useT();
  const { mine } = props;
  if (mine.data === undefined) {
    if (mine.error) {
      return (
        <div>
          <ErrorNote error={mine.error} />
          <button type="button" onClick={mine.reload}>
            {t('common.retry')}
          </button>
        </div>
      );
    }
    return <p aria-live="polite">{t('common.loading')}</p>;
  }
  const m = mine.data;
  if (m.prefixes.length === 0) {
    return (
      <Note kind="warn">
        {t('ids.noPrefix')} <a href={href('/my')}>{t('ids.toMy')}</a>
      </Note>
    );
  }
  return (
    <>
      {m.enterprise.status !== 1 ? (
        <Note kind="warn">
          {t('ids.notActive', { status: m.enterprise.statusName ?? String(m.enterprise.status) })}
          {m.enterprise.reason ? ` ${t('ids.reason', { reason: m.enterprise.reason })}` : ''} <a href={href('/my')}>{t('ids.toMy')}</a>
        </Note>
      ) : null}
      {props.children(m)}
    </>
  );
}

/** The prefix to work under: a select when the enterprise has several, else the one shown. */
export function PrefixField(props: { prefixes: PrefixInfo[]; value: string; onChange: (p: string) => void }): JSX.Element {
  const t = useT();
  if (props.prefixes.length > 1) {
    return <Select label={t('ids.prefix')} value={props.value} onChange={props.onChange} options={props.prefixes.map((p) => ({ value: p.prefix, label: p.prefix }))} />;
  }
  return (
    <p class="ent-prefix">
      <span class="muted">{t('ids.prefixIs')}</span>
      <code>{props.value}</code>
    </p>
  );
}

export type TemplateState =
  | { status: 'idle' | 'loading' | 'missing' }
  | { status: 'ok'; template: Template }
  | { status: 'error'; error: unknown };

/** The template of `prefix` + `version`, looked up a moment after the version stops changing. */
export function useTemplate(prefix: string, version: string): TemplateState {
  const [state, setState] = useState<TemplateState>({ status: 'idle' });
  useEffect(() => {
    const v = version.trim();
    if (v === '' || checkVersion(v) !== null) {
      setState({ status: 'idle' });
      return;
    }
    let live = true;
    setState({ status: 'loading' });
    const timer = setTimeout(() => {
      loadTemplate(prefix, v).then(
        (template) => live && setState({ status: 'ok', template }),
        (error: unknown) => {
          if (!live) return;
          const missing = error instanceof Error && /模板不存在|template not found/i.test(error.message);
          setState(missing ? { status: 'missing' } : { status: 'error', error });
        },
      );
    }, 400);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [prefix, version]);
  return state;
}

/** What is known of the template a version names: loading, found (items), not found (where to create it), unreadable. */
export function TemplateHint(props: { tpl: TemplateState; version: string; idle: string }): JSX.Element {
  const t = useT();
  const { tpl } = props;
  if (tpl.status === 'loading') return <>{t('ids.tplLoading')}</>;
  if (tpl.status === 'ok') {
    const items = enabledItems(tpl.template);
    return <>{t('ids.tplFound', { version: tpl.template.version, n: items.length, required: items.filter((it) => it.required).length })}</>;
  }
  if (tpl.status === 'missing') {
    return (
      <span class="field-error">
        {t('ids.tplMissing', { version: props.version.trim() })}
        <a href={href('/ent/templates')}>{t('ids.toTemplates')}</a>
      </span>
    );
  }
  if (tpl.status === 'error') return <span class="field-error">{t('ids.tplError')}</span>;
  return <>{props.idle}</>;
}
