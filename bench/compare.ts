// Before-and-after bench (`npm run bench:compare -- --baseline <checkout>`): the same scenarios of `npm run bench`
// on another build (a git worktree of an older commit, built) and on this one, alternating in one run; new ÷ old.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BenchUsageError, parseBenchArgs, positiveInt, runMain } from './args.js';
import { fmtInt, RESULTS_DIR, writeReport } from './lib.js';

const USAGE = `usage: node dist/bench/compare.js --baseline DIR [options]   (DATABASE_URL and REDIS_URL must be set)
  --baseline DIR     a checkout of the older commit, built (DIR/dist/bench/run.js must exist)
  --only a,b         scenarios (default hot,warm,cold,negative,native)
  --repeats N        times each scenario runs on each build, alternating old/new then new/old (default 2)
  --rounds N         --rounds of each bench run (default 3)
  --seconds N        --seconds of each bench run (default 5)
  --out NAME         bench/results/NAME.md and .json (default compare)`;

/** The report rows a scenario gives (native gives one per transport). */
const ROWS_OF: Readonly<Record<string, readonly string[]>> = { native: ['native-tcp', 'native-tcp-new', 'native-udp'] };

interface Row {
  rps: number;
  cpuUsPerReq: number | null;
  ceilingRps: number;
  ratio: number;
}

interface Side {
  /** per report row: one figure per repeat */
  runs: Map<string, Row[]>;
}

function runBench(dir: string, scenario: string, o: { rounds: number; seconds: number }, out: string): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const args = [join(dir, 'dist/bench/run.js'), '--only', scenario, '--rounds', String(o.rounds), '--seconds', String(o.seconds), '--out', out];
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => {
      err = (err + b.toString()).slice(-4000);
    });
    child.once('exit', (code) => (code === 0 ? resolveRun() : reject(new Error(`${dir}: bench ${scenario} exited ${code}\n${err}`))));
  });
}

function readRows(dir: string, out: string): Record<string, Row> {
  const j = JSON.parse(readFileSync(join(dir, 'bench/results', `${out}.json`), 'utf8')) as { scenarios: Record<string, Row> };
  return j.scenarios;
}

const median = (xs: readonly number[]) => {
  const a = xs.slice().sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
};

export async function main(argv: readonly string[]): Promise<number> {
  const v = parseBenchArgs(
    argv,
    { baseline: { type: 'string' }, only: { type: 'string' }, repeats: { type: 'string' }, rounds: { type: 'string' }, seconds: { type: 'string' }, out: { type: 'string' } },
    USAGE,
  );
  if (v.baseline === undefined) throw new BenchUsageError(`--baseline is required\n${USAGE}`);
  const baseline = resolve(v.baseline);
  if (!existsSync(join(baseline, 'dist/bench/run.js'))) throw new BenchUsageError(`${baseline}/dist/bench/run.js not found: build the baseline first (npm ci && npm run build there)`);
  if (!process.env.DATABASE_URL || !process.env.REDIS_URL) throw new BenchUsageError('DATABASE_URL and REDIS_URL must be set');
  const here = resolve(RESULTS_DIR, '../..');
  const scenarios = (v.only ?? 'hot,warm,cold,negative,native').split(',').map((s) => s.trim()).filter(Boolean);
  const repeats = positiveInt('repeats', v.repeats, 2, 20);
  const o = { rounds: positiveInt('rounds', v.rounds, 3, 20), seconds: positiveInt('seconds', v.seconds, 5, 60) };
  const out = v.out ?? 'compare';
  const sides: Record<'old' | 'new', Side> = { old: { runs: new Map() }, new: { runs: new Map() } };
  const t0 = Date.now();
  for (let r = 0; r < repeats; r++) {
    for (const s of scenarios) {
      // ABBA: old first on even repeats, new first on odd ones, so drift of the machine falls on both alike
      const order: ('old' | 'new')[] = r % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
      for (const side of order) {
        const dir = side === 'old' ? baseline : here;
        const name = `${out}-${side}-${s}-${r}`;
        process.stderr.write(`[compare ${((Date.now() - t0) / 1000).toFixed(0)} s] ${side} ${s} (repeat ${r + 1}/${repeats})\n`);
        await runBench(dir, s, o, name);
        const rows = readRows(dir, name);
        for (const row of ROWS_OF[s] ?? [s]) {
          const got = rows[row];
          if (got === undefined) continue;
          const list = sides[side].runs.get(row) ?? [];
          list.push(got);
          sides[side].runs.set(row, list);
        }
      }
    }
  }
  const rows = [...sides.new.runs.keys()];
  const table = rows.map((row) => {
    const a = sides.old.runs.get(row) ?? [];
    const b = sides.new.runs.get(row) ?? [];
    const oldRps = median(a.map((x) => x.rps));
    const newRps = median(b.map((x) => x.rps));
    const cpu = (xs: Row[]) => (xs.every((x) => x.cpuUsPerReq !== null) ? median(xs.map((x) => x.cpuUsPerReq!)) : null);
    const oldCpu = cpu(a);
    const newCpu = cpu(b);
    // each side's own ratio to the reference measured next to it: steadier than raw req/s across runs
    const oldRatio = median(a.map((x) => x.ratio));
    const newRatio = median(b.map((x) => x.ratio));
    return { row, oldRps, newRps, rpsRatio: newRps / oldRps, oldRatio, newRatio, oldCpu, newCpu, cpuRatio: oldCpu === null || newCpu === null ? null : newCpu / oldCpu };
  });
  const f2 = (x: number | null) => (x === null ? '-' : x.toFixed(2));
  const md = [
    `# Before and after: ${baseline} (old) vs ${here} (new)`,
    '',
    `${repeats} repeats × ${o.rounds} rounds × ${o.seconds} s per scenario and build, alternating (ABBA). Medians.`,
    '',
    '| scenario | old req/s | new req/s | new ÷ old | old ratio to its reference | new ratio to its reference | old CPU µs/req | new CPU µs/req | new ÷ old CPU |',
    '|---|---|---|---|---|---|---|---|---|',
    ...table.map((t) => `| ${t.row} | ${fmtInt(t.oldRps)} | ${fmtInt(t.newRps)} | ${f2(t.rpsRatio)} | ${f2(t.oldRatio)} | ${f2(t.newRatio)} | ${f2(t.oldCpu)} | ${f2(t.newCpu)} | ${f2(t.cpuRatio)} |`),
    '',
    'The reference of each row is the one `npm run bench` uses (const, redis, pg; HTTP hot on the same node for negative and native).',
  ].join('\n');
  writeReport(out, md, { baseline, scenarios, repeats, ...o, table });
  process.stdout.write(`${md}\n`);
  return 0;
}

runMain(() => main(process.argv.slice(2)));
