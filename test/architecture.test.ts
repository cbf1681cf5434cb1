// The shape of the code, checked on every run: no import cycles (type imports included), dependencies pointing one
// way (src → resolver → handle, src → registry → handle), fastify only in src/, the database only in registry/.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseCircular, parseDependencyTree } from 'dpdm';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = process.cwd();
type Tree = Awaited<ReturnType<typeof parseDependencyTree>>;
let tree: Tree;

/** file (relative) → the project files it imports (relative). */
function edges(t: Tree): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [file, deps] of Object.entries(t)) {
    const list: string[] = [];
    for (const d of deps ?? []) if (d.id !== null && isOurs(d.id)) list.push(relative(ROOT, d.id));
    out.set(relative(ROOT, file), list);
  }
  return out;
}

/** Whether a resolved module id is one of the project's files (dpdm gives them relative to the context). */
function isOurs(id: string): boolean {
  return !id.startsWith('node:') && !id.includes('node_modules') && /\.ts$/.test(id) && existsSync(id);
}

/** The project's own source files in the tree. */
function projectFiles(): string[] {
  return Object.keys(tree)
    .filter(isOurs)
    .map((f) => relative(ROOT, f));
}

beforeAll(async () => {
  tree = await parseDependencyTree(['src/cli.ts', 'bench/*.ts', 'handle/**/*.ts', 'resolver/**/*.ts', 'registry/**/*.ts', 'src/**/*.ts'], {
    context: ROOT,
    transform: false,
    skipDynamicImports: false,
  });
}, 30_000);

describe('architecture', () => {
  it('reads the whole tree (the checks below would pass on an empty one)', () => {
    expect(projectFiles().length).toBeGreaterThan(100);
    expect(edges(tree).get('src/server.ts')).toContain('src/app.ts');
  });

  it('has no import cycle between files, type-only imports included', () => {
    expect(parseCircular(tree).map((c) => c.map((f) => relative(ROOT, f)).join(' → '))).toEqual([]);
  });

  it('points dependencies one way: handle/ imports nothing of ours outside it; resolver/ and registry/ only handle/ (and themselves)', () => {
    const wrong: string[] = [];
    for (const [file, deps] of edges(tree)) {
      const top = file.split('/')[0]!;
      for (const dep of deps) {
        const dtop = dep.split('/')[0]!;
        const ok =
          top === 'handle' ? dtop === 'handle' : top === 'resolver' ? dtop === 'resolver' || dtop === 'handle' : top === 'registry' ? dtop === 'registry' || dtop === 'handle' : true;
        if (!ok) wrong.push(`${file} → ${dep}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps fastify in src/ and the database drivers in registry/', () => {
    const wrong: string[] = [];
    for (const file of projectFiles()) {
      const text = readFileSync(file, 'utf8');
      const top = file.split('/')[0];
      if (top !== 'src' && top !== 'bench' && /from 'fastify'|from '@fastify\//.test(text)) wrong.push(`${file} imports fastify`);
      if (top !== 'registry' && top !== 'bench' && /from '(kysely|pg|@electric-sql\/pglite)'/.test(text)) wrong.push(`${file} imports a database driver`);
      if (top === 'src' && /\.store\.db\b|store\.db\./.test(text)) wrong.push(`${file} touches the database handle`);
    }
    expect(wrong).toEqual([]);
  });

  it('opens every source file with one line saying what it is', () => {
    const missing = projectFiles()
      .filter((f) => !f.endsWith('.d.ts'))
      .filter((f) => {
        const first = readFileSync(f, 'utf8').split('\n')[0] ?? '';
        return !(first.startsWith('// ') || first.startsWith('#!'));
      });
    expect(missing).toEqual([]);
  });
});
