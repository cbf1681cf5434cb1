// Ceiling server for benchmarks: bare fastify answering a constant Handle JSON record of realistic size.
import Fastify from 'fastify';

const record = JSON.stringify({
  responseCode: 1,
  handle: '88.320924/BENCH-000000',
  values: [
    { index: 1, type: 'URL', data: { format: 'string', value: 'https://example.com/products/BENCH-000000' }, ttl: 86400, timestamp: '2024-01-01T00:00:00Z' },
    { index: 2, type: 'EMAIL', data: { format: 'string', value: 'service@example.com' }, ttl: 86400, timestamp: '2024-01-01T00:00:00Z' },
  ],
});

const app = Fastify({ logger: false });
app.get('/api/handles/*', (_req, reply) => {
  reply.header('content-type', 'application/json; charset=utf-8');
  return reply.send(record);
});
const port = Number(process.env.PORT ?? 0);
await app.listen({ port, host: '127.0.0.1' });
const addr = app.server.address();
process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
