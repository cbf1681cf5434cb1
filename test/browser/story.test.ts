// The whole story in a real browser: apply → review → approve → the enterprise logs in → template → CSV upload with progress → the identifier resolves publicly → the operator sees plan progress move; a rejected applicant reads the reason.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { creditCodeCheckChar } from '../../registry/rules.js';
import { goRoute, heading, loginThroughForm, openConsole } from './console.js';
import { describeBrowser, startConsoleNode, useBrowser, type ConsoleNode } from './harness.js';

/** A valid unified social credit code (GB 32100-2015) for Sheyang (320924), numbered n. */
function creditCode(n: number): string {
  const first17 = `91320924MA${String(n).padStart(7, '0')}`;
  return first17 + creditCodeCheckChar(first17);
}

const TOWN = '合德镇';
const ROWS = 1200; // three batches of 500: the progress bar moves more than once

/** The "registered now" figure of a town on the plan page's table. */
async function registeredNow(page: Page, town: string): Promise<number> {
  const table = page.getByRole('table').filter({ has: page.getByRole('columnheader', { name: '已注册（当前）' }) });
  const headers = (await table.getByRole('columnheader').allTextContents()).map((s) => s.trim());
  const col = headers.indexOf('已注册（当前）');
  expect(col).toBeGreaterThan(0);
  const row = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: town, exact: true }) });
  const cells = (await row.locator('th, td').allTextContents()).map((s) => s.trim());
  return Number(cells[col]!.replace(/[^\d]/g, ''));
}

describeBrowser('the console story', () => {
  let node: ConsoleNode;
  beforeAll(async () => {
    // PostgreSQL here (the basics run on the embedded PGlite)
    node = await startConsoleNode({ store: 'postgres' });
  });
  afterAll(async () => {
    await node?.stop();
  });
  const b = useBrowser(() => node.base);

  it('apply, review, approve, template, CSV upload, public resolution, plan progress; a rejected applicant reads why', async () => {
    const applicant = b.page;
    const operator = await b.newPage();
    const visitor = await b.newPage();
    const name = '射阳县海通泵业有限公司';
    const username = 'haitong_pump';
    const password = 'Pump-2024-secure';

    // ---- an enterprise applies (anonymous) ----
    await openConsole(applicant, '/apply');
    await applicant.getByRole('textbox', { name: '企业名称', exact: true }).fill(name);
    const code = applicant.getByRole('textbox', { name: '统一社会信用代码', exact: true });
    const good = creditCode(4711);
    // checked as it is typed: a wrong check character is refused before anything is sent
    await code.fill(good.slice(0, 17) + (good.endsWith('0') ? '1' : '0'));
    await expect.poll(() => code.getAttribute('aria-invalid')).toBe('true');
    await code.fill(good.toLowerCase());
    await expect.poll(() => code.inputValue()).toBe(good);
    await expect.poll(() => code.getAttribute('aria-invalid')).not.toBe('true');
    await applicant.getByRole('combobox', { name: '所在镇（区）', exact: true }).selectOption(TOWN);
    await applicant.getByRole('combobox', { name: '所属行业（国民经济行业门类）', exact: true }).selectOption('C');
    await applicant.getByRole('textbox', { name: '企业地址', exact: true }).fill('射阳县合德镇工业园区 8 号');
    await applicant.getByRole('textbox', { name: '联系人姓名', exact: true }).fill('王海');
    await applicant.getByRole('textbox', { name: '联系电话', exact: true }).fill('13900001111');
    await applicant.getByRole('textbox', { name: '账号用户名', exact: true }).fill(username);
    await applicant.getByRole('textbox', { name: '登录密码', exact: true }).fill(password);
    await applicant.getByRole('textbox', { name: '确认密码', exact: true }).fill(password);
    await applicant.getByRole('button', { name: '提交申请' }).click();
    await applicant.getByRole('heading', { name: '申请已提交' }).waitFor();
    const applicationNo = (await applicant.getByTestId('application-number').textContent())!.replace(/\D/g, '');
    expect(Number(applicationNo)).toBeGreaterThan(0);

    // ---- a second applicant, to be rejected (through the API: the form was shown above) ----
    const rejectedId = await node.api.apply({ n: 4712, username: 'rejected_co', password: 'Rejected-2024-x', name: '射阳县待改进有限公司' });

    // ---- the operator logs in, sees plan progress, reviews and approves ----
    await openConsole(operator, '/login');
    await loginThroughForm(operator, node.operator.username, node.operator.password);
    await goRoute(operator, '/plan');
    await operator.getByRole('heading', { name: '标识解析注册三年计划进度' }).waitFor();
    await operator.getByRole('rowheader', { name: TOWN, exact: true }).first().waitFor();
    const before = await registeredNow(operator, TOWN);

    await goRoute(operator, '/op/queue');
    await operator.getByRole('link', { name }).click();
    await expect.poll(() => heading(operator).textContent()).toContain(name);
    await expect.poll(() => operator.getByTestId('credit-check').textContent()).toContain('✓');
    await operator.getByRole('button', { name: '开始审核' }).click();
    await operator.getByText('已开始审核').first().waitFor();
    await operator.getByRole('button', { name: '批准并分配前缀' }).click();
    const prefix = (await operator.getByTestId('delegated-prefix').textContent())!.trim();
    expect(prefix).toMatch(/^88\.320924\.\d+$/);
    await operator.getByTestId('handle-credential').waitFor();

    // the other application is rejected with a reason, in the console too
    const reason = '营业执照照片不清晰，请重新上传清晰的扫描件';
    await goRoute(operator, '/op/enterprise', { id: String(rejectedId) });
    await operator.getByRole('textbox', { name: '驳回原因', exact: true }).fill(reason);
    await operator.getByRole('button', { name: '驳回', exact: true }).click();
    await operator.getByText('已驳回').first().waitFor();

    // ---- the enterprise logs in, reads its credential once, makes a template ----
    await openConsole(applicant, '/login');
    await loginThroughForm(applicant, username, password);
    await goRoute(applicant, '/my');
    await expect.poll(() => applicant.getByTestId('application-status').textContent()).toMatch(/已通过|已启用/);
    await applicant.getByRole('button', { name: '查看标识管理凭据（仅可查看一次）' }).click();
    await expect.poll(async () => (await applicant.getByTestId('handle-secret').textContent())?.trim().length ?? 0).toBeGreaterThan(10);

    await goRoute(applicant, '/ent/templates', { prefix, new: '1' });
    await applicant.getByRole('textbox', { name: '模板版本', exact: true }).fill('v1');
    await applicant.getByRole('combobox', { name: '行业门类', exact: true }).selectOption('C');
    const items = [
      ['产品名称', 'PRODUCT_NAME'],
      ['型号', 'MODEL'],
      ['详情页', 'URL'],
    ];
    for (const [i, [itemName, type]] of items.entries()) {
      if (i > 0) await applicant.getByRole('button', { name: '再添加一项' }).click();
      const group = applicant.getByRole('group', { name: `第 ${i + 1} 项` });
      await group.getByRole('textbox', { name: '名称', exact: true }).fill(itemName!);
      await group.getByRole('textbox', { name: '类型', exact: true }).fill(type!);
    }
    await applicant.getByRole('button', { name: '创建模板' }).click();
    await applicant.getByText('模板 v1 已创建').waitFor();
    await applicant.getByRole('link', { name: 'v1', exact: true }).waitFor();

    // ---- bulk registration from a CSV file, with progress ----
    const lines = ['suffix,2000:PRODUCT_NAME,2001:MODEL,2002:URL'];
    for (let i = 1; i <= ROWS; i++) lines.push(`PUMP-${String(i).padStart(5, '0')},离心泵 ${i} 号,HT-${i},https://haitong.example.cn/p/${i}`);
    await goRoute(applicant, '/ent/upload', { prefix });
    await applicant.getByRole('heading', { name: '批量注册', exact: true }).waitFor();
    await applicant.getByRole('textbox', { name: '默认模板版本', exact: true }).fill('v1');
    await applicant.getByLabel('选择文件（CSV 或 NDJSON）').setInputFiles({ name: 'pumps.csv', mimeType: 'text/csv', buffer: Buffer.from(`${lines.join('\n')}\n`, 'utf8') });
    await applicant.getByRole('button', { name: `开始上传（${ROWS} 条）` }).click();
    // the bar is there while the batches go, and ends full
    const bar = applicant.getByRole('progressbar', { name: '上传进度' });
    await bar.waitFor();
    await applicant.getByText(/^上传完成：注册成功 1200 条，已存在 0 条，失败 0 条/).waitFor({ timeout: 60_000 });
    expect(await bar.getAttribute('value')).toBe(String(ROWS));
    expect(await bar.getAttribute('max')).toBe(String(ROWS));

    // ---- anyone resolves one of them: values readable, the URL a link, the redirect one click away ----
    const handle = `${prefix}/PUMP-00042`;
    await openConsole(visitor, '/');
    await visitor.getByRole('textbox', { name: '标识', exact: true }).fill(handle);
    await visitor.getByRole('textbox', { name: '标识', exact: true }).press('Enter');
    const values = visitor.getByRole('table').filter({ hasText: 'PRODUCT_NAME' });
    await values.getByText('离心泵 42 号').waitFor();
    expect(await values.getByRole('link', { name: 'https://haitong.example.cn/p/42' }).getAttribute('href')).toBe('https://haitong.example.cn/p/42');
    expect(await visitor.getByRole('link', { name: '打开跳转地址' }).getAttribute('href')).toBe(`/${prefix}/PUMP-00042`);
    // and the node itself agrees (the proxy redirect)
    const redirect = await fetch(`${node.base}/${handle}`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('https://haitong.example.cn/p/42');

    // ---- the operator sees the plan move: one more enterprise registering identifiers in its town ----
    await goRoute(operator, '/plan');
    await operator.getByRole('button', { name: '刷新' }).click();
    await expect.poll(() => registeredNow(operator, TOWN), { timeout: 10_000 }).toBe(before + 1);

    // ---- the operator moves the prefix to the enterprise's own node, and back ----
    await goRoute(operator, '/op/enterprise', { id: applicationNo });
    const hosting = operator.getByTestId(`hosting-${prefix}`);
    await expect.poll(() => hosting.textContent()).toContain('由本节点托管');
    await hosting.getByRole('button', { name: '更改托管方式' }).click();
    await hosting.getByRole('combobox', { name: '托管方式', exact: true }).selectOption('self');
    await hosting.getByRole('textbox', { name: '企业节点 IP 地址', exact: true }).fill('127.0.0.1');
    await hosting.getByRole('spinbutton', { name: 'TCP 端口', exact: true }).fill('26410');
    await hosting.getByRole('spinbutton', { name: 'UDP 端口', exact: true }).fill('26410');
    await hosting.getByRole('button', { name: '保存' }).click();
    await expect.poll(() => hosting.textContent()).toContain('企业自建节点 127.0.0.1（TCP 26410，UDP 26410）');
    // the prefix record now publishes the enterprise node's site
    const record = (await (await fetch(`${node.base}/api/handles/0.NA/${prefix}?type=HS_SITE`)).json()) as { values: { data: { value: { servers: { interfaces: { port: number }[] }[] } } }[] };
    expect(record.values[0]!.data.value.servers[0]!.interfaces.map((i) => i.port)).toContain(26410);
    await hosting.getByRole('button', { name: '更改托管方式' }).click();
    await hosting.getByRole('combobox', { name: '托管方式', exact: true }).selectOption('here');
    await hosting.getByRole('button', { name: '保存' }).click();
    await expect.poll(() => hosting.textContent()).toContain('由本节点托管');
    expect((await fetch(`${node.base}/${handle}`, { redirect: 'manual' })).status).toBe(302);

    // ---- the rejected applicant logs in and reads the reason ----
    const rejected = await b.newPage();
    await openConsole(rejected, '/login');
    await loginThroughForm(rejected, 'rejected_co', 'Rejected-2024-x');
    await goRoute(rejected, '/my');
    await rejected.getByText('申请已被驳回').waitFor();
    await rejected.getByText(reason).first().waitFor();
  });
});
