// Read-after-write across replica lag: for each recently written key, the store position (primary WAL) a read of
// it must have replayed; for every key, a floor under all of them; and whether replicas may be read at all.
//
// Replica reads are a tier like the caches and follow the same rules (resolver/coherence.ts): they are allowed only
// while this process would trust its caches (its invalidation subscription live and its lease current) and once
// the floor has been raised to the primary's position after the subscription came up — before that, writes it
// did not hear of may exist, so every key is read from the primary.

/** The floor of a key whose write position could not be learned: no replica may answer it until it is. */
const UNKNOWN = (1n << 64n) - 1n;

/** Where the floors learn positions from: the store (its write position now, and what every replica has replayed). */
export interface PositionSource {
  position(): Promise<bigint>;
  settledPosition?(): bigint;
}

export class ReadFloors {
  private readonly byKey = new Map<string, bigint>();
  /** keys noted UNKNOWN: given the next position learned from the primary */
  private unknown = new Set<string>();
  private floor = 0n;
  /** false until the floor is raised to the primary's position (and again after the subscription drops) */
  private ready: boolean;
  private trusting = true;
  private leaseUntil = Number.POSITIVE_INFINITY;
  private source: PositionSource | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  /** counts refloors: only the latest one's answer makes replicas readable again */
  private refloors = 0;
  private closed = false;

  constructor(
    /** whether a coherence subscription governs this process (several instances share the store) */
    coherent: boolean,
    private readonly maxKeys = 100_000,
  ) {
    this.ready = !coherent;
  }

  /** Starts following `source`: the floor raised to its position now, and keys pruned as the replicas replay. */
  follow(source: PositionSource): void {
    this.source = source;
    this.refloor();
    if (source.settledPosition !== undefined) {
      const settled = source.settledPosition.bind(source);
      this.pruneTimer = setInterval(() => this.prune(settled()), 1000);
      this.pruneTimer.unref();
    }
  }

  /** The store's write position now (every commit acknowledged before the call is at or below it). */
  position(): Promise<bigint> {
    return this.source === null ? Promise.reject(new Error('no position source')) : this.source.position();
  }

  /**
   * Replica reads stop until the floor is raised to the store's position now (retried until it is): at start, when
   * the invalidation subscription comes or goes, and when the cache epoch moves on — whenever writes may have been
   * missed.
   */
  refloor(): void {
    const source = this.source;
    if (source === null) return;
    this.suspend();
    const seq = ++this.refloors;
    const attempt = (): void => {
      source.position().then(
        (p) => (seq === this.refloors ? this.raiseAndTrust(p) : this.raise(p)),
        () => {
          if (seq === this.refloors && !this.closed) setTimeout(attempt, 500).unref();
        },
      );
    };
    attempt();
  }

  close(): void {
    this.closed = true;
    if (this.pruneTimer !== null) clearInterval(this.pruneTimer);
  }

  /** Keys written at (or below) `position`; undefined: the position is not known (primary only until it is). */
  note(keys: readonly string[], position: bigint | undefined): void {
    const p = position ?? UNKNOWN;
    for (const k of keys) {
      const had = this.byKey.get(k);
      if (had === undefined || p > had) this.byKey.set(k, p);
      if (p === UNKNOWN) this.unknown.add(k);
    }
    if (this.byKey.size > this.maxKeys) this.collapse();
  }

  /** A position every write so far is at or below (read from the primary): the floor of every key. */
  raise(position: bigint): void {
    if (position > this.floor) this.floor = position;
    if (this.unknown.size > 0) {
      for (const k of this.unknown) if (this.byKey.get(k) === UNKNOWN) this.byKey.set(k, position);
      this.unknown = new Set();
    }
  }

  /** Raised after the subscription came up: replicas may be read again. */
  raiseAndTrust(position: bigint): void {
    this.raise(position);
    this.ready = true;
  }

  /** The subscription dropped or came back: writes may have been missed until the floor is raised again. */
  suspend(): void {
    this.ready = false;
  }

  setTrusting(t: boolean): void {
    this.trusting = t;
  }

  setLease(until: number): void {
    this.leaseUntil = until;
  }

  /** The positions `keys` must be read at, or null when replicas may not be read now (read the primary). */
  positions(keys: readonly string[]): bigint[] | null {
    if (!this.ready || !this.trusting || Date.now() >= this.leaseUntil) return null;
    return keys.map((k) => {
      const p = this.byKey.get(k);
      return p !== undefined && p > this.floor ? p : this.floor;
    });
  }

  /**
   * Forgets the keys every replica has replayed past (`settled`: the lowest of the replicas' highest positions; a
   * replica answers only at or above what it showed before, restarts included: registry/replicas.ts).
   */
  prune(settled: bigint): void {
    for (const [k, p] of this.byKey) if (p <= settled || p <= this.floor) this.byKey.delete(k);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Too many keys held: the highest known position becomes every key's floor. */
  private collapse(): void {
    for (const p of this.byKey.values()) if (p !== UNKNOWN && p > this.floor) this.floor = p;
    for (const [k, p] of this.byKey) if (p !== UNKNOWN) this.byKey.delete(k);
  }
}
