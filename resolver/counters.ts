// The resolver's counters: what each tier answered and did, read by /metrics and /readyz.

/** Mutable counters shared by the layers of one resolver (numbers only; reading them costs nothing). */
export class Counters {
  hits = 0;
  misses = 0;
  negativeHits = 0;
  staleServed = 0;
  redisHits = 0;
  redisMisses = 0;
  redisErrors = 0;
  storeReads = 0;
  prefetches = 0;
  epochChanges = 0;
  remoteLookups = 0;
  remoteFailures = 0;
  remoteExchanges = 0;

  readonly redisError = (_e?: unknown): void => {
    this.redisErrors++;
  };
}
