// Reading import files: CSV (RFC 4180: quotes, doubled quotes, CRLF) and NDJSON, one record at a time.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export type ImportRecord = { line: number; fields: Record<string, string> } | { line: number; json: unknown } | { line: number; error: string };

/** Splits CSV text into rows; a quoted field may hold commas, quotes ("") and line breaks. */
export function* csvRows(text: string): Generator<{ line: number; cells: string[] }> {
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      if (row.length > 1 || row[0] !== '') yield { line: rowLine, cells: row };
      row = [];
      cell = '';
      line++;
      rowLine = line;
    } else cell += c;
  }
  row.push(cell);
  if (row.length > 1 || row[0] !== '') yield { line: rowLine, cells: row };
}

/** Records of a CSV (first row = header) or NDJSON file (chosen by extension, else by the first character). */
export async function* readRecords(file: string, text?: string): AsyncGenerator<ImportRecord> {
  const ndjson = /\.(ndjson|jsonl)$/i.test(file) || (!/\.csv$/i.test(file) && (text ?? '').trimStart().startsWith('{'));
  if (!ndjson) {
    const { readFile } = await import('node:fs/promises');
    const body = (text ?? (await readFile(file, 'utf8'))).replace(/^\uFEFF/, '');
    let header: string[] | null = null;
    for (const { line, cells } of csvRows(body)) {
      if (header === null) {
        header = cells.map((h) => h.trim());
        continue;
      }
      if (cells.length !== header.length) {
        yield { line, error: `expected ${header.length} columns, found ${cells.length}` };
        continue;
      }
      const fields: Record<string, string> = {};
      header.forEach((h, i) => {
        fields[h] = cells[i]!;
      });
      yield { line, fields };
    }
    return;
  }
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of rl) {
    line++;
    const t = raw.replace(/^\uFEFF/, '').trim();
    if (t === '') continue;
    try {
      yield { line, json: JSON.parse(t) };
    } catch {
      yield { line, error: 'not valid JSON' };
    }
  }
}
