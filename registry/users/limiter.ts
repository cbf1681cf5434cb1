// Failed-login throttle: growing delays per account+address, per address, and a looser per-account brake, over a shared count store.
import { LRUCache } from 'lru-cache';
import type { Store } from '../store.js';

/**
 * Failure counts by key, shared by every worker and instance that should see the same counts (Redis, see
 * src/throttle-redis.ts), or one process's memory (MemoryThrottleStore).
 */
export interface ThrottleStore {
  /** each key's failures and the time of its latest (null: none remembered, or forgotten by `nowMs`) */
  read(keys: readonly string[], nowMs: number): Promise<(ThrottleCount | null)[]>;
  /** one more failure at `nowMs` for each key; a key is forgotten `ttlMs` after its latest failure */
  hit(keys: readonly string[], nowMs: number, ttlMs: number): Promise<void>;
  /** marks keys as present (count 0) for `ttlMs`, e.g. an account's known-good address */
  mark(keys: readonly string[], nowMs: number, ttlMs: number): Promise<void>;
  clear(keys: readonly string[]): Promise<void>;
}

export interface ThrottleCount {
  count: number;
  lastMs: number;
}

export interface LoginLimits {
  /** failures of one account from one address before each further attempt from there must wait; default 5 */
  perPair: number;
  /** failures from one address (any accounts) before each further attempt from it must wait; default 20 */
  perAddress: number;
  /**
   * failures of one account from all addresses before attempts from addresses that never logged in to it must wait
   * (a brake that slows a distributed attack; its wait is capped at accountMaxDelayMs, and an address the account
   * logged in from within trustMs is not braked at all); default 100
   */
  perAccount: number;
  /** the first wait past a limit; each further failure doubles it; default 1 s */
  baseDelayMs: number;
  /** the longest wait per pair and per address; default 15 minutes */
  maxDelayMs: number;
  /** the longest wait of the per-account brake; default 30 s */
  accountMaxDelayMs: number;
  /** failures are forgotten this long after a key's latest; default 15 minutes */
  windowMs: number;
  /** how long a successful login makes its address known-good for the account; default 30 days */
  trustMs: number;
}

export const DEFAULT_LIMITS: LoginLimits = {
  perPair: 5,
  perAddress: 20,
  perAccount: 100,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
  accountMaxDelayMs: 30_000,
  windowMs: 15 * 60_000,
  trustMs: 30 * 24 * 3600_000,
};

/** An attempt refused before its secret was looked at: retry after `retryAfterMs`. */
export class ThrottledError extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`too many failed logins: retry in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`);
    this.name = 'ThrottledError';
  }

  /** whole seconds to wait (at least 1), for a Retry-After header or a message */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.retryAfterMs / 1000));
  }
}

/** Where failed logins are reported (warn level): never a password, only who, from where, and what happened. */
export type ThrottleLog = (msg: string) => void;

/** The wait after `count` failures against a limit: none below it, then baseDelayMs doubling per failure, capped. */
export function delayFor(count: number, limit: number, baseMs: number, capMs: number): number {
  if (count < limit) return 0;
  const doublings = Math.min(count - limit, 30);
  return Math.min(capMs, baseMs * 2 ** doublings);
}

/**
 * Failed-login throttle for one kind of login (`scope`: SNMS accounts, Basic-auth handle credentials). Keys: the
 * account from one address, the address, and the account from anywhere. Attempts past a limit wait — a delay growing
 * with each failure — instead of locking the account: an attacker at one address never locks the owner out from
 * another, a success from an address clears that account+address count and makes the address known-good (exempt from
 * the per-account brake). With a shared store the counts hold across workers and instances.
 */
export class LoginThrottle {
  readonly limits: LoginLimits;

  constructor(
    private readonly store: ThrottleStore,
    limits: Partial<LoginLimits> = {},
    private readonly log: ThrottleLog = () => {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  private keys(scope: string, account: string, address: string) {
    return {
      pair: `${scope}:pair:${account}\0${address}`,
      address: `${scope}:addr:${address}`,
      account: `${scope}:acct:${account}`,
      trusted: `${scope}:ok:${account}\0${address}`,
    };
  }

  /** Throws ThrottledError when `account` from `address` must wait (the address '' is unknown: not counted alone). */
  async check(scope: string, account: string, address: string, nowMs: number): Promise<void> {
    const k = this.keys(scope, account, address);
    const [pair, addr, acct, trusted] = await this.store.read([k.pair, k.address, k.account, k.trusted], nowMs);
    const L = this.limits;
    const until = (c: ThrottleCount | null | undefined, limit: number, cap: number) => (c ? c.lastMs + delayFor(c.count, limit, L.baseDelayMs, cap) : 0);
    const readyAt = Math.max(
      until(pair, L.perPair, L.maxDelayMs),
      address === '' ? 0 : until(addr, L.perAddress, L.maxDelayMs),
      trusted ? 0 : until(acct, L.perAccount, L.accountMaxDelayMs),
    );
    if (readyAt > nowMs) throw new ThrottledError(readyAt - nowMs);
  }

  /** Counts a failure; logs it, and logs when it makes the account or the address wait. */
  async failed(scope: string, account: string, address: string, nowMs: number): Promise<void> {
    const k = this.keys(scope, account, address);
    const keys = address === '' ? [k.pair, k.account] : [k.pair, k.address, k.account];
    await this.store.hit(keys, nowMs, this.limits.windowMs);
    const [pair, addr, acct] = await this.store.read([k.pair, k.address, k.account], nowMs);
    const who = `${scope} ${JSON.stringify(account)} from ${address === '' ? '(unknown address)' : address}`;
    this.log(`failed login: ${who} (${pair?.count ?? 1} failures from there)`);
    const L = this.limits;
    const waits: string[] = [];
    if (pair && pair.count >= L.perPair) waits.push(`this account from this address waits ${delayFor(pair.count, L.perPair, L.baseDelayMs, L.maxDelayMs)} ms`);
    if (address !== '' && addr && addr.count >= L.perAddress) waits.push(`the address waits ${delayFor(addr.count, L.perAddress, L.baseDelayMs, L.maxDelayMs)} ms`);
    if (acct && acct.count >= L.perAccount) waits.push(`the account waits ${delayFor(acct.count, L.perAccount, L.baseDelayMs, L.accountMaxDelayMs)} ms from addresses it has not logged in from`);
    if (waits.length > 0) this.log(`login throttled: ${who}: ${waits.join('; ')}`);
  }

  /** A success: clears the account+address count and trusts the address for the account. */
  async succeeded(scope: string, account: string, address: string, nowMs: number): Promise<void> {
    const k = this.keys(scope, account, address);
    await this.store.clear([k.pair]);
    await this.store.mark([k.trusted], nowMs, this.limits.trustMs);
  }
}

/**
 * Counts in one process's memory, at most `maxKeys` keys (least recently hit dropped first). Right for a single
 * process; several workers or instances need the shared store (Redis).
 */
export class MemoryThrottleStore implements ThrottleStore {
  readonly #map: LRUCache<string, ThrottleCount & { expiresMs: number }>;

  constructor(maxKeys = 100_000) {
    // bounded by maxSize at one unit a key rather than by `max`, which preallocates for all maxKeys up front
    this.#map = new LRUCache<string, ThrottleCount & { expiresMs: number }>({ maxSize: maxKeys, sizeCalculation: () => 1 });
  }

  async read(keys: readonly string[], nowMs: number): Promise<(ThrottleCount | null)[]> {
    // peek: a check does not make a key more recent, only a failure does
    return keys.map((k) => {
      const c = this.#map.peek(k);
      if (c === undefined) return null;
      if (c.expiresMs <= nowMs) {
        this.#map.delete(k);
        return null;
      }
      return { count: c.count, lastMs: c.lastMs };
    });
  }

  async hit(keys: readonly string[], nowMs: number, ttlMs: number): Promise<void> {
    const current = await this.read(keys, nowMs);
    keys.forEach((k, i) => this.#map.set(k, { count: (current[i]?.count ?? 0) + 1, lastMs: nowMs, expiresMs: nowMs + ttlMs }));
  }

  async mark(keys: readonly string[], nowMs: number, ttlMs: number): Promise<void> {
    for (const k of keys) this.#map.set(k, { count: 0, lastMs: nowMs, expiresMs: nowMs + ttlMs });
  }

  async clear(keys: readonly string[]): Promise<void> {
    for (const k of keys) this.#map.delete(k);
  }
}

const throttles = new WeakMap<Store, LoginThrottle>();

/** A process-local throttle per store, for callers given none (tests, tools); the node composes its own (src/node.ts). */
export function throttleFor(store: Store): LoginThrottle {
  let t = throttles.get(store);
  if (t === undefined) {
    t = new LoginThrottle(new MemoryThrottleStore());
    throttles.set(store, t);
  }
  return t;
}
