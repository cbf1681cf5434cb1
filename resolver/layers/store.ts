// The bottom layer: the store (local authority), its reads of one event-loop turn batched into one query.
import { TurnBatcher } from '../batch.js';
import type { Clock } from '../clock.js';
import type { Counters } from '../counters.js';
import type { ReadFloors } from '../read-floors.js';
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
    /** with a source that has replicas: where each key may be read (resolver/read-floors.ts) */
    floors: ReadFloors | null = null,
  ) {
    const readAt = source.readAt?.bind(source);
    this.reads =
      readAt === undefined || floors === null
        ? new TurnBatcher((keys) => source.read(keys), STORE_BATCH_MAX)
        : new TurnBatcher((keys) => {
            // the positions are taken as the batch leaves, so a write acknowledged before then is never missed
            const atLeast = floors.positions(keys);
            return atLeast === null ? source.read(keys) : readAt(keys, atLeast);
          }, STORE_BATCH_MAX);
  }

  async lookup(key: string, opts: LookupOptions): Promise<Lookup> {
    if (opts.prefetch !== true) this.counters.storeReads++;
    const text = await this.reads.get(key);
    const record = text === null ? null : recordOf(text, key, Math.floor(this.clock.now() / 1000));
    return { record, tier: 'store', stale: false, expiresAt: null, cacheable: true };
  }

  forget(): void {}
}
