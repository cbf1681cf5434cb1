// Text arrays as parameters of the set-based handle writes: PostgreSQL's binary array format for `pg`, a plain JS array for PGlite.
import type { Store } from './store.js';

/** What a `$n::text[]` parameter is given: a binary array (pg sends a Buffer in binary format) or a JS array. */
export type TextArrayParam = Buffer | (string | null)[];

/** The OID of `text`, the element type array_recv checks. */
const TEXT_OID = 25;

/**
 * `list` in PostgreSQL's binary array format (array_send / array_recv): one dimension, lower bound 1, each element its
 * UTF-8 bytes after a 4-byte length (-1 for NULL). `pg` sends a Buffer parameter in binary format, so neither side
 * writes or parses an array literal: the values (JSON full of quotes and backslashes) travel as they are. With text
 * literals the same unnest() ran at about a third of the speed (bench/registration.ts: the raw insert rows).
 */
export function binaryTextArray(list: readonly (string | null)[]): Buffer {
  let size = 20;
  let nulls = 0;
  const lengths = new Array<number>(list.length);
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    if (s === null || s === undefined) {
      lengths[i] = -1;
      nulls = 1;
      size += 4;
    } else {
      lengths[i] = Buffer.byteLength(s, 'utf8');
      size += 4 + lengths[i]!;
    }
  }
  const b = Buffer.allocUnsafe(size);
  b.writeInt32BE(1, 0); // dimensions
  b.writeInt32BE(nulls, 4); // has nulls
  b.writeInt32BE(TEXT_OID, 8); // element type
  b.writeInt32BE(list.length, 12); // length of the dimension
  b.writeInt32BE(1, 16); // its lower bound
  let at = 20;
  for (let i = 0; i < list.length; i++) {
    const n = lengths[i]!;
    b.writeInt32BE(n, at);
    at += 4;
    if (n > 0) at += b.write(list[i]!, at, n, 'utf8');
  }
  return b;
}

/** `list` as a `$n::text[]` parameter on `kind`'s driver (PGlite serialises JS arrays itself and has no binary path). */
export function textArrayParam(kind: Store['kind'], list: (string | null)[]): TextArrayParam {
  return kind === 'postgres' ? binaryTextArray(list) : list;
}
