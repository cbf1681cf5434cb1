// The prefix gate: prefixes whose handles must not resolve (suspended) and prefixes hosted at an enterprise's own node (self-hosted), copies of the registry's (re-read, never edited here).
import type { RecordSource } from './types.js';

export class PrefixGate {
  private hidden = new Set<string>();
  private remote = new Set<string>();
  /** bumped whenever the set may have changed: answers taken before then are no longer current */
  version = 0;
  /** bumped when the self-hosted prefixes changed: every cached answer may then have come from the wrong place */
  remoteVersion = 0;

  constructor(private readonly source: RecordSource) {}

  /** Re-reads the hidden prefixes from the source; on failure the current set stays (false). */
  async reload(): Promise<boolean> {
    try {
      const [keys, remote] = await Promise.all([this.source.hiddenPrefixKeys(), this.source.selfHostedPrefixKeys?.() ?? []]);
      this.hidden = new Set(keys);
      if (remote.length !== this.remote.size || remote.some((k) => !this.remote.has(k))) {
        this.remote = new Set(remote);
        this.remoteVersion++;
      }
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

  /**
   * The self-hosted prefix that `prefixKey` is or is derived from (its handles are answered at the enterprise's node),
   * or null. With `strict`, only a prefix it is strictly derived from counts (the prefix's own record stays here).
   */
  selfHostedAncestor(prefixKey: string, strict = false): string | null {
    if (this.remote.size === 0) return null;
    let p = prefixKey;
    if (strict) {
      const dot = p.lastIndexOf('.');
      if (dot <= 0) return null;
      p = p.slice(0, dot);
    }
    for (;;) {
      if (this.remote.has(p)) return p;
      const dot = p.lastIndexOf('.');
      if (dot <= 0) return null;
      p = p.slice(0, dot);
    }
  }

  /** Whether any prefix is hidden at all (the hot path skips the walk when none is). */
  get any(): boolean {
    return this.hidden.size !== 0;
  }
}
