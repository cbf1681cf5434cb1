// The cached record: built from a record's text (store row or Redis payload), parsed only when something asks.
import { publicValuesJson, valuesToJson } from '../handle/json.js';
import { parseStoredValues, storedValuesJson } from '../handle/record-json.js';
import { DEFAULT_TTL, type HandleValue } from '../handle/types.js';
import { isPublicReadable, minEffectiveTtl } from '../handle/value.js';
import type { RecordText, ResolvedRecord } from './types.js';

/** Estimated fixed cost of a record object and its string headers. */
const RECORD_OVERHEAD_BYTES = 160;
/** Estimated cost of one parsed value beside its strings' characters (the value, data and permissions objects). */
const PARSED_VALUE_BYTES = 200;
const NON_LATIN1 = /[^\u0000-\u00ff]/;

/** Bytes V8 keeps for a string's characters: one each when they all fit in Latin-1 (a one-byte string), else two. */
export function stringBytes(s: string): number {
  return NON_LATIN1.test(s) ? s.length * 2 : s.length;
}

/** A record's text from its values (what a write stores). */
export function recordText(handle: string, values: readonly HandleValue[]): RecordText {
  return { handle, valuesJson: storedValuesJson(values), publicJson: publicValuesJson(values) };
}

/**
 * A record read as text: the values are parsed on first use, and what they then take is added to its size (and
 * reported through `grow` to the cache that holds it, which counts it in its budget).
 */
export class LazyRecord implements ResolvedRecord {
  sizeBytes: number;
  /**
   * The values' text as kept: itself when it is Latin-1, else its UTF-8 bytes one per character (latin1), which V8
   * keeps at one byte each instead of two for a text holding Chinese (about half the memory of the record's largest
   * part; it is read only on a miss's way to Redis, or parsed once for an authorised reader or a filter).
   */
  readonly #valuesText: string;
  readonly #valuesPacked: boolean;
  /** set by the cache that holds this record: told how many bytes the record grew by */
  grow: ((bytes: number) => void) | null = null;
  #values: readonly HandleValue[] | null = null;
  #public: readonly HandleValue[] | null = null;
  #publicJson: string | null;
  #minTtl: number | null = null;

  constructor(
    readonly handle: string,
    readonly key: string,
    valuesJson: string,
    publicJson: string | null,
    private readonly nowSec: number,
    minTtl: number | null,
  ) {
    this.#publicJson = publicJson;
    this.#minTtl = minTtl;
    // packed only when it is a two-byte string (Latin-1 text already takes a byte a character) and packing makes it
    // smaller (text that is mostly Chinese takes three bytes a character in UTF-8, two as it is); one scan of the
    // text, the one sizing it took before
    const wide = NON_LATIN1.test(valuesJson);
    this.#valuesPacked = wide && Buffer.byteLength(valuesJson, 'utf8') < 2 * valuesJson.length;
    this.#valuesText = this.#valuesPacked ? Buffer.from(valuesJson, 'utf8').toString('latin1') : valuesJson;
    const valuesBytes = this.#valuesPacked ? this.#valuesText.length : wide ? 2 * valuesJson.length : valuesJson.length;
    this.sizeBytes = RECORD_OVERHEAD_BYTES + stringBytes(handle) + stringBytes(key) + stringBytes(publicJson ?? valuesJson) + valuesBytes;
  }

  /** The values in the value model's JSON, as stored. */
  get valuesJson(): string {
    return this.#valuesPacked ? Buffer.from(this.#valuesText, 'latin1').toString('utf8') : this.#valuesText;
  }

  get values(): readonly HandleValue[] {
    if (this.#values === null) {
      const text = this.valuesJson;
      this.#values = Object.freeze(parseStoredValues(text));
      const parsed = this.#values.length * PARSED_VALUE_BYTES + stringBytes(text);
      this.sizeBytes += parsed;
      this.grow?.(parsed);
    }
    return this.#values;
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

  /** Computed from the values when not given; a record parsed only for it does not keep the parsed values. */
  get minTtl(): number {
    return (this.#minTtl ??= minEffectiveTtl(this.#values ?? parseStoredValues(this.valuesJson), this.nowSec, DEFAULT_TTL));
  }
}

/** The cached record for a record's text under canonical `key` (`minTtl` when known, else computed when asked). */
export function recordOf(text: RecordText, key: string, nowSec: number, minTtl: number | null = null): ResolvedRecord {
  return new LazyRecord(text.handle, key, text.valuesJson, text.publicJson, nowSec, minTtl);
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
