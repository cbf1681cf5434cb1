// The server key file: created 0600 and reused, its default place, concurrent starts agreeing on one key, and bad files stopping the start (node starts on PGlite: seconds, so out of npm test).
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPFLAG } from '../../handle/wire/message.js';
import { StartupError } from '../../src/startup.js';
import { NODE_PREFIX, startTestServer } from '../helpers/node.js';
import { tcpRequest } from '../helpers/native-client.js';
import { signatureHolds, siteKey } from '../helpers/signatures.js';

const P = NODE_PREFIX;

describe('the server key file', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'idnode-server-key-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is created 0600 (PEM PKCS#8) on first start and reused on the next', async () => {
    const file = join(dir, 'keys', 'server-key.pem');
    const first = await startTestServer('pglite', { SERVER_KEY_FILE: file }, undefined, { native: true });
    let firstKey: Buffer;
    try {
      firstKey = (await siteKey(first.native!.tcpPort)).bytes;
      expect(first.node.serverKey.created).toBe(true);
    } finally {
      await first.close();
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const pem = readFileSync(file, 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const second = await startTestServer('pglite', { SERVER_KEY_FILE: file }, undefined, { native: true });
    try {
      expect(second.node.serverKey.created).toBe(false);
      const { key, bytes } = await siteKey(second.native!.tcpPort);
      expect(bytes.equals(firstKey)).toBe(true);
      const a = await tcpRequest(second.native!.tcpPort, { handle: `${P}/anything`, opFlags: OPFLAG.CERT });
      expect(signatureHolds(a, key)).toBe(true);
    } finally {
      await second.close();
    }
    expect(readFileSync(file, 'utf8')).toBe(pem);
  });

  it('defaults to <DATA_DIR>/server-key.pem', async () => {
    const { serverKeyFilePath } = await import('../../src/server-key.js');
    expect(serverKeyFilePath({ DATA_DIR: '/var/lib/idnode', SERVER_KEY_FILE: undefined })).toBe('/var/lib/idnode/server-key.pem');
    expect(serverKeyFilePath({ DATA_DIR: ':memory:', SERVER_KEY_FILE: undefined })).toBeNull();
    expect(serverKeyFilePath({ DATA_DIR: ':memory:', SERVER_KEY_FILE: '/k.pem' })).toBe('/k.pem');
  });

  it('several starts at once agree on one key (the file is linked into place, never overwritten)', async () => {
    const { openServerKey } = await import('../../src/server-key.js');
    const file = join(dir, 'race', 'server-key.pem');
    const keys = await Promise.all(Array.from({ length: 4 }, () => openServerKey({ DATA_DIR: ':memory:', SERVER_KEY_FILE: file })));
    expect(keys.filter((k) => k.created).length).toBe(1);
    for (const k of keys) expect(Buffer.from(k.publicKeyBytes).equals(Buffer.from(keys[0]!.publicKeyBytes))).toBe(true);
  });

  it('a malformed, unreadable or non-RSA key file stops the start with a StartupError naming SERVER_KEY_FILE', async () => {
    const { openServerKey } = await import('../../src/server-key.js');
    const { generateKeyPairSync } = await import('node:crypto');
    const open = (file: string) => openServerKey({ DATA_DIR: ':memory:', SERVER_KEY_FILE: file });
    const bad = join(dir, 'bad.pem');
    writeFileSync(bad, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    await expect(startTestServer('pglite', { SERVER_KEY_FILE: bad })).rejects.toThrow(StartupError);
    await expect(open(bad)).rejects.toThrow(/SERVER_KEY_FILE=.*bad\.pem is not an unencrypted PEM private key/);
    const ec = join(dir, 'ec.pem');
    writeFileSync(ec, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await expect(open(ec)).rejects.toThrow(/must be RSA/);
    const small = join(dir, 'small.pem');
    writeFileSync(small, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await expect(open(small)).rejects.toThrow(/1024-bit RSA key/);
    await expect(open(join(dir, 'bad.pem', 'inside-a-file.pem'))).rejects.toThrow(/cannot be read or created \(ENOTDIR\)/);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked.pem');
      writeFileSync(locked, readFileSync(join(dir, 'keys', 'server-key.pem')));
      chmodSync(locked, 0o000);
      await expect(open(locked)).rejects.toThrow(/cannot be read or created \(EACCES\)/);
    }
  });
});
