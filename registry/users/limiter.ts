// Failed-login limits: in-memory sliding-window failure counts per account and per client address, bounded by lru-cache.
import { LRUCache } from 'lru-cache';
import { RegistryError } from '../context.js';
import type { Store } from '../store.js';

export interface LoginLimits {
  /** failures per account within the window before further attempts are refused; default 5 */
  perAccount: number;
  /** failures per client address within the window; default 20 */
  perAddress: number;
  /** default 15 minutes */
  windowMs: number;
  /** most keys remembered per kind (oldest dropped first), bounding memory under address spraying; default 100 000 */
  maxKeys: number;
}

const DEFAULT_LIMITS: LoginLimits = { perAccount: 5, perAddress: 20, windowMs: 15 * 60_000, maxKeys: 100_000 };

/** Failure timestamps (ms) per key, the key whose latest failure is oldest dropped first. */
type Failures = LRUCache<string, number[]>;

/**
 * In-memory failed-login counters (sliding window), per account and per client address. Per process: with N
 * instances an attacker gets N× the budget; the limits are a brake on guessing, not an exact quota.
 */
export class LoginLimiter {
  readonly limits: LoginLimits;
  readonly #accounts: Failures;
  readonly #addresses: Failures;

  constructor(limits: Partial<LoginLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.#accounts = failures(this.limits.maxKeys);
    this.#addresses = failures(this.limits.maxKeys);
  }

  /** Throws RegistryError('locked') when the account or the address has used up its failures. */
  check(account: string, address: string, nowMs: number): void {
    if (
      count(this.#accounts, account, nowMs, this.limits.windowMs) >= this.limits.perAccount ||
      (address !== '' && count(this.#addresses, address, nowMs, this.limits.windowMs) >= this.limits.perAddress)
    ) {
      throw new RegistryError('locked', '登录失败次数过多，请稍后再试 / too many failed logins, try again later');
    }
  }

  failed(account: string, address: string, nowMs: number): void {
    record(this.#accounts, account, nowMs, this.limits);
    if (address !== '') record(this.#addresses, address, nowMs, this.limits);
  }

  succeeded(account: string): void {
    this.#accounts.delete(account);
  }
}

/**
 * At most `maxKeys` keys, least recently recorded dropped first. Bounded by `maxSize` at one unit per key rather than
 * by `max`, which would preallocate arrays for all `maxKeys` entries up front (about 3 MB and 40 ms per map at the
 * default 100 000, for every limiter made); this grows with the keys actually seen.
 */
function failures(maxKeys: number): Failures {
  return new LRUCache<string, number[]>({ maxSize: maxKeys, sizeCalculation: () => 1 });
}

function count(map: Failures, key: string, nowMs: number, windowMs: number): number {
  // peek: a check does not make a key more recent, only a failure does
  const list = map.peek(key);
  if (list === undefined) return 0;
  const recent = list.filter((t) => t > nowMs - windowMs);
  if (recent.length === 0) map.delete(key);
  return recent.length;
}

function record(map: Failures, key: string, nowMs: number, limits: LoginLimits): void {
  const recent = (map.peek(key) ?? []).filter((t) => t > nowMs - limits.windowMs);
  recent.push(nowMs);
  // keep no more than the largest limit needs; set makes the key the most recent and drops the oldest beyond maxKeys
  map.set(key, recent.slice(-Math.max(limits.perAccount, limits.perAddress)));
}

const limiters = new WeakMap<Store, LoginLimiter>();

/** The default limiter of a store (one per store per process), used by login() when none is passed. */
export function limiterFor(store: Store): LoginLimiter {
  let l = limiters.get(store);
  if (l === undefined) {
    l = new LoginLimiter();
    limiters.set(store, l);
  }
  return l;
}
