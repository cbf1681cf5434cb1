// Smoke bench (`npm run bench:smoke`): bench/run.ts with --smoke — tiny sizes, one second per run, every scenario; for CI and a quick look.
import { runMain } from './args.js';
import { main } from './run.js';

runMain(() => main(['--smoke', ...process.argv.slice(2)]));
