// Ceiling servers for the benches: bare fastify with a constant record (CEILING=const), one ioredis GET per request
// (CEILING=redis), or one indexed PostgreSQL lookup per request (CEILING=pg) — what idnode's tiers are measured against.
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';

const mode = process.env.CEILING ?? 'const';
const PREFIX = '/api/handles/';

/** A Handle JSON answer of the size idnode gives for the bench's records. */
export function sampleRecord(handle: string): string {
  return JSON.stringify({
    responseCode: 1,
    handle,
    values: [
      { index: 1, type: 'URL', data: { format: 'string', value: `https://example.com/products/${handle}` }, ttl: 86400, timestamp: '2024-01-01T00:00:00Z' },
      { index: 2, type: 'EMAIL', data: { format: 'string', value: 'service@example.com' }, ttl: 86400, timestamp: '2024-01-01T00:00:00Z' },
    ],
  });
}

function handleOf(url: string): string {
  const q = url.indexOf('?');
  return decodeURIComponent((q < 0 ? url : url.slice(0, q)).slice(PREFIX.length));
}

const app = Fastify({ logger: false });
const constant = sampleRecord('88.320924/BENCH-000000');

if (mode === 'const') {
  app.get('/api/handles/*', (_req, reply) => {
    reply.header('content-type', 'application/json; charset=utf-8');
    return reply.send(constant);
  });
} else if (mode === 'redis') {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const ns = process.env.CEILING_NS ?? 'idnode-bench:ceiling:';
  app.get('/api/handles/*', async (req, reply) => {
    const body = await redis.get(ns + handleOf(req.raw.url ?? ''));
    reply.header('content-type', 'application/json; charset=utf-8');
    if (body === null) return reply.code(404).send('{"responseCode":100}');
    return reply.send(body);
  });
  app.addHook('onClose', async () => void (await redis.quit()));
} else if (mode === 'pg') {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_SIZE ?? 10) });
  app.get('/api/handles/*', async (req, reply) => {
    const h = handleOf(req.raw.url ?? '');
    const r = await pool.query<{ handle: string; values: string }>({
      name: 'ceiling_get',
      text: 'select handle, values::text as values from handles where key = $1',
      values: [h.toUpperCase()],
    });
    reply.header('content-type', 'application/json; charset=utf-8');
    const row = r.rows[0];
    if (row === undefined) return reply.code(404).send('{"responseCode":100}');
    return reply.send(`{"responseCode":1,"handle":${JSON.stringify(h)},"values":${row.values}}`);
  });
  app.addHook('onClose', async () => void (await pool.end()));
} else {
  throw new Error(`CEILING must be const, redis or pg (got ${mode})`);
}

await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
const addr = app.server.address();
process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
process.on('SIGINT', () => void app.close().then(() => process.exit(0)));
