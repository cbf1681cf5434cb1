// The single-flight layer: concurrent lookups of one key share one lookup below; a key changed meanwhile makes that
// shared answer uncacheable (it is still returned: it was true when read).
import type { Layer, Lookup, LookupOptions } from '../types.js';

interface Flight {
  invalidated: boolean;
  promise: Promise<Lookup>;
}

export class SingleFlight implements Layer {
  private readonly flights = new Map<string, Flight>();

  constructor(private readonly inner: Layer) {}

  lookup(key: string, opts: LookupOptions): Promise<Lookup> {
    const running = this.flights.get(key);
    // A cached read joins a running one; an authoritative read starts afresh (a prefetch joins whatever runs).
    if (running !== undefined && (opts.authoritative !== true || opts.prefetch === true)) return running.promise;
    if (running !== undefined) running.invalidated = true;
    const flight: Flight = { invalidated: false, promise: undefined as unknown as Promise<Lookup> };
    this.flights.set(key, flight);
    flight.promise = this.inner.lookup(key, opts).then(
      (r) => {
        this.done(key, flight);
        return flight.invalidated && r.cacheable ? { ...r, cacheable: false } : r;
      },
      (err: unknown) => {
        this.done(key, flight);
        throw err;
      },
    );
    return flight.promise;
  }

  /** Whether a lookup of `key` is running. */
  running(key: string): boolean {
    return this.flights.has(key);
  }

  forget(keys: readonly string[] | null): void {
    if (keys === null) {
      for (const f of this.flights.values()) f.invalidated = true;
      this.flights.clear();
    } else {
      for (const k of keys) {
        const f = this.flights.get(k);
        if (f === undefined) continue;
        f.invalidated = true;
        this.flights.delete(k);
      }
    }
    this.inner.forget(keys);
  }

  private done(key: string, flight: Flight): void {
    if (this.flights.get(key) === flight) this.flights.delete(key);
  }
}
