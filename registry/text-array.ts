// Text arrays as parameters of the set-based handle writes: PostgreSQL's binary array format for `pg`, a plain JS array for PGlite.
import type { Store } from './store.js';

/** What a `$n::text[]` parameter is given: a binary array (pg sends a Buffer in binary format) or a JS array. */
export type TextArrayParam = Buffer | (string | null)[];

/** The OID of `text`, the element type array_recv checks. */
const TEXT_OID = 25;
const HEADER_BYTES = 20;

/**
 * Builds one `$n::text[]` parameter element by element. On PostgreSQL it is written straight into PostgreSQL's binary
 * array format (array_send / array_recv: one dimension, lower bound 1, each element its UTF-8 bytes after a 4-byte
 * length, -1 for NULL); `pg` sends a Buffer parameter in binary format, so neither side writes or parses an array
 * literal — the values (JSON full of quotes and backslashes) travel as they are. With array literals the same
 * unnest() ran at about a third of the speed (bench/registration.ts: the raw insert rows). Each string is encoded as
 * it is pushed, so a batch's serialised values do not stay alive as strings until the statement is sent.
 * On PGlite (no binary parameters) the strings are collected into a JS array, which PGlite serialises itself.
 */
export class TextArrayBuilder {
  #buf: Buffer | null;
  #at = HEADER_BYTES;
  #count = 0;
  #nulls = 0;
  readonly #expected: number;
  readonly #list: (string | null)[] | null;

  /** `expected`: how many elements will be pushed (sizes the buffer from the first one, so it seldom grows). */
  constructor(kind: Store['kind'], expected = 16) {
    this.#expected = expected;
    if (kind === 'postgres') {
      this.#buf = Buffer.allocUnsafe(HEADER_BYTES + expected * 64);
      this.#list = null;
    } else {
      this.#buf = null;
      this.#list = [];
    }
  }

  push(s: string | null): void {
    this.#count++;
    if (this.#list !== null) {
      this.#list.push(s);
      return;
    }
    if (s === null) {
      this.#reserve(4);
      this.#buf!.writeInt32BE(-1, this.#at);
      this.#at += 4;
      this.#nulls = 1;
      return;
    }
    // at most 3 UTF-8 bytes per UTF-16 code unit: room for the worst case, then the length as written
    this.#reserve(4 + 3 * s.length);
    const b = this.#buf!;
    const n = b.write(s, this.#at + 4, 'utf8');
    b.writeInt32BE(n, this.#at);
    this.#at += 4 + n;
    // the first element: room for the rest if they are alike (a quarter more), instead of doubling up to it
    if (this.#count === 1 && this.#expected > 1) this.#reserve(Math.ceil((this.#expected - 1) * (4 + n) * 1.25));
  }

  /** The parameter (the builder is spent: push no more). */
  param(): TextArrayParam {
    if (this.#list !== null) return this.#list;
    const b = this.#buf!;
    b.writeInt32BE(1, 0); // dimensions
    b.writeInt32BE(this.#nulls, 4); // has nulls
    b.writeInt32BE(TEXT_OID, 8); // element type
    b.writeInt32BE(this.#count, 12); // length of the dimension
    b.writeInt32BE(1, 16); // its lower bound
    this.#buf = null;
    return b.subarray(0, this.#at);
  }

  #reserve(bytes: number): void {
    const b = this.#buf!;
    if (this.#at + bytes <= b.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * b.length, this.#at + bytes));
    b.copy(grown, 0, 0, this.#at);
    this.#buf = grown;
  }
}

/** `list` in PostgreSQL's binary array format (see TextArrayBuilder). */
export function binaryTextArray(list: readonly (string | null)[]): Buffer {
  const b = new TextArrayBuilder('postgres', list.length);
  for (const s of list) b.push(s);
  return b.param() as Buffer;
}

/** `list` as a `$n::text[]` parameter on `kind`'s driver. */
export function textArrayParam(kind: Store['kind'], list: (string | null)[]): TextArrayParam {
  return kind === 'postgres' ? binaryTextArray(list) : list;
}
