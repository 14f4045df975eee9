// Browser journeys of the anonymous staff survey (plugin `experience`) in headless Chromium:
// a member of staff answers from the home page with the real page script (blind token,
// cookie-less submission) and cannot answer twice; a paper-code holder answers without
// signing in or JavaScript; the analyst reads the results. axe checks each page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { assertAccessible, signIn, usePortal } from './harness.mjs';

const TEST_TIMEOUT_MS = 60_000;

const portal = usePortal({ plugins: ['admin', 'networks', 'experience'] }, { actionTimeout: 15_000 });
const { newPage } = portal;

test('staff answers the open wave from the home page, anonymously, and cannot answer twice', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(t);
  const submissions = [];
  const tokenRequests = [];
  let submittedAt = 0;
  page.on('request', (request) => {
    if (request.url().endsWith('/experience/submit')) submissions.push(request);
    if (/\/experience\/waves\/\d+\/token$/.test(request.url())) tokenRequests.push(Date.now());
  });
  await signIn(page, 'staff');
  await page.getByRole('link', { name: /^Staff experience, winter/ }).first().click();
  await page.waitForURL(/\/experience\/waves\/\d+$/);
  // The fingerprint the page's script computes from its key matches the one the People
  // team is told to announce (computed by the server in C++).
  await page.locator('#experience-key').waitFor(); // Shown once the script has hashed the key.
  const fingerprint = (await page.locator('#experience-key-fingerprint').textContent()).trim();
  assert.match(fingerprint, /^[0-9a-f]{4}( [0-9a-f]{4}){4}$/);
  await assertAccessible(page, 'questionnaire');
  const analyst = await newPage(t);
  await signIn(analyst, 'analyst');
  await analyst.goto('/experience/manage');
  assert.ok((await analyst.locator('.experience-fingerprint').allTextContents()).includes(fingerprint),
    `the manage page announces fingerprint ${fingerprint}`);
  await page.getByLabel('1 to 2 times').first().check();
  await page.locator('#field-discrimination').getByLabel('No', { exact: true }).check();
  await page.locator('#field-ethnicity').getByLabel('Prefer not to say').check();
  await page.waitForFunction(() => Object.keys(localStorage).some((key) => key.endsWith('.credential')));
  submittedAt = Date.now();
  await page.getByRole('button', { name: 'Send my answers anonymously' }).click();
  await page.getByRole('heading', { name: 'Your answers have been received' }).waitFor();
  await page.getByText(/at least 19 colleagues/).waitFor();
  await assertAccessible(page, 'confirmation');
  // The answers went without the session cookie.
  assert.equal(submissions.length, 1);
  const headers = await submissions[0].allHeaders();
  assert.equal(headers.cookie, undefined, 'the submission must carry no cookie');
  assert.equal(headers['x-csrf-token'], undefined);
  // The token was fetched when the page opened, not when the answers went.
  assert.ok(tokenRequests.length === 1 && tokenRequests[0] < submittedAt,
    'one token request, made before the person pressed send');
  // A second visit in this browser carries on: received, waiting for its batch.
  const again = await page.goto(page.url());
  assert.equal(again.status(), 200);
  await page.getByRole('heading', { name: 'Your answers have been received' }).waitFor();
  assert.equal(await page.locator('#experience-form').isVisible(), false, 'no second form');
  // Another browser for the same person is told why it cannot answer.
  const other = await newPage(t);
  await signIn(other, 'staff');
  await other.goto(page.url());
  await other.getByRole('heading', { name: 'You have already been given your code for this survey' }).waitFor();
  await page.goto('/experience');
  await page.getByText('You have your response code').waitFor();
});

test('a paper-code holder answers without signing in or JavaScript; the analyst sees the results', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'belonging-codes-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const waves = await promisify(execFile)(portal.server.binary, ['--config', portal.server.config, 'experience', 'waves']);
  const open = waves.stdout.split('\n').find((line) => line.includes('\topen\t'));
  assert.ok(open, `an open demo wave:\n${waves.stdout}`);
  const csv = path.join(dir, 'codes.csv');
  await promisify(execFile)(portal.server.binary, ['--config', portal.server.config, 'experience', 'codes', '--wave', open.split('\t')[0], '--count', '2', '-o', csv]);
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
  await page.getByRole('heading', { name: 'Your answers have been received' }).waitFor();
  await page.getByText(/Keep your slip until the survey closes/).waitFor();

  const analyst = await newPage(t);
  await signIn(analyst, 'analyst');
  await analyst.goto('/experience/manage');
  await assertAccessible(analyst, 'survey waves');
  await analyst.getByRole('link', { name: /^Results/ }).first().click();
  await analyst.getByRole('heading', { name: 'Staff experience results' }).waitFor();
  // One paper answer: every figure is hidden, each the same way (a star and one explanation).
  await analyst.getByText('hidden to protect small groups').first().waitFor({ state: 'attached' });
  assert.equal(await analyst.getByText(/fewer than/i).count(), 0);
  await assertAccessible(analyst, 'results');
});
