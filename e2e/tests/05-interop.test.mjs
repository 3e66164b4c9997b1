// Interop of the two halves of RFC 9474 (RSABSSA-SHA384-PSS-Randomized):
// the browser's client code (frontend/src/anon.js, run here in Node) and the
// Rust server.
//
//   1. Without a server: anon.js blinds, @cloudflare/blindrsa-ts signs with a
//      key made here, anon.js finalizes; the token has the agreed layout and
//      verifies with plain WebCrypto; tampered or foreign tokens are refused.
//   2. Against the real binary: JavaScript blinds, Rust signs, JavaScript
//      finalizes, Rust verifies. A token is issued once per member and round,
//      spent once; a tampered token, a cookie on /anon, and a closed round are
//      refused; below k the close shows nothing of the answers.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { RSABSSA } from '@cloudflare/blindrsa-ts';

import { startServer } from '../lib/harness.mjs';
import { Client, acceptInvitation, addPerson, logIn, setUpOrganisation } from '../interop/http.mjs';
import {
  anon,
  fetchToken,
  redeem,
  spent,
  tamperedMessage,
  tamperedSignature,
  verifyWithWebCrypto,
} from '../interop/anon-client.mjs';
import { roundSections } from '../interop/page.mjs';

const sha256hex = (data) => createHash('sha256').update(data).digest('hex');

test('anon.js against a key made here: layout, finalize, verification, refusals', async () => {
  const lib = RSABSSA.SHA384.PSS.Randomized();
  assert.equal(lib.toString(), anon.SUITE_NAME);
  const pair = await lib.generateKey({ modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1) });
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  // rsaEncryption OID (1.2.840.113549.1.1.1), the form the server sends.
  assert.ok(Buffer.from(spki).includes(Buffer.from('2a864886f70d010101', 'hex')), 'SPKI with rsaEncryption');
  const publicKeyB64 = anon.toBase64(spki);
  const key = await anon.importRoundKey(publicKeyB64);

  const round = '3f0c8a52-4b7e-4d8e-9a53-2f7d0c1e6b10';
  const pending = await anon.blindToken(round, key);
  assert.equal(anon.fromBase64(pending.blinded).length, 256, 'the blinded message is 256 bytes');
  const blindSig = await lib.blindSign(pair.privateKey, anon.fromBase64(pending.blinded));
  const token = await anon.finishToken(key, pending, anon.toBase64(blindSig));

  // The stored form: { round, secret, message, signature }, standard base64 with padding.
  assert.deepEqual(Object.keys(token), ['round', 'secret', 'message', 'signature']);
  assert.equal(token.round, round);
  assert.match(token.secret, /^[0-9a-f]{64}$/);
  assert.match(token.signature, /^[A-Za-z0-9+/]+={0,2}$/);
  assert.equal(anon.fromBase64(token.signature).length, 256);
  const message = anon.fromBase64(token.message);
  assert.equal(
    Buffer.from(message.subarray(32)).toString('utf8'),
    `kintsugi-round:${round}:${sha256hex(`token:${token.secret}`)}`,
    'message = 32 random bytes ‖ "kintsugi-round:ROUND:" ‖ hex(SHA-256("token:" ‖ S))',
  );

  assert.equal(await verifyWithWebCrypto(publicKeyB64, token), true, 'plain RSA-PSS verifies the token');
  assert.equal(await lib.verify(pair.publicKey, anon.fromBase64(token.signature), message), true);
  assert.deepEqual(await anon.checkToken(round, key, JSON.parse(JSON.stringify(token))), token);

  // What the answer carries, and the spent id.
  const body = await anon.answerBody(token, { category: 'communication', comment: 'We heard late.' });
  assert.deepEqual(body.token, { message: token.message, signature: token.signature });
  assert.deepEqual(body.answer, { category: 'communication', comment: 'We heard late.' });
  assert.equal(body.reply_check, sha256hex(sha256hex(`reply:${token.secret}`)));
  assert.equal(await anon.replyCapability(token.secret), sha256hex(`reply:${token.secret}`));
  assert.equal(await anon.spentId(token), sha256hex(message));
  assert.ok(!JSON.stringify(body).includes(token.secret), 'the secret never leaves the browser');

  // Refusals.
  assert.equal(await verifyWithWebCrypto(publicKeyB64, tamperedMessage(token)), false);
  assert.equal(await verifyWithWebCrypto(publicKeyB64, tamperedSignature(token)), false);
  await assert.rejects(anon.checkToken(round, key, tamperedSignature(token)), /does not verify/);
  await assert.rejects(anon.checkToken(round, key, tamperedMessage(token)), /does not match its secret/);
  await assert.rejects(anon.checkToken('another-round', key, token), /different round/);
  await assert.rejects(anon.checkToken(round, key, { ...token, secret: 'x' }), /damaged/);
  await assert.rejects(anon.checkToken(round, key, null), /not an answer key/);
  const other = await lib.generateKey({ modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1) });
  const otherKey = await anon.importRoundKey(
    anon.toBase64(new Uint8Array(await crypto.subtle.exportKey('spki', other.publicKey))),
  );
  await assert.rejects(anon.checkToken(round, otherKey, token), /does not verify/);
  await assert.rejects(anon.finishToken(otherKey, pending, anon.toBase64(blindSig)), /invalid signature/);
  assert.throws(() => anon.fromBase64('a-b_'), /not base64/);
});

// ---------------------------------------------------------------------------

let server;
after(async () => {
  await server?.stop();
});

const PASSWORD = 'golden-seams-interop-1';
const ADMIN = { name: 'Ada Admin', email: 'ada@example.org', password: 'correct horse battery staple' };

test('JavaScript blinds, Rust signs, JavaScript finalizes, Rust verifies', { timeout: 180_000 }, async (t) => {
  server = await startServer();
  const { baseUrl } = server;
  t.diagnostic(`server at ${baseUrl}`);
  const fail = (e) => {
    e.message += `\n${server.dump(40)}`;
    throw e;
  };
  try {
    const admin = await setUpOrganisation(baseUrl, server.setupUrl, { organisation: 'Interop Kiln', ...ADMIN });

    // The accountable leader, three affected people, one outsider.
    const names = { lee: 'Lee Lead', ana: 'Ana Affected', ben: 'Ben Booker', cy: 'Cy Support', olu: 'Olu Outside' };
    const ids = {};
    const people = {};
    for (const [who, name] of Object.entries(names)) {
      const email = `${who}@example.org`;
      const added = await addPerson(admin, { name, email });
      ids[who] = added.id;
      await acceptInvitation(baseUrl, added.invitationUrl, PASSWORD);
      people[who] = await logIn(baseUrl, email, PASSWORD);
    }

    const repair = (
      await admin.expect(201, 'POST', '/api/v1/repairs', {
        json: {
          title: 'Support heard about the outage last',
          summary: 'The outage notice reached support two hours after customers.',
          breach: 'lack_of_respect',
          scope: 'leader_team',
          accountable_people: [ids.lee],
          affected_people: [ids.ana, ids.ben, ids.cy],
        },
      })
    ).json;
    await people.lee.expect(204, 'POST', `/api/v1/repairs/${repair.id}/acknowledgments`, {
      json: { body: 'I told support last. That was my call and it was wrong. I am sorry.' },
    });
    await admin.expect(200, 'POST', `/api/v1/repairs/${repair.id}/stage`, {
      json: { from: 'acknowledge', action: 'advance' },
    });

    const opened = await admin.expect(201, 'POST', `/api/v1/repairs/${repair.id}/rounds`, { json: { kind: 'listening' } });
    const { id: roundId, public_key: publicKey } = opened.json;
    assert.ok(roundId && publicKey, `the new round has an id and a public key: ${opened.text}`);
    t.diagnostic(`round ${roundId}, public key ${publicKey.length} base64 characters`);

    // The repair page tells the browser the same key and the three addresses.
    const page = await people.ana.expect(200, 'GET', `/repairs/${repair.id}`);
    const sections = roundSections(page.text);
    assert.deepEqual(
      sections,
      [
        {
          round: roundId,
          publicKey,
          tokenUrl: `/repairs/${repair.id}/rounds/${roundId}/token`,
          answerUrl: `/anon/rounds/${roundId}/answers`,
          spentUrl: `/anon/rounds/${roundId}/spent/`,
        },
      ],
      "the repair page's <section class=\"round\"> for the open round",
    );
    const [paths] = sections;
    const round = { roundId, publicKey, tokenPath: paths.tokenUrl };
    const anonymous = new Client(baseUrl);

    // Issuance: once per member and round.
    const ana = await fetchToken(people.ana, round);
    assert.equal(ana.res.status, 200, `Ana's token: ${ana.res.text}`);
    assert.equal(await verifyWithWebCrypto(publicKey, ana.token), true, 'the finalized token verifies');
    const again = await fetchToken(people.ana, round);
    assert.equal(again.res.status, 409, `a second token for Ana: ${again.res.text}`);
    const outsider = await fetchToken(people.olu, round);
    assert.equal(outsider.res.status, 404, `someone outside the repair asks for a token: ${outsider.res.text}`);
    const noSession = await fetchToken(anonymous, round);
    // A page route: without a session it sends the browser to the login page.
    assert.ok([302, 303, 401, 403, 404].includes(noSession.res.status), `a token without a session: ${noSession.res.status}`);
    assert.equal(noSession.token, null);

    // Redemption: no cookie, once.
    const answer = { category: 'communication', comment: 'Support only hears about outages from customers.' };
    assert.deepEqual((await spent(anonymous, paths.spentUrl, ana.token)).json, { spent: false });
    const first = await redeem(anonymous, paths.answerUrl, ana.token, answer);
    assert.equal(first.status, 201, `Ana's answer: ${first.text}`);
    assert.deepEqual((await spent(anonymous, paths.spentUrl, ana.token)).json, { spent: true });
    const twice = await redeem(anonymous, paths.answerUrl, ana.token, answer);
    assert.equal(twice.status, 409, `the same token again: ${twice.text}`);

    // Tampering.
    for (const [what, bad] of [
      ['a flipped message byte', tamperedMessage(ana.token)],
      ['a flipped prefix byte', tamperedMessage(ana.token, 3)],
      ['a flipped signature byte', tamperedSignature(ana.token)],
    ]) {
      const res = await redeem(anonymous, paths.answerUrl, bad, answer);
      assert.ok(res.status >= 400 && res.status < 500 && res.status !== 409, `${what}: ${res.status} ${res.text}`);
      t.diagnostic(`${what}: ${res.status} ${res.json?.detail ?? ''}`);
    }

    // A cookie on /anon is refused, and the refusal spends nothing.
    const ben = await fetchToken(people.ben, round);
    assert.equal(ben.res.status, 200, `Ben's token: ${ben.res.text}`);
    const withCookie = await redeem(people.ben, paths.answerUrl, ben.token, answer, { withCookies: true });
    assert.ok([400, 403].includes(withCookie.status), `an answer sent with the session cookie: ${withCookie.status} ${withCookie.text}`);
    assert.deepEqual((await spent(anonymous, paths.spentUrl, ben.token)).json, { spent: false });
    const benAnswer = { category: 'process', comment: 'There is no step in the outage runbook that tells support.' };
    assert.equal((await redeem(anonymous, paths.answerUrl, ben.token, benAnswer)).status, 201);

    // A token for one round is not an answer to another round.
    const elsewhere = await redeem(anonymous, `/anon/rounds/${ids.olu}/answers`, ben.token, benAnswer);
    assert.ok(elsewhere.status >= 400 && elsewhere.status < 500, `a token sent to another round: ${elsewhere.status}`);

    // Cy takes a token but the round closes before Cy answers.
    const cy = await fetchToken(people.cy, round);
    assert.equal(cy.res.status, 200, `Cy's token: ${cy.res.text}`);
    const closed = await admin.expect([200, 204], 'POST', `/api/v1/repairs/${repair.id}/rounds/${roundId}/close`);
    t.diagnostic(`close answered ${closed.status}: ${closed.text.slice(0, 300)}`);
    const late = await redeem(anonymous, paths.answerUrl, cy.token, answer);
    assert.ok(late.status >= 400 && late.status < 500, `an answer after the close: ${late.status} ${late.text}`);
    const lateToken = await fetchToken(people.lee, round);
    assert.ok(lateToken.res.status >= 400 && lateToken.res.status < 500, `a token after the close: ${lateToken.res.status}`);

    // Two answers is fewer than k = 5: nothing of them shows anywhere.
    const after = await people.ana.expect(200, 'GET', `/repairs/${repair.id}`);
    const facilitator = await admin.expect(200, 'GET', `/repairs/${repair.id}`);
    const api = await admin.expect(200, 'GET', `/api/v1/repairs/${repair.id}`);
    for (const [where, text] of [
      ['the close response', closed.text],
      ["Ana's repair page", after.text],
      ["the facilitator's repair page", facilitator.text],
      ['the repair in the API', api.text],
    ]) {
      for (const comment of [answer.comment, benAnswer.comment]) {
        assert.ok(!text.includes(comment), `${where} shows an answer from a round below k`);
      }
    }
    for (const [where, text] of [["Ana's repair page", after.text], ["the facilitator's repair page", facilitator.text]]) {
      assert.match(text, /Fewer than 5 answered; nothing is shown\./, `${where} says why nothing is shown`);
      assert.doesNotMatch(text, /(?<!at least )\b\d+ (people|person) answered/, `${where} shows no count below k`);
    }
    assert.deepEqual(roundSections(after.text), [], 'a closed round has no answer form');
  } catch (e) {
    fail(e);
  }
});
