// The recursion layer: keys this node does not answer from its store are resolved at the prefix's own service, found through `0.NA/` records (HS_SITE, HS_SITE.PREFIX, HS_SERV) — bounded by a deadline, a depth cap and loop detection.
import { HandleError, RC } from '../../handle/codes.js';
import { asciiUpper, PREFIX_RECORD_PREFIX } from '../../handle/identifier.js';
import type { HandleValue } from '../../handle/types.js';
import { decodeErrorBody, decodeResolutionResponse, encodeResolutionRequest } from '../../handle/wire/body.js';
import { OC, OPFLAG, type Message } from '../../handle/wire/message.js';
import type { SiteInfo } from '../../handle/wire/site.js';
import type { Clock } from '../clock.js';
import type { Counters } from '../counters.js';
import { recordFromValues } from '../record.js';
import { endpointsOf, serverOrder, serviceHandles, sitesFromValues, type SiteKind } from '../remote/sites.js';
import { endpointText, exchange, ExchangeError, type Endpoint } from '../remote/wire-client.js';
import type { Layer, Lookup, LookupOptions, ResolvedRecord, Trail } from '../types.js';

export interface RecursionOptions {
  /** false: nothing is asked of other servers; keys not answered here fail with RC 301 */
  enabled: boolean;
  /** whether a key is answered from this node's store (everything else is recursion's) */
  isLocal(key: string): boolean;
  /** whether a key is under a prefix served at its enterprise's own node (a prefix record: strictly under one) */
  selfHosted(key: string): boolean;
  /**
   * The sites of a prefix record `0.NA/<p>` this node does not hold itself: for a prefix derived from one of its
   * self-hosted enterprise prefixes, that prefix's record (its key); otherwise null, and the upstream is asked.
   */
  delegatingRecordKey(prefixKey: string): string | null;
  /** the canonical key of a handle a value names (null: not a handle) */
  keyOf(handle: string): string | null;
  /** the configured upstream (the national top-level node): asked for every prefix record not delegated here */
  upstream: readonly SiteInfo[];
  /** ms a whole remote resolution may take */
  timeoutMs: number;
  /** ms one exchange with one server interface may take */
  attemptMs: number;
  /** referrals and service lookups followed at most, one resolution */
  maxDepth: number;
  /** remote resolutions running at once at most (beyond: RC 3, busy) */
  maxInFlight: number;
}

/** Exchanges one resolution may make at most (each server interface of each site it is sent to). */
const MAX_EXCHANGES = 32;
const RECORD_KEY_PREFIX = `${PREFIX_RECORD_PREFIX}/`;

/** What one server said about a handle, once referrals are followed. */
type Answer = { found: true; handle: string; values: HandleValue[] } | { found: false };

function prefixKeyOf(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? key : key.slice(0, slash);
}

function failure(message: string, code: number = RC.ERROR): HandleError {
  return new HandleError(code, message);
}

export class RecursionLayer implements Layer {
  /** the top of the pipeline: service records are looked up through every cache (set once the pipeline is built) */
  top: Layer | null = null;
  private running = 0;

  constructor(
    private readonly inner: Layer,
    private readonly o: RecursionOptions,
    private readonly clock: Clock,
    private readonly counters: Counters,
  ) {}

  async lookup(key: string, opts: LookupOptions): Promise<Lookup> {
    if (this.o.isLocal(key)) return this.inner.lookup(key, opts);
    const selfHosted = this.o.selfHosted(key);
    if (!this.o.enabled && selfHosted) throw failure(`${prefixKeyOf(key)} is served by its enterprise's own node and recursion is off here: ask that node`, RC.SERVER_NOT_RESP);
    // nowhere to ask (recursion off, or no upstream for what is not delegated here): the store answers, as without recursion
    if (!this.o.enabled || (!selfHosted && this.o.upstream.length === 0)) return this.inner.lookup(key, opts);
    const outer = opts.trail;
    if (outer !== undefined) {
      if (outer.keys.includes(key)) throw failure(`Referral loop: resolving ${outer.keys[0]} needs ${key} again (${[...outer.keys, key].join(' → ')})`);
      if (outer.depth >= this.o.maxDepth) throw failure(`Recursion deeper than ${this.o.maxDepth} steps resolving ${outer.keys[0]}`, RC.RECURSION_COUNT_TOO_HIGH);
    } else if (this.running >= this.o.maxInFlight) {
      throw failure('The node is resolving too many identifiers at other nodes: retry shortly', RC.SERVER_TOO_BUSY);
    }
    const trail: Trail = outer === undefined
      ? { deadline: this.clock.now() + this.o.timeoutMs, depth: 0, keys: [key], asked: new Set() }
      : { ...outer, depth: outer.depth + 1, keys: [...outer.keys, key] };
    if (outer === undefined) this.running++;
    this.counters.remoteLookups++;
    try {
      const record = await this.withDeadline(this.resolveRemote(key, trail, opts.authoritative === true), trail, key);
      return { record, tier: 'remote', stale: false, expiresAt: null, cacheable: true };
    } catch (e) {
      this.counters.remoteFailures++;
      throw e;
    } finally {
      if (outer === undefined) this.running--;
    }
  }

  forget(keys: readonly string[] | null): void {
    this.inner.forget(keys);
  }

  private withDeadline<T>(p: Promise<T>, trail: Trail, key: string): Promise<T> {
    const left = trail.deadline - this.clock.now();
    if (left <= 0) return Promise.reject(failure(`No answer for ${key} within ${this.o.timeoutMs} ms`));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(failure(`No answer for ${trail.keys[0]} within ${this.o.timeoutMs} ms (asked ${[...trail.asked].length} server interfaces)`)), left);
      timer.unref();
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }

  private async resolveRemote(key: string, trail: Trail, authoritative: boolean): Promise<ResolvedRecord | null> {
    const sites = await this.sitesFor(key, trail);
    if (sites.length === 0) return null; // no service anywhere: the prefix does not exist
    const a = await this.ask(sites, key, trail, authoritative);
    if (!a.found) return null;
    return recordFromValues(a.handle, key, a.values, Math.floor(this.clock.now() / 1000));
  }

  /** The sites answering for `key`: its prefix record's (looked up through the pipeline), or the upstream's for a prefix record. */
  private async sitesFor(key: string, trail: Trail): Promise<SiteInfo[]> {
    if (key.startsWith(RECORD_KEY_PREFIX)) {
      const delegating = this.o.delegatingRecordKey(key.slice(RECORD_KEY_PREFIX.length));
      if (delegating === null) {
        if (this.o.upstream.length === 0) throw failure(`This node does not home ${key.slice(RECORD_KEY_PREFIX.length)} and knows no upstream to ask (UPSTREAM_SITES)`, RC.SERVER_NOT_RESP);
        return [...this.o.upstream];
      }
      const values = await this.valuesOf(delegating, trail);
      return values === null ? [] : this.sitesOfValues(values, trail, 'site');
    }
    const values = await this.valuesOf(`${RECORD_KEY_PREFIX}${prefixKeyOf(key)}`, trail);
    return values === null ? [] : this.sitesOfValues(values, trail, 'site');
  }

  /** A record's public values, looked up through the whole pipeline (so service records are cached too). */
  private async valuesOf(key: string, trail: Trail): Promise<readonly HandleValue[] | null> {
    const r = await this.top!.lookup(key, { trail });
    return r.record === null ? null : r.record.publicValues;
  }

  /** The sites a record's values name, with those of the service handles it names (each looked up, loops skipped). */
  private async sitesOfValues(values: readonly HandleValue[], trail: Trail, kind: SiteKind): Promise<SiteInfo[]> {
    const sites = sitesFromValues(values, kind);
    for (const service of serviceHandles(values, kind)) {
      const serviceKey = this.o.keyOf(service);
      if (serviceKey === null || trail.keys.includes(serviceKey)) continue;
      if (serviceKey === `${RECORD_KEY_PREFIX}0.NA`) {
        sites.push(...this.o.upstream); // HS_SERV 0.NA/0.NA: the global service, the upstream here
        continue;
      }
      try {
        const v = await this.valuesOf(serviceKey, trail);
        if (v !== null) sites.push(...(await this.sitesOfValues(v, { ...trail, depth: trail.depth + 1, keys: [...trail.keys, serviceKey] }, kind === 'prefix' ? 'prefix' : 'site')));
      } catch (e) {
        // an unreachable service handle (its resolution failed as a Handle error) leaves the other sites; anything
        // else is a fault here, not there
        if (!(e instanceof HandleError) && !(e instanceof ExchangeError)) throw e;
      }
    }
    return sites;
  }

  /**
   * Sends the resolution of `handle` to the sites in turn — within a site the server the protocol's hash picks, then
   * the others; UDP, then TCP — until one answers it, following service and prefix referrals.
   */
  private async ask(sites: readonly SiteInfo[], handle: string, trail: Trail, authoritative: boolean): Promise<Answer> {
    let last = 'no server to ask';
    let loop = false;
    for (const site of sites) {
      for (const server of serverOrder(site, handle)) {
        for (const to of endpointsOf(server)) {
          const asked = `${endpointText(to)} ${handle}`;
          if (trail.asked.has(asked)) {
            loop = true;
            last = `referral loop: ${endpointText(to)} was already asked for ${handle}`;
            continue;
          }
          if (trail.asked.size >= MAX_EXCHANGES) throw failure(`Gave up on ${trail.keys[0]} after ${MAX_EXCHANGES} exchanges with other servers`);
          trail.asked.add(asked);
          let m: Message;
          try {
            m = await this.send(to, handle, trail, authoritative);
          } catch (e) {
            if (!(e instanceof ExchangeError)) throw e;
            last = e.message;
            continue; // the same server's TCP next, then the next server
          }
          const rc = m.header.responseCode;
          if (rc === RC.SUCCESS) {
            let decoded: { handle: string; values: HandleValue[] };
            try {
              decoded = decodeResolutionResponse(m.body, (m.header.opFlags & OPFLAG.RETURN_DIGEST) !== 0);
            } catch (e) {
              last = `${endpointText(to)} sent an unreadable answer: ${(e as Error).message}`;
              continue;
            }
            if (asciiUpper(decoded.handle) !== asciiUpper(handle)) {
              last = `${endpointText(to)} answered for ${decoded.handle}, not ${handle}`;
              continue;
            }
            return { found: true, handle: decoded.handle, values: decoded.values };
          }
          if (rc === RC.HANDLE_NOT_FOUND) return { found: false };
          if (rc === RC.VALUES_NOT_FOUND) return { found: true, handle, values: [] };
          if (rc === RC.SERVICE_REFERRAL || rc === RC.PREFIX_REFERRAL) {
            const next = await this.referred(m, rc === RC.PREFIX_REFERRAL ? 'prefix' : 'site', trail);
            if (next.length === 0) {
              last = `${endpointText(to)} referred ${handle} to a service with no reachable site`;
              continue;
            }
            return this.ask(next, handle, { ...trail, depth: trail.depth + 1 }, authoritative);
          }
          if (rc === RC.RECURSION_COUNT_TOO_HIGH) {
            loop = true;
            last = `${endpointText(to)}: recursion count too high (a referral loop between nodes)`;
            continue;
          }
          last = `${endpointText(to)} answered ${rc}${errorText(m)}`;
        }
      }
    }
    throw failure(loop ? `Referral loop resolving ${handle}: ${last}` : `No server of the service for ${handle} answered: ${last}`);
  }

  /** The sites a referral names: its values' sites, or those of the handle it names. */
  private async referred(m: Message, kind: SiteKind, trail: Trail): Promise<SiteInfo[]> {
    if (trail.depth + 1 >= this.o.maxDepth) throw failure(`Recursion deeper than ${this.o.maxDepth} steps resolving ${trail.keys[0]}`, RC.RECURSION_COUNT_TOO_HIGH);
    let r: { handle: string; values: HandleValue[] };
    try {
      r = decodeResolutionResponse(m.body, (m.header.opFlags & OPFLAG.RETURN_DIGEST) !== 0);
    } catch {
      return [];
    }
    const deeper = { ...trail, depth: trail.depth + 1 };
    const sites = await this.sitesOfValues(r.values, deeper, kind);
    if (sites.length > 0 || r.handle === '') return sites;
    const key = this.o.keyOf(r.handle);
    if (key === null) return [];
    const values = await this.valuesOf(key, deeper);
    return values === null ? [] : this.sitesOfValues(values, deeper, kind);
  }

  private send(to: Endpoint, handle: string, trail: Trail, authoritative: boolean): Promise<Message> {
    this.counters.remoteExchanges++;
    const left = Math.max(1, Math.min(this.o.attemptMs, trail.deadline - this.clock.now()));
    // never recursive: the server answers or refers, and this node follows (no recursion storms between nodes)
    const flags = OPFLAG.PUBLIC_ONLY | (authoritative ? OPFLAG.AUTH : 0);
    return exchange(to, { opCode: OC.RESOLUTION, opFlags: flags, body: encodeResolutionRequest({ handle, indexes: [], types: [] }), recursionCount: trail.depth + 1 }, left);
  }
}

function errorText(m: Message): string {
  try {
    const t = decodeErrorBody(m.body, (m.header.opFlags & OPFLAG.RETURN_DIGEST) !== 0).message;
    return t === '' ? '' : ` (${t.slice(0, 200)})`;
  } catch {
    return '';
  }
}
