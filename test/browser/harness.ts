// The browser suite's harness: finds Debian's chromium, starts a real node serving the built console, and gives each test a fresh watched page (page errors, CSP violations, failed requests fail it; a screenshot when it fails).
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, type TestContext } from 'vitest';
import { startChildNode, type ChildNode } from '../helpers/child-node.js';
import { ADMIN_SECRET } from '../helpers/node.js';
import { hasPostgres, tempPostgres } from '../helpers/services.js';
import { NodeApi } from './node-api.js';

/** With REQUIRE_BROWSER=1 (set by .ci/run) a missing chromium fails the run instead of skipping the browser tests. */
export const requireBrowser = process.env.REQUIRE_BROWSER === '1';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** CHROMIUM_PATH when set (and there), else Debian's chromium; null when none is found. */
export function findChromium(): string | null {
  const named = process.env.CHROMIUM_PATH;
  if (named !== undefined && named !== '') return existsSync(named) ? named : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export const chromiumPath = findChromium();

const missing =
  process.env.CHROMIUM_PATH !== undefined && process.env.CHROMIUM_PATH !== ''
    ? `CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist`
    : `no chromium at ${CANDIDATES.join(' or ')} (apt-get install chromium, or set CHROMIUM_PATH)`;

if (chromiumPath === null && requireBrowser) {
  throw new Error(`REQUIRE_BROWSER=1 but ${missing}`);
}

/**
 * describe() for browser tests: skipped where no chromium is found — saying so on stderr and in the suite's name,
 * so the skip is seen — and failing instead with REQUIRE_BROWSER=1 (the module throws above).
 */
export function describeBrowser(name: string, fn: () => void): void {
  if (chromiumPath === null) {
    console.warn(`\n  ⚠ browser tests SKIPPED: ${missing}\n`);
    describe.skip(`${name} — SKIPPED: ${missing}`, fn);
  } else {
    describe(name, fn);
  }
}

/** The flags the suite launches chromium with (headless; a fresh profile per launch, made by Playwright). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Launches headless chromium (Playwright gives every launch a fresh temporary user-data dir and removes it on close). */
export async function launchChromium(): Promise<Browser> {
  if (chromiumPath === null) throw new Error(`cannot launch chromium: ${missing}`);
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

// ---------------------------------------------------------------------------------------------------------------
// the node

export interface ConsoleNode {
  /** http://127.0.0.1:<port> — the console is at `${base}/` */
  base: string;
  child: ChildNode;
  api: NodeApi;
  /** the bootstrap operator (ADMIN_USER=admin, password ADMIN_SECRET as the tests set it) */
  operator: { username: string; password: string };
  stop(): Promise<void>;
}

export interface ConsoleNodeOptions {
  /** extra environment for `idnode serve` */
  env?: Record<string, string>;
  /**
   * 'pglite' (default): embedded PGlite in a temp DATA_DIR; 'postgres': a throw-away database on DATABASE_URL.
   * Either way no Redis unless `env` names one (REDIS_URL with a REDIS_NAMESPACE of its own).
   */
  store?: 'pglite' | 'postgres';
}

/**
 * Starts `idnode serve` from dist/ (built by `npm run test:browser`) on a free port, native face off, with the
 * test admin secret: the first start creates the operator `admin` with ADMIN_SECRET as its password.
 */
export async function startConsoleNode(opts: ConsoleNodeOptions = {}): Promise<ConsoleNode> {
  if (!existsSync('dist/src/cli.js') || !existsSync('dist/console/index.html')) {
    throw new Error('dist/ or dist/console/ is missing: run `npm run build` (npm run test:browser does)');
  }
  const db = opts.store === 'postgres' ? (hasPostgres ? await tempPostgres() : null) : null;
  if (opts.store === 'postgres' && db === null) throw new Error('store postgres asked for, but DATABASE_URL is not set');
  // the node inherits the test run's environment: CI's DATABASE_URL and REDIS_URL (shared by other suites) are
  // blanked (empty counts as unset), so it keeps to its own store and in-process cache
  const env = { NATIVE_PORT: '0', LOG_LEVEL: 'warn', DATABASE_URL: db?.url ?? '', REDIS_URL: '', ...opts.env };
  const child = await startChildNode(env, 90_000);
  const operator = { username: opts.env?.ADMIN_USER ?? 'admin', password: opts.env?.ADMIN_SECRET ?? ADMIN_SECRET };
  return {
    base: child.base,
    child,
    api: new NodeApi(child.base, operator),
    operator,
    async stop() {
      await child.stop();
      await db?.drop();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// watched pages

/** What a page did wrong: uncaught errors, CSP violations, console errors, requests that failed or met a 5xx. */
export interface PageWatch {
  pageErrors: string[];
  cspViolations: string[];
  consoleErrors: string[];
  failedRequests: string[];
  /** 4xx/5xx answers (4xx are recorded only: a missing identifier is a 404 the page expects) */
  httpErrors: string[];
  /** console errors matching one of these are not problems (e.g. an expected failed login) */
  allow(re: RegExp): void;
  /** everything that fails a test: page errors, CSP violations, console errors not allowed, failed requests, 5xx */
  problems(): string[];
}

/** Chromium's own console line for any answer ≥ 400 — the answer itself is judged in httpErrors. */
const RESOURCE_STATUS = /^Failed to load resource: the server responded with a status of (\d{3})/;

/** Watches a page from its first document on (call before the first goto). */
export async function watchPage(page: Page): Promise<PageWatch> {
  const allowed: RegExp[] = [];
  const w: PageWatch = {
    pageErrors: [],
    cspViolations: [],
    consoleErrors: [],
    failedRequests: [],
    httpErrors: [],
    allow: (re) => void allowed.push(re),
    problems: () => [
      ...w.pageErrors.map((e) => `uncaught page error: ${e}`),
      ...w.cspViolations.map((e) => `CSP violation: ${e}`),
      ...w.consoleErrors.filter((e) => !allowed.some((re) => re.test(e))).map((e) => `console error: ${e}`),
      ...w.failedRequests.map((e) => `failed request: ${e}`),
      ...w.httpErrors.filter((e) => / 5\d\d /.test(e)).map((e) => `server error: ${e}`),
    ],
  };
  page.on('pageerror', (err) => w.pageErrors.push(err.stack ?? err.message));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (RESOURCE_STATUS.test(text)) return;
    if (/Content Security Policy/i.test(text)) w.cspViolations.push(text);
    else w.consoleErrors.push(text);
  });
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? 'failed';
    // a fetch the page aborted itself (it moved on) is no failure
    if (why === 'net::ERR_ABORTED') return;
    w.failedRequests.push(`${req.method()} ${req.url()}: ${why}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) w.httpErrors.push(`${res.request().method()} ${res.url()} ${res.status()} `);
  });
  // the browser's own report of a violation, whatever the console says
  await page.exposeBinding('__idnodeCspViolation', (_src, text: string) => void w.cspViolations.push(text));
  // (a string: the test project has no DOM types; it runs in the page)
  await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => {
    window.__idnodeCspViolation?.(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + e.sourceFile + ':' + e.lineNumber + ')');
  });`);
  return w;
}

/** Where failure screenshots go (one folder per run, printed with each). */
let shotDir: string | null = null;
function screenshotDir(): string {
  shotDir ??= mkdtempSync(join(tmpdir(), 'idnode-browser-failures-'));
  return shotDir;
}

export interface BrowserKit {
  readonly browser: Browser;
  /** the running test's page: a fresh context (no storage), zh-CN locale, Asia/Shanghai, 1280×800, base URL set */
  readonly page: Page;
  readonly context: BrowserContext;
  /** what the watcher saw on `page` (or on another page of this test) */
  watch(page?: Page): PageWatch;
  /** another fresh watched page in a context of its own (a second person in the same test), closed after it */
  newPage(options?: BrowserContextOptions): Promise<Page>;
}

export const CONTEXT_DEFAULTS: BrowserContextOptions = {
  locale: 'zh-CN',
  timezoneId: 'Asia/Shanghai',
  viewport: { width: 1280, height: 800 },
};

/**
 * Registers hooks in the calling describe(): chromium launched once for it, a fresh watched page for each test;
 * after each test, a screenshot of every page of a failed test (path printed), and a failure when a page had
 * an uncaught error, a CSP violation, a console error not allowed, a failed request or a 5xx.
 */
export function useBrowser(baseUrl: () => string): BrowserKit {
  let browser: Browser | undefined;
  let pages: { page: Page; context: BrowserContext; watch: PageWatch }[] = [];
  const open = async (options: BrowserContextOptions = {}) => {
    const context = await browser!.newContext({ ...CONTEXT_DEFAULTS, baseURL: baseUrl(), ...options });
    context.setDefaultTimeout(15_000);
    context.setDefaultNavigationTimeout(30_000);
    const page = await context.newPage();
    const watch = await watchPage(page);
    pages.push({ page, context, watch });
    return page;
  };
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    pages = [];
    await open();
  });
  afterEach(async (ctx: TestContext) => {
    const problems = pages.flatMap((p, i) => p.watch.problems().map((s) => (pages.length > 1 ? `page ${i + 1}: ${s}` : s)));
    const failed = ctx.task.result?.state === 'fail' || problems.length > 0;
    if (failed) {
      const dir = screenshotDir();
      mkdirSync(dir, { recursive: true });
      const stem = ctx.task.name.replace(/[^\p{L}\p{N}]+/gu, '-').slice(0, 80);
      for (const [i, p] of pages.entries()) {
        const file = join(dir, `${stem}${pages.length > 1 ? `-${i + 1}` : ''}.png`);
        try {
          await p.page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
          console.error(`browser test "${ctx.task.name}" failed: screenshot of ${p.page.url()} at ${file}`);
        } catch (e) {
          console.error(`browser test "${ctx.task.name}" failed; no screenshot: ${(e as Error).message}`);
        }
      }
    }
    for (const p of pages) await p.context.close().catch(() => undefined);
    pages = [];
    if (problems.length > 0) throw new Error(`the page misbehaved:\n  ${problems.join('\n  ')}`);
  });
  return {
    get browser() {
      return browser!;
    },
    get page() {
      return pages[0]!.page;
    },
    get context() {
      return pages[0]!.context;
    },
    watch(page?: Page) {
      const found = page === undefined ? pages[0] : pages.find((p) => p.page === page);
      if (found === undefined) throw new Error('not a page of this test');
      return found.watch;
    },
    newPage: open,
  };
}

