// `idnode migrate`: applies the database migrations and exits.
import { openStore } from '../node.js';
import { parseCommandArgs, type Command } from './args.js';
import { stderrLog } from './log.js';

const USAGE = 'usage: idnode migrate';

export const migrateCommand: Command = (args) => {
  parseCommandArgs(args, {}, false, USAGE);
  return async (config) => {
    const store = await openStore(config);
    try {
      await store.migrate();
      stderrLog.info(`migrations applied (${store.kind})`);
    } finally {
      await store.close();
    }
    return 0;
  };
};
