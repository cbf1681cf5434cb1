// Time source for the resolver caches: the system clock, and a manual clock tests can advance.

/** Milliseconds since the epoch (or any fixed origin); only differences and the epoch-second for TTLs matter. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  private t: number;

  constructor(startMs = 1_700_000_000_000) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: ms must be ≥ 0, got ${ms}`);
    this.t += ms;
  }

  set(ms: number): void {
    this.t = ms;
  }
}
