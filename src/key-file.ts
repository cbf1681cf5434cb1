// The password key file: the keys of the stored SNMS v1 digests, outside the database (mode 0600, one key a line).
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DigestKeyring, isDigestKeyId, newDigestKey, type DigestKey } from '../registry/users/keys.js';
import type { Config } from './config.js';

const HEADER =
  '# idnode password key file: the keys of the SNMS v1 login digests (users.password_sha256_enc). Keep it out of\n' +
  '# database dumps and backups of the database; every instance sharing the database needs the same file.\n' +
  '# One key a line, "<id> <base64 of 32 bytes>", newest last. Rotate with `idnode rotate-password-key`.\n';

/** Where the key file is: PASSWORD_KEY_FILE, else `<DATA_DIR>/password-key`; null for a throw-away node (DATA_DIR=:memory:). */
export function passwordKeyFilePath(config: Pick<Config, 'PASSWORD_KEY_FILE' | 'DATA_DIR'>): string | null {
  if (config.PASSWORD_KEY_FILE !== undefined) return config.PASSWORD_KEY_FILE;
  return config.DATA_DIR === ':memory:' ? null : join(config.DATA_DIR, 'password-key');
}

export class KeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFileError';
  }
}

/** The keys in a key file (newest last); throws KeyFileError naming the file and the line when it is malformed. */
export function readKeyFile(path: string): DigestKey[] {
  const text = readFileSync(path, 'utf8');
  const keys: DigestKey[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [id, b64, ...rest] = line.split(/\s+/);
    const key = Buffer.from(b64 ?? '', 'base64');
    if (rest.length > 0 || id === undefined || !isDigestKeyId(id) || key.length !== 32) {
      throw new KeyFileError(`${path}:${i + 1}: expected "<id> <base64 of 32 bytes>" (id: 1-32 of 0-9 a-z); restore the file from your backup`);
    }
    if (keys.some((k) => k.id === id)) throw new KeyFileError(`${path}:${i + 1}: key id ${id} appears twice`);
    keys.push({ id, key });
  });
  if (keys.length === 0) throw new KeyFileError(`${path}: holds no key; restore it from your backup, or delete it to start with a new key`);
  return keys;
}

/** Writes the keys atomically (a 0600 temporary file renamed over the old one). */
export function writeKeyFile(path: string, keys: readonly DigestKey[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, HEADER + keys.map((k) => `${k.id} ${k.key.toString('base64')}\n`).join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Creates the file with one new key unless it exists (exclusive create: instances starting together agree on one). */
function createIfAbsent(path: string): boolean {
  mkdirSync(dirname(path), { recursive: true });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    const k = newDigestKey();
    writeSync(fd, `${HEADER}${k.id} ${k.key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

export interface OpenedKeyFile {
  ring: DigestKeyring;
  path: string;
  /** the file did not exist and was created with a new key now */
  created: boolean;
  /** a warning to log (the file readable by group or others) */
  warning: string | null;
}

/** Opens the key file at `path`, creating it (mode 0600, one new key) when absent; the ring reloads it on a miss. */
export function openKeyFile(path: string): OpenedKeyFile {
  const created = createIfAbsent(path);
  const keys = readKeyFile(path);
  const mode = statSync(path).mode & 0o777;
  const warning = (mode & 0o077) !== 0 ? `${path} is readable by others (mode ${mode.toString(8)}): chmod 600 ${path}` : null;
  return { ring: new DigestKeyring(keys, () => readKeyFile(path)), path, created, warning };
}
