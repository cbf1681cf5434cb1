// The browser suite's client of a running node's SNMS / operator faces (fetch, no browser): logins, applications, reviews, templates, identifiers, demo data.
import { application, item, templateBody, values } from '../helpers/snms.js';

/** A status other than 1 in the SNMS envelope, or an HTTP answer that is not one. */
export class NodeApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'NodeApiError';
  }
}

export interface Approved {
  prefix: string;
  handleAdmin: string;
  handleSecret: string;
}

/** An enterprise that applied (and maybe was approved): its id, account and, once approved, its prefix. */
export interface DemoEnterprise {
  enterpriseId: number;
  name: string;
  username: string;
  password: string;
  prefix?: string;
}

export interface DemoData {
  /** applied, waiting for review (status 4) */
  pending: DemoEnterprise;
  /** approved, with template `v1` (templateBody of test/helpers/snms.ts) and `handles` registered */
  approved: DemoEnterprise & { prefix: string; token: string; handles: string[] };
  /** rejected with `reason` */
  rejected: DemoEnterprise & { reason: string };
}

export interface ApplyOptions {
  /** makes the credit code (unique per node) */
  n: number;
  username: string;
  password: string;
  town?: string;
  name?: string;
}

let nextN = 500;

export class NodeApi {
  constructor(
    readonly base: string,
    readonly operator: { username: string; password: string },
  ) {}

  /** One SNMS/operator call: `data` of a status-1 envelope, else a NodeApiError with the node's message. */
  async call<T = unknown>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const res = await fetch(this.base + path, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
    const text = await res.text();
    let env: { status?: unknown; message?: unknown; data?: unknown };
    try {
      env = JSON.parse(text) as typeof env;
    } catch {
      throw new NodeApiError(-4, `${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (env.status === 1) return env.data as T;
    throw new NodeApiError(typeof env.status === 'number' ? env.status : -4, `${method} ${path}: ${String(env.message)}`);
  }

  async login(username: string, password: string): Promise<string> {
    return (await this.call<{ token: string }>('POST', '/identity/token', { username, password })).token;
  }

  private opToken: Promise<string> | undefined;
  /** The bootstrap operator's token (logged in once). */
  operatorToken(): Promise<string> {
    this.opToken ??= this.login(this.operator.username, this.operator.password);
    return this.opToken;
  }

  /** An SNMS application (test/helpers/snms.ts application()): the new enterprise's id. */
  async apply(a: ApplyOptions): Promise<number> {
    return (await this.call<{ enterpriseId: number }>('POST', '/snms/api/v3/ent/apply', application(a))).enterpriseId;
  }

  async approve(enterpriseId: number, prefix?: string): Promise<Approved> {
    return this.call<Approved>('POST', `/operator/enterprises/${enterpriseId}/approve`, prefix === undefined ? {} : { prefix }, await this.operatorToken());
  }

  async reject(enterpriseId: number, reason: string): Promise<void> {
    await this.call('POST', `/operator/enterprises/${enterpriseId}/reject`, { reason }, await this.operatorToken());
  }

  /** A user made by the operator (role operator | reviewer). */
  async createUser(username: string, password: string, role: 'operator' | 'reviewer'): Promise<void> {
    await this.call('POST', '/operator/users', { username, password, role }, await this.operatorToken());
  }

  /** Template `version` for `prefix` (templateBody: 2000 产品名称 required, 2001 型号, 2002 详情页 URL). */
  async createTemplate(token: string, prefix: string, version = 'v1'): Promise<void> {
    await this.call('POST', '/snms/api/v5/template', templateBody(prefix, version), token);
  }

  /** Registers identifiers under templateBody's template: [suffix, product name, model?, url?]. */
  async register(token: string, prefix: string, rows: [string, string, string?, string?][], version = 'v1'): Promise<string[]> {
    const items = rows.map(([suffix, name, model, url]) => item(`${prefix}/${suffix}`, version, values(name, model, url)));
    const out = await this.call<{ handle: string; msg: string }[]>('POST', '/identityv2/data/batchCreate', items, token);
    const bad = out.filter((r) => r.msg !== 'success');
    if (bad.length > 0) throw new NodeApiError(-2, `batchCreate: ${JSON.stringify(bad)}`);
    return out.map((r) => r.handle);
  }

  /** Applies, approves and logs in an enterprise. */
  async onboard(a: ApplyOptions): Promise<DemoEnterprise & Approved & { token: string }> {
    const enterpriseId = await this.apply(a);
    const approved = await this.approve(enterpriseId);
    const token = await this.login(a.username, a.password);
    return { enterpriseId, name: a.name ?? `射阳测试企业${a.n}有限公司`, username: a.username, password: a.password, token, ...approved };
  }

  /** The Handle JSON of an identifier (public resolution, no redirect). */
  async resolve(handle: string): Promise<{ status: number; body: { responseCode: number; values?: { index: number; type: string; data: { value: unknown } }[] } }> {
    const res = await fetch(`${this.base}/api/handles/${handle}`);
    return { status: res.status, body: (await res.json()) as { responseCode: number } };
  }

  /**
   * A little demo data: one enterprise waiting for review, one approved with a template and a few identifiers (one
   * with a URL), one rejected with a reason. Credit codes from `n` on (unique per node).
   */
  async seedDemo(n = nextN): Promise<DemoData> {
    nextN = n + 3;
    const approved = await this.onboard({ n, username: `pump-${n}`, password: 'Pump-pass-2024', name: '射阳海通泵业有限公司', town: '海通镇' });
    await this.createTemplate(approved.token, approved.prefix);
    const handles = await this.register(approved.token, approved.prefix, [
      ['PUMP-2024-0001', '离心泵 IS80', 'IS80-65-160', 'https://example.com/pumps/0001'],
      ['PUMP-2024-0002', '离心泵 IS100', 'IS100-80-160', 'https://example.com/pumps/0002'],
      ['PUMP-2024-0003', '管道泵 ISG50', 'ISG50-160'],
      ['VALVE-2024-0001', '闸阀 Z41H', 'Z41H-16C'],
    ]);
    const pendingApp = { n: n + 1, username: `fab-${n + 1}`, password: 'Fab-pass-2024', name: '射阳合德纺织机械有限公司', town: '合德镇' };
    const pending = { enterpriseId: await this.apply(pendingApp), name: pendingApp.name, username: pendingApp.username, password: pendingApp.password };
    const rejectedApp = { n: n + 2, username: `food-${n + 2}`, password: 'Food-pass-2024', name: '射阳黄沙港水产食品有限公司', town: '黄沙港镇' };
    const rejectedId = await this.apply(rejectedApp);
    const reason = '营业执照照片不清晰，请上传清晰的营业执照扫描件后重新申请。';
    await this.reject(rejectedId, reason);
    return {
      pending,
      approved: { enterpriseId: approved.enterpriseId, name: approved.name, username: approved.username, password: approved.password, prefix: approved.prefix, token: approved.token, handles },
      rejected: { enterpriseId: rejectedId, name: rejectedApp.name, username: rejectedApp.username, password: rejectedApp.password, reason },
    };
  }
}
