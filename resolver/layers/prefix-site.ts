// The prefix-record layer: every homed prefix record (`0.NA/<prefix>`) without an HS_SITE of its own answers with
// this node's site, built from the configuration (not stored), so a client that starts from the prefix record finds
// the node; the node's own prefix record also carries the server's public key as HS_PUBKEY.
import { isUnderPrefix, PREFIX_RECORD_PREFIX } from '../../handle/identifier.js';
import { RecordError } from '../../handle/record-json.js';
import { DEFAULT_PERMISSIONS, DEFAULT_TTL, INDEX, TYPE, type HandleValue, type KeyData, type SiteData } from '../../handle/types.js';
import type { Clock } from '../clock.js';
import { recordFromValues } from '../record.js';
import type { Layer, Lookup, LookupOptions } from '../types.js';

/** What the layer needs to know of this node: the prefix it homes, its site as HS_SITE data, its server key. */
export interface SiteSource {
  nodePrefixKey: string;
  siteData(): SiteData;
  /** the server's public key as HS_PUBKEY data ({kty, …}); absent: no HS_PUBKEY is added */
  serverKey?(): KeyData;
}

/**
 * Where the server key goes in `0.NA/<node prefix>`: the first free index after HS_SECKEY/HS_PUBKEY's 300 (which is
 * the node admin's). Handle.Net servers publish their key in the site's server list; the HS_PUBKEY value is for
 * clients that look a key up by handle. No HS_ADMIN refers to it, so it grants nothing.
 */
const SERVER_KEY_FROM_INDEX = INDEX.SECKEY + 1;

function firstFree(values: readonly HandleValue[], from: number): number {
  let index = from;
  while (values.some((v) => v.index === index)) index++;
  return index;
}

function sameKey(a: KeyData, b: KeyData): boolean {
  return a.kty === b.kty && a.n === b.n && a.e === b.e;
}

const RECORD_KEY_PREFIX = `${PREFIX_RECORD_PREFIX}/`;

export class PrefixSiteLayer implements Layer {
  /** the timestamp the synthesised value carries: when this process started */
  private readonly since: number;

  constructor(
    private readonly inner: Layer,
    private readonly site: SiteSource,
    private readonly clock: Clock,
  ) {
    this.since = Math.floor(clock.now() / 1000);
  }

  async lookup(key: string, opts: LookupOptions): Promise<Lookup> {
    const r = await this.inner.lookup(key, opts);
    const record = r.record;
    if (record === null || !key.startsWith(RECORD_KEY_PREFIX) || !isUnderPrefix(key.slice(RECORD_KEY_PREFIX.length), this.site.nodePrefixKey)) return r;
    let values: readonly HandleValue[];
    try {
      values = record.values;
    } catch (e) {
      // corrupt stored values: answered as stored (the faces answer RC 2 for what needs them)
      if (e instanceof RecordError) return r;
      throw e;
    }
    const added: HandleValue[] = [];
    const synthetic = (index: number, type: string, data: HandleValue['data']): HandleValue => ({
      index,
      type,
      data,
      ttlType: 'relative',
      ttl: DEFAULT_TTL,
      timestamp: this.since,
      permissions: { ...DEFAULT_PERMISSIONS },
      references: [],
    });
    if (!values.some((v) => v.type.toUpperCase() === TYPE.SITE)) {
      added.push(synthetic(firstFree(values, 1), TYPE.SITE, { format: 'site', value: this.site.siteData() }));
    }
    const serverKey = this.site.serverKey?.();
    if (serverKey !== undefined && key === `${RECORD_KEY_PREFIX}${this.site.nodePrefixKey}`) {
      const has = values.some((v) => v.type.toUpperCase() === TYPE.PUBKEY && v.data.format === 'key' && sameKey(v.data.value, serverKey));
      if (!has) added.push(synthetic(firstFree([...values, ...added], SERVER_KEY_FROM_INDEX), TYPE.PUBKEY, { format: 'key', value: serverKey }));
    }
    if (added.length === 0) return r;
    const withAdded = [...values, ...added].sort((a, b) => a.index - b.index);
    return { ...r, record: recordFromValues(record.handle, key, withAdded, Math.floor(this.clock.now() / 1000)) };
  }

  forget(keys: readonly string[] | null): void {
    this.inner.forget(keys);
  }
}
