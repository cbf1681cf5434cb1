// runImport (`idnode import`): loads CSV or NDJSON identifiers through the same registration code as the SNMS API, in batches.
import { isUnderPrefix, parsePrefix } from '../../handle/identifier.js';
import { registerBatch, MAX_BATCH_ITEMS, type ItemProblem, type ItemResult } from '../../registry/identifiers.js';
import { getTemplate, type Template } from '../../registry/templates.js';
import type { RegistryContext } from '../../registry/context.js';
import { readRecords, type ImportRecord } from './import-records.js';

export interface ImportOptions {
  file: string;
  prefix: string;
  template?: string | undefined;
  batchSize?: number;
  /** progress lines (stderr); called after every batch */
  progress?: (done: number, s: ImportSummary) => void;
}

export interface ImportSummary {
  read: number;
  created: number;
  unchanged: number;
  rejected: { line: number; handle: string; reason: string }[];
}

/** A problem that stops the import before anything is written (bad options, unknown CSV columns). */
export class ImportError extends Error {}

interface Pending {
  line: number;
  item: { handle: string; templateVersion: string | undefined; value: unknown[] };
}

/** Maps a CSV/flat record's columns to template items by idType or name (case-insensitive). */
function columnMapper(template: Template | null) {
  const byName = new Map<string, { idIndex: number; idType: string }>();
  for (const it of template?.items ?? []) {
    byName.set(it.idType.toLowerCase(), it);
    byName.set(it.name.toLowerCase(), it);
  }
  return (column: string) => byName.get(column.trim().toLowerCase());
}

/** Why the registry refused an item, for the import's report. */
export function rejectionReason(r: ItemResult, prefix: string): string {
  if (r.outcome === 'invalid') return problemReason(r.problem);
  if (r.outcome === 'exists') return 'already registered with other values (or in another case)';
  if (r.outcome === 'forbidden') return `not under --prefix ${prefix}`;
  return r.outcome;
}

function problemReason(p: ItemProblem): string {
  switch (p.kind) {
    case 'not-an-object':
      return 'not an object';
    case 'missing-handle':
      return 'no handle';
    case 'bad-handle':
      return `invalid handle: ${p.message}`;
    case 'missing-template-version':
      return 'no templateVersion (and no --template)';
    case 'template-version-too-long':
      return `templateVersion longer than ${p.max} characters`;
    case 'no-template':
      return `template ${p.templateVersion} does not exist under this prefix`;
    case 'values':
      return p.message;
  }
}

export async function runImport(registry: RegistryContext, o: ImportOptions): Promise<ImportSummary> {
  const { prefix } = parsePrefix(o.prefix);
  const prefixKey = parsePrefix(o.prefix).prefixKey;
  if (!isUnderPrefix(prefixKey, registry.nodePrefixKey)) {
    throw new ImportError(`--prefix ${prefix} is not homed on this node (NODE_PREFIX ${registry.nodePrefix})`);
  }
  const template = o.template === undefined ? null : await getTemplate(registry, prefix, o.template);
  if (o.template !== undefined && template === null) throw new ImportError(`template ${o.template} does not exist under ${prefix}`);
  const column = columnMapper(template);
  const batchSize = Math.min(Math.max(1, o.batchSize ?? MAX_BATCH_ITEMS), MAX_BATCH_ITEMS);
  const summary: ImportSummary = { read: 0, created: 0, unchanged: 0, rejected: [] };
  const actor = { id: 'cli:import' };
  let batch: Pending[] = [];
  let checkedHeader = false;

  const flush = async () => {
    if (batch.length === 0) return;
    const results: ItemResult[] = await registerBatch(registry, batch.map((b) => b.item), 'create', actor, {
      allowedPrefixKeys: (k) => isUnderPrefix(k, prefixKey),
    });
    results.forEach((r, i) => {
      if (r.outcome === 'created') summary.created++;
      else if (r.outcome === 'unchanged') summary.unchanged++;
      else summary.rejected.push({ line: batch[i]!.line, handle: r.handle || batch[i]!.item.handle, reason: rejectionReason(r, prefix) });
    });
    batch = [];
    o.progress?.(summary.read, summary);
  };

  const fromFields = (line: number, fields: Record<string, unknown>): Pending | string => {
    const handle = typeof fields.handle === 'string' && fields.handle !== '' ? fields.handle : undefined;
    const suffix = typeof fields.suffix === 'string' && fields.suffix !== '' ? fields.suffix : undefined;
    if (handle === undefined && suffix === undefined) return 'no handle or suffix';
    const value: unknown[] = [];
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'handle' || k === 'suffix' || k === 'templateVersion') continue;
      if (v === undefined || v === null || v === '') continue;
      const it = column(k);
      if (it === undefined) return `column ${k} is not an item of the template`;
      value.push({ index: it.idIndex, type: it.idType, data: { format: 'string', value: String(v) } });
    }
    const version = typeof fields.templateVersion === 'string' && fields.templateVersion !== '' ? fields.templateVersion : o.template;
    return { line, item: { handle: handle ?? `${prefix}/${suffix}`, templateVersion: version, value } };
  };

  for await (const rec of readRecords(o.file) as AsyncGenerator<ImportRecord>) {
    summary.read++;
    let p: Pending | string;
    if ('error' in rec) p = rec.error;
    else if ('fields' in rec) {
      if (!checkedHeader) {
        checkedHeader = true;
        if (template === null) throw new ImportError('a CSV import needs --template <version> to map its columns to template items');
        const unknown = Object.keys(rec.fields).filter((k) => k !== 'handle' && k !== 'suffix' && k !== 'templateVersion' && column(k) === undefined);
        if (unknown.length > 0) {
          throw new ImportError(`CSV columns not in template ${template.version}: ${unknown.join(', ')} (use handle or suffix, then item idType or name)`);
        }
      }
      p = fromFields(rec.line, rec.fields);
    } else {
      const j = rec.json;
      if (j === null || typeof j !== 'object' || Array.isArray(j)) p = 'each NDJSON line must be an object';
      else {
        const o2 = j as Record<string, unknown>;
        if (Array.isArray(o2.value)) {
          const handle = typeof o2.handle === 'string' ? o2.handle : typeof o2.suffix === 'string' ? `${prefix}/${o2.suffix}` : '';
          const version = typeof o2.templateVersion === 'string' ? o2.templateVersion : o.template;
          p = { line: rec.line, item: { handle, templateVersion: version, value: o2.value } };
        } else p = fromFields(rec.line, o2);
      }
    }
    if (typeof p === 'string') {
      summary.rejected.push({ line: rec.line, handle: '', reason: p });
      continue;
    }
    batch.push(p);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return summary;
}
