// Tests for src/cli/import-records.ts: CSV through csv-parse (BOM, CRLF, quoted commas, quotes and line breaks) with the line each record starts on, and NDJSON.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRecords, type ImportRecord } from '../../src/cli/import-records.js';

const dir = mkdtempSync(join(tmpdir(), 'idnode-records-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function records(name: string, body: string): Promise<ImportRecord[]> {
  const file = join(dir, name);
  writeFileSync(file, body);
  const out: ImportRecord[] = [];
  for await (const r of readRecords(file)) out.push(r);
  return out;
}

describe('readRecords (CSV)', () => {
  it('reads a BOM, CRLF, quoted commas and doubled quotes; the header is trimmed; blank lines are skipped', async () => {
    expect(await records('a.csv', '\uFEFF suffix , name\r\nP-1,"水泵, 一号"\r\n\r\nP-2,"He said ""hi"""\r\nP-3,\r\n')).toEqual([
      { line: 2, fields: { suffix: 'P-1', name: '水泵, 一号' } },
      { line: 4, fields: { suffix: 'P-2', name: 'He said "hi"' } },
      { line: 5, fields: { suffix: 'P-3', name: '' } },
    ]);
  });

  it('keeps line breaks inside quoted fields and reports the line a record starts on (LF, CRLF, CR)', async () => {
    const got = await records('b.csv', 'suffix,name\r\nP-1,"one\r\ntwo"\r\nP-2,"three\nfour\nfive"\r\nP-3,x\rP-4,y\nP-5,z');
    expect(got).toEqual([
      { line: 2, fields: { suffix: 'P-1', name: 'one\r\ntwo' } },
      { line: 4, fields: { suffix: 'P-2', name: 'three\nfour\nfive' } },
      { line: 7, fields: { suffix: 'P-3', name: 'x' } },
      { line: 8, fields: { suffix: 'P-4', name: 'y' } },
      { line: 9, fields: { suffix: 'P-5', name: 'z' } },
    ]);
  });

  it('rejects a row with the wrong number of columns, and the rest of a file whose quote is never closed', async () => {
    expect(await records('c.csv', 'suffix,name\nP-1\nP-2,a,b\nP-3,ok\nP-4,"open\nP-5,x\n')).toEqual([
      { line: 2, error: 'expected 2 columns, found 1' },
      { line: 3, error: 'expected 2 columns, found 3' },
      { line: 4, fields: { suffix: 'P-3', name: 'ok' } },
      { line: 5, error: expect.stringMatching(/^not valid CSV from here on: .*Quote Not Closed/) },
    ]);
  });
});

describe('readRecords (NDJSON)', () => {
  it('reads .ndjson line by line, rejecting lines that are not JSON', async () => {
    expect(await records('d.ndjson', '{"suffix":"N-1"}\n\nnot json\n')).toEqual([
      { line: 1, json: { suffix: 'N-1' } },
      { line: 3, error: 'not valid JSON' },
    ]);
  });

  it('chooses NDJSON for another extension when the file starts with {, else CSV', async () => {
    expect(await records('e.txt', '\uFEFF  {"suffix":"N-1"}\n')).toEqual([{ line: 1, json: { suffix: 'N-1' } }]);
    expect(await records('f.txt', 'suffix\nN-1\n')).toEqual([{ line: 2, fields: { suffix: 'N-1' } }]);
  });
});
