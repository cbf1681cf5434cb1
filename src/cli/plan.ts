// `idnode plan`: the county plan's progress per town and year as a terminal table, CSV or JSON.
import { planProgress, progressToCsv, progressToTable } from '../../registry/plan.js';
import { openNode } from '../node.js';
import { parseCommandArgs, UsageError, type Command } from './args.js';
import { stderrLog } from './log.js';

const USAGE = 'usage: idnode plan [--csv|--json]';

export const planCommand: Command = (args) => {
  const { values } = parseCommandArgs(args, { csv: { type: 'boolean' }, json: { type: 'boolean' } }, false, USAGE);
  if (values.csv && values.json) throw new UsageError(`--csv and --json exclude each other\n${USAGE}`);
  return async (config) => {
    const node = await openNode({ ...config, REDIS_URL: undefined }, stderrLog);
    try {
      const p = await planProgress(node.registry, node.plan);
      process.stdout.write(values.csv ? progressToCsv(p) : values.json ? `${JSON.stringify(p, null, 2)}\n` : progressToTable(p));
      return 0;
    } finally {
      await node.close();
    }
  };
};
