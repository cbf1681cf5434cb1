// Helpers for tests of the SNMS and operator faces: valid credit codes, applications, logins, onboarding, templates.
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { creditCodeCheckChar } from '../../registry/rules.js';
import { ADMIN_SECRET, basic, type Reply, type TestServer } from './node.js';

export const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** `yyyy-MM-dd` of an instant in Asia/Shanghai (UTC+8, no daylight saving time). */
export function shanghaiDate(at: Date = new Date()): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}

/** The SNMS v1 login digest: sha256(sha256(pwd) + yyyy-MM-dd). */
export function v1Password(password: string, at: Date = new Date()): string {
  return sha256(sha256(password) + shanghaiDate(at));
}

/** A valid unified social credit code (GB 32100 check character computed): 91320924MA1 + 6 digits + check. */
export function creditCode(n: number): string {
  const first17 = `91320924MA1${String(n).padStart(6, '0')}`;
  return first17 + creditCodeCheckChar(first17);
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

export interface ApplyInput {
  n: number;
  username: string;
  password: string;
  town?: string;
  name?: string;
}

/** An SNMS `/snms/api/v3/ent/apply` body. */
export function application(a: ApplyInput): { sysUser: Record<string, unknown>; entBasicInfo: Record<string, unknown> } {
  return {
    sysUser: { userName: a.username, password: a.password, email: `${a.username}@example.com`, mobile: '13800138000' },
    entBasicInfo: {
      orgName: a.name ?? `射阳测试企业${a.n}有限公司`,
      orgCrtCode: creditCode(a.n),
      orgAddr: '江苏省盐城市射阳县合德镇人民路1号',
      industryCategory: 'C',
      industrySpecific: '34',
      contactName: '张三',
      contactPhone: '0515-82345678',
      contactEmail: `contact${a.n}@example.com`,
      town: a.town ?? '合德镇',
    },
  };
}

/** Expects the SNMS envelope with HTTP 200 and returns it. */
export function envelope(r: Reply): { status: number; message: string; data: any } {
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toMatch(/application\/json/);
  expect(typeof r.json?.status).toBe('number');
  expect(typeof r.json?.message).toBe('string');
  return r.json;
}

/** data of a status-1 envelope (fails the test with the message otherwise). */
export function okData(r: Reply): any {
  const e = envelope(r);
  expect({ status: e.status, message: e.message }).toEqual({ status: 1, message: 'success' });
  return e.data;
}

/** Expects a failure envelope with `status` (data null) and returns its message. */
export function failed(r: Reply, status: number): string {
  const e = envelope(r);
  expect({ status: e.status, data: e.data }).toEqual({ status, data: null });
  return e.message;
}

export async function login(s: TestServer, username: string, password: string): Promise<string> {
  const data = okData(await s.send('POST', '/identity/token', { username, password }));
  expect(typeof data.token).toBe('string');
  return data.token as string;
}

export const operatorLogin = (s: TestServer): Promise<string> => login(s, 'admin', ADMIN_SECRET);

export interface Onboarded {
  enterpriseId: number;
  prefix: string;
  handleSecret: string;
  username: string;
  password: string;
  token: string;
  /** Basic credentials of the enterprise's Handle admin `300:0.NA/<prefix>` */
  handleAuth: Record<string, string>;
}

/** Applies, approves (by `reviewerToken`) and logs in an enterprise. */
export async function onboard(s: TestServer, reviewerToken: string, a: ApplyInput): Promise<Onboarded> {
  const applied = okData(await s.send('POST', '/snms/api/v3/ent/apply', application(a)));
  const enterpriseId = applied.enterpriseId as number;
  const approved = okData(await s.send('POST', `/operator/enterprises/${enterpriseId}/approve`, {}, bearer(reviewerToken)));
  const token = await login(s, a.username, a.password);
  return {
    enterpriseId,
    prefix: approved.prefix,
    handleSecret: approved.handleSecret,
    username: a.username,
    password: a.password,
    token,
    handleAuth: basic(`300:0.NA/${approved.prefix}`, approved.handleSecret),
  };
}

/**
 * A v5 template: 2000 PRODUCT_NAME (required, 1–20 chars), 2001 MODEL, 2002 URL (so the proxy redirects).
 */
export function templateBody(prefix: string, version: string): Record<string, unknown> {
  return {
    prefix,
    version,
    industryCategory: 'C',
    industrySpecific: '34',
    type: 2,
    description: '泵类产品模板',
    items: [
      { name: '产品名称', idType: 'PRODUCT_NAME', idIndex: 2000, required: true, state: 1, metadata: { type: 'string', minLength: 1, maxLength: 20 } },
      { name: '型号', idType: 'MODEL', idIndex: 2001, required: false, state: 1, metadata: { type: 'string', minLength: 0, maxLength: 32 } },
      { name: '详情页', idType: 'URL', idIndex: 2002, required: false, state: 1 },
    ],
  };
}

export function sval(index: number, type: string, value: string): Record<string, unknown> {
  return { index, type, data: { format: 'string', value } };
}

/** Identifier values for templateBody's template. */
export function values(name: string, model?: string, url?: string): Record<string, unknown>[] {
  const out = [sval(2000, 'PRODUCT_NAME', name)];
  if (model !== undefined) out.push(sval(2001, 'MODEL', model));
  if (url !== undefined) out.push(sval(2002, 'URL', url));
  return out;
}

export function item(handle: string, version: string, vals: Record<string, unknown>[]): Record<string, unknown> {
  return { handle, templateVersion: version, value: vals };
}
