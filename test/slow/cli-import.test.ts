// `idnode import` and `idnode plan` end to end: batches, per-item rejections, re-runs, exit codes — import over
// PostgreSQL when the tests have it (each command is a process of its own; PGlite boots take seconds each), plan on
// the embedded store. In the slow suite: a dozen CLI processes, about 30 s alone and twice that inside `npm test`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openNode } from '../../src/node.js';
import { createTemplate } from '../../registry/templates.js';
import { normaliseTemplateInput } from '../../registry/template-rules.js';
import { hasPostgres, tempPostgres } from '../helpers/services.js';

const cli = 'dist/src/cli.js';

describe('idnode import / plan', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let db: { url: string; drop: () => Promise<void> } | null = null;
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 60_000 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'idnode-import-'));
    db = hasPostgres ? await tempPostgres() : null;
    env = { ...process.env, DATA_DIR: join(dir, 'data'), DATABASE_URL: db?.url ?? '', REDIS_URL: '', ADMIN_SECRET: 'import-test-secret', LOG_LEVEL: 'silent' };
    const node = await openNode(loadConfig({ DATA_DIR: env.DATA_DIR, DATABASE_URL: env.DATABASE_URL, ADMIN_SECRET: 'import-test-secret' }));
    try {
      await createTemplate(
        node.registry,
        normaliseTemplateInput(
          {
            prefix: '88.320924',
            version: 'pump-v1',
            industryCategory: 'C',
            industrySpecific: '34',
            items: [
              { name: '名称', idType: 'name', idIndex: 2000, required: true, metadata: { type: 'string', minLength: 1, maxLength: 64 } },
              { name: '型号', idType: 'model', idIndex: 2001, required: false, metadata: { type: 'string', minLength: 0, maxLength: 10 } },
            ],
          },
          'create',
        ),
        { id: 'test' },
      );
    } finally {
      await node.close();
    }
    writeFileSync(
      join(dir, 'pumps.csv'),
      '\uFEFFsuffix,name,型号\r\nP-1,"水泵, 一号",X1\r\nP-2,"He said ""hi""",\r\nP-3,泵三,WAY-TOO-LONG-MODEL\r\nP-4,,X4\r\n',
    );
    writeFileSync(
      join(dir, 'pumps.ndjson'),
      [
        JSON.stringify({ suffix: 'N-1', name: '甲', model: 'M1' }),
        JSON.stringify({ handle: '88.320924/N-2', value: [{ index: 2000, type: 'name', data: { format: 'string', value: '乙' } }] }),
        'not json',
        JSON.stringify({ handle: '99.1/N-3', name: '丙' }),
      ].join('\n') + '\n',
    );
  }, 60_000);
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('imports CSV per item, reports rejections with lines and reasons, exits 1; a re-run changes nothing', () => {
    const first = run('import', join(dir, 'pumps.csv'), '--prefix', '88.320924', '--template', 'pump-v1');
    expect(first.status, first.stderr).toBe(1);
    expect(first.stdout).toMatch(/2 created, 0 unchanged, 2 rejected \(4 read\)/);
    // the template's own wording of what is wrong: the model too long, the required name missing
    expect(first.stdout).toMatch(/line 4 88\.320924\/P-3: .*model.*0–10/);
    expect(first.stdout).toMatch(/line 5 88\.320924\/P-4: .*name.*missing/);
    const again = run('import', join(dir, 'pumps.csv'), '--prefix', '88.320924', '--template', 'pump-v1');
    expect(again.status).toBe(1);
    expect(again.stdout).toMatch(/0 created, 2 unchanged, 2 rejected/);
    const r = run('resolve', '88.320924/p-1');
    expect(r.status).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body.values.map((v: { index: number; data: { value: string } }) => [v.index, v.data.value])).toEqual([
      [1001, 'pump-v1'],
      [2000, '水泵, 一号'],
      [2001, 'X1'],
    ]);
    expect(JSON.parse(run('resolve', '88.320924/P-2').stdout).values[1].data.value).toBe('He said "hi"');
  }, 60_000);

  it('imports NDJSON (flat or SNMS value lists); bad lines and other prefixes are rejected per item', () => {
    const r = run('import', join(dir, 'pumps.ndjson'), '--prefix', '88.320924', '--template', 'pump-v1');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/2 created, 0 unchanged, 2 rejected \(4 read\)/);
    expect(r.stdout).toMatch(/line 3: not valid JSON/);
    expect(r.stdout).toMatch(/line 4 99\.1\/N-3: not under --prefix 88\.320924\n/);
  }, 60_000);

  it('refuses before writing anything: unknown CSV columns, a missing template, bad options', () => {
    writeFileSync(join(dir, 'bad.csv'), 'suffix,colour\nQ-1,red\n');
    const cols = run('import', join(dir, 'bad.csv'), '--prefix', '88.320924', '--template', 'pump-v1');
    expect(cols.status).toBe(2);
    expect(cols.stderr).toContain('colour');
    expect(run('import', join(dir, 'bad.csv'), '--prefix', '88.320924', '--template', 'nope').status).toBe(2);
    expect(run('import', join(dir, 'bad.csv')).status).toBe(2);
    expect(run('import', join(dir, 'bad.csv'), '--prefix', '88.320924', '--batch', '0').status).toBe(2);
    expect(run('resolve', '88.320924/Q-1').status).toBe(1);
  }, 60_000);

  it('idnode plan prints the county table (on the embedded store), CSV and JSON', () => {
    const embedded = { ...env, DATABASE_URL: '', DATA_DIR: join(dir, 'embedded') };
    const plan = (...args: string[]) => spawnSync(process.execPath, [cli, 'plan', ...args], { env: embedded, encoding: 'utf8', timeout: 60_000 });
    const t = plan();
    expect(t.status).toBe(0);
    expect(t.stdout).toContain('射阳县');
    expect(t.stdout).toMatch(/合德镇\s+50\s+0\/12\s+0\/24\s+0\/36/);
    expect(t.stdout).toMatch(/合计\s+430\s+0\/100\s+0\/200\s+0\/300/);
    // the other formats from the store the imports used (one embedded boot is enough for the embedded path)
    const csv = run('plan', '--csv');
    expect(csv.stdout.split('\n')[0]).toBe('town,year,target,registered,gap,aboveScale2021,coverage');
    expect(JSON.parse(run('plan', '--json').stdout).totals.target).toEqual({ 2022: 100, 2023: 200, 2024: 300 });
  }, 60_000);
});
