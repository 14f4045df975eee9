// What every browser test file shares: one Belonging server (./server.mjs) and one headless
// Chromium (Debian's, through playwright-core) per file, a fresh context per test, the
// axe-core WCAG 2.2 AA check and the demo sign-in.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { startServer } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
export const PASSWORD = 'belonging-demo';

/**
 * Registers the file's before/after hooks and returns { server, browser, newPage }, where
 * server and browser are set once `before` has run. `serverOptions` go to startServer;
 * `actionTimeout` is each context's default wait, in milliseconds.
 */
export function usePortal(serverOptions = {}, { actionTimeout = 10_000 } = {}) {
  const portal = {
    server: undefined,
    browser: undefined,
    // A fresh context (cookies, storage) per test; closed when the test ends.
    async newPage(t, options = {}) {
      const context = await portal.browser.newContext({ baseURL: portal.server.url, ...options });
      t.after(() => context.close());
      context.setDefaultTimeout(actionTimeout);
      return context.newPage();
    },
  };
  before(async () => {
    [portal.server, portal.browser] = await Promise.all([
      startServer(serverOptions),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }),
    ]);
  }, { timeout: 60_000 });
  after(async () => {
    // Close the browser first so no keep-alive connection holds the server's shutdown.
    await portal.browser?.close();
    await portal.server?.stop();
  }, { timeout: 30_000 });
  return portal;
}

// Fails with every violation's rule id, impact and target selectors.
export async function assertAccessible(page, label = page.url()) {
  const { violations } = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  const report = violations.map((v) => [
    `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`,
    ...v.nodes.map((n) => `      ${JSON.stringify(n.target)}  ${n.failureSummary?.replace(/\s*\n\s*/g, ' / ') ?? ''}`),
  ].join('\n')).join('\n');
  assert.equal(violations.length, 0, `axe found ${violations.length} violation(s) on ${label}:\n${report}`);
}

// Signs in through the form as a demo user; works with or without JavaScript.
export async function signIn(page, username) {
  await page.goto('/signin');
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(PASSWORD);
  await Promise.all([
    page.waitForURL((url) => url.pathname !== '/signin'),
    page.getByRole('button', { name: 'Sign in', exact: true }).click(),
  ]);
}
