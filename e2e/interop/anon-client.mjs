// The browser's anonymous-round client (frontend/src/anon.js), driven from
// Node over HTTP. The protocol code is the very module that esbuild bundles
// into /assets/app.js; only the transport differs. What it proves against the
// real server: JavaScript blinds, Rust signs, JavaScript unblinds (finalize
// checks the signature), Rust verifies when the token is redeemed.

import * as anon from '../../frontend/src/anon.js';

export { anon };

/** The page paths for a round, as the repair page's <section class="round"> gives them. */
export function roundPaths(repairId, roundId) {
  return {
    token: `/repairs/${repairId}/rounds/${roundId}/token`,
    answer: `/anon/rounds/${roundId}/answers`,
    marks: `/anon/rounds/${roundId}/marks`,
    threads: `/anon/rounds/${roundId}/threads`,
  };
}

/**
 * Fetches a token for a round as a signed-in member (`client`, an http.mjs
 * Client): blinds, POSTs the blinded message with the session cookie,
 * finalizes. `replace` asks for the one replacement a member may get (a lost
 * device). Resolves to { token, res } where token is null unless 200.
 */
export async function fetchToken(client, { roundId, publicKey, tokenPath }, { replace = false } = {}) {
  const key = await anon.importRoundKey(publicKey);
  const pending = await anon.blindToken(roundId, key);
  const res = await client.post(tokenPath, { json: { blinded_message: pending.blinded, replace } });
  if (res.status !== 200) return { token: null, res, pending };
  if (typeof res.json?.blind_signature !== 'string') {
    throw new Error(`the token endpoint answered 200 without "blind_signature":\n${res.text.slice(0, 500)}`);
  }
  const token = await anon.finishToken(key, pending, res.json.blind_signature);
  return { token, res, pending };
}

/**
 * Redeems a token with an answer. `client` sends no cookie unless
 * `withCookies` is set (to check that the server refuses them).
 */
export async function redeem(client, answerPath, token, answer, { withCookies = false } = {}) {
  return client.post(answerPath, { json: await anon.answerBody(token, answer), cookies: withCookies });
}

/**
 * The round's marks download, with no cookie: { open, sealed: [hex marks, sorted], running:
 * [server ids] }, the same for everyone. Fails unless it answers 200.
 */
export async function marks(client, marksPath) {
  const res = await client.get(marksPath, { cookies: false });
  if (res.status !== 200 || !Array.isArray(res.json?.sealed)) {
    throw new Error(`GET ${marksPath} answered ${res.status}, not a marks download:\n${res.text.slice(0, 500)}`);
  }
  return res.json;
}

/** Whether a token's mark is among the round's sealed marks (found here, not asked for). */
export async function isSealed(client, marksPath, token) {
  return (await marks(client, marksPath)).sealed.includes(await anon.spentId(token));
}

/**
 * Polls the marks download until `done(marks)` holds; resolves to that download. Fails after
 * `timeoutMs` with the last download and what was waited for.
 */
export async function waitForMarks(client, marksPath, done, what, { timeoutMs = 15_000 } = {}) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await marks(client, marksPath);
    if (await done(last)) return last;
    if (Date.now() > until) {
      throw new Error(`waited ${timeoutMs / 1000} s for ${what}; the marks download still says ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A copy of a token whose message has one bit flipped at `index` (after the random prefix by default). */
export function tamperedMessage(token, index = 40) {
  const bytes = anon.fromBase64(token.message);
  bytes[index] ^= 0x01;
  return { ...token, message: anon.toBase64(bytes) };
}

/** A copy of a token whose signature has one bit flipped. */
export function tamperedSignature(token, index = 17) {
  const bytes = anon.fromBase64(token.signature);
  bytes[index] ^= 0x01;
  return { ...token, signature: anon.toBase64(bytes) };
}

/** Verifies a token with plain WebCrypto RSA-PSS (salt 48), independently of the library. */
export async function verifyWithWebCrypto(publicKey, token) {
  const key = await crypto.subtle.importKey(
    'spki',
    anon.fromBase64(publicKey),
    { name: 'RSA-PSS', hash: 'SHA-384' },
    false,
    ['verify'],
  );
  return crypto.subtle.verify(
    { name: 'RSA-PSS', saltLength: 48 },
    key,
    anon.fromBase64(token.signature),
    anon.fromBase64(token.message),
  );
}
