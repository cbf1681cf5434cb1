// WORKERS=n: one port shared by n worker processes over PostgreSQL and Redis; a write through any worker is seen by all; the native face in NATIVE_WORKERS of them.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startChildNode, type ChildNode } from '../helpers/child-node.js';
import { admin } from '../helpers/node.js';
import { tcpRequest, udpRequest } from '../helpers/native-client.js';
import { RC } from '../../handle/codes.js';
import { hasPostgres, hasRedis, redisNamespace, redisUrl, tempPostgres } from '../helpers/services.js';

describe.skipIf(!hasPostgres || !hasRedis)('idnode serve with WORKERS=2', () => {
  let db: { url: string; drop: () => Promise<void> };
  let node: ChildNode;
  let base = '';
  const pids = new Set<string>();

  beforeAll(async () => {
    db = await tempPostgres();
    node = await startChildNode({ WORKERS: '2', DATABASE_URL: db.url, REDIS_URL: redisUrl, REDIS_NAMESPACE: redisNamespace() });
    base = node.base;
    // wait until both workers answer: /healthz names the process that answered (x-idnode-worker)
    for (let i = 0; i < 100 && pids.size < 2; i++) {
      const r = await request(`${base}/healthz`, { reset: true });
      await r.body.dump();
      const pid = r.headers['x-idnode-worker'];
      if (typeof pid === 'string') pids.add(pid);
      if (pids.size < 2) await new Promise((res) => setTimeout(res, 50));
    }
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    await db?.drop();
  });

  const get = async (h: string) => {
    const r = await request(`${base}/api/handles/${h}`, { reset: true });
    const text = await r.body.text();
    return { status: r.statusCode, body: JSON.parse(text) as { values?: { data: { value: string } }[] } };
  };
  const put = async (h: string, url: string) => {
    const r = await request(`${base}/api/handles/${h}`, {
      method: 'PUT',
      reset: true,
      headers: { 'content-type': 'application/json', ...admin() },
      body: JSON.stringify([{ index: 1, type: 'URL', data: url }]),
    });
    await r.body.dump();
    return r.statusCode;
  };

  it('two worker processes answer on one port', () => {
    expect(pids.size).toBe(2);
  });

  it('every request, whichever worker answers it, sees the latest write (negative entries included)', async () => {
    // new connection per request (reset), so the round-robin spreads them over both workers
    for (let i = 0; i < 6; i++) expect((await get('88.320924/C-1')).status).toBe(404);
    expect(await put('88.320924/C-1', 'https://one.example')).toBe(200);
    for (let i = 0; i < 6; i++) expect((await get('88.320924/C-1')).body.values?.[0]?.data.value).toBe('https://one.example');
    expect(await put('88.320924/C-1', 'https://two.example')).toBe(200);
    for (let i = 0; i < 6; i++) expect((await get('88.320924/C-1')).body.values?.[0]?.data.value).toBe('https://two.example');
  });

  it('the native face is served by one of the workers (NATIVE_WORKERS=1), and every worker publishes its port', async () => {
    expect(node.log()).toContain(`native Handle protocol on tcp/udp port ${node.nativePort} (one worker)`);
    const holders = [...pids].filter((pid) => holdsNativeSockets(Number(pid), node.nativePort));
    expect(holders).toHaveLength(1);
    // the site, whichever worker answers, lists the native port the other worker serves
    // (a new connection each: the workers take them in turn from the shared socket, so both answer some of 20)
    for (let i = 0; i < 20; i++) {
      const r = await request(`${base}/api/site`, { reset: true });
      const { site } = (await r.body.json()) as { site: { servers: { interfaces: { protocol: string; port: number }[] }[] } };
      const ports = site.servers[0]!.interfaces.filter((f) => f.protocol === 'TCP' || f.protocol === 'UDP').map((f) => f.port);
      expect(ports.length, JSON.stringify(site)).toBeGreaterThanOrEqual(2);
      for (const port of ports) expect(port).toBe(node.nativePort);
    }
    // a write through HTTP is answered at once over native TCP and UDP
    expect(await put('88.320924/N-1', 'https://native.example')).toBe(200);
    for (const ask of [tcpRequest, udpRequest]) {
      const a = await ask(node.nativePort, { handle: '88.320924/N-1' });
      expect(a.message.header.responseCode).toBe(RC.SUCCESS);
    }
  });

  it('a native worker that dies is replaced in its slot: the native face answers again', { timeout: 40_000 }, async () => {
    const [holder] = [...pids].filter((pid) => holdsNativeSockets(Number(pid), node.nativePort));
    process.kill(Number(holder), 'SIGKILL');
    let answered = false;
    for (let i = 0; i < 300 && !answered; i++) {
      await new Promise((res) => setTimeout(res, 100));
      answered = await tcpRequest(node.nativePort, { handle: '88.320924/N-1' }).then(
        (a) => a.message.header.responseCode === RC.SUCCESS,
        () => false,
      );
    }
    expect(answered, node.log()).toBe(true);
    expect(node.log()).toContain(`worker ${holder} exited (SIGKILL); starting another`);
  });

  it('stops all workers on SIGTERM', async () => {
    await node.stop();
    expect(node.exited()).toBe(0);
    expect(node.log()).toContain('shutting down 2 workers');
  });
});

describe('WORKERS without PostgreSQL and Redis', () => {
  it('is refused with exit code 2', () => {
    const r = spawnSync(process.execPath, ['dist/src/cli.js', 'serve'], { env: { ...process.env, WORKERS: '2', DATABASE_URL: '', REDIS_URL: '' }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('WORKERS');
  });
});

/** Whether process `pid` holds the TCP listening socket and the UDP socket bound to 127.0.0.1:`port` (Linux /proc). */
function holdsNativeSockets(pid: number, port: number): boolean {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = (table: string, listening: boolean) =>
    readFileSync(`/proc/net/${table}`, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1] === hex && (!listening || f[3] === '0A'))
      .map((f) => f[9]!);
  const mine = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) mine.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes('tcp', true).some((i) => mine.has(i)) && inodes('udp', false).some((i) => mine.has(i));
}
