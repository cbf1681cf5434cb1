// Who is asking on the HTTP faces: Basic credentials checked against HS_SECKEY values, or an SNMS Bearer token.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { HandleError, RC } from '../handle/codes.js';
import { parseHandle, type CasePolicy } from '../handle/identifier.js';
import { TYPE } from '../handle/types.js';
import type { Requester } from '../registry/access.js';
import { RegistryError, type Principal } from '../registry/context.js';
import { SecretsBusyError, verifySecret } from '../registry/secrets.js';
import { ThrottledError, type LoginThrottle } from '../registry/users/limiter.js';
import type { Resolver } from '../resolver/types.js';

const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_MAX = 10_000;

export interface CredentialsDeps {
  resolver: Resolver;
  policy: CasePolicy;
  /** checks an SNMS token; throws when it is invalid or expired */
  verifyToken(token: string): Promise<Principal>;
  /** failed Basic-auth attempts, per credential (index:handle) and client address, shared by workers and instances */
  throttle: LoginThrottle;
  /** the clock (tests); default Date.now */
  nowMs?: () => number;
}

/** The throttle scope of Basic-auth handle credentials (SNMS accounts have their own). */
export const BASIC_SCOPE = 'handle';

export class Credentials {
  /** successful verifications (a digest of handle, index, stored hash and secret), so a client's every request does not pay for scrypt */
  private readonly verified = new LRUCache<string, true>({ max: VERIFIED_MAX, ttl: VERIFIED_TTL_MS });

  constructor(private readonly d: CredentialsDeps) {}

  /**
   * null when the request carries no credentials; the requester when they check out; otherwise throws HandleError
   * 404 (unreadable credentials), 403 (authentication failed, or too many recent failures of this credential from
   * `address` or of `address`: the message says when to retry) or 3 (too busy checking secrets: retry shortly).
   */
  async authenticate(header: string | undefined, address = ''): Promise<Requester | null> {
    if (header === undefined || header.trim() === '') return null;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) {
      try {
        return { kind: 'user', principal: await this.d.verifyToken(bearer[1]!) };
      } catch (err) {
        // only a token found wrong is an auth failure; one that cannot be checked (store out of reach) goes on as that
        if (err instanceof RegistryError) throw new HandleError(RC.AUTHENTICATION_FAILED, 'Token invalid or expired');
        throw err;
      }
    }
    const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
    if (!m) throw new HandleError(RC.INVALID_CREDENTIAL, 'Unsupported Authorization header: use Basic with index%3Ahandle, or an SNMS Bearer token');
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new HandleError(RC.INVALID_CREDENTIAL, 'Basic credentials need username:password');
    let username: string;
    try {
      username = decodeURIComponent(decoded.slice(0, colon));
    } catch {
      throw new HandleError(RC.INVALID_CREDENTIAL, 'Username is not valid percent-encoding');
    }
    const password = decoded.slice(colon + 1);
    const sep = username.indexOf(':');
    const index = sep > 0 ? Number(username.slice(0, sep)) : NaN;
    const usage = 'Username must be index:handle, e.g. 300%3A0.NA/88.320924';
    if (!Number.isInteger(index) || index < 1 || index > 0x7fffffff) throw new HandleError(RC.INVALID_CREDENTIAL, usage);
    let id;
    try {
      id = parseHandle(username.slice(sep + 1), this.d.policy);
    } catch {
      throw new HandleError(RC.INVALID_CREDENTIAL, usage);
    }
    const account = `${index}:${id.key}`;
    const nowMs = (this.d.nowMs ?? Date.now)();
    try {
      // before anything is looked at: a throttled guess learns nothing, not even from a cached success
      await this.d.throttle.check(BASIC_SCOPE, account, address, nowMs);
    } catch (err) {
      if (err instanceof ThrottledError) {
        throw new HandleError(RC.AUTHENTICATION_FAILED, `Too many failed authentications as ${index}:${id.handle} from this address: retry in ${err.retryAfterSeconds} s`);
      }
      throw err;
    }
    const res = await this.d.resolver.resolve(id.key);
    const secret = res.found ? res.record.values.find((v) => v.index === index && v.type.toUpperCase() === TYPE.SECKEY) : undefined;
    const stored = secret !== undefined && secret.data.format === 'string' ? secret.data.value : null;
    const cacheKey = createHash('sha256').update(`${id.key}\0${index}\0${stored}\0${password}`).digest('base64');
    if (stored === null || this.verified.get(cacheKey) === undefined) {
      let ok: boolean;
      try {
        ok = stored !== null && (await verifySecret(stored, password));
      } catch (err) {
        if (err instanceof SecretsBusyError) throw new HandleError(RC.SERVER_TOO_BUSY, `Server busy checking credentials: retry in a second`);
        throw err;
      }
      if (!ok) {
        await this.d.throttle.failed(BASIC_SCOPE, account, address, nowMs);
        throw new HandleError(RC.AUTHENTICATION_FAILED, 'Authentication failed');
      }
      this.verified.set(cacheKey, true);
      await this.d.throttle.succeeded(BASIC_SCOPE, account, address, nowMs);
    }
    return { kind: 'credential', handle: id.handle, key: id.key, index };
  }
}
