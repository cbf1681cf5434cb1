// Test access to the real services: a throw-away PostgreSQL database per suite, and the Redis URL.
import pg from 'pg';
import { randomBytes } from 'node:crypto';

/** With REQUIRE_SERVICES=1 (CI) a missing DATABASE_URL / REDIS_URL fails the run instead of skipping. */
export const requireServices = process.env.REQUIRE_SERVICES === '1';

export const databaseUrl = process.env.DATABASE_URL ?? '';
export const redisUrl = process.env.REDIS_URL ?? '';

if (requireServices && (!databaseUrl || !redisUrl)) {
  throw new Error('REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL is not set');
}

export const hasPostgres = databaseUrl !== '';
export const hasRedis = redisUrl !== '';

/** Creates an empty database on the server of DATABASE_URL; `drop()` removes it. */
export async function tempPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `idnode_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(databaseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A Redis key namespace unique to one test, so suites never see each other's keys or channels. */
export function redisNamespace(): string {
  return `idnode-t-${randomBytes(4).toString('hex')}:`;
}
