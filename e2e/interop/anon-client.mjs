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
    spent: `/anon/rounds/${roundId}/spent/`,
  };
}

/**
 * Fetches a token for a round as a signed-in member (`client`, an http.mjs
 * Client): blinds, POSTs the blinded message with the session cookie,
 * finalizes. Resolves to { token, res } where token is null unless 200.
 */
export async function fetchToken(client, { roundId, publicKey, tokenPath }) {
  const key = await anon.importRoundKey(publicKey);
  const pending = await anon.blindToken(roundId, key);
  const res = await client.post(tokenPath, { json: { blinded_message: pending.blinded } });
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

/** Asks whether a token has been spent (no cookie). */
export async function spent(client, spentPath, token) {
  return client.get(`${spentPath}${await anon.spentId(token)}`, { cookies: false });
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
