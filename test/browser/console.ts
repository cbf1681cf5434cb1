// What a person does in the console, for the browser tests: open a route, switch the language, log in through the form, log out.
import type { Locator, Page } from 'playwright-core';

/** Opens a console route (`/op/queue`, optionally with a query) by its hash, from the page at / . */
export async function openConsole(page: Page, path = '/', query?: Record<string, string>): Promise<void> {
  const qs = query === undefined ? '' : new URLSearchParams(query).toString();
  await page.goto(`/#${path}${qs === '' ? '' : `?${qs}`}`);
  await page.locator('h1').first().waitFor();
}

/** Moves to a route of the loaded console without reloading (as a link would). */
export async function goRoute(page: Page, path: string, query?: Record<string, string>): Promise<void> {
  const qs = query === undefined ? '' : new URLSearchParams(query).toString();
  await page.evaluate(`location.hash = ${JSON.stringify(`#${path}${qs === '' ? '' : `?${qs}`}`)}`);
}

/** The lang attribute of the page's html element (zh-CN or en). */
export const htmlLang = (page: Page): Promise<string | null> => page.locator('html').getAttribute('lang');

/** The page's heading (the Page frame's h1). */
export const heading = (page: Page): Locator => page.locator('h1');

/** The header's language switch: a button named by the language it switches to ("English" / "中文"). */
export const languageSwitch = (page: Page): Locator => page.getByRole('button', { name: /^(English|中文)$/ });

/** Switches to `to` (zh or en) when the console is in the other language. */
export async function setLanguage(page: Page, to: 'zh' | 'en'): Promise<void> {
  const want = to === 'zh' ? 'zh-CN' : 'en';
  if ((await htmlLang(page)) === want) return;
  await languageSwitch(page).click();
  await page.waitForFunction(`document.documentElement.lang === ${JSON.stringify(want)}`);
}

/**
 * Logs in through the console's form (用户名 / 密码 / 登录, or the English labels), from wherever the page is, and
 * waits until the header names the account.
 */
export async function loginThroughForm(page: Page, username: string, password: string): Promise<void> {
  if (!/#\/login/.test(page.url())) {
    await page.getByRole('link', { name: /^(登录|Log in)$/ }).click();
  }
  await page.getByLabel(/^(用户名|Username)/).fill(username);
  await page.getByLabel(/^(密码|Password)/).fill(password);
  await page.getByRole('button', { name: /^(登录|Log in)$/ }).click();
  await page.getByTestId('who').filter({ hasText: username }).waitFor();
}

/** Logs out with the header's button and waits until no account is named. */
export async function logout(page: Page): Promise<void> {
  await page.getByRole('button', { name: /^(退出登录|Log out)$/ }).click();
  await page.getByTestId('who').waitFor({ state: 'detached' });
}

/** The main navigation's links, as their text. */
export async function navLinks(page: Page): Promise<string[]> {
  return (await page.getByRole('navigation').getByRole('link').allTextContents()).map((s) => s.trim());
}
