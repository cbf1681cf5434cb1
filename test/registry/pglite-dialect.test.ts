// The kysely PGlite dialect: results and affected rows, real rollbacks, savepoints, and serialised transactions.
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PGliteDialect, SerialLock } from '../../registry/pglite-dialect.js';

interface TestDb {
  items: { id: number; name: string; doc: unknown };
  counter: { id: number; n: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SerialLock', () => {
  it('grants the lock in FIFO order, one holder at a time, and tolerates double release', async () => {
    const lock = new SerialLock();
    const log: string[] = [];
    let inside = 0;
    await Promise.all(
      [30, 1, 10, 0].map((ms, i) =>
        lock.run(async () => {
          inside += 1;
          expect(inside).toBe(1);
          log.push(`start ${i}`);
          await sleep(ms);
          log.push(`end ${i}`);
          inside -= 1;
        }),
      ),
    );
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);

    const release = await lock.acquire();
    release();
    release();
    const next = await lock.acquire();
    next();
  });

  it('releases after a failing holder', async () => {
    const lock = new SerialLock();
    await expect(lock.run(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await lock.run(async () => 42)).toBe(42);
  });
});

describe('PGliteDialect', () => {
  let pglite: PGlite;
  let db: Kysely<TestDb>;

  beforeAll(async () => {
    pglite = new PGlite();
    await pglite.waitReady;
    db = new Kysely<TestDb>({ dialect: new PGliteDialect({ pglite }) });
    await db.schema
      .createTable('items')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('doc', 'jsonb')
      .execute();
    await db.schema.createTable('counter').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('n', 'integer').execute();
  });
  afterAll(async () => {
    await db?.destroy();
    await pglite?.close();
  });
  beforeEach(async () => {
    await db.deleteFrom('items').execute();
    await db.deleteFrom('counter').execute();
  });

  it('returns rows and affected-row counts', async () => {
    const ins = await db
      .insertInto('items')
      .values([
        { id: 1, name: 'a', doc: null },
        { id: 2, name: 'b', doc: null },
      ])
      .executeTakeFirst();
    expect(ins.numInsertedOrUpdatedRows).toBe(2n);
    const upd = await db.updateTable('items').set({ name: 'z' }).where('id', '>', 0).executeTakeFirst();
    expect(upd.numUpdatedRows).toBe(2n);
    const rows = await db.selectFrom('items').select(['id', 'name']).orderBy('id').execute();
    expect(rows).toEqual([
      { id: 1, name: 'z' },
      { id: 2, name: 'z' },
    ]);
    const ret = await db.deleteFrom('items').where('id', '=', 1).returning('name').execute();
    expect(ret).toEqual([{ name: 'z' }]);
    const del = await db.deleteFrom('items').where('id', '=', 99).executeTakeFirst();
    expect(del.numDeletedRows).toBe(0n);
  });

  it('stores a JSON string parameter with ::jsonb as the JSON value, not as a string', async () => {
    const doc = [{ format: 'string', value: '标识 🏭' }, { n: 1 }];
    await db.insertInto('items').values({ id: 1, name: 'j', doc: sql`${JSON.stringify(doc)}::jsonb` }).execute();
    const row = await db
      .selectFrom('items')
      .select(['doc', sql<string>`jsonb_typeof(doc)`.as('t')])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    expect(row.t).toBe('array');
    expect(row.doc).toEqual(doc);
  });

  it('a failed transaction really rolls back', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: 1, name: 'rolled back', doc: null }).execute();
        expect(await trx.selectFrom('items').selectAll().execute()).toHaveLength(1);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await db.selectFrom('items').selectAll().execute()).toEqual([]);
  });

  it('a commit of a transaction aborted by a swallowed error fails and keeps nothing', async () => {
    await db.insertInto('items').values({ id: 1, name: 'exists', doc: null }).execute();
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: 2, name: 'lost', doc: null }).execute();
        await trx
          .insertInto('items')
          .values({ id: 1, name: 'dup', doc: null })
          .execute()
          .catch(() => undefined);
      }),
    ).rejects.toThrow();
    expect(await db.selectFrom('items').select('id').execute()).toEqual([{ id: 1 }]);
    // the connection is usable afterwards (not stuck inside the aborted transaction)
    expect(await db.insertInto('items').values({ id: 3, name: 'ok', doc: null }).executeTakeFirst()).toBeTruthy();
  });

  it('supports savepoints', async () => {
    const trx = await db.startTransaction().execute();
    await trx.insertInto('items').values({ id: 1, name: 'kept', doc: null }).execute();
    const sp = await trx.savepoint('sp 1').execute();
    await sp.insertInto('items').values({ id: 2, name: 'undone', doc: null }).execute();
    const back = await sp.rollbackToSavepoint('sp 1').execute();
    const sp2 = await back.savepoint('sp2').execute();
    await sp2.insertInto('items').values({ id: 3, name: 'released', doc: null }).execute();
    await sp2.releaseSavepoint('sp2').execute();
    await trx.commit().execute();
    expect(await db.selectFrom('items').select('id').orderBy('id').execute()).toEqual([{ id: 1 }, { id: 3 }]);
  });

  it('concurrent transactions never interleave', async () => {
    await db.insertInto('counter').values({ id: 1, n: 0 }).execute();
    const log: string[] = [];
    const n = 10;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        db.transaction().execute(async (trx) => {
          log.push(`begin ${i}`);
          // read-modify-write without a row lock: only serialised transactions keep every increment
          const { n: cur } = await trx.selectFrom('counter').select('n').where('id', '=', 1).executeTakeFirstOrThrow();
          await sleep(i % 3);
          await trx.updateTable('counter').set({ n: cur + 1 }).where('id', '=', 1).execute();
          log.push(`end ${i}`);
        }),
      ),
    );
    const { n: final } = await db.selectFrom('counter').select('n').where('id', '=', 1).executeTakeFirstOrThrow();
    expect(final).toBe(n);
    for (let k = 0; k < log.length; k += 2) {
      expect(log[k]?.replace('begin', '')).toBe(log[k + 1]?.replace('end', ''));
    }
  });

  it('a query outside a transaction waits for it instead of running inside it', async () => {
    const lock = new SerialLock();
    const db2 = new Kysely<TestDb>({ dialect: new PGliteDialect({ pglite, lock }) });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const inTrx = new Promise<void>((r) => (started = r));
    const trx = db2.transaction().execute(async (t) => {
      await t.insertInto('items').values({ id: 7, name: 'pending', doc: null }).execute();
      started();
      await gate;
      throw new Error('rollback');
    });
    await inTrx;
    const events: string[] = [];
    // both a kysely query and a direct query sharing the lock must wait for the transaction to end
    const viaKysely = db2
      .selectFrom('items')
      .select('id')
      .execute()
      .then((r) => {
        events.push('kysely');
        return r;
      });
    const direct = lock
      .run(() => pglite.query<{ id: number }>('select id from items'))
      .then((r) => {
        events.push('direct');
        return r.rows;
      });
    await sleep(30);
    expect(events).toEqual([]);
    release();
    await expect(trx).rejects.toThrow('rollback');
    expect(await viaKysely).toEqual([]);
    expect(await direct).toEqual([]);
    await db2.destroy();
  });

  it('database errors propagate as errors with the Postgres code and release the connection', async () => {
    const err = await sql`select * from no_such_table`.execute(db).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('42P01');
    expect((await sql<{ x: number }>`select 1 as x`.execute(db)).rows).toEqual([{ x: 1 }]);
  });
});
