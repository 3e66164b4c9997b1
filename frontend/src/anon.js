// Anonymous listening rounds: the browser side of RFC 9474 blind signatures
// (RSABSSA-SHA384-PSS-Randomized), as DESIGN.md section 3 describes.
//
// For every open round on a repair page the browser fetches an answer key
// (a token) once, automatically: it picks a secret, derives a message from
// the round id and the secret, blinds it and sends only the blinded value
// (with the session, so the server can issue one per member). It unblinds the
// server's signature, checks it, and keeps { round, secret, message,
// signature } in localStorage. An answer is sent with that token to /anon/...
// with no cookie at all, so the server sees a valid token but not whose. The
// server holds it until its epoch's seal (202); the page keeps it until its
// mark shows in the round's marks download, which, like the threads download,
// is the same for everyone: no request names this member's answer.
//
// The first half of this file is pure protocol (no DOM) and is exported, so
// the Node interop test (e2e/interop/) runs exactly this code against the
// Rust server. The second half binds it to the page.

import { RSABSSA } from '@cloudflare/blindrsa-ts';

export const SUITE_NAME = 'RSABSSA-SHA384-PSS-Randomized';
const SECRET_BYTES = 32;
/** RSABSSA's "Randomized" preparation puts 32 random bytes before the message. */
const PREFIX_BYTES = 32;

/** The RFC 9474 suite every round uses. */
export function roundSuite() {
  return RSABSSA.SHA384.PSS.Randomized();
}

// ---------------------------------------------------------------------------
// Encodings

const utf8 = new TextEncoder();

export function toHex(bytes) {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Standard base64 with padding. */
export function toBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** Strict standard base64 (with padding) to bytes; throws on anything else. */
export function fromBase64(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new Error('not base64');
  }
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function asBytes(data) {
  return typeof data === 'string' ? utf8.encode(data) : data;
}

export async function sha256Hex(data) {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', asBytes(data))));
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------
// The protocol

/**
 * Imports a round's public key: base64 of DER SubjectPublicKeyInfo with the
 * rsaEncryption OID. The library reads the key's modulus through JWK export,
 * so it must be an extractable RSA-PSS / SHA-384 key.
 */
export async function importRoundKey(publicKeyBase64) {
  return crypto.subtle.importKey(
    'spki',
    fromBase64(publicKeyBase64),
    { name: 'RSA-PSS', hash: 'SHA-384' },
    true,
    ['verify'],
  );
}

/** A fresh token secret: 32 random bytes as lowercase hex. */
export function newSecret() {
  return toHex(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** The message a token signs: "kintsugi-round:ROUND:" + hex(SHA-256("token:" + secret)). */
export async function tokenMessage(roundId, secret) {
  return utf8.encode(`kintsugi-round:${roundId}:${await sha256Hex(`token:${secret}`)}`);
}

/**
 * Step 1 of issuance: picks a secret and blinds the prepared message.
 * `blinded` goes to the server; the rest stays here until the signature comes back.
 */
export async function blindToken(roundId, publicKey) {
  const suite = roundSuite();
  const secret = newSecret();
  const prepared = suite.prepare(await tokenMessage(roundId, secret));
  const { blindedMsg, inv } = await suite.blind(publicKey, prepared);
  return { roundId, secret, prepared, inv, blinded: toBase64(blindedMsg) };
}

/**
 * Step 2 of issuance: unblinds the server's blind signature (base64) and
 * checks it against the round's key (the library refuses an invalid one).
 * Returns the token as it is stored and moved between devices.
 */
export async function finishToken(publicKey, pending, blindSignatureBase64) {
  const signature = await roundSuite().finalize(
    publicKey,
    pending.prepared,
    fromBase64(blindSignatureBase64),
    pending.inv,
  );
  return {
    round: pending.roundId,
    secret: pending.secret,
    message: toBase64(pending.prepared),
    signature: toBase64(signature),
  };
}

/**
 * Checks a token (from storage or pasted from another device) for this round:
 * its shape, that its message is this round's message for its secret, and
 * that its signature verifies under the round's key. Returns a clean copy, or
 * throws an Error whose message a person can read.
 */
export async function checkToken(roundId, publicKey, token) {
  if (!token || typeof token !== 'object' || Array.isArray(token)) {
    throw new Error('This is not an answer key.');
  }
  if (token.round !== roundId) {
    throw new Error('This answer key belongs to a different round.');
  }
  if (typeof token.secret !== 'string' || !/^[0-9a-f]{64}$/.test(token.secret)) {
    throw new Error('This answer key is damaged (its secret is not 64 hex digits).');
  }
  let message;
  let signature;
  try {
    message = fromBase64(token.message);
    signature = fromBase64(token.signature);
  } catch {
    throw new Error('This answer key is damaged (its message or signature is not base64).');
  }
  const expected = await tokenMessage(roundId, token.secret);
  if (message.length !== PREFIX_BYTES + expected.length || !sameBytes(message.subarray(PREFIX_BYTES), expected)) {
    throw new Error('This answer key is damaged (its message does not match its secret).');
  }
  let valid = false;
  try {
    valid = await roundSuite().verify(publicKey, signature, message);
  } catch {
    valid = false;
  }
  if (!valid) {
    throw new Error("This answer key's signature does not verify with this round's key.");
  }
  return { round: roundId, secret: token.secret, message: token.message, signature: token.signature };
}

/** The capability that lets the author reply to the facilitator: hex(SHA-256("reply:" + secret)). */
export function replyCapability(secret) {
  return sha256Hex(`reply:${secret}`);
}

/** What the server stores to recognise the reply capability later: hex(SHA-256(capability)). */
export async function replyCheck(secret) {
  return sha256Hex(await replyCapability(secret));
}

/** The JSON body of an anonymous answer. */
export async function answerBody(token, answer) {
  return {
    token: { message: token.message, signature: token.signature },
    answer: {
      category: answer.category,
      comment: answer.comment,
      // Only rating rounds (how genuine the acknowledgment felt) have a rating field.
      ...(answer.rating === undefined ? {} : { rating: answer.rating }),
      ...(answer.items === undefined ? {} : { items: answer.items }),
    },
    reply_check: await replyCheck(token.secret),
  };
}

/** The id under which a redeemed token is recorded as spent: hex(SHA-256(prepared message)). */
export function spentId(token) {
  return sha256Hex(fromBase64(token.message));
}

/**
 * Finds and opens this token's reply thread in a round's threads download (the same for
 * everyone): its address is hex(SHA-256("kintsugi thread address:" + reply check)), its
 * AES-256-GCM key SHA-256("kintsugi thread key:" + reply check), its associated data the
 * round's id. Returns { comment, replies } or null when there is no thread for this token.
 */
export async function openThread(roundId, secret, download) {
  const check = await replyCheck(secret);
  const address = await sha256Hex(`kintsugi thread address:${check}`);
  const found = (download?.threads ?? []).find((t) => t.address === address);
  if (!found) return null;
  const raw = new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(`kintsugi thread key:${check}`)));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['decrypt']);
  const text = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: fromBase64(found.nonce), additionalData: utf8.encode(roundId) },
    key,
    fromBase64(found.sealed),
  );
  return JSON.parse(new TextDecoder().decode(text));
}

// ---------------------------------------------------------------------------
// The page

export const TEXT = {
  elsewhere:
    'Your answer key for this round is on another device. Answer there, move the key here (below), ' +
    'or, if that device is lost, get a replacement key.',
  replace: 'Get a replacement key',
  replaced: 'Replacement key saved on this device. Your answer will be sent without your name or your session.',
  received:
    'Received. It waits to be sealed together with other answers (at the latest when the round closes), ' +
    'so not even its arrival time points to you. Keep this device until then: if the server restarts ' +
    'first, this page sends it again.',
  sealed: 'Your answer is sealed: counted once, anonymously. Nobody, not even the server, can tell it is yours.',
  waiting:
    'Your answer was received and waits to be sealed together with other answers, at the latest when the round closes.',
  resent: 'The server restarted before your answer was sealed, so this page sent it again.',
  tooLate: 'The round closed before your answer was sealed, so it was not counted.',
  already: 'You have already answered this round.',
  answered: 'You have answered this round.',
  noKey:
    'This device has no answer key for this round yet, so nothing was sent. ' +
    'Reload the page to fetch one, or move it here from the device that has it (below).',
  fetching: 'Getting your answer key for this round…',
  ready: 'Your answer key is on this device. Your answer will be sent without your name or your session.',
  sending: 'Sending anonymously…',
  imported: 'Answer key saved on this device.',
  sameKey: 'This answer key is already on this device.',
  noStorage:
    'This browser does not let Kintsugi keep your answer key (local storage is off), ' +
    'so you cannot answer anonymously from it.',
};

const storageKey = (roundId) => `kintsugi-token-${roundId}`;
/** An answer sent but not yet seen sealed: { body, held_by }. */
const pendingKey = (roundId) => `kintsugi-pending-${roundId}`;

function readPending(roundId) {
  try {
    return JSON.parse(localStorage.getItem(pendingKey(roundId)) ?? 'null');
  } catch {
    return null;
  }
}

function storePending(roundId, pending) {
  if (pending) localStorage.setItem(pendingKey(roundId), JSON.stringify(pending));
  else localStorage.removeItem(pendingKey(roundId));
}

function readStored(roundId) {
  const raw = localStorage.getItem(storageKey(roundId));
  if (raw === null) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

function store(token) {
  localStorage.setItem(storageKey(token.round), JSON.stringify(token));
}

/** Ends a server message with a full stop if it has none. */
function sentence(text) {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
}

/** The `detail` (or `title`) of a problem document, if the response has one. */
async function problemText(res) {
  try {
    const body = await res.json();
    if (body && typeof body.detail === 'string' && body.detail) return body.detail;
    if (body && typeof body.title === 'string' && body.title) return body.title;
  } catch {
    // not JSON
  }
  return null;
}

/** Runs `fn` holding a per-round lock across this browser's tabs, where the browser has Web Locks. */
function withRoundLock(roundId, fn) {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  return locks ? locks.request(`kintsugi-token-${roundId}`, fn) : fn();
}

// Requests that must not carry anything that identifies the member: no
// cookies, no referrer (the repair page's address), no cache.
const ANONYMOUS = { credentials: 'omit', referrerPolicy: 'no-referrer', cache: 'no-store' };

class Round {
  constructor(section) {
    this.section = section;
    this.id = section.dataset.round;
    this.tokenUrl = section.dataset.tokenUrl;
    this.answerUrl = section.dataset.answerUrl;
    this.marksUrl = section.dataset.marksUrl;
    this.form = section.querySelector('form.anon-answer');
    this.status = section.querySelector('.anon-status');
    this.move = section.querySelector('details.anon-move');
    this.exportBox = this.move?.querySelector('textarea[name="export"]');
    this.importBox = this.move?.querySelector('textarea[name="import"]');
    this.importButton = this.move?.querySelector('button');
    this.token = null;
    this.key = null;
    this.busy = false;
  }

  say(text, state = 'info') {
    if (!this.status) return;
    this.status.textContent = text;
    this.status.dataset.state = state;
  }

  setFormEnabled(enabled) {
    if (!this.form) return;
    // The replacement button is how a device without a key gets one: never disabled with the form.
    for (const el of this.form.elements) if (!el.matches('.anon-replace')) el.disabled = !enabled;
  }

  showExport() {
    if (this.exportBox) this.exportBox.value = this.token ? JSON.stringify(this.token) : '';
  }

  async publicKey() {
    if (!this.key) this.key = await importRoundKey(this.section.dataset.publicKey);
    return this.key;
  }

  async start() {
    if (!this.id || !this.section.dataset.publicKey) return;
    if (this.form) rounds.set(this.form, this);
    this.importButton?.addEventListener('click', (e) => {
      e.preventDefault();
      e.stopPropagation();
      this.onImport();
    });
    try {
      localStorage.getItem(storageKey(this.id));
    } catch {
      this.say(TEXT.noStorage, 'error');
      this.setFormEnabled(false);
      return;
    }
    try {
      await this.loadOrFetch();
    } catch (e) {
      this.say(`Could not get your answer key for this round: ${sentence(e.message)} Reload the page to try again.`, 'error');
    }
    this.showExport();
    // The page may render the form disabled so that nothing can be sent
    // without this script (which alone keeps the answer unlinkable); without a
    // key on this device there is nothing to send with.
    this.setFormEnabled(Boolean(this.token));
    // Every visit downloads the round's marks, token or not: the same request for everyone.
    await this.checkSealed();
  }

  async loadStored() {
    const stored = readStored(this.id);
    if (!stored) return false;
    try {
      this.token = await checkToken(this.id, await this.publicKey(), stored);
      return true;
    } catch {
      // A damaged or foreign key is left in place (it may still be worth
      // something to its owner) but not used.
      return false;
    }
  }

  async loadOrFetch(replace = false) {
    if (!replace && (await this.loadStored())) {
      this.say(TEXT.ready, 'ok');
      return;
    }
    await withRoundLock(this.id, async () => {
      // Another tab may have fetched it while this one waited for the lock.
      if (!replace && (await this.loadStored())) {
        this.say(TEXT.ready, 'ok');
        return;
      }
      this.say(TEXT.fetching);
      const key = await this.publicKey();
      const pending = await blindToken(this.id, key);
      const res = await fetch(this.tokenUrl, {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken() },
        body: JSON.stringify({ blinded_message: pending.blinded, replace }),
      });
      if (res.status === 409 && !replace) {
        this.say(TEXT.elsewhere, 'info');
        this.offerReplacement();
        return;
      }
      if (!res.ok) {
        const why = await problemText(res);
        const err = new Error(why ? sentence(why) : `the server answered ${res.status}.`);
        err.status = res.status;
        throw err;
      }
      if (res.redirected || !(res.headers.get('Content-Type') ?? '').includes('json')) {
        throw new Error('you seem to be signed out. Sign in again, then reload this page.');
      }
      const body = await res.json();
      if (!body || typeof body.blind_signature !== 'string') {
        throw new Error('the server sent no signature.');
      }
      let token;
      try {
        token = await finishToken(key, pending, body.blind_signature);
      } catch {
        throw new Error("the server's signature does not verify with this round's public key, so it was not kept.");
      }
      store(token);
      this.token = token;
      this.say(replace ? TEXT.replaced : TEXT.ready, 'ok');
    });
  }

  /** A member whose key is on a lost device may get one replacement (the results count them). */
  offerReplacement() {
    if (this.section.querySelector('button.anon-replace')) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'anon-replace secondary';
    button.textContent = TEXT.replace;
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await this.loadOrFetch(true);
        button.remove();
        this.showExport();
        this.setFormEnabled(Boolean(this.token));
      } catch (e) {
        this.say(`No replacement: ${sentence(e.message)}`, 'error');
        // Refused for good (one replacement per round): asking again cannot help.
        if (e.status === 409) button.remove();
        else button.disabled = false;
      }
    });
    this.status?.after(button);
  }

  /** The round's marks download: { open, sealed, running }; null when it cannot be had. */
  async marks() {
    try {
      const res = await fetch(this.marksUrl, { ...ANONYMOUS });
      if (!res.ok) return null;
      return await res.json();
    } catch {
      return null;
    }
  }

  /**
   * Looks for this device's answer in the round's marks. Sealed: said, and the kept copy
   * dropped. Waiting at a server that is still running: said. Waiting at a server that
   * stopped: sent again (the only time a visit sends an answer). Nothing here names an
   * answer in a request; the download is the same for everyone.
   */
  async checkSealed() {
    const marks = await this.marks();
    if (!marks || !this.token) return;
    const mine = await spentId(this.token);
    const pending = readPending(this.id);
    if (marks.sealed.includes(mine)) {
      storePending(this.id, null);
      this.say(pending ? TEXT.sealed : TEXT.answered, 'ok');
      this.setFormEnabled(false);
      return;
    }
    if (!pending) return;
    this.setFormEnabled(false);
    if (!marks.open) {
      storePending(this.id, null);
      this.say(TEXT.tooLate, 'error');
    } else if (pending.held_by && marks.running.includes(pending.held_by)) {
      this.say(TEXT.waiting, 'ok');
    } else {
      await this.send(pending.body, TEXT.resent);
    }
  }

  /** Sends an answer's body; keeps it until it is seen sealed. */
  async send(body, receivedText = TEXT.received) {
    storePending(this.id, { body, held_by: null });
    const res = await fetch(this.answerUrl, {
      ...ANONYMOUS,
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status === 202) {
      const accepted = await res.json();
      storePending(this.id, { body, held_by: accepted.held_by ?? null });
      this.say(receivedText, 'ok');
      return true;
    }
    if (res.status === 201) {
      await res.arrayBuffer();
      storePending(this.id, null);
      this.say(TEXT.sealed, 'ok');
      return true;
    }
    const why = await problemText(res);
    if (res.status === 409) {
      // Already sealed, or the round closed: nothing to send again.
      storePending(this.id, null);
      this.say(why ? sentence(why) : TEXT.already, 'info');
      return true;
    }
    if (res.status >= 400 && res.status < 500) storePending(this.id, null);
    this.say(why ? `Not sent: ${sentence(why)}` : `Not sent: the server answered ${res.status}. Please try again.`, 'error');
    return false;
  }

  async onSubmit() {
    if (this.busy) return;
    if (!this.token && !(await this.loadStored())) {
      this.say(TEXT.noKey, 'error');
      return;
    }
    const data = new FormData(this.form);
    const answer = { category: String(data.get('category') ?? ''), comment: String(data.get('comment') ?? '') };
    const rating = data.get('rating');
    if (rating !== null && rating !== '') answer.rating = Number(rating);
    // A trust pulse rates several items: fields named item_<key>.
    const items = {};
    for (const [name, value] of data.entries()) {
      if (name.startsWith('item_') && value !== '') items[name.slice(5)] = Number(value);
    }
    if (Object.keys(items).length) answer.items = items;
    this.busy = true;
    this.setFormEnabled(false);
    this.say(TEXT.sending);
    let done = false;
    try {
      done = await this.send(await answerBody(this.token, answer));
    } catch {
      this.say('Not sent: the server could not be reached. Please try again.', 'error');
    } finally {
      this.busy = false;
      if (!done) this.setFormEnabled(true);
    }
  }

  async onImport() {
    const text = (this.importBox?.value ?? '').trim();
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.say('Not saved: paste the whole answer key, from { to }.', 'error');
      return;
    }
    try {
      const token = await checkToken(this.id, await this.publicKey(), parsed);
      if (this.token && this.token.message === token.message && this.token.signature === token.signature) {
        this.say(TEXT.sameKey, 'ok');
      } else {
        store(token);
        this.token = token;
        this.say(TEXT.imported, 'ok');
        // A moved-in key needs no replacement: the button would spend the only one.
        this.section.querySelector('button.anon-replace')?.remove();
        this.setFormEnabled(true);
      }
      if (this.importBox) this.importBox.value = '';
      this.showExport();
      await this.checkSealed();
    } catch (e) {
      this.say(`Not saved: ${e.message}`, 'error');
    }
  }
}

const started = new WeakSet();
/** Closed rounds already looked up for a waiting answer (apart from their threads). */
const settling = new WeakSet();
/** The round each answer form belongs to. */
const rounds = new WeakMap();

/** Starts every anonymous round found in `root` (a page, or content htmx just swapped in). */
export function startAnonymousRounds(root = document) {
  const sections = [];
  if (root instanceof Element && root.matches('section.round[data-round]')) sections.push(root);
  if (root.querySelectorAll) sections.push(...root.querySelectorAll('section.round[data-round]'));
  for (const section of sections) {
    if (started.has(section)) continue;
    started.add(section);
    new Round(section).start();
  }
  const settled = [];
  if (root instanceof Element && root.matches('article.round-results[data-marks-url]')) settled.push(root);
  if (root.querySelectorAll) settled.push(...root.querySelectorAll('article.round-results[data-marks-url]'));
  for (const article of settled) {
    if (settling.has(article)) continue;
    settling.add(article);
    settleClosed(article).catch(() => {});
  }
  const closed = [];
  if (root instanceof Element && root.matches('article.round-results[data-round]')) closed.push(root);
  if (root.querySelectorAll) closed.push(...root.querySelectorAll('article.round-results[data-round]'));
  for (const article of closed) {
    if (started.has(article)) continue;
    started.add(article);
    showThread(article).catch(() => {});
  }
}

/** Set once a closed round was looked up: for every device that holds its key, answered or not. */
const settledKey = (roundId) => `kintsugi-settled-${roundId}`;

/**
 * Once a round has closed, tells the member whether the answer this device sent was sealed
 * (the close seals what waits) or came too late, and forgets the kept copy. The marks download
 * happens once on every device that holds the round's key, whether or not it sent an answer,
 * so the request says nothing about answering.
 */
async function settleClosed(article) {
  const roundId = article.dataset.marksRound;
  const token = readStored(roundId);
  if (!token || localStorage.getItem(settledKey(roundId))) return;
  const res = await fetch(article.dataset.marksUrl, { ...ANONYMOUS });
  if (!res.ok) return;
  const marks = await res.json();
  const pending = readPending(roundId);
  if (pending) {
    const status = document.createElement('p');
    status.className = 'anon-status';
    status.setAttribute('role', 'status');
    const sealed = (marks.sealed ?? []).includes(await spentId(token));
    status.textContent = sealed ? TEXT.sealed : TEXT.tooLate;
    status.dataset.state = sealed ? 'ok' : 'error';
    article.append(status);
    storePending(roundId, null);
  }
  localStorage.setItem(settledKey(roundId), '1');
}

// ---- Replies: the author's side of an anonymous thread ----

/**
 * Under a closed round, shows the member their own comment's thread, if the facilitator
 * replied. The round's threads download is the same for everyone and is fetched whether or
 * not this device holds a key; the thread is found and opened here, with the capability only
 * the stored token derives. Only answering the facilitator sends the capability.
 */
async function showThread(article) {
  const box = article.querySelector('.anon-thread');
  if (!box) return;
  const res = await fetch(article.dataset.threadsUrl, { ...ANONYMOUS });
  if (res.status !== 200) return;
  const download = await res.json();
  const token = readStored(article.dataset.round);
  if (!token) return;
  const thread = await openThread(article.dataset.round, token.secret, download);
  if (!thread || !thread.replies.length) return;
  const capability = await replyCapability(token.secret);
  box.replaceChildren();
  const heading = document.createElement('h3');
  heading.textContent = 'Replies to your comment (only you see this)';
  box.append(heading);
  if (thread.comment) {
    const mine = document.createElement('p');
    mine.className = 'prewrap';
    mine.textContent = `You wrote: ${thread.comment}`;
    box.append(mine);
  }
  for (const reply of thread.replies) {
    const p = document.createElement('p');
    p.className = 'reply';
    const who = document.createElement('strong');
    who.textContent = reply.from_author ? 'You: ' : 'The facilitator: ';
    p.append(who, reply.body);
    box.append(p);
  }
  const form = document.createElement('form');
  form.className = 'anon-reply';
  const id = `anon-reply-${article.dataset.round}`;
  const label = document.createElement('label');
  label.htmlFor = id;
  label.textContent = 'Answer the facilitator, still anonymous';
  const text = document.createElement('textarea');
  text.id = id;
  text.name = 'body';
  text.rows = 2;
  const send = document.createElement('button');
  send.type = 'submit';
  send.textContent = 'Answer anonymously';
  const status = document.createElement('p');
  status.setAttribute('role', 'status');
  form.append(label, text, send, status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    event.stopPropagation();
    const sent = await fetch(article.dataset.replyUrl, {
      ...ANONYMOUS,
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ capability, body: text.value }),
    });
    if (sent.status === 201) {
      await sent.arrayBuffer();
      started.delete(article);
      await showThread(article);
      started.add(article);
    } else {
      status.textContent = (await problemText(sent)) || 'Not sent.';
    }
  });
  box.append(form);
}

// The answer form must never be submitted as an ordinary (or htmx-boosted)
// form: that would send the answer with the session cookie. This listener runs
// in the capture phase, before htmx's own handler on the form, and stops it.
if (typeof document !== 'undefined') {
  document.addEventListener(
    'submit',
    (event) => {
      const form = event.target;
      if (form instanceof HTMLFormElement && form.matches('section.round form.anon-answer')) {
        event.preventDefault();
        event.stopPropagation();
        rounds.get(form)?.onSubmit();
      }
    },
    true,
  );
}
