// Bulk-registration files read in the browser: CSV (csv-parse, loaded on demand) or NDJSON into identifier bodies, checked row by row before anything is sent, in slices so a large file never freezes the page.
import { ApiError } from '../api.js';
import {
  asciiUpper,
  checkAgainstTemplate,
  checkHandle,
  checkIndex,
  checkType,
  checkValues,
  checkVersion,
  loadTemplate,
  type IdentifierBody,
  type Problem,
  type Template,
  type ValueIn,
} from './ent-common.js';

/** One identifier of the file. */
export interface Row {
  /** the line of the file where it starts (the CSV header is line 1) */
  line: number;
  /** the handle as it will be sent ('' when there is none) */
  handle: string;
  /** what will be sent; null when a problem was found */
  body: IdentifierBody | null;
  problem: Problem | null;
}

export interface ParseSettings {
  /** the prefix `suffix` columns go under (null: none chosen) */
  prefix: string | null;
  /** the enterprise's prefix keys, for the ownership check (null: unknown, not checked) */
  prefixKeys: string[] | null;
  /** the template version of rows that give none (CSV) */
  defaultVersion: string;
}

export interface Parsed {
  format: 'csv' | 'ndjson';
  encoding: 'UTF-8' | 'GB18030';
  rows: Row[];
  /** problems of the file as a whole (header, syntax): nothing of it is sent */
  fileProblems: { line: number; problem: Problem }[];
  /** templates the rows were checked against / versions that were not found */
  templates: { checked: number; missing: string[]; skipped: boolean };
}

export type Phase = 'read' | 'parse' | 'check';

/** Largest file read (the node takes batches of 2000; a file is registered in many). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Distinct template versions looked up for the local check (beyond that the node checks alone). */
const MAX_TEMPLATE_LOOKUPS = 20;
const LINES_PER_SLICE = 2000;

const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
const problem = (key: string, vars?: Record<string, string | number>): Problem => (vars === undefined ? { key } : { key, vars });

/** The file's text: UTF-8, or GB18030 (how spreadsheet programs on Chinese Windows save CSV) when it is not UTF-8. */
export async function readText(file: Blob): Promise<{ text: string; encoding: Parsed['encoding'] }> {
  const buf = await file.arrayBuffer();
  let text: string;
  let encoding: Parsed['encoding'] = 'UTF-8';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    text = new TextDecoder('gb18030').decode(buf);
    encoding = 'GB18030';
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text, encoding };
}

/** NDJSON by the file's name (.ndjson, .jsonl, .json) or, failing that, by its first character. */
export function formatOf(name: string, text: string): Parsed['format'] {
  if (/\.(ndjson|jsonl|json)$/i.test(name)) return 'ndjson';
  if (/\.(csv|txt)$/i.test(name)) return 'csv';
  return text.trimStart().startsWith('{') ? 'ndjson' : 'csv';
}

/** Cuts CSV text into slices of about `n` lines, only at line ends outside quoted cells. */
function csvSlices(text: string, n: number): { text: string; firstLine: number }[] {
  const out: { text: string; firstLine: number }[] = [];
  let start = 0;
  let firstLine = 1;
  let lines = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x0a) {
      lines++;
      if (!quoted && lines >= n) {
        out.push({ text: text.slice(start, i + 1), firstLine });
        start = i + 1;
        firstLine += lines;
        lines = 0;
      }
    }
  }
  if (start < text.length) out.push({ text: text.slice(start), firstLine });
  return out;
}

const HANDLE_COLUMNS = ['handle', '标识'];
const SUFFIX_COLUMNS = ['suffix', '后缀'];
const VERSION_COLUMNS = ['templateversion', '模板版本'];
const VALUE_COLUMN_RE = /^(\d+)\s*:\s*(.+)$/;

interface Columns {
  handle: number;
  suffix: number;
  version: number;
  values: { col: number; index: number; type: string }[];
}

/** The header's meaning, or the problems with it. */
function readHeader(cells: string[]): Columns | Problem[] {
  const cols: Columns = { handle: -1, suffix: -1, version: -1, values: [] };
  const problems: Problem[] = [];
  const indexes = new Set<number>();
  cells.forEach((raw, col) => {
    const name = raw.trim();
    const lower = name.toLowerCase();
    if (name === '') return;
    if (HANDLE_COLUMNS.includes(lower)) cols.handle = col;
    else if (SUFFIX_COLUMNS.includes(lower)) cols.suffix = col;
    else if (VERSION_COLUMNS.includes(lower)) cols.version = col;
    else {
      const m = VALUE_COLUMN_RE.exec(name);
      if (m === null) {
        problems.push(problem('upl.err.column', { column: name }));
        return;
      }
      const bad = checkIndex(m[1]!) ?? checkType(m[2]!.trim());
      if (bad !== null) {
        problems.push({ key: 'upl.err.columnBad', vars: { column: name }, cause: bad });
        return;
      }
      const index = Number(m[1]);
      if (indexes.has(index)) {
        problems.push(problem('upl.err.columnTwice', { index }));
        return;
      }
      indexes.add(index);
      cols.values.push({ col, index, type: m[2]!.trim() });
    }
  });
  if (cols.handle < 0 && cols.suffix < 0) problems.push(problem('upl.err.noHandleColumn'));
  return problems.length > 0 ? problems : cols;
}

/** A CSV record (after the header) into a row. */
function csvRow(cells: string[], cols: Columns, line: number, s: ParseSettings, width: number): Row {
  const cell = (i: number): string => (i < 0 ? '' : (cells[i] ?? ''));
  let handle = cell(cols.handle).trim();
  if (handle === '') {
    const suffix = cell(cols.suffix).trim();
    if (suffix !== '') {
      if (s.prefix === null) return { line, handle: suffix, body: null, problem: problem('upl.err.noPrefix') };
      handle = `${s.prefix}/${suffix}`;
    }
  }
  const fail = (p: Problem): Row => ({ line, handle, body: null, problem: p });
  const extra = cells.slice(width).filter((c) => c.trim() !== '').length;
  if (extra > 0) return fail(problem('upl.err.extraCells', { n: extra }));
  const bad = checkHandle(handle, s.prefixKeys);
  if (bad !== null) return fail(bad);
  const version = cell(cols.version).trim() || s.defaultVersion.trim();
  const badVersion = checkVersion(version);
  if (badVersion !== null) return fail(badVersion);
  const value: ValueIn[] = [];
  for (const v of cols.values) {
    const data = cell(v.col);
    if (data !== '') value.push({ index: v.index, type: v.type, data: { format: 'string', value: data } });
  }
  const badValue = checkValues(value);
  if (badValue !== null) return fail(badValue);
  return { line, handle, body: { handle, templateVersion: version, value }, problem: null };
}

/** One NDJSON line (an identifier body exactly as POST /identityv2/data takes it) into a row. */
function ndjsonRow(text: string, line: number, s: ParseSettings): Row {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    return { line, handle: '', body: null, problem: problem('upl.err.json', { message: (e as Error).message }) };
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return { line, handle: '', body: null, problem: problem('upl.err.notObject') };
  const o = x as Record<string, unknown>;
  const handle = typeof o.handle === 'string' ? o.handle.trim() : '';
  const fail = (p: Problem): Row => ({ line, handle, body: null, problem: p });
  const bad = checkHandle(handle, s.prefixKeys);
  if (bad !== null) return fail(bad);
  const version = typeof o.templateVersion === 'string' ? o.templateVersion.trim() : '';
  const badVersion = checkVersion(version);
  if (badVersion !== null) return fail(badVersion);
  if (!Array.isArray(o.value)) return fail(problem('upl.err.valueArray'));
  const value: ValueIn[] = [];
  for (const [i, raw] of o.value.entries()) {
    if (typeof raw !== 'object' || raw === null) return fail(problem('upl.err.valueShape', { i: i + 1 }));
    const v = raw as Record<string, unknown>;
    const idx = typeof v.index === 'number' || typeof v.index === 'string' ? String(v.index) : '';
    const badIndex = checkIndex(idx);
    if (badIndex !== null) return fail(badIndex);
    const type = typeof v.type === 'string' ? v.type : '';
    const badType = checkType(type);
    if (badType !== null) return fail(badType);
    const data = v.data as { format?: unknown; value?: unknown } | null | undefined;
    if (typeof data !== 'object' || data === null || typeof data.value !== 'string') return fail(problem('upl.err.valueShape', { i: i + 1 }));
    if (data.format !== undefined && data.format !== 'string') return fail(problem('upl.err.format', { i: i + 1 }));
    const item: ValueIn = { index: Number(idx.trim()), type, data: { format: 'string', value: data.value } };
    if (typeof v.auth === 'string') item.auth = v.auth;
    value.push(item);
  }
  const badValue = checkValues(value);
  if (badValue !== null) return fail(badValue);
  return { line, handle, body: { handle, templateVersion: version, value }, problem: null };
}

/**
 * Reads, parses and checks a file: every row gets its body or its first problem; problems of the whole file
 * (header, CSV syntax) are listed apart. `progress` is told how far each phase is; `signal` stops it.
 */
export async function parseFile(
  file: File,
  settings: ParseSettings,
  progress: (phase: Phase, done: number, total: number) => void,
  signal: AbortSignal,
): Promise<Parsed> {
  const stop = (): void => {
    if (signal.aborted) throw new DOMException('aborted', 'AbortError');
  };
  const result: Parsed = { format: 'csv', encoding: 'UTF-8', rows: [], fileProblems: [], templates: { checked: 0, missing: [], skipped: false } };
  if (file.size > MAX_FILE_BYTES) {
    result.fileProblems.push({ line: 0, problem: problem('upl.err.tooBig', { mb: Math.ceil(file.size / 1048576), max: MAX_FILE_BYTES / 1048576 }) });
    return result;
  }
  progress('read', 0, 1);
  const { text: raw, encoding } = await readText(file);
  stop();
  const text = raw.replace(/\r\n?/g, '\n');
  result.encoding = encoding;
  result.format = formatOf(file.name, text);

  if (result.format === 'csv') {
    const { parse } = await import('csv-parse/browser/esm/sync');
    const slices = csvSlices(text, LINES_PER_SLICE);
    let cols: Columns | null = null;
    let width = 0;
    for (const [n, slice] of slices.entries()) {
      progress('parse', n, slices.length);
      await pause();
      stop();
      let records: string[][];
      try {
        records = parse(slice.text, { relax_column_count: true });
      } catch (e) {
        const at = (e as { lines?: number }).lines;
        result.fileProblems.push({ line: slice.firstLine + (typeof at === 'number' ? Math.max(0, at - 1) : 0), problem: problem('upl.err.csv', { message: (e as Error).message }) });
        return result;
      }
      let line = slice.firstLine;
      for (const rec of records) {
        const start = line;
        for (const c of rec) for (let i = c.indexOf('\n'); i >= 0; i = c.indexOf('\n', i + 1)) line++;
        line++;
        if (rec.every((c) => c.trim() === '')) continue;
        if (cols === null) {
          const header = readHeader(rec);
          if (Array.isArray(header)) {
            for (const p of header) result.fileProblems.push({ line: start, problem: p });
            return result;
          }
          cols = header;
          width = rec.length;
          continue;
        }
        result.rows.push(csvRow(rec, cols, start, settings, width));
      }
    }
    if (cols === null) result.fileProblems.push({ line: 1, problem: problem('upl.err.empty') });
  } else {
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (i % (LINES_PER_SLICE * 2) === 0) {
        progress('parse', i, lines.length);
        await pause();
        stop();
      }
      const l = lines[i]!.trim();
      if (l !== '') result.rows.push(ndjsonRow(l, i + 1, settings));
    }
    if (result.rows.length === 0) result.fileProblems.push({ line: 1, problem: problem('upl.err.empty') });
  }
  progress('parse', 1, 1);

  // the same handle twice in one file: the second would only meet the first
  const seen = new Map<string, number>();
  for (const r of result.rows) {
    if (r.body === null) continue;
    const first = seen.get(r.handle);
    if (first === undefined) seen.set(r.handle, r.line);
    else {
      r.body = null;
      r.problem = problem('upl.err.duplicate', { line: first });
    }
  }

  // values against their templates, when the file uses only a few of them
  const wanted = new Map<string, { prefix: string; version: string }>();
  for (const r of result.rows) {
    if (r.body === null) continue;
    const prefix = r.handle.slice(0, r.handle.indexOf('/'));
    const key = `${asciiUpper(prefix)}\n${r.body.templateVersion}`;
    if (!wanted.has(key)) wanted.set(key, { prefix, version: r.body.templateVersion });
    if (wanted.size > MAX_TEMPLATE_LOOKUPS) break;
  }
  if (wanted.size > MAX_TEMPLATE_LOOKUPS) {
    result.templates.skipped = true;
    return result;
  }
  const templates = new Map<string, Template | 'missing' | 'unknown'>();
  let n = 0;
  for (const [key, w] of wanted) {
    progress('check', n++, wanted.size);
    stop();
    try {
      templates.set(key, await loadTemplate(w.prefix, w.version));
      result.templates.checked++;
    } catch (e) {
      if (e instanceof ApiError && e.status === -2 && /模板不存在|template not found/i.test(e.message)) {
        templates.set(key, 'missing');
        result.templates.missing.push(w.version);
      } else {
        if ((e as Error).name === 'AbortError') throw e;
        templates.set(key, 'unknown');
        result.templates.skipped = true;
      }
    }
  }
  for (const [i, r] of result.rows.entries()) {
    if (i % 5000 === 0) {
      progress('check', wanted.size, wanted.size);
      await pause();
      stop();
    }
    if (r.body === null) continue;
    const t = templates.get(`${asciiUpper(r.handle.slice(0, r.handle.indexOf('/')))}\n${r.body.templateVersion}`);
    if (t === undefined || t === 'unknown') continue;
    const p = t === 'missing' ? problem('ids.err.noTemplate', { version: r.body.templateVersion }) : checkAgainstTemplate(t, r.body.value);
    if (p !== null) {
      r.body = null;
      r.problem = p;
    }
  }
  return result;
}
