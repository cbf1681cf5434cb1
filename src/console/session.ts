// Who is logged in to the console: the SNMS Bearer token (kept in sessionStorage, this tab only) and the account it names.
import { Observable } from './store.js';

export type Role = 'operator' | 'reviewer' | 'enterprise';

export interface Account {
  userId: number;
  username: string;
  role: Role;
  enterpriseId: number | null;
}

interface Saved {
  token: string;
  account: Account;
}

const KEY = 'idnode.session';

function load(): Saved | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw === null ? null : (JSON.parse(raw) as Saved);
  } catch {
    return null;
  }
}

const state = new Observable<Saved | null>(load());
/** Set when the node refused the token (expired, the account disabled or its password reset). */
export const expiredNotice = new Observable<boolean>(false);

export const session = {
  state,
  token: (): string | null => state.get()?.token ?? null,
  account: (): Account | null => state.get()?.account ?? null,
  start(token: string, account: Account): void {
    const s = { token, account };
    try {
      sessionStorage.setItem(KEY, JSON.stringify(s));
    } catch {
      // storage refused (private mode): the session lasts as long as the page
    }
    expiredNotice.set(false);
    state.set(s);
  },
  end(): void {
    try {
      sessionStorage.removeItem(KEY);
    } catch {
      // nothing stored
    }
    state.set(null);
  },
  expired(): void {
    session.end();
    expiredNotice.set(true);
  },
};
