// The embedded store in a data folder (PGlite on disk): what is written survives close and reopen (an initdb on disk: seconds, so out of npm test).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutateHandle } from '../../registry/handles.js';
import { openPgliteStore } from '../../registry/open.js';
import { alice, bob, ref, testContext } from '../helpers/registry-backends.js';
import { ALL_FORMATS, urlValue } from '../helpers/values.js';

describe('pglite with a data folder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idnode-pglite-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('persists across close and reopen (and creates the folder)', async () => {
    const dataDir = join(dir, 'nested', 'data');
    const r = ref('88.320924.17', 'Persist-Ü');
    const first = await openPgliteStore(dataDir);
    await first.migrate();
    await mutateHandle(testContext(first), r, 'handle.create', alice, () => ALL_FORMATS);
    await first.close();
    await first.close(); // idempotent

    const second = await openPgliteStore(dataDir);
    try {
      await second.migrate();
      const got = await second.getHandle(r.key);
      expect(got?.handle).toBe(r.handle);
      expect(got?.values).toEqual(ALL_FORMATS);
      expect(got?.version).toBe(1);
      expect(await second.listAudit({ handleKey: r.key })).toHaveLength(1);
      const upd = await mutateHandle(testContext(second), r, 'values.add', bob, () => [urlValue('https://after-reopen.example/')]);
      expect(upd.after?.version).toBe(2);
    } finally {
      await second.close();
    }
  });
});
