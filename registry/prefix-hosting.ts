// Where a delegated prefix is served: on this node, or self-hosted at the enterprise's own node — its HS_SITE then published in the prefix record and its identifiers resolved there.
import { sql } from 'kysely';
import { parseHandle, parsePrefix, prefixRecordHandle } from '../handle/identifier.js';
import { DEFAULT_PERMISSIONS, DEFAULT_TTL, TYPE, type HandleValue } from '../handle/types.js';
import { oneServerSite, parseServerAddress, siteInfoToJson, type SiteInfo } from '../handle/wire/site.js';
import { jsonb, writeAudit } from './audit.js';
import { RegistryError, type RegistryContext } from './context.js';
import type { SelfHostedNode } from './db.js';
import { handleTransaction } from './handles.js';
import type { Actor } from './store.js';

export type { SelfHostedNode } from './db.js';

/** A delegated prefix and where it is served (null: here). */
export interface PrefixHosting {
  prefix: string;
  prefixKey: string;
  enterpriseId: number | null;
  hosting: SelfHostedNode | null;
}

/** Keys of the delegated prefixes served at their enterprise's own node (the resolver resolves their handles there). */
export async function selfHostedPrefixKeys(ctx: RegistryContext): Promise<string[]> {
  const rows = await ctx.store.db.selectFrom('prefixes').select('prefix_key').where('hosting', 'is not', null).orderBy('prefix_key').execute();
  return rows.map((r) => r.prefix_key);
}

function notDelegated(prefix: string): RegistryError {
  return new RegistryError('not-found', `前缀 ${prefix} 不是本节点分配的企业前缀 / ${prefix} is not a prefix this node delegated to an enterprise`);
}

/** Where a delegated prefix is served. Not a delegated prefix → RegistryError('not-found'). */
export async function prefixHosting(ctx: RegistryContext, prefixText: string): Promise<PrefixHosting> {
  const { prefixKey } = parsePrefixOrFail(prefixText);
  const row = await ctx.store.db.selectFrom('prefixes').selectAll().where('prefix_key', '=', prefixKey).executeTakeFirst();
  if (row === undefined) throw notDelegated(prefixText);
  return { prefix: row.prefix, prefixKey: row.prefix_key, enterpriseId: row.enterprise_id === null ? null : Number(row.enterprise_id), hosting: row.hosting ?? null };
}

function parsePrefixOrFail(text: string): { prefix: string; prefixKey: string } {
  try {
    return parsePrefix(text.toUpperCase().startsWith('0.NA/') ? text.slice(5) : text);
  } catch (e) {
    throw new RegistryError('invalid', `前缀格式不正确 / not a prefix: ${(e as Error).message}`);
  }
}

/** Checks an enterprise node's address and ports (RegistryError('invalid') saying what is wrong); the node as stored. */
export function checkSelfHostedNode(n: SelfHostedNode): SelfHostedNode {
  const address = String(n.address ?? '').trim();
  if (parseServerAddress(address) === null) {
    throw new RegistryError('invalid', `企业节点地址须为 IP 地址 / the enterprise node's address must be an IPv4 or IPv6 address (HS_SITE carries addresses, not names): ${JSON.stringify(n.address)}`);
  }
  const port = (name: string, v: unknown, optional: boolean): number | null => {
    if (optional && (v === null || v === undefined)) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new RegistryError('invalid', `${name} 须为 1–65535 的端口 / ${name} must be a port from 1 to 65535`);
    return v;
  };
  return { address, tcpPort: port('tcpPort', n.tcpPort, false)!, udpPort: port('udpPort', n.udpPort, false)!, httpPort: port('httpPort', n.httpPort, true) };
}

/** The HS_SITE of an enterprise node: one primary server answering resolution and administration on its TCP and UDP ports (and HTTP when given). */
export function selfHostedSite(prefix: string, n: SelfHostedNode): SiteInfo {
  const interfaces: SiteInfo['servers'][number]['interfaces'] = [
    { type: 'both', protocol: 'tcp', port: n.tcpPort },
    { type: 'both', protocol: 'udp', port: n.udpPort },
  ];
  if (n.httpPort !== null) interfaces.push({ type: 'both', protocol: 'http', port: n.httpPort });
  return oneServerSite({ address: parseServerAddress(n.address)!, interfaces, desc: `enterprise node of ${prefix}` });
}

const isSite = (v: HandleValue) => v.type.toUpperCase() === TYPE.SITE;

/**
 * Serves a delegated prefix here (`node` null) or at the enterprise's own node: the prefix row, the prefix record's
 * HS_SITE (written, or removed so this node's own site shows again) and the audit row in one transaction through the
 * one write path; after commit every cache re-reads where prefixes are served, and the cache epoch moves on so no
 * answer read here before the change is served from a shared cache after it.
 */
export async function setPrefixHosting(ctx: RegistryContext, prefixText: string, node: SelfHostedNode | null, actor: Actor): Promise<PrefixHosting> {
  const { prefixKey } = parsePrefixOrFail(prefixText);
  const wanted = node === null ? null : checkSelfHostedNode(node);
  const nowSec = Math.floor(ctx.now().getTime() / 1000);
  return handleTransaction(ctx, actor, async (tx) => {
    const before = await tx.db.selectFrom('prefixes').selectAll().where('prefix_key', '=', prefixKey).forUpdate().executeTakeFirst();
    if (before === undefined) throw notDelegated(prefixText);
    const record = parseHandle(prefixRecordHandle(before.prefix), ctx.policy);
    await tx.mutate({ handle: record.handle, key: record.key, prefixKey: record.prefixKey }, 'prefix.hosting', (cur) => {
      if (cur === null) throw new RegistryError('conflict', `前缀记录不存在 / the prefix record ${record.handle} is missing`);
      const kept = cur.values.filter((v) => !isSite(v));
      if (wanted === null) return kept;
      let index = 1;
      while (kept.some((v) => v.index === index)) index++;
      const site: HandleValue = {
        index,
        type: TYPE.SITE,
        data: { format: 'site', value: siteInfoToJson(selfHostedSite(before.prefix, wanted)) },
        ttlType: 'relative',
        ttl: DEFAULT_TTL,
        timestamp: nowSec,
        permissions: { ...DEFAULT_PERMISSIONS },
        references: [],
      };
      return [...kept, site].sort((a, b) => a.index - b.index);
    });
    const after = await tx.db
      .updateTable('prefixes')
      .set({ hosting: wanted === null ? null : jsonb(wanted), updated_at: ctx.now() })
      .where('prefix_key', '=', prefixKey)
      .returningAll()
      .executeTakeFirstOrThrow();
    await tx.db.updateTable('cache_epoch').set({ epoch: sql<string>`epoch + 1`, updated_at: sql<Date>`now()` }).where('id', '=', 1).execute();
    tx.prefixChanged(prefixKey);
    const enterpriseId = after.enterprise_id === null ? null : Number(after.enterprise_id);
    await writeAudit(tx.db, {
      actor,
      action: 'prefix.hosting',
      entity: 'prefix',
      entityId: after.prefix,
      enterpriseId,
      before: { prefix: before.prefix, hosting: before.hosting ?? null },
      after: { prefix: after.prefix, hosting: after.hosting ?? null },
    });
    return { prefix: after.prefix, prefixKey: after.prefix_key, enterpriseId, hosting: after.hosting ?? null };
  });
}
