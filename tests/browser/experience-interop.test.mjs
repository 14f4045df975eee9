// End-to-end interoperability of the anonymous staff survey: the browser library
// web/static/experience.js bundles (@cloudflare/blindrsa-ts, RFC 9474
// RSABSSA-SHA384-PSS-Randomized) against the real server (./server.mjs), over plain
// HTTP with Node's fetch and WebCrypto, so a mismatch in encodings, key format or the
// HTTP contract shows up here rather than in a colleague's browser.
//
//   signed in:  GET /experience -> wave page -> POST {data-token-url} {blindedMessage}
//   anonymous:  POST /experience/submit {wave, token, signature, answers, comment}
//
// Run with `node --test tests/browser/`.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RSABSSA } from '@cloudflare/blindrsa-ts';
import { startServer } from './server.mjs';

const PASSWORD = 'belonging-demo';
const TEST_TIMEOUT_MS = 30_000;
// Extra [plugins.experience] settings for the test server's config, if the plugin
// ever needs any that `belonging demo` does not provide.
const EXPERIENCE_CONFIG = [];

const suite = RSABSSA.SHA384.PSS.Randomized();
let server;

before(async () => {
  server = await startServer({ plugins: ['admin', 'networks', 'experience'], config: EXPERIENCE_CONFIG });
}, { timeout: 60_000 });

after(async () => {
  await server?.stop();
}, { timeout: 30_000 });

// --- helpers -----------------------------------------------------------------------

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const fromB64url = (text) => new Uint8Array(Buffer.from(text, 'base64url'));

// Mustache escapes &, <, >, " and ' (some implementations also / = `).
function decodeEntities(text) {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

// Attributes of every start tag named TAG in HTML, in document order.
function tags(html, tag) {
  return [...html.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'gi'))].map(([, attrs]) => {
    const out = {};
    for (const [, name, value] of attrs.matchAll(/([\w:-]+)(?:\s*=\s*"([^"]*)")?/g)) {
      out[name.toLowerCase()] = value === undefined ? '' : decodeEntities(value);
    }
    return out;
  });
}

// A cookie jar for one signed-in colleague (name -> value).
class Jar {
  #cookies = new Map();
  absorb(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (!value || attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a))) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  has(name) { return this.#cookies.has(name); }
  header() { return [...this.#cookies].map(([n, v]) => `${n}=${v}`).join('; '); }
}

// fetch against the test server, never following redirects; with a jar, sends and
// keeps its cookies; without one, sends no cookie at all.
async function http(path, { jar = null, headers = {}, ...init } = {}) {
  const response = await fetch(new URL(path, server.url), {
    redirect: 'manual',
    ...init,
    headers: { ...headers, ...(jar ? { Cookie: jar.header() } : {}) },
  });
  jar?.absorb(response);
  return response;
}

// Reads the body and fails, quoting it, unless the status is the expected one.
async function expectStatus(response, expected, what) {
  const text = await response.text();
  const wanted = [expected].flat();
  assert.ok(wanted.includes(response.status),
    `${what}: expected HTTP ${wanted.join(' or ')}, got ${response.status} ${response.statusText}\n` +
    `  body: ${text.slice(0, 800) || '(empty)'}`);
  return text;
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch {
    assert.fail(`${what}: expected a JSON body, got: ${text.slice(0, 800) || '(empty)'}`);
  }
}

const postJson = (path, body, init = {}) => http(path, {
  method: 'POST',
  ...init,
  headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', ...init.headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

async function signIn(username) {
  const jar = new Jar();
  const page = await expectStatus(await http('/signin', { jar }), 200, 'GET /signin');
  const csrf = tags(page, 'input').find((i) => i.name === '_csrf')?.value;
  assert.ok(csrf, 'GET /signin: no <input name="_csrf"> in the sign-in form');
  const response = await http('/signin', {
    jar,
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: PASSWORD, _csrf: csrf, next: '/' }).toString(),
  });
  await expectStatus(response, [302, 303], `POST /signin as ${username}`);
  assert.ok(jar.has('belonging_session'), `POST /signin as ${username}: no belonging_session cookie was set`);
  return jar;
}

// Signs in, follows GET /experience to the open wave's page and reads what the page
// script reads: the form's data attributes and the questions' radio names and values.
async function openWave(username) {
  const jar = await signIn(username);
  const list = await expectStatus(await http('/experience', { jar }), 200, 'GET /experience');
  const href = tags(list, 'a').map((a) => a.href).find((h) => /^\/experience\/waves\/\d+$/.test(h ?? ''));
  assert.ok(href, 'GET /experience: expected a link <a href="/experience/waves/{id}"> to the open wave, found none');

  const html = await expectStatus(await http(href, { jar }), 200, `GET ${href}`);
  const form = tags(html, 'form').find((f) => f.id === 'experience-form');
  assert.ok(form, `GET ${href}: no <form id="experience-form">`);
  for (const attribute of ['data-wave', 'data-public-key', 'data-token-url', 'data-csrf']) {
    assert.ok(form[attribute], `GET ${href}: <form id="experience-form"> has no ${attribute}`);
  }
  assert.equal(form.action, '/experience/submit', `GET ${href}: form action`);
  assert.equal(form['data-wave'], href.split('/').pop(), `GET ${href}: data-wave is not the wave in the address`);

  // The first value of each distinct radio group, i.e. one valid answer per question.
  const answers = {};
  for (const input of tags(html, 'input')) {
    if (input.type === 'radio' && input.name && !(input.name in answers)) answers[input.name] = input.value;
  }
  assert.ok(Object.keys(answers).length > 0, `GET ${href}: the questionnaire has no radio questions`);

  const der = fromB64url(form['data-public-key']);
  let publicKey;
  try {
    // Extractable: blindrsa-ts reads n and e by exporting the key as a JWK.
    publicKey = await crypto.subtle.importKey('spki', der, { name: 'RSA-PSS', hash: 'SHA-384' }, true, ['verify']);
  } catch (err) {
    assert.fail(`GET ${href}: data-public-key is not a base64url DER SubjectPublicKeyInfo RSA key: ${err.message}`);
  }
  assert.equal(publicKey.algorithm.modulusLength, 2048, 'the wave key should be RSA-2048');

  return {
    jar,
    wave: Number(form['data-wave']),
    tokenUrl: form['data-token-url'],
    csrf: form['data-csrf'],
    publicKey,
    answers,
  };
}

// The browser's side of issuance: prepare (32 random bytes || 32 random bytes), blind,
// ask the server to sign (signed in), finalise. Returns the raw response too so a test
// can check a refusal.
async function requestToken(ctx) {
  const prepared = suite.prepare(crypto.getRandomValues(new Uint8Array(32)));
  const { blindedMsg, inv } = await suite.blind(ctx.publicKey, prepared);
  const response = await postJson(ctx.tokenUrl, { blindedMessage: b64url(blindedMsg) },
    { jar: ctx.jar, headers: { 'X-CSRF-Token': ctx.csrf } });
  return { prepared, inv, response };
}

async function issueCredential(ctx) {
  const { prepared, inv, response } = await requestToken(ctx);
  const body = parseJson(await expectStatus(response, 200, `POST ${ctx.tokenUrl}`), `POST ${ctx.tokenUrl}`);
  assert.equal(typeof body.blindSignature, 'string',
    `POST ${ctx.tokenUrl}: expected {"blindSignature": "<base64url>"}, got ${JSON.stringify(body)}`);
  const blindSig = fromB64url(body.blindSignature);
  assert.equal(blindSig.length, 256, `POST ${ctx.tokenUrl}: blind signature is ${blindSig.length} bytes, expected 256`);
  let signature;
  try {
    signature = await suite.finalize(ctx.publicKey, prepared, blindSig, inv);
  } catch (err) {
    assert.fail(`finalize() rejected the server's blind signature (${err.message}): ` +
      'the server did not sign the blinded message with the private half of data-public-key');
  }
  // Independently of the library: a standard RSASSA-PSS SHA-384 signature, salt 48.
  assert.ok(await crypto.subtle.verify({ name: 'RSA-PSS', saltLength: 48 }, ctx.publicKey, signature, prepared),
    'the unblinded signature does not verify as RSA-PSS (SHA-384, MGF1-SHA-384, salt 48) over the token');
  return { token: prepared, signature };
}

// The anonymous submission: no Cookie header at all (as fetch with credentials 'omit').
function submit(ctx, { token, signature }, answers = ctx.answers, comment = '') {
  return postJson('/experience/submit', {
    wave: ctx.wave,
    token: b64url(token),
    signature: b64url(signature),
    answers,
    comment,
  });
}

async function expectError(response, status, what) {
  const body = parseJson(await expectStatus(response, status, what), what);
  assert.equal(typeof body.error, 'string', `${what}: expected {"error": "..."}, got ${JSON.stringify(body)}`);
  return body;
}

// --- tests -------------------------------------------------------------------------

test('staff: blind token issued once, anonymous submission recorded once', { timeout: TEST_TIMEOUT_MS }, async () => {
  const ctx = await openWave('staff');
  const credential = await issueCredential(ctx);
  assert.equal(credential.token.length, 64, 'prepared token: 32-byte random prefix || 32-byte message');

  const response = await submit(ctx, credential, ctx.answers, 'Interop test comment.');
  const body = parseJson(await expectStatus(response, 202, 'POST /experience/submit'), 'POST /experience/submit');
  assert.equal(body.status, 'received', `POST /experience/submit: expected {"status": "received"}, got ${JSON.stringify(body)}`);
  assert.deepEqual(response.headers.getSetCookie(), [], 'the anonymous submission must not set cookies');
  // Held for its batch: the receipt says so, asked with no cookie.
  const receipt = parseJson(await expectStatus(await postJson('/experience/receipt', { wave: ctx.wave, token: b64url(credential.token) }),
    200, 'POST /experience/receipt'), 'POST /experience/receipt');
  assert.equal(receipt.status, 'pending', `the receipt of a pooled submission: ${JSON.stringify(receipt)}`);

  // The same request again: the token is spent.
  await expectError(await submit(ctx, credential, ctx.answers, 'Interop test comment.'), 409,
    'replaying the same submission');

  // One byte of the signature changed: refused as invalid before the spent-token check.
  const forged = Uint8Array.from(credential.signature);
  forged[forged.length - 1] ^= 0x01;
  await expectError(await submit(ctx, { token: credential.token, signature: forged }), 400,
    'a submission whose signature has one byte changed');

  // A valid signature, but over another token (fresh random bytes nobody had signed).
  const otherToken = suite.prepare(crypto.getRandomValues(new Uint8Array(32)));
  await expectError(await submit(ctx, { token: otherToken, signature: credential.signature }), 400,
    'a submission whose signature belongs to another token');

  // The same colleague asking again for this wave.
  const again = await requestToken(ctx);
  await expectError(again.response, 409, `a second POST ${ctx.tokenUrl} by the same colleague`);
});

test('chair: an invalid answer (422) does not spend the token; the corrected submission reuses it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const ctx = await openWave('chair');
  const credential = await issueCredential(ctx);
  const [question] = Object.keys(ctx.answers);

  const bad = { ...ctx.answers, [question]: 'not-an-option' };
  const rejected = await expectError(await submit(ctx, credential, bad), 422,
    `a submission answering "${question}" with "not-an-option"`);
  assert.equal(rejected.field, question,
    `422 should name the question: expected field "${question}", got ${JSON.stringify(rejected)}`);

  await expectStatus(await submit(ctx, credential), 202, 'the corrected submission with the same token');
  await expectError(await submit(ctx, credential), 409, 'replaying the corrected submission');
});

test('malformed submissions are refused with 400', { timeout: TEST_TIMEOUT_MS }, async () => {
  // An open wave's id, so that a 410 for a closed or unknown wave cannot mask the check.
  const { wave, answers } = await openWave('champion');
  await expectError(await postJson('/experience/submit', `{"wave": ${wave}, "token": `), 400,
    'a body that is not JSON');
  await expectError(await postJson('/experience/submit', {
    wave, token: 'not base64url!', signature: 'AAAA', answers, comment: '',
  }), 400, 'a token and signature that are not base64url');
});

test('token issuance needs the CSRF token', { timeout: TEST_TIMEOUT_MS }, async () => {
  const ctx = await openWave('analyst');
  const prepared = suite.prepare(crypto.getRandomValues(new Uint8Array(32)));
  const { blindedMsg } = await suite.blind(ctx.publicKey, prepared);
  const response = await postJson(ctx.tokenUrl, { blindedMessage: b64url(blindedMsg) }, { jar: ctx.jar });
  await expectStatus(response, 403, `POST ${ctx.tokenUrl} without X-CSRF-Token`);
});
