// The bottom layer: the store (local authority), its reads of one event-loop turn batched into one query.
import { TurnBatcher } from '../batch.js';
import type { Clock } from '../clock.js';
import type { Counters } from '../counters.js';
import { recordOf } from '../record.js';
import type { Layer, Lookup, LookupOptions, RecordSource, RecordText } from '../types.js';

/** Keys per batched store read at most. */
const STORE_BATCH_MAX = 128;

export class StoreLayer implements Layer {
  private readonly reads: TurnBatcher<RecordText | null>;

  constructor(
    source: RecordSource,
    private readonly clock: Clock,
    private readonly counters: Counters,
  ) {
    this.reads = new TurnBatcher((keys) => source.read(keys), STORE_BATCH_MAX);
  }

  async lookup(key: string, opts: LookupOptions): Promise<Lookup> {
    if (opts.prefetch !== true) this.counters.storeReads++;
    const text = await this.reads.get(key);
    const record = text === null ? null : recordOf(text, key, Math.floor(this.clock.now() / 1000));
    return { record, tier: 'store', stale: false, expiresAt: null, cacheable: true };
  }

  forget(): void {}
}
