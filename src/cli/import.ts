// `idnode import <file>`: the command around runImport — options, a progress line on stderr, the summary and rejections on stdout, exit codes.
import { MAX_BATCH_ITEMS } from '../../registry/identifiers.js';
import { openNode } from '../node.js';
import { parseCommandArgs, positiveInt, UsageError, type Command } from './args.js';
import { ImportError, runImport } from './import-file.js';
import { stderrLog } from './log.js';

const USAGE = 'usage: idnode import <file> --prefix <p> [--template <v>] [--batch <n>]';

export const importCommand: Command = (args) => {
  const { values, positionals } = parseCommandArgs(
    args,
    { prefix: { type: 'string' }, template: { type: 'string' }, batch: { type: 'string' } },
    true,
    USAGE,
  );
  const file = positionals[0];
  if (file === undefined || positionals.length > 1 || values.prefix === undefined) throw new UsageError(USAGE);
  const prefix = values.prefix;
  const batchSize = positiveInt('batch', values.batch, MAX_BATCH_ITEMS);
  return async (config) => {
    // With REDIS_URL the import's invalidations reach every running node; on PGlite a running node holds the data folder (DataDirLockedError).
    const node = await openNode(config, stderrLog);
    const tty = process.stderr.isTTY === true;
    const started = Date.now();
    try {
      const s = await runImport(node.registry, {
        file,
        prefix,
        template: values.template,
        batchSize,
        progress: (done, sum) => {
          const rate = Math.round((done * 1000) / Math.max(1, Date.now() - started));
          const line = `${done} read · ${sum.created} created · ${sum.unchanged} unchanged · ${sum.rejected.length} rejected · ${rate}/s`;
          process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
        },
      });
      if (tty) process.stderr.write('\n');
      const secs = ((Date.now() - started) / 1000).toFixed(2);
      process.stdout.write(`imported ${file} in ${secs}s: ${s.created} created, ${s.unchanged} unchanged, ${s.rejected.length} rejected (${s.read} read)\n`);
      for (const r of s.rejected.slice(0, 50)) process.stdout.write(`  line ${r.line}${r.handle ? ` ${r.handle}` : ''}: ${r.reason}\n`);
      if (s.rejected.length > 50) process.stdout.write(`  … and ${s.rejected.length - 50} more\n`);
      return s.rejected.length > 0 ? 1 : 0;
    } catch (err) {
      if (err instanceof ImportError) {
        stderrLog.error(`idnode import: ${err.message}`);
        return 2;
      }
      throw err;
    } finally {
      await node.close();
    }
  };
};
