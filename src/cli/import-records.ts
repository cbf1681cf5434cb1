// Reading import files: CSV (csv-parse: quotes, doubled quotes, line breaks in quoted fields, CRLF, BOM) and NDJSON, one record at a time.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';

export type ImportRecord = { line: number; fields: Record<string, string> } | { line: number; json: unknown } | { line: number; error: string };

/** NDJSON by extension (.ndjson, .jsonl), CSV by extension (.csv), else NDJSON when the first character is `{`. */
async function isNdjson(file: string): Promise<boolean> {
  if (/\.(ndjson|jsonl)$/i.test(file)) return true;
  if (/\.csv$/i.test(file)) return false;
  const fh = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await fh.read({ buffer: Buffer.alloc(4096), position: 0 });
    return buffer.toString('utf8', 0, bytesRead).replace(/^\uFEFF/, '').trimStart().startsWith('{');
  } finally {
    await fh.close();
  }
}

/** Line breaks inside a record's (quoted) fields: CRLF, LF or CR, each one line. */
const breaksIn = (cells: readonly string[]) => cells.reduce((n, c) => n + (c.match(/\r\n|\r|\n/g)?.length ?? 0), 0);

/**
 * The rows of a CSV file with the line each starts on; blank lines are skipped. A quote inside an unquoted field is
 * taken as it is (as spreadsheets write it). Lines are counted here from the rows, not taken from csv-parse's
 * `info.lines`, which is the line a record ends on and counts a CRLF inside a quoted field as two lines.
 */
async function* csvRows(file: string): AsyncGenerator<{ line: number; cells: string[] } | { line: number; error: string }> {
  const source = createReadStream(file);
  const parser = parse({ bom: true, record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true, relax_quotes: true });
  source.on('error', (err) => parser.destroy(err));
  source.pipe(parser);
  let next = 1; // the line the next row starts on
  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      const line = next;
      next = line + breaksIn(cells) + 1;
      if (cells.length === 1 && cells[0] === '') continue;
      yield { line, cells };
    }
  } catch (err) {
    // csv-parse stops at a malformed file (e.g. a quote that is never closed): the rest is one rejection.
    if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('CSV_')) {
      yield { line: next, error: `not valid CSV from here on: ${(err as Error).message}` };
      return;
    }
    throw err;
  } finally {
    source.destroy();
  }
}

/** Records of a CSV (first row = header) or NDJSON file (chosen by extension, else by the first character). */
export async function* readRecords(file: string): AsyncGenerator<ImportRecord> {
  if (!(await isNdjson(file))) {
    let header: string[] | null = null;
    for await (const row of csvRows(file)) {
      if ('error' in row) {
        yield row;
        continue;
      }
      const { line, cells } = row;
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
