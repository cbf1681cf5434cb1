// The console's languages: Chinese first, English switchable (kept in localStorage); t() looks a key up in every page's dictionary.
import { Observable, useObservable } from '../store.js';
import common from './common.js';
import enterprise from './enterprise.js';
import identifiers from './identifiers.js';
import operator from './operator.js';
import ops from './ops.js';

export type Lang = 'zh' | 'en';
export type Dictionary = { zh: Record<string, string>; en: Record<string, string> };

/** Every page's strings, merged (a key must be unique across the dictionaries: test/console/i18n.test.ts checks). */
export const DICTIONARIES: Record<string, Dictionary> = { common, operator, enterprise, identifiers, ops };
const merged: Record<Lang, Record<string, string>> = { zh: {}, en: {} };
for (const d of Object.values(DICTIONARIES)) {
  Object.assign(merged.zh, d.zh);
  Object.assign(merged.en, d.en);
}

const KEY = 'idnode.lang';
function initial(): Lang {
  try {
    return localStorage.getItem(KEY) === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
}

export const lang = new Observable<Lang>(initial());
function apply(l: Lang): void {
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  document.title = merged[l]['app.title'] ?? 'idnode';
}
apply(lang.get());
lang.subscribe((l) => {
  apply(l);
  try {
    localStorage.setItem(KEY, l);
  } catch {
    // not kept: the choice lasts as long as the page
  }
});

/** The string for `key` in the current language, `{name}` placeholders filled from `vars`. */
export function t(key: string, vars?: Record<string, string | number>): string {
  const l = lang.get();
  let s = merged[l][key] ?? merged.zh[key] ?? key;
  if (vars !== undefined) s = s.replace(/\{(\w+)\}/g, (m, k: string) => (vars[k] === undefined ? m : String(vars[k])));
  return s;
}

/** Renders the component again when the language changes; returns t. */
export function useT(): typeof t {
  useObservable(lang);
  return t;
}
