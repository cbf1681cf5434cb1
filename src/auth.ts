// Who is asking, and may they: Basic auth against HS_SECKEY values, and HS_ADMIN-based authorization.
import { createHash } from 'node:crypto';
import { adminPermits, adminRefsFor, type AdminOp } from '../handle/admin.js';
import { HandleError, RC } from '../handle/codes.js';
import { parseHandle, prefixOfPrefixRecord, prefixRecordHandle, type CasePolicy, type HandleId } from '../handle/identifier.js';
import type { Principal } from '../registry/context.js';
import { TYPE } from '../handle/types.js';
import { verifySecret } from '../registry/secrets.js';
import type { Resolver } from '../resolver/types.js';

export interface Identity {
  /** set when the caller sent an SNMS Bearer token instead of Handle credentials */
  principal?: Principal;
  /** as given, e.g. `0.NA/88.320924` */
  handle: string;
  key: string;
  index: number;
  isNodeAdmin: boolean;
  /** `300:0.NA/88.320924`, the audit actor */
  id: string;
}

const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_MAX = 10_000;

export class Authenticator {
  /** successful verifications, so a client's every request does not pay for scrypt */
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly resolver: Resolver,
    private readonly policy: CasePolicy,
    private readonly nodeAdmin: { key: string; index: number },
    private readonly isHomed: (id: HandleId) => boolean,
    private readonly tokens: {
      verify(token: string): Promise<Principal>;
      scope(p: Principal, mode: 'read' | 'write'): Promise<(prefixKey: string) => boolean>;
    },
  ) {}

  /**
   * null when the request carries no credentials; an Identity when they check out; otherwise throws
   * HandleError 404 (unreadable credentials) or 403 (authentication failed).
   */
  async authenticate(header: string | undefined): Promise<Identity | null> {
    if (header === undefined || header.trim() === '') return null;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) {
      let principal: Principal;
      try {
        principal = await this.tokens.verify(bearer[1]!);
      } catch {
        throw new HandleError(RC.AUTHENTICATION_FAILED, 'Token invalid or expired');
      }
      const id = `user:${principal.username}`;
      return { principal, handle: '', key: '', index: 0, isNodeAdmin: principal.role === 'operator', id };
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
    if (!Number.isInteger(index) || index < 1 || index > 0x7fffffff) {
      throw new HandleError(RC.INVALID_CREDENTIAL, 'Username must be index:handle, e.g. 300%3A0.NA/88.320924');
    }
    let id: HandleId;
    try {
      id = parseHandle(username.slice(sep + 1), this.policy);
    } catch {
      throw new HandleError(RC.INVALID_CREDENTIAL, 'Username must be index:handle, e.g. 300%3A0.NA/88.320924');
    }
    const res = await this.resolver.resolve(id.key);
    const secret = res.found
      ? res.record.values.find((v) => v.index === index && v.type.toUpperCase() === TYPE.SECKEY)
      : undefined;
    if (secret === undefined || secret.data.format !== 'string') {
      throw new HandleError(RC.AUTHENTICATION_FAILED, 'Authentication failed');
    }
    const stored = secret.data.value;
    const cacheKey = createHash('sha256').update(`${id.key}\0${index}\0${stored}\0${password}`).digest('base64');
    const now = Date.now();
    const until = this.verified.get(cacheKey);
    if (until === undefined || until < now) {
      if (!(await verifySecret(stored, password))) throw new HandleError(RC.AUTHENTICATION_FAILED, 'Authentication failed');
      if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
      this.verified.set(cacheKey, now + VERIFIED_TTL_MS);
    }
    return {
      handle: id.handle,
      key: id.key,
      index,
      isNodeAdmin: id.key === this.nodeAdmin.key && index === this.nodeAdmin.index,
      id: `${index}:${id.handle}`,
    };
  }

  /**
   * Throws unless `who` may do `op` on `target`. The node admin (or an operator's token) may do anything under the
   * node's prefix; an enterprise token, anything under its own enabled prefixes. Handle credentials need an HS_ADMIN
   * value naming them with that permission, on the handle itself or on its prefix record `0.NA/<prefix>` (only the
   * prefix record when creating a handle or listing a prefix), and the prefix must not be suspended.
   */
  async authorize(who: Identity, target: HandleId, op: AdminOp, onPrefixRecord: boolean): Promise<void> {
    if (!this.isHomed(target)) throw new HandleError(RC.SERVER_NOT_RESP, 'Server not responsible for handle');
    if (who.isNodeAdmin) return;
    const subject = prefixOfPrefixRecord(target) ?? target.prefixKey;
    if (who.principal !== undefined) {
      if ((await this.tokens.scope(who.principal, op === 'readValue' ? 'read' : 'write'))(subject)) return;
      throw new HandleError(RC.INSUFFICIENT_PERMISSIONS, `${who.id} may not ${op} under ${target.prefix}`);
    }
    if (this.resolver.isPrefixHidden(subject)) {
      throw new HandleError(RC.INSUFFICIENT_PERMISSIONS, `Prefix ${target.prefix} is suspended`);
    }
    // Admins named by the handle itself, and the prefix's admins (its 0.NA record), who administer every handle
    // under it — what SNMS-registered identifiers, which carry no HS_ADMIN of their own, rely on.
    const prefixRecord = parseHandle(prefixRecordHandle(target.prefix), this.policy);
    const holders = onPrefixRecord || prefixRecord.key === target.key ? [prefixRecord] : [target, prefixRecord];
    const refs: ReturnType<typeof adminRefsFor> = [];
    for (const h of holders) {
      const res = await this.resolver.resolve(h.key, { includeHidden: true });
      if (res.found) refs.push(...adminRefsFor(res.record.values));
    }
    const holder = holders[0]!;
    const mine = refs.filter((r) => {
      try {
        const k = parseHandle(r.handle, this.policy).key;
        return k === who.key && (r.index === who.index || r.index === 0);
      } catch {
        return false;
      }
    });
    if (mine.length === 0) throw new HandleError(RC.INVALID_ADMIN, `${who.id} is not an administrator of ${holder.handle}`);
    if (!mine.some((r) => adminPermits(r.permissions, op))) {
      throw new HandleError(RC.INSUFFICIENT_PERMISSIONS, `${who.id} lacks the ${op} permission on ${holder.handle}`);
    }
  }

  /** May `who` read non-public values of `target`? (never throws) */
  async mayReadRestricted(who: Identity | null, target: HandleId): Promise<boolean> {
    if (who === null) return false;
    try {
      await this.authorize(who, target, 'readValue', false);
      return true;
    } catch {
      return false;
    }
  }
}
