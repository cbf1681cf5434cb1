// The node's server key pair, outside the database: an RSA private key in SERVER_KEY_FILE (PEM), created 0600 on first start; it signs certified native answers.
import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { KeyData } from '../handle/types.js';
import { publicKeyBytesFromJson } from '../handle/wire/keys.js';
import type { Config } from './config.js';
import { StartupError } from './startup.js';

/** The size of a generated key; a key file with a smaller RSA key is refused. */
export const SERVER_KEY_BITS = 2048;

export interface ServerKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** the public key as Handle.Net encodes it (HS_PUBKEY data, a server's key in HS_SITE): Util.getBytesFromPublicKey */
  publicKeyBytes: Uint8Array;
  /** the same in Handle JSON ({kty: "RSA", n, e}, the value of an HS_PUBKEY of format "key") */
  json: KeyData;
  /** the key file; null for a throw-away node's key in memory */
  path: string | null;
  /** the file did not exist and was created now */
  created: boolean;
  /** a warning to log (the file readable by group or others) */
  warning: string | null;
}

/** Where the key is: SERVER_KEY_FILE, else `<DATA_DIR>/server-key.pem`; null for a throw-away node (DATA_DIR=:memory:). */
export function serverKeyFilePath(config: Pick<Config, 'SERVER_KEY_FILE' | 'DATA_DIR'>): string | null {
  if (config.SERVER_KEY_FILE !== undefined) return config.SERVER_KEY_FILE;
  return config.DATA_DIR === ':memory:' ? null : join(config.DATA_DIR, 'server-key.pem');
}

const generate = promisify(generateKeyPair);

async function newPrivateKeyPem(): Promise<string> {
  const { privateKey } = await generate('rsa', { modulusLength: SERVER_KEY_BITS, publicExponent: 0x10001 });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** The parts of a ServerKey that follow from its private key; throws StartupError when Handle cannot use the key. */
function fromPrivateKey(privateKey: KeyObject, where: string): Pick<ServerKey, 'privateKey' | 'publicKey' | 'publicKeyBytes' | 'json'> {
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new StartupError(`${where} holds a ${String(privateKey.asymmetricKeyType)} key: the server key must be RSA (what Handle.Net clients verify); delete the file to start with a new one`);
  }
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < SERVER_KEY_BITS) throw new StartupError(`${where} holds a ${bits}-bit RSA key: at least ${SERVER_KEY_BITS} bits are needed`);
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' });
  const json: KeyData = { kty: 'RSA', n: jwk.n, e: jwk.e };
  const bytes = publicKeyBytesFromJson(json);
  if (bytes === null) throw new StartupError(`${where}: the public key cannot be encoded for Handle clients`);
  return { privateKey, publicKey, publicKeyBytes: new Uint8Array(bytes), json };
}

/**
 * Creates the key file with a new key unless it exists: the key is written to a 0600 temporary file, which is then
 * hard-linked to `path` (link never replaces a file, so of several processes starting together — cluster workers,
 * instances sharing a volume — exactly one creates it, and nobody reads a half-written file). Returns whether this
 * call created it.
 */
async function createIfAbsent(path: string): Promise<boolean> {
  try {
    statSync(path);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(path), { recursive: true });
  const pem = await newPrivateKeyPem();
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, pem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  } finally {
    unlinkSync(tmp);
  }
  // a file system without hard links: an exclusive create (still one creator; a reader may race the write)
  let out: number;
  try {
    out = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(out, pem);
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
  return true;
}

/** One throw-away key per process, for nodes without a data folder (DATA_DIR=:memory:). */
let memoryKey: Promise<KeyObject> | null = null;

/**
 * For the cluster primary, before it forks the workers: they must all sign with one key, so they need a key file
 * (a throw-away node's in-memory key would differ in each); creates it when absent, as openServerKey does.
 */
export async function prepareSharedServerKey(config: Pick<Config, 'SERVER_KEY_FILE' | 'DATA_DIR'>): Promise<ServerKey> {
  if (serverKeyFilePath(config) === null) {
    throw new StartupError('WORKERS > 1 with DATA_DIR=:memory: needs SERVER_KEY_FILE: the workers must share one server key, which a file gives them');
  }
  return openServerKey(config);
}

/**
 * The server key: from its file (created with a new RSA key when absent), or for a throw-away node a key kept in
 * memory. A file that cannot be read or created, or that holds no usable RSA private key, is a StartupError.
 */
export async function openServerKey(config: Pick<Config, 'SERVER_KEY_FILE' | 'DATA_DIR'>): Promise<ServerKey> {
  const path = serverKeyFilePath(config);
  if (path === null) {
    memoryKey ??= newPrivateKeyPem().then((pem) => createPrivateKey(pem));
    return { ...fromPrivateKey(await memoryKey, 'the in-memory server key'), path: null, created: false, warning: null };
  }
  const where = `SERVER_KEY_FILE=${path}`;
  let created: boolean;
  let pem: Buffer;
  try {
    created = await createIfAbsent(path);
    pem = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new StartupError(`${where} cannot be read or created (${e.code ?? e.message}): give a path the node's user may read (and write, for a new key)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new StartupError(
      `${where} is not an unencrypted PEM private key: restore it from your backup, or delete it to start with a new key (clients that kept the old public key must fetch the site info again)`,
    );
  }
  const mode = statSync(path).mode & 0o777;
  const warning = (mode & 0o077) !== 0 ? `${path} is readable by others (mode ${mode.toString(8)}): chmod 600 ${path}` : null;
  return { ...fromPrivateKey(privateKey, where), path, created, warning };
}
