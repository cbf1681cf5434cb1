// TRUST_PROXY: which peers may name the client in X-Forwarded-For, and the client address that follows — one rule for
// fastify (request.ip), the front door and the access log, so limits and logs see the same address everywhere.
import ipaddr from 'ipaddr.js';

/** Whether the peer `addr`, `hop` steps from this process (0 = the socket's peer), is a trusted proxy. */
export type TrustFn = (addr: string, hop: number) => boolean;

/**
 * Parses TRUST_PROXY: unset/'' → null (trust nobody: the socket's peer is the client); a whole number N ≥ 1 → the
 * N nearest hops are proxies; else a comma-separated list of addresses and CIDRs (`10.0.0.0/8, 127.0.0.1, ::1`).
 * Returns undefined when the text is none of these.
 */
export function parseTrustProxy(text: string | undefined): TrustFn | null | undefined {
  if (text === undefined || text.trim() === '' || text.trim() === 'false') return null;
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const hops = Number(t);
    return hops >= 1 && hops <= 100 ? (_addr, hop) => hop < hops : undefined;
  }
  const ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const part of t.split(',')) {
    const p = part.trim();
    try {
      if (p.includes('/')) ranges.push(ipaddr.parseCIDR(p));
      else if (ipaddr.isValid(p)) {
        const a = ipaddr.parse(p);
        ranges.push([a, a.kind() === 'ipv4' ? 32 : 128]);
      } else return undefined;
    } catch {
      return undefined;
    }
  }
  return (addr) => {
    let a: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      a = ipaddr.process(addr); // an IPv4-mapped IPv6 peer (::ffff:10.0.0.1) matches IPv4 ranges
    } catch {
      return false;
    }
    for (const [range, bits] of ranges) if (a.kind() === range.kind() && a.match(range, bits)) return true;
    return false;
  };
}

/**
 * The client address of a request (what fastify's request.ip gives with the same trust function): walking from the
 * socket's peer back along X-Forwarded-For, the first address that is not a trusted proxy.
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trust: TrustFn | null): string {
  if (trust === null || forwardedFor === undefined) return peer;
  const list = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  let addr = peer;
  for (let hop = 0, i = list.length - 1; i >= 0; hop++, i--) {
    if (!trust(addr, hop)) return addr;
    const next = list[i]!.trim();
    if (next === '') return addr;
    addr = next;
  }
  return addr;
}
