// Smoke bench (`npm run bench:smoke`): bench/run.ts with --smoke — tiny sizes, one second per run, every scenario; for CI and a quick look.
import { BenchUsageError, main } from './run.js';

main(['--smoke', ...process.argv.slice(2)]).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(err instanceof BenchUsageError ? `${err.message}\n` : `${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = err instanceof BenchUsageError ? 2 : 1;
  },
);
