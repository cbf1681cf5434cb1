// Checks of signed native answers for tests: an HS_SIGNED answer verified as Handle.Net's client verifies it, and the server key as GET_SITE_INFO gives it.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { expect } from 'vitest';
import { RC } from '../../handle/codes.js';
import { decodeCredential } from '../../handle/wire/credential.js';
import { decodePublicKey } from '../../handle/wire/keys.js';
import { OC } from '../../handle/wire/message.js';
import { decodeSiteInfo } from '../../handle/wire/site.js';
import { tcpRequest, type Answer } from './native-client.js';

const HASH: Record<string, string> = { 'SHA-256': 'sha256', SHA1: 'sha1' };

/** The signed prefix written out (versions, session id, request id, counter), as Handle.Net's client rebuilds it. */
export function signedPrefix(a: Answer, counter: number): Buffer {
  const e = a.envelope;
  const pre = Buffer.alloc(16);
  pre[0] = e.major;
  pre[1] = e.minor;
  pre[2] = e.suggestedMajor === 0 ? e.major : e.suggestedMajor;
  pre[3] = e.suggestedMajor === 0 ? e.minor : e.suggestedMinor;
  pre.writeUInt32BE(e.sessionId, 4);
  pre.writeUInt32BE(e.requestId, 8);
  pre.writeUInt32BE(counter, 12);
  return pre;
}

/**
 * Checks an answer's signature the way Handle.Net's client does, written out here rather than taken from the codec:
 * version, suggested version, session id, request id and session counter, then the header and body as received.
 * `tamper` changes the signed bytes first (the check must then fail).
 */
export function signatureHolds(a: Answer, key: KeyObject, tamper?: (signed: Buffer) => void): boolean {
  const cred = decodeCredential(a.message.credential);
  expect(cred.type).toBe('HS_SIGNED');
  const pre = signedPrefix(a, cred.sessionCounter);
  const signed = Buffer.concat([pre, a.message.digestInput]);
  tamper?.(signed);
  return verify(HASH[cred.hashAlg]!, signed, key, cred.signature);
}

/** The server key as the node's GET_SITE_INFO answer gives it (servers[0].publicKey, Handle's RSA_PUB_KEY record). */
export async function siteKey(port: number): Promise<{ key: KeyObject; bytes: Buffer }> {
  const a = await tcpRequest(port, { opCode: OC.GET_SITE_INFO, body: Buffer.alloc(0) });
  expect(a.message.header.responseCode).toBe(RC.SUCCESS);
  const bytes = Buffer.from(decodeSiteInfo(a.message.body).servers[0]!.publicKey);
  return { key: createPublicKey({ key: decodePublicKey(bytes) as never, format: 'jwk' }), bytes };
}
