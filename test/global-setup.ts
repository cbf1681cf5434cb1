// Before the whole run: dump one fresh PGlite cluster for the in-memory stores to start from; after it: delete the
// Redis keys the suites left under their private namespaces (idnode-t-…, t-0.…) and the dump.
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const template = join(tmpdir(), `idnode-pglite-template-${process.pid}.tar`);
  const pglite = new PGlite();
  await pglite.waitReady;
  const dump = await pglite.dumpDataDir('none');
  await pglite.close();
  await writeFile(template, Buffer.from(await dump.arrayBuffer()));
  project.provide('pgliteTemplate', template);
  return async () => {
    await rm(template, { force: true });
    await deleteTestKeys();
  };
}

async function deleteTestKeys(): Promise<void> {
  const url = process.env.REDIS_URL;
  if (!url) return;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    for (const pattern of ['idnode-t-*', 't-0.*']) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
    }
  } catch {
    // a teardown that cannot reach Redis leaves the keys to their TTLs
  } finally {
    redis.disconnect();
  }
}
