// The cached record: built from a record's text (store row or Redis payload), parsed only when something asks.
import { publicValuesJson, valuesToJson } from '../handle/json.js';
import { parseStoredValues, storedValuesJson } from '../handle/record-json.js';
import { DEFAULT_TTL, type HandleValue } from '../handle/types.js';
import { isPublicReadable, minEffectiveTtl } from '../handle/value.js';
import type { RecordText, ResolvedRecord } from './types.js';

/**
 * Bytes counted per character of the values' text: the text itself (UTF-16 upper bound) while unparsed, plus room
 * for the parsed values should a filter or a face ask for them.
 */
const TEXT_FACTOR = 3;

/** A record's text from its values (what a write stores). */
export function recordText(handle: string, values: readonly HandleValue[]): RecordText {
  return { handle, valuesJson: storedValuesJson(values), publicJson: publicValuesJson(values) };
}

class LazyRecord implements ResolvedRecord {
  readonly sizeBytes: number;
  #values: readonly HandleValue[] | null = null;
  #public: readonly HandleValue[] | null = null;
  #publicJson: string | null;
  #minTtl: number | null = null;

  constructor(
    readonly handle: string,
    readonly key: string,
    readonly valuesJson: string,
    publicJson: string | null,
    private readonly nowSec: number,
  ) {
    this.#publicJson = publicJson;
    this.sizeBytes = (handle.length + key.length + (publicJson?.length ?? valuesJson.length)) * 2 + valuesJson.length * TEXT_FACTOR;
  }

  get values(): readonly HandleValue[] {
    return (this.#values ??= Object.freeze(parseStoredValues(this.valuesJson)));
  }

  get publicValues(): readonly HandleValue[] {
    if (this.#public === null) {
      const all = this.values;
      this.#public = all.every(isPublicReadable) ? all : Object.freeze(all.filter(isPublicReadable));
    }
    return this.#public;
  }

  get publicJson(): string {
    return (this.#publicJson ??= valuesToJson(this.publicValues));
  }

  get minTtl(): number {
    return (this.#minTtl ??= minEffectiveTtl(this.values, this.nowSec, DEFAULT_TTL));
  }
}

/** The cached record for a record's text under canonical `key`. */
export function recordOf(text: RecordText, key: string, nowSec: number): ResolvedRecord {
  return new LazyRecord(text.handle, key, text.valuesJson, text.publicJson, nowSec);
}

/** A record from parsed values (tests, and records a layer builds itself). */
export function recordFromValues(handle: string, key: string, values: readonly HandleValue[], nowSec: number): ResolvedRecord {
  return recordOf(recordText(handle, values), key, nowSec);
}

/** The text of a cached record (what Redis is filled with): the same three texts the store row holds. */
export function textOf(record: ResolvedRecord): RecordText {
  const valuesJson = record instanceof LazyRecord ? record.valuesJson : storedValuesJson(record.values);
  return { handle: record.handle, valuesJson, publicJson: record.publicJson };
}
