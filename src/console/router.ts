// Hash routing for the console (#/path?query): the node's own paths stay free for identifiers (the proxy face).
import { Observable, useObservable } from './store.js';

export interface Route {
  path: string;
  query: URLSearchParams;
}

function parse(): Route {
  const h = location.hash.replace(/^#/, '') || '/';
  const [path = '/', q = ''] = h.split('?', 2);
  return { path: path === '' ? '/' : path, query: new URLSearchParams(q) };
}

const current = new Observable<Route>(parse());
addEventListener('hashchange', () => current.set(parse()));

export const useRoute = (): Route => useObservable(current);

/** Goes to a console path (`/op/queue`, optionally with a query). */
export function navigate(path: string, query?: Record<string, string | number | undefined>): void {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  location.hash = `#${path}${s === '' ? '' : `?${s}`}`;
}

/** The href of a console path, for links. */
export const href = (path: string): string => `#${path}`;
