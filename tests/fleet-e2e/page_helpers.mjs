// Helpers the browser tests share: API calls from the page (with its session and CSRF token), and
// the phone walk (390x844: the Menu reaches every page, no page is wider than the window).
import assert from 'node:assert/strict';
import { shot } from './harness.mjs';

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1360, height: 900 };

// An API call from the page, with the session and its CSRF token (as the device link will report).
export async function api(page, method, p, body) {
  return page.evaluate(async ([m, u, b]) => {
    const me = await (await fetch('/api/v1/auth/me')).json();
    const r = await fetch(`/api/v1${u}`, { method: m, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token }, body: JSON.stringify(b) });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, [method, p, body]);
}

// Signs in through the login page (fleet mode) and waits for the signed-in shell.
export async function signIn(page, url, who) {
  await page.goto(`${url}/#/`);
  await page.getByLabel('E-mail address').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function waitForValue(locator, want, what) {
  const deadline = Date.now() + 10_000;
  while ((await locator.inputValue()) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await locator.inputValue(), want, what);
}

export async function deviceNames(page) {
  return page.getByTestId('device-table').locator('tbody tr td:first-child').allInnerTexts();
}

// The page is no wider than the window: nothing scrolls sideways (wide tables scroll inside their
// own container).
export async function assertNoSidewaysScroll(page, what) {
  const [sw, w, wide] = await page.evaluate(() => {
    const w = window.innerWidth;
    // The innermost elements that reach past the window's right edge, to name the culprit.
    const clipped = (e) => {
      for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return true;
      return false;
    };
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > w + 0.5 && !clipped(e))
      .slice(0, 5)
      .map((e) => `<${e.tagName.toLowerCase()} class="${e.className?.baseVal ?? e.className}">${(e.textContent ?? '').slice(0, 40)}`);
    return [document.documentElement.scrollWidth, w, wide];
  });
  assert.ok(sw <= w, `${what}: the page is ${sw} px wide in a ${w} px window; past the edge: ${wide.join(' | ')}`);
}

export async function settle(page) {
  await page.waitForLoadState('networkidle', { timeout: 5000 }).catch(() => {});
}

export async function openPhoneMenu(page) {
  const menu = page.getByRole('button', { name: 'Menu' });
  await menu.click();
  return page.locator('#phone-menu');
}

// Every link of the menu is there and inside the window.
export async function phoneCheckMenu(page, links, what) {
  const m = await openPhoneMenu(page);
  for (const name of links) {
    const l = m.getByRole('link', { name, exact: true });
    await l.waitFor();
    const box = await l.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `${what}: menu link "${name}" inside the window`);
  }
  await m.getByRole('button', { name: 'Sign out' }).or(m.getByText('Studio mode')).first().waitFor();
  await page.getByRole('button', { name: 'Close menu' }).click();
}

export async function phoneCheckPage(page, url, heading, links) {
  await page.goto(url);
  await page.getByRole('heading', { name: heading, level: 1 }).first().waitFor();
  await settle(page);
  await assertNoSidewaysScroll(page, url);
  assert.doesNotMatch(await page.locator('main').innerText(), /\b1 (device|channel|component|release|line|event|key|project|deployment|user|token|rollout|batch|command|target)s\b/, `${url}: plurals`);
  await shot(page, `14-phone-${url.split('#/')[1].replace(/\W+/g, '-') || 'home'}`);
  await phoneCheckMenu(page, links, url);
  await assertNoSidewaysScroll(page, `${url} (later)`); // again, once everything on it has loaded
}

// Each menu link leads to its page, which fits the window.
export async function phoneReachEveryLink(page, links) {
  for (const name of links) {
    const m = await openPhoneMenu(page);
    await m.getByRole('link', { name, exact: true }).click();
    await page.locator('#phone-menu').waitFor({ state: 'detached' });
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    await settle(page);
    await assertNoSidewaysScroll(page, `menu → ${name}`);
  }
}

export async function phoneLogin(page, who) {
  await page.getByLabel('E-mail address').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Menu' }).waitFor();
}

export async function phoneSignOut(page) {
  const m = await openPhoneMenu(page);
  await m.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}
