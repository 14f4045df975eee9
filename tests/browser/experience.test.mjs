// Browser journeys of the anonymous staff survey (plugin `experience`) in headless Chromium:
// a member of staff answers from the home page with the real page script (blind token,
// cookie-less submission) and cannot answer twice; a paper-code holder answers without
// signing in or JavaScript; the analyst reads the results. axe checks each page.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'];
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const PASSWORD = 'belonging-demo';
const TEST_TIMEOUT_MS = 60_000;

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([
    startServer({ plugins: ['admin', 'networks', 'experience'] }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }),
  ]);
}, { timeout: 60_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
}, { timeout: 30_000 });

async function newPage(t, options = {}) {
  const context = await browser.newContext({ baseURL: server.url, ...options });
  t.after(() => context.close());
  context.setDefaultTimeout(15_000);
  return context.newPage();
}

async function assertAccessible(page, label = page.url()) {
  const { violations } = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  const report = violations.map((v) => `  [${v.impact}] ${v.id}: ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`).join('\n');
  assert.equal(violations.length, 0, `axe found ${violations.length} violation(s) on ${label}:\n${report}`);
}

async function signIn(page, username) {
  await page.goto('/signin');
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(PASSWORD);
  await Promise.all([
    page.waitForURL((url) => url.pathname !== '/signin'),
    page.getByRole('button', { name: 'Sign in', exact: true }).click(),
  ]);
}

test('staff answers the open wave from the home page, anonymously, and cannot answer twice', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(t);
  const submissions = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/experience/submit')) submissions.push(request);
  });
  await signIn(page, 'staff');
  await page.getByRole('link', { name: /^Staff experience, winter/ }).first().click();
  await page.waitForURL(/\/experience\/waves\/\d+$/);
  await assertAccessible(page, 'questionnaire');
  await page.getByLabel('1 to 2 times').first().check();
  await page.locator('#field-discrimination').getByLabel('No', { exact: true }).check();
  await page.locator('#field-ethnicity').getByLabel('Prefer not to say').check();
  await page.getByRole('button', { name: 'Send my answers anonymously' }).click();
  await page.getByRole('heading', { name: /recorded/i }).waitFor();
  await assertAccessible(page, 'confirmation');
  // The answers went without the session cookie.
  assert.equal(submissions.length, 1);
  const headers = await submissions[0].allHeaders();
  assert.equal(headers.cookie, undefined, 'the submission must carry no cookie');
  assert.equal(headers['x-csrf-token'], undefined);
  // A second visit is refused kindly.
  const again = await page.goto(page.url());
  assert.equal(again.status(), 409);
  await page.getByRole('heading', { name: 'You have already taken part' }).waitFor();
  await page.goto('/experience');
  await page.getByText('You have taken part').waitFor();
});

test('a paper-code holder answers without signing in or JavaScript; the analyst sees the results', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'belonging-codes-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const waves = await promisify(execFile)(server.binary, ['--config', server.config, 'experience', 'waves']);
  const open = waves.stdout.split('\n').find((line) => line.includes('\topen\t'));
  assert.ok(open, `an open demo wave:\n${waves.stdout}`);
  const csv = path.join(dir, 'codes.csv');
  await promisify(execFile)(server.binary, ['--config', server.config, 'experience', 'codes', '--wave', open.split('\t')[0], '--count', '2', '-o', csv]);
  const code = (await fs.readFile(csv, 'utf8')).split(/\r?\n/)[1];

  const page = await newPage(t, { javaScriptEnabled: false });
  await page.goto('/experience/code');
  await page.locator('#code').fill('ABCD');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText(/A code has 19 letters and numbers/).first().waitFor();
  await page.locator('#code').fill(code.toLowerCase());
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#field-valued').getByLabel('Satisfied', { exact: true }).check();
  await page.getByRole('button', { name: 'Send my answers anonymously' }).click();
  await page.getByRole('heading', { name: 'Your answers are recorded' }).waitFor();

  const analyst = await newPage(t);
  await signIn(analyst, 'analyst');
  await analyst.goto('/experience/manage');
  await assertAccessible(analyst, 'survey waves');
  await analyst.getByRole('link', { name: /^Results/ }).first().click();
  await analyst.getByRole('heading', { name: 'Staff experience results' }).waitFor();
  await analyst.getByText('fewer than 11').first().waitFor();
  await assertAccessible(analyst, 'results');
});
