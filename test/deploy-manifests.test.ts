// The deployment files parse and agree with the node: compose (PostgreSQL, Redis, instances behind HAProxy), HAProxy's config and the Kubernetes manifests name only real settings, probe /readyz and give the drain its time.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { SETTING_NAMES } from '../src/config.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => {
  expect(typeof v === 'object' && v !== null && !Array.isArray(v), JSON.stringify(v)).toBe(true);
  return v as Obj;
};
const settings = new Set(SETTING_NAMES);

describe('deploy/compose.yaml', () => {
  const compose = obj(parse(readFileSync('deploy/compose.yaml', 'utf8'), { merge: true }));
  const services = obj(compose.services);

  it('has PostgreSQL, Redis, a one-shot init, the node instances and HAProxy in front', () => {
    expect(Object.keys(services).sort()).toEqual(['haproxy', 'idnode', 'init', 'postgres', 'postgres-replica', 'redis']);
    const idnode = obj(services.idnode);
    expect(obj(obj(idnode.depends_on).init).condition).toBe('service_completed_successfully');
    expect(obj(services.haproxy).volumes).toContain('./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
    // no fixed host port on the instances: they scale (--scale idnode=N) behind HAProxy
    expect(idnode.ports).toBeUndefined();
  });

  it('gives the node only settings it knows, the same to init and the instances, with time to drain', () => {
    const env = obj(obj(services.idnode).environment);
    expect(obj(obj(services.init).environment)).toEqual(env);
    for (const k of Object.keys(env)) expect(settings.has(k), `${k} is not a setting (src/config.ts)`).toBe(true);
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    // the read replica is a service here, copied from the primary and started as a hot standby
    expect(env.DATABASE_REPLICA_URLS).toMatch(/^postgres:\/\/.*@postgres-replica:5432\//);
    const replica = obj(services['postgres-replica']);
    expect(String((replica.command as string[]).join(' '))).toMatch(/pg_basebackup -h postgres .* -R .*hot_standby=on/s);
    expect(obj(obj(replica.depends_on).postgres).condition).toBe('service_healthy');
    expect(obj(services.postgres).volumes).toContain('./pg-primary-init.sh:/docker-entrypoint-initdb.d/replication.sh:ro');
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    const drain = Number(env.DRAIN_SECONDS);
    expect(drain).toBeGreaterThan(1); // more than HAProxy's check (inter 1s fall 1) takes to mark an instance down
    expect(Number(String(obj(services.idnode).stop_grace_period).replace(/s$/, ''))).toBeGreaterThanOrEqual(drain + 10);
  });
});

describe('deploy/haproxy.cfg', () => {
  const cfg = readFileSync('deploy/haproxy.cfg', 'utf8');
  it('checks /readyz on both backends and retries what a stopping instance drops', () => {
    expect(cfg.match(/option httpchk GET \/readyz/g)).toHaveLength(2);
    expect(cfg).toMatch(/retry-on conn-failure empty-response response-timeout 503/);
    expect(cfg).toMatch(/bind :8000/);
    expect(cfg).toMatch(/bind :2641/);
  });
  const haproxy = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
  it.skipIf(haproxy === undefined)('is valid for haproxy -c (Debian’s haproxy, when installed)', () => {
    const r = spawnSync(haproxy!, ['-c', '-f', 'deploy/haproxy.cfg'], { encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
  });
});

describe('deploy/k8s/idnode.yaml', () => {
  const docs = parseAllDocuments(readFileSync('deploy/k8s/idnode.yaml', 'utf8')).map((d) => {
    expect(d.errors).toEqual([]);
    return obj(d.toJS());
  });
  const byKind = (kind: string) => {
    const found = docs.filter((d) => d.kind === kind);
    expect(found, kind).toHaveLength(1);
    return found[0]!;
  };

  it('holds a ConfigMap, a Secret, a Deployment, a Service and a PodDisruptionBudget, each with apiVersion and name', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service']);
    for (const d of docs) {
      expect(typeof d.apiVersion).toBe('string');
      expect(typeof obj(d.metadata).name).toBe('string');
    }
  });

  it('the settings in the ConfigMap and the Secret are the node’s; secrets are not in the ConfigMap', () => {
    const config = obj(byKind('ConfigMap').data);
    const secret = obj(byKind('Secret').stringData);
    for (const k of [...Object.keys(config), ...Object.keys(secret)]) expect(settings.has(k), `${k} is not a setting`).toBe(true);
    for (const k of ['ADMIN_SECRET', 'DATABASE_URL', 'REDIS_URL']) {
      expect(secret[k], k).toBeDefined();
      expect(config[k], k).toBeUndefined();
    }
  });

  it('the Deployment is ready on /readyz, alive on /healthz, reads both, and waits out the drain', () => {
    const dep = byKind('Deployment');
    const spec = obj(obj(obj(dep.spec).template).spec);
    const [c] = spec.containers as Obj[];
    expect(obj(obj(c!.readinessProbe).httpGet).path).toBe('/readyz');
    expect(obj(obj(c!.livenessProbe).httpGet).path).toBe('/healthz');
    const from = (c!.envFrom as Obj[]).map((e) => obj(e.configMapRef ?? e.secretRef).name);
    expect(from.sort()).toEqual([obj(byKind('ConfigMap').metadata).name, obj(byKind('Secret').metadata).name].sort());
    const ready = obj(c!.readinessProbe);
    const drain = Number(obj(byKind('ConfigMap').data).DRAIN_SECONDS);
    expect(drain).toBeGreaterThan(Number(ready.periodSeconds) * Number(ready.failureThreshold));
    expect(Number(spec.terminationGracePeriodSeconds)).toBeGreaterThanOrEqual(drain + 10);
    const ports = (c!.ports as Obj[]).map((p) => `${String(p.containerPort)}/${String(p.protocol)}`);
    expect(ports.sort()).toEqual(['2641/TCP', '2641/UDP', '8000/TCP']);
  });

  it('the Service and the PodDisruptionBudget select the Deployment’s pods', () => {
    const labels = obj(obj(obj(obj(byKind('Deployment').spec).template).metadata).labels);
    const matches = (sel: Obj) => Object.entries(sel).every(([k, v]) => labels[k] === v);
    expect(matches(obj(obj(byKind('Service').spec).selector))).toBe(true);
    expect(matches(obj(obj(obj(byKind('PodDisruptionBudget').spec).selector).matchLabels))).toBe(true);
    expect(matches(obj(obj(obj(byKind('Deployment').spec).selector).matchLabels))).toBe(true);
  });
});
