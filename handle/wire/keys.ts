// Public-key records in the native protocol's wire form (HS_PUBKEY data, a server's key in HS_SITE) and their JSON form.
import type { KeyData } from '../types.js';
import { Reader, Writer } from './bytes.js';

// A file of its own because both values.ts (HS_PUBKEY) and site.ts (a server's key) need it, and values.ts imports
// site.ts. Public keys (Util.getBytesFromPublicKey / getPublicKeyFromBytes; GsonUtility.PublicKeyTypeHierarchyAdapter).
// Record: key type string ("RSA_PUB_KEY" / "DSA_PUB_KEY"), u16 flags (0), then byte arrays: RSA e, n; DSA q, p, g, y.
// The numbers are Java BigInteger.toByteArray() (minimal two's complement, so a leading 0 when the top bit is set); the
// JSON form is {kty, n, e} / {kty, y, p, q, g} with unsigned big-endian numbers in unpadded base64url.

const KEY_RSA = 'RSA_PUB_KEY';
const KEY_DSA = 'DSA_PUB_KEY';
const KEY_FIELDS: Readonly<Record<string, { wire: string; json: readonly string[]; order: readonly string[] }>> = {
  RSA: { wire: KEY_RSA, json: ['n', 'e'], order: ['e', 'n'] },
  DSA: { wire: KEY_DSA, json: ['y', 'p', 'q', 'g'], order: ['q', 'p', 'g', 'y'] },
};

/** Unsigned big-endian bytes → Java BigInteger(1, bytes).toByteArray(). */
function javaBigIntegerBytes(unsigned: Uint8Array): Uint8Array {
  let i = 0;
  while (i < unsigned.length && unsigned[i] === 0) i++;
  const stripped = unsigned.subarray(i);
  if (stripped.length === 0) return Uint8Array.of(0);
  if ((stripped[0] as number) >= 0x80) {
    const out = new Uint8Array(stripped.length + 1);
    out.set(stripped, 1);
    return out;
  }
  return stripped;
}

/** GsonUtility.unsigned: leading zero bytes dropped, at least one byte kept. */
function unsignedBytes(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.length === 0 ? Uint8Array.of(0) : b.subarray(i);
}

const B64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

function base64Field(raw: unknown): Uint8Array | null {
  if (typeof raw !== 'string' || !B64_RE.test(raw)) return null;
  const bytes = Buffer.from(raw.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === 0 ? null : bytes;
}

/** The public-key record of a JSON key, or null when it is not an RSA/DSA key Handle.Net could read. */
export function publicKeyBytesFromJson(k: KeyData): Buffer | null {
  const kty = typeof k.kty === 'string' ? k.kty.toUpperCase() : '';
  const spec = KEY_FIELDS[kty];
  if (spec === undefined) return null;
  const w = new Writer(512);
  w.string(spec.wire, 'key type');
  w.u16(0, 'key flags');
  for (const name of spec.order) {
    const bytes = base64Field(k[name]);
    if (bytes === null) return null;
    w.byteArray(javaBigIntegerBytes(bytes), `key ${name}`);
  }
  return w.finish();
}

/** A public-key record → its JSON form (RSA and DSA; anything else, e.g. DH_PUB_KEY, is a WireError). */
export function decodePublicKey(bytes: Uint8Array): KeyData {
  const r = new Reader(bytes, 'public key record');
  const keyType = r.string('key type');
  r.u16('key flags');
  const kty = keyType === KEY_RSA ? 'RSA' : keyType === KEY_DSA ? 'DSA' : null;
  if (kty === null) throw r.fail(`unsupported key type ${JSON.stringify(keyType)}`);
  const spec = KEY_FIELDS[kty] as (typeof KEY_FIELDS)[string];
  const numbers: Record<string, string> = {};
  for (const name of spec.order) numbers[name] = Buffer.from(unsignedBytes(r.byteArray(`key ${name}`))).toString('base64url');
  // Trailing bytes are ignored, as Util.getPublicKeyFromBytes does.
  const key: KeyData = { kty };
  for (const name of spec.json) key[name] = numbers[name];
  return key;
}
