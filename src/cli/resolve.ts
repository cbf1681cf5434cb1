// `idnode resolve <handle>`: prints a handle's values as Handle JSON (exit 1 when it does not exist).
import { parseHandle } from '../../handle/identifier.js';
import { openNode } from '../node.js';
import { parseCommandArgs, UsageError, type Command } from './args.js';
import { stderrLog } from './log.js';

const USAGE = 'usage: idnode resolve <handle>';

export const resolveCommand: Command = (args) => {
  const { positionals } = parseCommandArgs(args, {}, true, USAGE);
  const handle = positionals[0];
  if (handle === undefined || handle === '' || positionals.length > 1) throw new UsageError(USAGE);
  return async (config) => {
    const node = await openNode({ ...config, REDIS_URL: undefined }, stderrLog);
    try {
      const id = parseHandle(handle, node.policy);
      const res = await node.resolver.resolve(id.key, { authoritative: true });
      if (!res.found) {
        process.stdout.write(`${JSON.stringify({ responseCode: 100, handle, message: 'Handle Not Found' })}\n`);
        return 1;
      }
      process.stdout.write(`{"responseCode":1,"handle":${JSON.stringify(handle)},"values":${res.record.publicJson}}\n`);
      return 0;
    } finally {
      await node.close();
    }
  };
};
