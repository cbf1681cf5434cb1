// `idnode rotate-password-key`: a new key in the password key file, every v1 digest re-encrypted under it, old keys dropped.
import { keyIdsInUse, reencryptDigests } from '../../registry/users/digests.js';
import { DigestKeyring, newDigestKey } from '../../registry/users/keys.js';
import { passwordKeyFilePath, readKeyFile, writeKeyFile } from '../key-file.js';
import { openNode } from '../node.js';
import { parseCommandArgs, type Command } from './args.js';
import { stderrLog } from './log.js';

const USAGE = 'usage: idnode rotate-password-key';

export const rotatePasswordKeyCommand: Command = (args) => {
  parseCommandArgs(args, {}, false, USAGE);
  return async (config) => {
    if (config.SNMS_V1_LOGIN === 'off') {
      stderrLog.error('idnode: SNMS_V1_LOGIN=off keeps no v1 digests: there is no password key to rotate');
      return 2;
    }
    const path = passwordKeyFilePath(config);
    if (path === null) {
      stderrLog.error('idnode: DATA_DIR=:memory: keeps its password key in memory: set PASSWORD_KEY_FILE (or DATA_DIR) to rotate a key file');
      return 2;
    }
    // opening the node creates the file on a first start and moves digests off the legacy in-database key
    const node = await openNode({ ...config, REDIS_URL: undefined }, stderrLog);
    try {
      const old = readKeyFile(path);
      const fresh = newDigestKey();
      // the new key is in the file before any row uses it: a crash from here on loses nothing
      writeKeyFile(path, [...old, fresh]);
      const ring = new DigestKeyring([...old, fresh]);
      const { reencrypted, undecryptable } = await reencryptDigests(node.registry, ring);
      const inUse = await keyIdsInUse(node.registry);
      const kept = old.filter((k) => inUse.has(k.id));
      writeKeyFile(path, [...kept, fresh]);
      const dropped = old.filter((k) => !inUse.has(k.id)).map((k) => k.id);
      stderrLog.info(
        `password key rotated: new key ${fresh.id} in ${path}; ${reencrypted} v1 digests re-encrypted` +
          (dropped.length > 0 ? `; dropped key(s) ${dropped.join(', ')}` : '') +
          (kept.length > 0 ? `; kept key(s) ${kept.map((k) => k.id).join(', ')} (${undecryptable} rows could not be decrypted)` : '') +
          '. Copy the file to every other instance sharing the database (they read it again when they meet the new key).',
      );
      return undecryptable > 0 ? 1 : 0;
    } finally {
      await node.close();
    }
  };
};
