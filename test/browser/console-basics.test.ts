// The web console in a real browser: loads clean under its CSP, Chinese first with an English switch that sticks, resolves, logs in and out, guards pages, works by keyboard, caches right, stays small.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { goRoute, heading, htmlLang, languageSwitch, loginThroughForm, logout, navLinks, openConsole } from './console.js';
import { describeBrowser, startConsoleNode, useBrowser, type ConsoleNode } from './harness.js';
import type { DemoData } from './node-api.js';

const OPERATOR_NAV = ['入驻审核', '账号管理', '审计日志', '计划进度', '节点状态'];

describeBrowser('web console basics', () => {
  let node: ConsoleNode;
  let demo: DemoData;
  let redirecting: string | undefined;
  beforeAll(async () => {
    node = await startConsoleNode();
    demo = await node.api.seedDemo();
    // an identifier whose URL is the node's own /healthz, so the browser can follow the proxy redirect for real
    [redirecting] = await node.api.register(demo.approved.token, demo.approved.prefix, [['JUMP-0001', '跳转演示', 'J-1', `${node.base}/healthz`]]);
  });
  afterAll(async () => {
    await node?.stop();
  });
  const b = useBrowser(() => node.base);

  it('loads at / in Chinese, with no console error and no CSP violation', async () => {
    const { page } = b;
    await openConsole(page);
    await expect.poll(() => heading(page).textContent()).toBe('标识查询');
    expect(await htmlLang(page)).toBe('zh-CN');
    expect(await page.title()).toBe('射阳县工业互联网标识解析二级节点');
    await expect.poll(() => navLinks(page)).toContain('标识查询');
    // let late work (fonts, idle callbacks) surface its errors too
    await page.waitForLoadState('networkidle');
    expect(b.watch().problems()).toEqual([]);
    expect(b.watch().cspViolations).toEqual([]);
  });

  it('notices a CSP violation when there is one (the watch is not blind)', async () => {
    const { page } = b;
    await openConsole(page);
    // an inline script, added the way an injection would: the CSP must block it, and the watch must see that
    await page.evaluate(`(() => { const s = document.createElement('script'); s.textContent = 'window.__inlineRan = true'; document.body.append(s); })()`);
    await expect.poll(() => b.watch().cspViolations.length).toBeGreaterThan(0);
    expect(await page.evaluate('window.__inlineRan === true')).toBe(false);
    expect(b.watch().problems().some((p) => p.startsWith('CSP violation: '))).toBe(true);
    // seen: not a failure of this test
    b.watch().cspViolations.length = 0;
  });

  it('switches to English and back, and keeps the choice across a reload', async () => {
    const { page } = b;
    await openConsole(page);
    const toggle = languageSwitch(page);
    await expect.poll(() => toggle.textContent()).toBe('English');
    await page.getByRole('button', { name: 'English', exact: true }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Resolve an identifier');
    expect(await htmlLang(page)).toBe('en');
    await expect.poll(() => navLinks(page)).toContain('Resolve');

    await page.reload();
    await expect.poll(() => heading(page).textContent()).toBe('Resolve an identifier');
    expect(await htmlLang(page)).toBe('en');
    await expect.poll(() => toggle.textContent()).toBe('中文');

    await page.getByRole('button', { name: '中文', exact: true }).click();
    await expect.poll(() => heading(page).textContent()).toBe('标识查询');
    expect(await htmlLang(page)).toBe('zh-CN');
    await page.reload();
    await expect.poll(() => heading(page).textContent()).toBe('标识查询');
    expect(await htmlLang(page)).toBe('zh-CN');
  });

  it('resolves an identifier registered through the API: its values, the URL as a link, the proxy redirect', async () => {
    const { page } = b;
    const handle = redirecting!;
    const target = `${node.base}/healthz`;
    await openConsole(page);
    await page.getByRole('textbox', { name: '标识', exact: true }).fill(handle);
    await page.getByRole('button', { name: '查询' }).click();

    const table = page.getByRole('table', { name: '标识值' });
    await table.waitFor();
    const rows = table.getByRole('row');
    await expect.poll(() => rows.filter({ hasText: 'PRODUCT_NAME' }).textContent()).toContain('跳转演示');
    await expect.poll(() => rows.filter({ hasText: 'MODEL' }).textContent()).toContain('J-1');
    const urlLink = table.getByRole('link', { name: target });
    expect(await urlLink.getAttribute('href')).toBe(target);
    expect(page.url()).toContain(`#/?h=${encodeURIComponent(handle)}`);

    // the proxy redirect: /<handle>, which the node answers with a 302 to the first URL value
    const redirect = page.getByRole('link', { name: '打开跳转地址' });
    expect(await redirect.getAttribute('href')).toBe(`/${handle}`);
    const [hop] = await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === `/${handle}`), redirect.click()]);
    expect(hop.status()).toBe(302);
    expect(hop.headers().location).toBe(target);
    await page.waitForURL(target);
  });

  it('says an identifier is not found, and what to check', async () => {
    const { page } = b;
    await openConsole(page);
    await page.getByRole('textbox', { name: '标识', exact: true }).fill(`${demo.approved.prefix}/NO-SUCH-0000`);
    await page.getByRole('button', { name: '查询' }).click();
    await page.getByRole('status').filter({ hasText: '未找到该标识' }).waitFor();
    expect(await page.getByRole('table').count()).toBe(0);
    expect(b.watch().httpErrors.some((e) => e.includes('/api/handles/') && e.includes(' 404 '))).toBe(true);
  });

  it('logs the operator in through the form, shows the operator navigation, and logs out', async () => {
    const { page } = b;
    await openConsole(page);
    expect(await navLinks(page)).not.toContain('入驻审核');

    // a wrong password first: an error the person can read, still logged out
    await page.getByRole('link', { name: '登录' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('登录');
    await page.getByLabel('用户名').fill(node.operator.username);
    await page.getByLabel('密码').fill('not-the-password');
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/^出错了：/);
    expect(await page.getByTestId('who').count()).toBe(0);

    await loginThroughForm(page, node.operator.username, node.operator.password);
    expect(await page.getByTestId('who').textContent()).toBe(`${node.operator.username} · 运营人员`);
    await page.waitForURL(/#\/op\/queue$/);
    const links = await navLinks(page);
    for (const l of OPERATOR_NAV) expect(links).toContain(l);
    expect(links).not.toContain('企业入驻申请');

    await logout(page);
    await expect.poll(() => navLinks(page)).not.toContain('入驻审核');
    await page.getByRole('link', { name: '登录' }).waitFor();
    // the session is gone: an operator page asks for a login again
    await goRoute(page, '/op/audit');
    await page.waitForURL(/#\/login\?next=/);
  });

  it('sends an anonymous visitor of a page that needs a login to the login page, and back after it', async () => {
    const { page } = b;
    await openConsole(page, '/op/accounts');
    await page.waitForURL(/#\/login\?next=%2Fop%2Faccounts$/);
    await expect.poll(() => heading(page).textContent()).toBe('登录');
    await loginThroughForm(page, node.operator.username, node.operator.password);
    await page.waitForURL(/#\/op\/accounts$/);
    expect(await navLinks(page)).toContain('账号管理');
  });

  it('works by keyboard alone: Tab reaches the identifier field, Enter resolves', async () => {
    const { page } = b;
    const handle = demo.approved.handles[1]!;
    await openConsole(page);
    const fieldId = await page.getByRole('textbox', { name: '标识', exact: true }).getAttribute('id');
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.locator('input:focus').count()) === 1 && (await page.locator('input:focus').getAttribute('id')) === fieldId;
    }
    expect(reached, 'Tab never reached the 标识 field').toBe(true);
    await page.keyboard.type(handle);
    await page.keyboard.press('Enter');
    const table = page.getByRole('table', { name: '标识值' });
    await table.waitFor();
    await expect.poll(() => table.textContent()).toContain('离心泵 IS100');
  });

  it('serves the page with no-cache and a CSP, the hashed assets for a year, immutable', async () => {
    const { page } = b;
    const assets: { url: string; cacheControl: string | undefined }[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/console/assets/')) assets.push({ url: r.url(), cacheControl: r.headers()['cache-control'] });
    });
    const doc = await page.goto('/');
    await heading(page).waitFor();
    const h = doc!.headers();
    expect(h['cache-control']).toBe('no-cache');
    expect(h['content-security-policy']).toMatch(/script-src 'self'/);
    expect(h['content-security-policy']).toMatch(/default-src 'self'/);
    expect(h['content-security-policy']).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline/);
    expect(assets.some((a) => a.url.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.url.endsWith('.css'))).toBe(true);
    for (const a of assets) {
      expect(a.url, 'asset names carry their hash').toMatch(/\/console\/assets\/[\w.-]+-[\w-]{8,}\.(js|css)$/);
      expect(a.cacheControl, a.url).toBe('public, max-age=31536000, immutable');
    }
  });

  it('keeps the whole console (every file under dist/console) under 300 KB gzipped', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        // the .gz / .br copies the build writes beside each asset are the same bytes, compressed: not counted twice
        else if (!/\.(gz|br)$/.test(name)) files.push(p);
      }
    };
    walk('dist/console');
    expect(files.length).toBeGreaterThan(1);
    const gzipped = files.reduce((sum, f) => sum + gzipSync(readFileSync(f), { level: 9 }).length, 0);
    console.log(`console: ${files.length} files, ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    expect(gzipped).toBeLessThan(300 * 1024);
  });
});
