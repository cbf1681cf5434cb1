// Refreshes the README's pictures of the console (`npm run screenshots`, SCREENSHOTS=1): a node with a little demo data, each main screen saved at 1280×800 in Chinese (and the resolve page in English) into test/browser/screenshots/.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { goRoute, loginThroughForm, openConsole, setLanguage } from './console.js';
import { CONTEXT_DEFAULTS, describeBrowser, launchChromium, startConsoleNode, watchPage, type ConsoleNode, type PageWatch } from './harness.js';
import type { DemoData } from './node-api.js';

export const SCREENSHOT_DIR = 'test/browser/screenshots';

/** Resolves once the page has had no request in flight for `quietMs` (or after `maxMs`). */
async function quiet(page: Page, inFlight: () => number, quietMs = 400, maxMs = 10_000): Promise<void> {
  const end = Date.now() + maxMs;
  let since = Date.now();
  while (Date.now() < end) {
    if (inFlight() > 0) since = Date.now();
    else if (Date.now() - since >= quietMs) return;
    await page.waitForTimeout(50);
  }
}

interface Shooter {
  page: Page;
  watch: PageWatch;
  /** waits for the page to settle (a heading, no request in flight, no "加载中…") and saves `<name>.png` */
  shot(name: string): Promise<void>;
}

describeBrowser('screenshots of the console (npm run screenshots)', () => {
  let node: ConsoleNode;
  let demo: DemoData;
  let browser: Browser;
  const saved: string[] = [];
  const warnings: string[] = [];

  beforeAll(async () => {
    try {
      if (execFileSync('fc-list', [':lang=zh'], { encoding: 'utf8' }).trim() === '') warnings.push('no Chinese font (fc-list :lang=zh): apt-get install fonts-wqy-microhei, or the pictures show boxes');
    } catch {
      warnings.push('fc-list not found: cannot tell whether a Chinese font is installed');
    }
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    node = await startConsoleNode();
    demo = await node.api.seedDemo();
    await node.api.createUser('reviewer-li', 'Reviewer-pass-2024', 'reviewer');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await node?.stop();
    for (const w of warnings) console.warn(`⚠ ${w}`);
    console.log(`screenshots: ${saved.length} saved in ${SCREENSHOT_DIR}/: ${saved.join(', ')}`);
  });

  async function shooter(): Promise<Shooter> {
    const context = await browser.newContext({ ...CONTEXT_DEFAULTS, baseURL: node.base, deviceScaleFactor: 1 });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const watch = await watchPage(page);
    let inFlight = 0;
    page.on('request', () => void inFlight++);
    page.on('requestfinished', () => void inFlight--);
    page.on('requestfailed', () => void inFlight--);
    return {
      page,
      watch,
      async shot(name) {
        try {
          await page.locator('h1').first().waitFor({ timeout: 10_000 });
        } catch {
          warnings.push(`${name}: no heading on ${page.url()} (the page may still be a stub, or failed)`);
        }
        await quiet(page, () => inFlight);
        await page
          .getByText(/^(加载中…|Loading…)$/)
          .first()
          .waitFor({ state: 'detached', timeout: 10_000 })
          .catch(() => warnings.push(`${name}: still loading after 10 s`));
        // no blinking caret or focus ring in the picture
        await page.evaluate('document.activeElement && document.activeElement !== document.body && document.activeElement.blur && document.activeElement.blur()');
        await page.waitForTimeout(150);
        const problems = watch.problems();
        if (problems.length > 0) warnings.push(`${name}: ${problems.join('; ')}`);
        watch.pageErrors.length = watch.cspViolations.length = watch.consoleErrors.length = watch.failedRequests.length = watch.httpErrors.length = 0;
        await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: false });
        saved.push(name);
      },
    };
  }

  it('saves the main screens at 1280×800, in Chinese (and the resolve page in English)', async () => {
    // anyone: resolve (an identifier of the demo enterprise), the same in English, the login and application forms
    const visitor = await shooter();
    await openConsole(visitor.page, '/', { h: demo.approved.handles[0]! });
    await visitor.page.getByRole('table').first().waitFor().catch(() => undefined);
    await visitor.shot('resolve');
    await setLanguage(visitor.page, 'en');
    await visitor.shot('resolve-en');
    await setLanguage(visitor.page, 'zh');
    await goRoute(visitor.page, '/login');
    await visitor.shot('login');
    await goRoute(visitor.page, '/apply');
    await visitor.shot('apply');
    await visitor.page.context().close();

    // the operator: the queue, one application, accounts, audit, plan progress, node health
    const op = await shooter();
    await openConsole(op.page, '/login');
    await loginThroughForm(op.page, node.operator.username, node.operator.password);
    await goRoute(op.page, '/op/queue');
    await op.shot('op-queue');
    await goRoute(op.page, '/op/enterprise', { id: String(demo.pending.enterpriseId) });
    await op.shot('op-application');
    await goRoute(op.page, '/op/accounts');
    await op.shot('op-accounts');
    await goRoute(op.page, '/op/audit');
    await op.shot('op-audit');
    await goRoute(op.page, '/plan');
    await op.shot('plan');
    await goRoute(op.page, '/health');
    await op.shot('health');
    await op.page.context().close();

    // the approved enterprise: its application, templates, identifiers, bulk upload
    const ent = await shooter();
    await openConsole(ent.page, '/login');
    await loginThroughForm(ent.page, demo.approved.username, demo.approved.password);
    await goRoute(ent.page, '/my');
    await ent.shot('ent-application');
    await goRoute(ent.page, '/ent/templates');
    await ent.shot('ent-templates');
    await goRoute(ent.page, '/ent/identifiers');
    await ent.shot('ent-identifiers');
    await goRoute(ent.page, '/ent/upload');
    await ent.shot('ent-upload');
    await ent.page.context().close();

    // the rejected applicant reads the reason
    const rejected = await shooter();
    await openConsole(rejected.page, '/login');
    await loginThroughForm(rejected.page, demo.rejected.username, demo.rejected.password);
    await goRoute(rejected.page, '/my');
    await rejected.shot('ent-application-rejected');
    await rejected.page.context().close();

    expect(saved).toHaveLength(15);
    // every screen rendered its page cleanly (a missing Chinese font is only a warning: the pictures still come)
    expect(warnings.filter((w) => !/Chinese font|fc-list/.test(w))).toEqual([]);
  });
});
