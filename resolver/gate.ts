// The suspension gate: prefixes whose handles must not resolve, a copy of the registry's (re-read, never edited here).
import type { RecordSource } from './types.js';

export class PrefixGate {
  private hidden = new Set<string>();
  /** bumped whenever the set may have changed: answers taken before then are no longer current */
  version = 0;

  constructor(private readonly source: RecordSource) {}

  /** Re-reads the hidden prefixes from the source; on failure the current set stays (false). */
  async reload(): Promise<boolean> {
    try {
      const keys = await this.source.hiddenPrefixKeys();
      this.hidden = new Set(keys);
      this.version++;
      return true;
    } catch {
      return false;
    }
  }

  /** Whether handles under this prefix are hidden: it, or a prefix it is derived from (`88.1.7.9` from `88.1.7`). */
  isHidden(prefixKey: string): boolean {
    if (this.hidden.size === 0) return false;
    let p = prefixKey;
    for (;;) {
      if (this.hidden.has(p)) return true;
      const dot = p.lastIndexOf('.');
      if (dot <= 0) return false;
      p = p.slice(0, dot);
    }
  }

  /** Whether any prefix is hidden at all (the hot path skips the walk when none is). */
  get any(): boolean {
    return this.hidden.size !== 0;
  }
}
