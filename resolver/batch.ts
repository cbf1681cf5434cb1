// Per-turn batching: lookups asked for while the event loop handles one round of ready sockets go out together.
/**
 * Collects `get(key)` calls and, at the end of the current turn of the event loop (setImmediate), hands them to
 * `fetch` in chunks of at most `max` keys — one round trip (one write, one wake-up of the server) for all the
 * requests that arrived together, instead of one each. `fetch` answers in the order of the keys it was given.
 * An idle process pays only the wait for the end of the current turn.
 */
export class TurnBatcher<V> {
  private pending: { key: string; resolve: (v: V) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly fetch: (keys: string[]) => Promise<readonly V[]>,
    private readonly max: number,
  ) {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`max must be a positive integer, got ${max}`);
  }

  get(key: string): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.pending.push({ key, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += this.max) {
      const chunk = all.length <= this.max ? all : all.slice(i, i + this.max);
      let p: Promise<readonly V[]>;
      try {
        p = this.fetch(chunk.map((c) => c.key));
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        (values) => {
          if (values.length !== chunk.length) throw new Error(`batch fetch answered ${values.length} of ${chunk.length} keys`);
          for (let j = 0; j < chunk.length; j++) chunk[j]!.resolve(values[j]!);
        },
      ).catch((e: unknown) => {
        for (const c of chunk) c.reject(e);
      });
    }
  };
}
