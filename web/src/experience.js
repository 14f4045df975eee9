// Staff experience survey: anonymous submission with an RFC 9474 blind signature
// (RSABSSA-SHA384-PSS-Randomized).
//
// Bundled by web/build-static.mjs (esbuild) into web/static/experience.js and loaded
// with `defer` on GET /experience/waves/{id}, so the form below is already parsed.
//
// The flow, and why it is unlinkable:
//   1. When the page opens (not when the person presses send: a token fetched 20 ms before
//      the answers arrive ties the two together in time), draw 32 random bytes; prepare()
//      prefixes 32 more. That 64-byte "prepared message" is the one-time token.
//   2. Blind it with the wave's public key and POST only the blinded value to the token
//      URL, signed in (session cookie + CSRF header). The server records that this
//      person has had their token for the wave and signs the blinded value; it never
//      sees the token itself.
//   3. Unblind (finalize, which also verifies the signature against the key) and keep the
//      credential in localStorage, so closing the tab before answering does not lose it.
//   4. On send, POST token + signature + answers to /experience/submit with credentials
//      'omit': no cookie, no CSRF header, nothing tying the answers to the session. The
//      server spends the token and holds the answers in memory (202) until it writes them
//      in a shuffled batch with at least B others, or when the survey closes.
//   5. The submission stays in sessionStorage (this tab only, gone when it closes) until
//      /experience/receipt says it is stored. If a server stopped before writing its batch,
//      the receipt says "lost" and this page sends the same submission again; the server
//      accepts a lost token exactly once more.
//
// A 422 (an answer the server rejects) keeps the credential, so the corrected form is
// sent with the same token: a second issuance would be refused.

import { RSABSSA } from '@cloudflare/blindrsa-ts';

const SUBMIT_URL = '/experience/submit';
const MIN_GAP_MS = 3000;          // Never send answers within seconds of getting the token.
const POLL_MS = [15000, 30000];    // Receipt checks: a random wait in this range.
const TOKEN_MESSAGE_BYTES = 32; // prepare() adds another 32 random bytes in front.

// --- small helpers ---------------------------------------------------------------

function base64urlEncode(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function base64urlDecode(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

// A failure with the text to show the user; `href` links the summary to a field and
// `final` means nothing the user can do on this page will help (the button stays off).
class SurveyError extends Error {
  constructor(message, { href = null, field = null, final = false } = {}) {
    super(message);
    this.href = href;
    this.field = field;
    this.final = final;
  }
}

// Reads a JSON body if there is one; error pages may be HTML, which is not an error here.
async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return {};
  }
}

// fetch() rejects only when nothing came back (offline, connection reset, blocked).
async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch {
    throw new SurveyError('Your answers could not be sent. Check your internet connection and try again.');
  }
}

// --- the page ---------------------------------------------------------------------

const form = document.getElementById('experience-form');
if (form) setUp(form);

function setUp(form) {
  const status = document.getElementById('experience-status');
  const buttons = () => form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]');
  const pageTitle = document.title;

  // WebCrypto exists only in a secure context (https, or http on localhost). Without
  // it no token can be blinded, so say so and stop the form being sent at all (a plain
  // POST would carry no token and fail anyway).
  if (!window.isSecureContext || !window.crypto?.subtle) {
    const notice = document.getElementById('experience-no-crypto');
    if (notice) notice.hidden = false;
    for (const b of buttons()) b.disabled = true;
    form.addEventListener('submit', (event) => event.preventDefault());
    return;
  }

  const wave = Number(form.dataset.wave);
  const tokenUrl = form.dataset.tokenUrl;
  const csrf = form.dataset.csrf;
  const suite = RSABSSA.SHA384.PSS.Randomized();
  let publicKey = null;    // CryptoKey, imported on first use
  let busy = false;

  function say(text) {
    if (status) status.textContent = text;
  }

  function setBusy(on) {
    busy = on;
    for (const b of buttons()) {
      b.disabled = on;
      if (on) b.setAttribute('aria-disabled', 'true');
      else b.removeAttribute('aria-disabled');
    }
    form.setAttribute('aria-busy', String(on));
  }

  // --- error summary (NHS.UK error summary pattern, built with DOM calls only: the
  //     server's error text is never parsed as HTML) ---

  function clearErrors() {
    document.getElementById('experience-error-summary')?.remove();
    for (const group of form.querySelectorAll('.nhsuk-form-group--error[data-experience-error]')) {
      group.classList.remove('nhsuk-form-group--error');
      group.removeAttribute('data-experience-error');
    }
    for (const message of form.querySelectorAll('.nhsuk-error-message[data-experience-error]')) {
      for (const owner of form.querySelectorAll('[aria-describedby]')) {
        const rest = owner.getAttribute('aria-describedby').split(/\s+/)
          .filter((id) => id && id !== message.id).join(' ');
        if (rest) owner.setAttribute('aria-describedby', rest);
        else owner.removeAttribute('aria-describedby');
      }
      message.remove();
    }
    document.title = pageTitle;
  }

  // The element the summary link points at and focus goes to: the fieldset the server
  // marks with id="field-{question}", else an element with the field's own id (the
  // comment textarea).
  function fieldTarget(field) {
    if (!field) return null;
    return document.getElementById(`field-${field}`) || document.getElementById(field);
  }

  // Marks the question itself too, as the NHS.UK pattern asks: red bar on its form
  // group and the message under the legend (or above the textarea).
  function markField(target, text) {
    const group = target.closest('.nhsuk-form-group') || target;
    group.classList.add('nhsuk-form-group--error');
    group.setAttribute('data-experience-error', '');
    const message = document.createElement('span');
    message.className = 'nhsuk-error-message';
    message.id = `${target.id}-error`;
    message.setAttribute('data-experience-error', '');
    const hidden = document.createElement('span');
    hidden.className = 'nhsuk-u-visually-hidden';
    hidden.textContent = 'Error:';
    message.append(hidden, ` ${text}`);
    if (target.tagName === 'FIELDSET') {
      const legend = target.querySelector('legend');
      if (legend) legend.after(message);
      else target.prepend(message);
    } else {
      target.before(message);
    }
    target.setAttribute('aria-describedby',
      [target.getAttribute('aria-describedby'), message.id].filter(Boolean).join(' '));
  }

  // Focus the first control of a question (its first radio) and bring its legend into
  // view, as nhsuk-frontend's own error summary does for server-rendered errors.
  function focusField(target) {
    const control = target.matches('input, textarea, select')
      ? target
      : target.querySelector('input:not([type="hidden"]), textarea, select');
    const legend = target.tagName === 'FIELDSET' ? target.querySelector('legend') : null;
    (legend || target).scrollIntoView();
    control?.focus({ preventScroll: true });
  }

  function showError(error) {
    clearErrors();
    const summary = document.createElement('div');
    summary.className = 'nhsuk-error-summary';
    summary.id = 'experience-error-summary';
    summary.setAttribute('aria-labelledby', 'experience-error-summary-title');
    summary.setAttribute('role', 'alert');
    summary.tabIndex = -1;
    const title = document.createElement('h2');
    title.className = 'nhsuk-error-summary__title';
    title.id = 'experience-error-summary-title';
    title.textContent = 'There is a problem';
    const body = document.createElement('div');
    body.className = 'nhsuk-error-summary__body';
    const list = document.createElement('ul');
    list.className = 'nhsuk-list nhsuk-error-summary__list';
    list.setAttribute('role', 'list');
    const item = document.createElement('li');
    const target = fieldTarget(error.field);
    if (target) {
      const link = document.createElement('a');
      link.href = `#${target.id}`;
      link.textContent = error.message;
      link.addEventListener('click', (event) => {
        event.preventDefault();
        focusField(target);
      });
      item.append(link);
      markField(target, error.message);
    } else {
      item.textContent = error.message;
    }
    list.append(item);
    body.append(list);
    summary.append(title, body);
    form.before(summary);
    document.title = `Error: ${pageTitle}`;
    say('');
    summary.focus();
  }

  // --- storage: the credential across tabs until used, the submission in this tab ---

  const credentialKey = `belonging.experience.${wave}.credential`;
  const pendingKey = `belonging.experience.${wave}.pending`;
  function load(storage, key) {
    try {
      return JSON.parse(storage.getItem(key) || 'null');
    } catch {
      return null;
    }
  }
  function save(storage, key, value) {
    try {
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(value));
    } catch {
      // Private browsing with storage off: the page still works while it stays open.
    }
  }

  // --- received / saved ---

  const received = document.getElementById('experience-received');
  const receivedMore = document.getElementById('experience-received-more');
  const savedStatus = document.getElementById('experience-saved-status');

  function showReceived() {
    form.hidden = true;
    document.getElementById('experience-error-summary')?.remove();
    if (received) received.hidden = false;
    if (receivedMore) receivedMore.hidden = false;
    if (savedStatus && !savedStatus.textContent) {
      savedStatus.textContent = 'Waiting to be saved with other colleagues\u2019 answers.';
    }
    document.title = pageTitle;
    say('');
    received?.querySelector('h2')?.focus();
  }

  function showSaved() {
    showReceived();
    if (savedStatus) savedStatus.textContent = 'Saved with other colleagues\u2019 answers. Thank you for taking part: you can close this page.';
  }

  function showAlready() {
    form.hidden = true;
    const already = document.getElementById('experience-already');
    if (already) already.hidden = false;
    say('');
  }

  // --- the protocol ---

  async function importKey() {
    if (publicKey) return publicKey;
    let der;
    try {
      der = base64urlDecode(form.dataset.publicKey || '');
      // Extractable, because blindrsa-ts reads n and e by exporting the key as a JWK.
      publicKey = await crypto.subtle.importKey('spki', der, { name: 'RSA-PSS', hash: 'SHA-384' },
        true, ['verify']);
    } catch {
      throw new SurveyError('Sorry, there is a problem with the survey. Reload the page and try again.');
    }
    return publicKey;
  }

  // Asks the server to sign once: the credential is kept in localStorage until used.
  async function fetchCredential() {
    const key = await importKey();
    const prepared = suite.prepare(crypto.getRandomValues(new Uint8Array(TOKEN_MESSAGE_BYTES)));
    const { blindedMsg, inv } = await suite.blind(key, prepared);
    const response = await send(tokenUrl, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ blindedMessage: base64urlEncode(blindedMsg) }),
    });
    const data = await readJson(response);
    if (response.status === 409) {
      // Issued earlier, in a browser that is not this one (or whose storage was cleared).
      throw new SurveyError('already', { final: true });
    }
    if (response.status === 429) {
      throw new SurveyError('There have been too many attempts. Wait a few minutes and try again.');
    }
    if (response.status === 401 || response.status === 403) {
      throw new SurveyError('Your sign-in has expired. Copy any comment you wrote, reload the page ' +
        '(signing in again if asked) and submit again.');
    }
    if (response.status === 410) {
      throw new SurveyError('This survey is closed and is no longer accepting answers.', { final: true });
    }
    if (!response.ok || typeof data.blindSignature !== 'string') {
      throw new SurveyError('Sorry, there is a problem with the service. Try again later.');
    }
    let signature;
    try {
      // finalize() unblinds and checks the result is a valid RSA-PSS signature on the
      // token under the page's key, so a wrong or tampered response fails here.
      signature = await suite.finalize(key, prepared, base64urlDecode(data.blindSignature), inv);
    } catch {
      throw new SurveyError('Sorry, your response code could not be checked, so your answers were not sent. ' +
        'Ask the People team for a paper code.', { final: true });
    }
    const fresh = { token: base64urlEncode(prepared), signature: base64urlEncode(signature) };
    save(localStorage, credentialKey, fresh);
    credentialReadyAt = Date.now();
    return fresh;
  }

  let credentialReadyAt = 0;
  let credentialPromise = null;
  function getCredential() {
    const stored = load(localStorage, credentialKey);
    if (stored && typeof stored.token === 'string' && typeof stored.signature === 'string') return Promise.resolve(stored);
    if (!credentialPromise) {
      credentialPromise = fetchCredential().catch((error) => {
        credentialPromise = null;
        throw error;
      });
    }
    return credentialPromise;
  }

  function collectAnswers() {
    const answers = {};
    let comment = '';
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      if ((el.type === 'radio' || el.type === 'checkbox') && el.checked) {
        answers[el.name] = el.value;
      } else if (el.name === 'comment' && el.tagName === 'TEXTAREA') {
        comment = el.value;
      }
    }
    return { answers, comment };
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
  function randomBetween(low, high) {
    return low + (crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32) * (high - low);
  }

  // Sends a submission body; resolves when the server has spent the token and pooled it.
  async function sendSubmission(body) {
    const response = await send(SUBMIT_URL, {
      method: 'POST',
      // The whole point: no cookie, no CSRF token, no referrer, nothing of the session.
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body),
    });
    const data = await readJson(response);
    if (response.status === 202 || response.status === 201) return 'received';
    if (response.status === 422) {
      // Keep the credential: the corrected form goes with the same token.
      throw new SurveyError(typeof data.error === 'string' && data.error ? data.error : 'Check your answer',
        { field: typeof data.field === 'string' ? data.field : null });
    }
    if (response.status === 409) return 'spent'; // Received before: the receipt says where.
    if (response.status === 410) {
      throw new SurveyError('This survey is closed and is no longer accepting answers.', { final: true });
    }
    if (response.status === 400) {
      throw new SurveyError('Your anonymous response code was not accepted, so your answers were not recorded. ' +
        'Ask the People team for a paper code.', { final: true });
    }
    if (response.status === 429) {
      throw new SurveyError('There have been too many attempts. Wait a few minutes and try again.');
    }
    // 5xx and anything unexpected: the credential is kept, so trying again is safe.
    throw new SurveyError('Sorry, there is a problem with the service. Your answers were not recorded. ' +
      'Try again later.');
  }

  async function receipt(token) {
    const response = await fetch(form.dataset.receiptUrl || '/experience/receipt', {
      method: 'POST',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify({ wave, token }),
    });
    const data = await readJson(response);
    return response.ok && typeof data.status === 'string' ? data.status : 'error';
  }

  // Until the server says the answers are stored: check now and then; if the server that
  // held them stopped ("lost"), or they never arrived ("unknown"), send them again.
  let watching = false;
  async function watch(token) {
    if (watching) return;
    watching = true;
    for (;;) {
      let status = 'error';
      try {
        status = await receipt(token);
      } catch {
        // Offline for now: try again later.
      }
      if (status === 'stored') {
        save(sessionStorage, pendingKey, null);
        save(localStorage, credentialKey, null);
        showSaved();
        return;
      }
      if (status === 'lost' || status === 'unknown') {
        const pending = load(sessionStorage, pendingKey);
        if (pending && pending.token === token) {
          try {
            await sendSubmission(pending);
          } catch (error) {
            if (error instanceof SurveyError && error.final) {
              save(sessionStorage, pendingKey, null);
              if (savedStatus) savedStatus.textContent = error.message;
              return;
            }
          }
        } else {
          // This tab does not have the answers (they were sent from another): answer again.
          watching = false;
          form.hidden = false;
          received.hidden = true;
          receivedMore.hidden = true;
          showError(new SurveyError('Your answers were received, but the service stopped before it could save ' +
            'them. Please answer again: your code will be accepted once more.'));
          return;
        }
      }
      await sleep(randomBetween(POLL_MS[0], POLL_MS[1]));
    }
  }

  // Show the fingerprint of the key this page will use, computed here rather than taken
  // from the server's text: a server that gave one person a key of their own (to tell
  // their answers apart) would show them a fingerprint that differs from the announced one.
  (async () => {
    const shown = document.getElementById('experience-key-fingerprint');
    if (!shown) return;
    try {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', base64urlDecode(form.dataset.publicKey || '')));
      const hex = Array.from(digest.subarray(0, 10), (b) => b.toString(16).padStart(2, '0')).join('');
      shown.textContent = hex.match(/.{4}/g).join(' ');
      document.getElementById('experience-key').hidden = false;
    } catch {
      // importKey reports a bad key when the person submits.
    }
  })();

  // On opening: carry on with a submission this tab already sent; else make sure there is a
  // credential (fetching it now, long before the answers go).
  (async () => {
    const pending = load(sessionStorage, pendingKey);
    if (pending && typeof pending.token === 'string') {
      showReceived();
      watch(pending.token);
      return;
    }
    const stored = load(localStorage, credentialKey);
    if (stored && typeof stored.token === 'string') {
      // Sent from another tab, or sent and the tab closed: ask where it is.
      let status = 'error';
      try {
        status = await receipt(stored.token);
      } catch {
        // Offline: keep the form; sending will tell.
      }
      if (status === 'stored') {
        save(localStorage, credentialKey, null);
        showSaved();
      } else if (status === 'pending') {
        showReceived();
        watch(stored.token);
      }
      return;
    }
    if (form.dataset.issued === 'true') {
      showAlready();
      return;
    }
    try {
      await getCredential();
    } catch (error) {
      if (error instanceof SurveyError && error.message === 'already') showAlready();
      // Other failures show when the person sends.
    }
  })();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    clearErrors();
    let final = false;
    try {
      say('Sending your answers\u2026');
      const credential = await getCredential();
      // Never in the same breath as the token: wait a few seconds more if it is that new.
      const since = Date.now() - credentialReadyAt;
      if (credentialReadyAt && since < MIN_GAP_MS) await sleep(MIN_GAP_MS - since + randomBetween(0, 5000));
      const { answers, comment } = collectAnswers();
      const body = { wave, token: credential.token, signature: credential.signature, answers, comment };
      save(sessionStorage, pendingKey, body);
      let outcome;
      try {
        outcome = await sendSubmission(body);
      } catch (error) {
        save(sessionStorage, pendingKey, null); // Not received: the form is still the truth.
        throw error;
      }
      showReceived();
      if (outcome === 'spent' && savedStatus) savedStatus.textContent = 'These answers were received earlier.';
      watch(credential.token);
    } catch (error) {
      final = error instanceof SurveyError && error.final;
      if (error instanceof SurveyError && error.message === 'already') {
        showAlready();
      } else {
        showError(error instanceof SurveyError
          ? error
          : new SurveyError('Sorry, there is a problem with the survey. Reload the page and try again.'));
      }
    } finally {
      setBusy(false);
      // Nothing on this page can succeed any more: keep the button off so no one
      // keeps pressing it.
      if (final) for (const b of buttons()) b.disabled = true;
    }
  });
}
