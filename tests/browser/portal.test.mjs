// Browser tests of the Belonging portal: a real server (./server.mjs) driven by
// Debian's headless Chromium through playwright-core, with axe-core checking
// WCAG 2.2 AA on each page. Run with `node --test tests/browser/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAccessible, signIn, usePortal } from './harness.mjs';

// A hung page fails its own test quickly instead of stalling the whole run.
const TEST_TIMEOUT_MS = 30_000;

const portal = usePortal();
const { newPage } = portal;

// axe-core needs script execution, which a `javaScriptEnabled: false` context has
// switched off (its evaluate calls then hang on timers that never fire). So check the
// no-JavaScript rendering of PATH from a second, script-enabled context that shares
// noJsContext's cookies but serves the page's own scripts empty: the DOM is the one a
// browser without JavaScript gets (no `js-enabled` class, no nhsuk components set up).
async function assertAccessibleWithoutScripts(t, noJsContext, path, label) {
  const context = await portal.browser.newContext({
    baseURL: portal.server.url,
    storageState: await noJsContext.storageState(),
  });
  t.after(() => context.close());
  await context.route((url) => url.pathname.endsWith('.js'),
    (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: '' }));
  const page = await context.newPage();
  const response = await page.goto(path);
  assert.equal(response.status(), 200, `GET ${path}`);
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('js-enabled')), false);
  await assertAccessible(page, label);
}

// Collects console errors, uncaught exceptions and CSP violations (Chromium reports
// those as console errors) from a page. Chromium also logs "Failed to load resource"
// for every non-2xx response; that is expected for a page the server deliberately
// answers with an error status (the sign-in form re-shown with 400), so it is ignored
// for main-frame documents only: a failing script, stylesheet or image still counts.
function collectErrors(page) {
  const errors = [];
  const documents = new Set();
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) documents.add(request.url());
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (text.startsWith('Failed to load resource: the server responded with a status of ')
        && documents.has(msg.location().url)) return;
    errors.push(`console.error on ${page.url()}: ${text} (${msg.location().url || 'no location'})`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught exception on ${page.url()}: ${err.message}`));
  return errors;
}

const primaryNav = (page) => page.getByRole('navigation', { name: 'Primary navigation' });

test('sign-in page passes axe', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(t);
  const response = await page.goto('/signin');
  assert.equal(response.status(), 200);
  await assert.doesNotReject(page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor());
  await assertAccessible(page, 'the sign-in page');
});

test('staff member signs in through the form and lands on the home page', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(t);
  await signIn(page, 'staff');
  assert.equal(new URL(page.url()).pathname, '/');
  const h1 = page.locator('h1');
  assert.match(await h1.innerText(), /^Welcome, .+/);
  assert.equal(await primaryNav(page).getByRole('link', { name: 'Home', exact: true }).count(), 1);
  await assertAccessible(page, 'the home page (staff)');
});

test('sign-in errors: empty form shows a focused error summary', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(t);
  await page.goto('/signin');
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/signin'),
    page.getByRole('button', { name: 'Sign in', exact: true }).click(),
  ]);
  const summary = page.locator('.nhsuk-error-summary');
  await summary.waitFor({ state: 'visible' });
  assert.match(await page.title(), /^Error:/);
  // nhsuk.min.js (deferred) focuses the summary once the document has loaded.
  await page.waitForLoadState('load');
  await page.waitForFunction(() => document.activeElement?.classList.contains('nhsuk-error-summary'),
    null, { timeout: 5_000 }).catch(() => {});
  const focused = await page.evaluate(() => document.activeElement?.className ?? null);
  assert.match(String(focused), /\bnhsuk-error-summary\b/, `focus is on .${focused}, not the error summary`);
  await assertAccessible(page, 'the sign-in page with errors');
});

test('works without JavaScript: admin signs in, opens the audit log and signs out', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(t, { javaScriptEnabled: false });
  await signIn(page, 'admin');
  const auditLink = primaryNav(page).getByRole('link', { name: 'Audit log', exact: true });
  assert.equal(await auditLink.count(), 1, 'the navigation has no "Audit log" link');

  const response = await page.goto('/admin/audit');
  assert.equal(response.status(), 200);
  assert.equal(await page.getByRole('heading', { level: 1 }).count(), 1);
  await assertAccessibleWithoutScripts(t, page.context(), '/admin/audit', 'the audit log (no JavaScript)');

  await Promise.all([
    page.waitForURL((url) => url.pathname === '/signin'),
    page.locator('header form[action="/signout"]').getByRole('button', { name: 'Sign out' }).click(),
  ]);
  assert.match(await page.locator('main').innerText(), /You have signed out\./);
  assert.equal(await page.getByRole('heading', { level: 1, name: 'Sign in' }).count(), 1);
});

test('account page and 404 page pass axe (analyst)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(t);
  await signIn(page, 'analyst');

  const account = await page.goto('/account');
  assert.equal(account.status(), 200);
  await assertAccessible(page, 'the account page');

  const missing = await page.goto('/no-such-page');
  assert.equal(missing.status(), 404);
  await assertAccessible(page, 'the 404 page');
});

test('no console errors or CSP violations on the pages visited', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(t);
  const errors = collectErrors(page);

  await page.goto('/signin');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('.nhsuk-error-summary').waitFor();
  await page.waitForLoadState('load');

  await signIn(page, 'admin');
  for (const path of ['/', '/account', '/admin/audit', '/privacy', '/accessibility']) {
    const response = await page.goto(path);
    assert.equal(response.status(), 200, `GET ${path}`);
    await page.waitForLoadState('load');
  }
  // Exercise the nhsuk header JS ("More" menu) at a narrow width too.
  await page.setViewportSize({ width: 375, height: 812 });
  await page.goto('/');
  await page.waitForLoadState('load');

  assert.deepEqual(errors, []);
});

test('home page has no horizontal scroll at mobile width (375x812)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(t, { viewport: { width: 375, height: 812 } });
  await signIn(page, 'staff');
  await page.waitForLoadState('load');
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
  assert.ok(scrollWidth <= clientWidth + 1, `page is ${scrollWidth}px wide in a ${clientWidth}px viewport`);
});

test('without JavaScript: staff finds the LGBTQ+ network, joins as an ally, sees it and leaves', { timeout: 60_000 }, async (t) => {
  const page = await newPage(t, { javaScriptEnabled: false });
  await signIn(page, 'staff');
  await primaryNav(page).getByRole('link', { name: 'Staff networks', exact: true }).click();
  await page.locator('#q').fill('LGBTQ');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  assert.match(await page.locator('main').innerText(), /Showing 1 of \d+ networks/);
  await assertAccessibleWithoutScripts(t, page.context(), '/networks?q=LGBTQ', 'the network directory');
  await page.getByRole('link', { name: 'LGBTQ+ Network', exact: true }).click();
  await assertAccessibleWithoutScripts(t, page.context(), '/networks/lgbtq', 'the LGBTQ+ network page');
  await page.getByRole('button', { name: 'Join LGBTQ+ Network' }).click();
  await assertAccessibleWithoutScripts(t, page.context(), '/networks/lgbtq/join', 'the join page');

  // Forgetting to agree brings the form back with the error summary.
  await page.getByLabel('As an ally').check();
  await page.getByRole('button', { name: 'Join LGBTQ+ Network' }).click();
  assert.match(await page.title(), /^Error:/);
  assert.match(await page.locator('.nhsuk-error-summary').innerText(), /Confirm that you have read/);

  await page.getByLabel('As an ally').check();
  await page.getByLabel(/I have read the statement/).check();
  await page.getByRole('button', { name: 'Join LGBTQ+ Network' }).click();
  assert.equal(new URL(page.url()).pathname, '/networks/mine');
  const main = await page.locator('main').innerText();
  assert.match(main, /You have joined LGBTQ\+ Network as an ally\./);
  assert.match(main, /Ally since/);
  await assertAccessibleWithoutScripts(t, page.context(), '/networks/mine', 'My networks');

  await page.getByRole('button', { name: 'Leave LGBTQ+ Network' }).click();
  assert.match(await page.locator('main').innerText(), /You are not in any staff network yet/);
});

test('without JavaScript: the chair sees members and posts an event; admin and analyst pages pass axe', { timeout: 60_000 }, async (t) => {
  const page = await newPage(t, { javaScriptEnabled: false });
  await signIn(page, 'chair');
  await page.goto('/networks/lgbtq');
  await page.getByRole('link', { name: 'See the members' }).click();
  assert.match(await page.locator('main').innerText(), /Demo Colleague/);
  await assertAccessibleWithoutScripts(t, page.context(), '/networks/lgbtq/members', 'the member list');

  await page.goto('/networks/lgbtq/posts/new');
  await assertAccessibleWithoutScripts(t, page.context(), '/networks/lgbtq/posts/new', 'the post form');
  await page.getByLabel('Title', { exact: true }).fill('Allies coffee morning');
  await page.getByLabel('Date', { exact: true }).fill('2099-06-01');
  await page.getByLabel('Start time').fill('10:00');
  await page.getByLabel('Place', { exact: true }).fill('Staff restaurant');
  await page.getByLabel(/Accessibility notes/).fill('Step-free access');
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  assert.equal(new URL(page.url()).pathname, '/networks/lgbtq');
  assert.match(await page.locator('main').innerText(), /Allies coffee morning/);

  for (const [username, path, label] of [['admin', '/networks/manage', 'manage networks'],
    ['admin', '/networks/lgbtq/edit', 'the network form'], ['analyst', '/networks/report', 'the membership report']]) {
    const other = await newPage(t, { javaScriptEnabled: false });
    await signIn(other, username);
    const response = await other.goto(path);
    assert.equal(response.status(), 200, `GET ${path}`);
    await assertAccessibleWithoutScripts(t, other.context(), path, label);
  }
});
