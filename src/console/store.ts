// A tiny observable value with a Preact hook: the console's shared state (session, language, route) without a library.
import { useEffect, useState } from 'preact/hooks';

export class Observable<T> {
  #value: T;
  readonly #listeners = new Set<(v: T) => void>();
  constructor(value: T) {
    this.#value = value;
  }
  get(): T {
    return this.#value;
  }
  set(v: T): void {
    if (Object.is(v, this.#value)) return;
    this.#value = v;
    for (const l of [...this.#listeners]) l(v);
  }
  subscribe(l: (v: T) => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
}

/** The observable's current value; the component renders again when it changes. */
export function useObservable<T>(o: Observable<T>): T {
  const [v, setV] = useState(o.get());
  useEffect(() => {
    setV(o.get());
    return o.subscribe(setV);
  }, [o]);
  return v;
}
