// The prefix-record layer: every homed prefix record (`0.NA/<prefix>`) without an HS_SITE of its own answers with
// this node's site, built from the configuration (not stored), so a client that starts from the prefix record finds
// the node.
import { isUnderPrefix, PREFIX_RECORD_PREFIX } from '../../handle/identifier.js';
import { RecordError } from '../../handle/record-json.js';
import { DEFAULT_PERMISSIONS, DEFAULT_TTL, TYPE, type HandleValue, type SiteData } from '../../handle/types.js';
import type { Clock } from '../clock.js';
import { recordFromValues } from '../record.js';
import type { Layer, Lookup, LookupOptions } from '../types.js';

/** What the layer needs to know of this node: the prefix it homes and its site as HS_SITE data. */
export interface SiteSource {
  nodePrefixKey: string;
  siteData(): SiteData;
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
    if (values.some((v) => v.type.toUpperCase() === TYPE.SITE)) return r;
    let index = 1;
    while (values.some((v) => v.index === index)) index++;
    const site: HandleValue = {
      index,
      type: TYPE.SITE,
      data: { format: 'site', value: this.site.siteData() },
      ttlType: 'relative',
      ttl: DEFAULT_TTL,
      timestamp: this.since,
      permissions: { ...DEFAULT_PERMISSIONS },
      references: [],
    };
    const withSite = [...values, site].sort((a, b) => a.index - b.index);
    return { ...r, record: recordFromValues(record.handle, key, withSite, Math.floor(this.clock.now() / 1000)) };
  }

  forget(keys: readonly string[] | null): void {
    this.inner.forget(keys);
  }
}
