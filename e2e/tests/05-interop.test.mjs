// Interop of the two halves of RFC 9474 (RSABSSA-SHA384-PSS-Randomized):
// the browser's client code (frontend/src/anon.js, run here in Node) and the
// Rust server.
//
//   1. Without a server: anon.js blinds, @cloudflare/blindrsa-ts signs with a
//      key made here, anon.js finalizes; the token has the agreed layout and
//      verifies with plain WebCrypto; tampered or foreign tokens are refused;
//      anon.js opens a reply thread sealed here to the documented layout.
//   2. Against the real binary (epochs of 1 s, a minimum batch of 2): JavaScript
//      blinds, Rust signs, JavaScript finalizes, Rust verifies. A token is issued
//      once per member and round, and replaced once; an answer waits (202, held
//      once however often it is sent) until a batch of more than the minimum is
//      sealed, then its mark is in the round's marks download and sending it
//      again is "already sealed"; the close seals what still waits; a tampered
//      token, a cookie on /anon, and a closed round are refused; the old per-mark
//      and per-capability routes are gone; below k the close shows nothing of
//      the answers.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';

import { RSABSSA } from '@cloudflare/blindrsa-ts';

import { startServer } from '../lib/harness.mjs';
import { Client, acceptInvitation, addPerson, logIn, setUpOrganisation } from '../interop/http.mjs';
import {
  anon,
  fetchToken,
  isSealed,
  marks,
  redeem,
  tamperedMessage,
  tamperedSignature,
  verifyWithWebCrypto,
  waitForMarks,
} from '../interop/anon-client.mjs';
import { roundSections } from '../interop/page.mjs';

const sha256hex = (data) => createHash('sha256').update(data).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

test("anon.js opens its reply thread in a threads download sealed to the documented layout", async () => {
  // What the server publishes per thread: address = hex(SHA-256("kintsugi thread address:" ‖
  // check)), key = SHA-256("kintsugi thread key:" ‖ check), AES-256-GCM with the round id as
  // associated data; check = hex(SHA-256(capability)), capability = hex(SHA-256("reply:" ‖ S)).
  const round = '3f0c8a52-4b7e-4d8e-9a53-2f7d0c1e6b10';
  const seal = (secret, roundForData, plain) => {
    const check = sha256hex(sha256hex(`reply:${secret}`));
    const key = createHash('sha256').update(`kintsugi thread key:${check}`).digest();
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(roundForData, 'utf8'));
    const sealed = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return {
      address: sha256hex(`kintsugi thread address:${check}`),
      nonce: nonce.toString('base64'),
      sealed: sealed.toString('base64'),
    };
  };
  const mine = anon.newSecret();
  const theirs = anon.newSecret();
  const thread = {
    comment: 'We heard late.',
    replies: [
      { from_author: false, body: 'Who told you first?' },
      { from_author: true, body: 'A customer did.' },
    ],
  };
  const download = { threads: [seal(theirs, round, { comment: 'Not mine.', replies: [] }), seal(mine, round, thread)] };
  assert.deepEqual(await anon.openThread(round, mine, download), thread, 'the author finds and opens their thread');
  assert.equal(await anon.openThread(round, anon.newSecret(), download), null, 'a member without a thread finds none');
  assert.equal(await anon.openThread(round, mine, { threads: [] }), null);
  // Sealed for another round: the associated data differs, so it does not open.
  const elsewhere = { threads: [seal(mine, 'another-round', thread)] };
  await assert.rejects(anon.openThread(round, mine, elsewhere));
});

// ---------------------------------------------------------------------------

let server;
after(async () => {
  await server?.stop();
});

const PASSWORD = 'golden-seams-interop-1';
const ADMIN = { name: 'Ada Admin', email: 'ada@example.org', password: 'correct horse battery staple' };

test('JavaScript blinds, Rust signs, JavaScript finalizes, Rust verifies', { timeout: 180_000 }, async (t) => {
  // A batch is sealed once more than 2 answers wait (default: the round's k, here 5).
  server = await startServer({ env: { KINTSUGI_ANON_MIN_BATCH: '2' } });
  const { baseUrl } = server;
  t.diagnostic(`server at ${baseUrl}`);
  const fail = (e) => {
    e.message += `\n${server.dump(40)}`;
    throw e;
  };
  try {
    const admin = await setUpOrganisation(baseUrl, server.setupUrl, { organisation: 'Interop Kiln', ...ADMIN });

    // The accountable leader, four affected people, one outsider.
    const names = { lee: 'Lee Lead', ana: 'Ana Affected', ben: 'Ben Booker', cy: 'Cy Support', dee: 'Dee Desk', olu: 'Olu Outside' };
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
          affected_people: [ids.ana, ids.ben, ids.cy, ids.dee],
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
          marksUrl: `/anon/rounds/${roundId}/marks`,
        },
      ],
      "the repair page's <section class=\"round\"> for the open round",
    );
    const [paths] = sections;
    const round = { roundId, publicKey, tokenPath: paths.tokenUrl };
    const anonymous = new Client(baseUrl);

    // Issuance: once per member and round, and one replacement (a lost device).
    const ana = await fetchToken(people.ana, round);
    assert.equal(ana.res.status, 200, `Ana's token: ${ana.res.text}`);
    assert.equal(await verifyWithWebCrypto(publicKey, ana.token), true, 'the finalized token verifies');
    const again = await fetchToken(people.ana, round);
    assert.equal(again.res.status, 409, `a second token for Ana: ${again.res.text}`);
    const replaced = await fetchToken(people.ana, round, { replace: true });
    assert.equal(replaced.res.status, 200, `Ana's replacement key: ${replaced.res.text}`);
    assert.equal(await verifyWithWebCrypto(publicKey, replaced.token), true, 'the replacement verifies');
    assert.notEqual(replaced.token.secret, ana.token.secret);
    // The API's twin of the route keeps the same bound.
    const apiRound = { ...round, tokenPath: `/api/v1/repairs/${repair.id}/rounds/${roundId}/token` };
    for (const [what, path] of [['the page route', round], ['the API', apiRound]]) {
      const twice = await fetchToken(people.ana, path, { replace: true });
      assert.equal(twice.res.status, 409, `a second replacement for Ana through ${what}: ${twice.res.text}`);
      assert.match(twice.res.json?.detail ?? '', /already replaced once; a second replacement is not possible/, `${what} says why`);
      assert.equal(twice.token, null);
    }
    const outsider = await fetchToken(people.olu, round);
    assert.equal(outsider.res.status, 404, `someone outside the repair asks for a token: ${outsider.res.text}`);
    const outsiderReplaces = await fetchToken(people.olu, round, { replace: true });
    assert.equal(outsiderReplaces.res.status, 404, `someone outside the repair asks for a replacement: ${outsiderReplaces.res.text}`);
    const noSession = await fetchToken(anonymous, round);
    // A page route: without a session it sends the browser to the login page.
    assert.ok([302, 303, 401, 403, 404].includes(noSession.res.status), `a token without a session: ${noSession.res.status}`);
    assert.equal(noSession.token, null);

    // The round's downloads, the same for everyone; the old routes that named an answer are gone.
    const before = await marks(anonymous, paths.marksUrl);
    assert.deepEqual(Object.keys(before).sort(), ['open', 'running', 'sealed']);
    assert.equal(before.open, true);
    assert.deepEqual(before.sealed, []);
    assert.equal(before.running.length, 1, `one server running: ${JSON.stringify(before)}`);
    const [serverId] = before.running;
    const threadsPath = `/anon/rounds/${roundId}/threads`;
    const threads = await anonymous.get(threadsPath, { cookies: false });
    assert.equal(threads.status, 200, `the threads download: ${threads.text}`);
    assert.deepEqual(threads.json, { threads: [] });
    for (const [what, path] of [['a marks download', paths.marksUrl], ['a threads download', threadsPath]]) {
      const withCookie = await people.ana.get(path);
      assert.ok([400, 403].includes(withCookie.status), `${what} with the session cookie: ${withCookie.status} ${withCookie.text}`);
    }
    const anaMark = await anon.spentId(ana.token);
    const oldSpent = await anonymous.get(`/anon/rounds/${roundId}/spent/${anaMark}`, { cookies: false });
    assert.ok([404, 405].includes(oldSpent.status), `the per-mark spent check is gone: ${oldSpent.status}`);
    const oldThread = await anonymous.post('/anon/replies/thread', {
      json: { capability: await anon.replyCapability(ana.token.secret) },
      cookies: false,
    });
    assert.ok([404, 405].includes(oldThread.status), `the per-capability thread read is gone: ${oldThread.status}`);

    // Redemption: no cookie; the answer waits, held by this server, and is held once.
    const answer = { category: 'communication', comment: 'Support only hears about outages from customers.' };
    const first = await redeem(anonymous, paths.answerUrl, ana.token, answer);
    assert.equal(first.status, 202, `Ana's answer: ${first.text}`);
    assert.deepEqual(first.json, { status: 'waiting', held_by: serverId }, 'waiting, held by the running server');
    const resent = await redeem(anonymous, paths.answerUrl, ana.token, answer);
    assert.equal(resent.status, 202, `Ana's answer sent again while it waits: ${resent.text}`);
    assert.deepEqual(resent.json, first.json);
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

    // A cookie on /anon is refused, and the refusal holds nothing.
    const ben = await fetchToken(people.ben, round);
    assert.equal(ben.res.status, 200, `Ben's token: ${ben.res.text}`);
    const withCookie = await redeem(people.ben, paths.answerUrl, ben.token, answer, { withCookies: true });
    assert.ok([400, 403].includes(withCookie.status), `an answer sent with the session cookie: ${withCookie.status} ${withCookie.text}`);
    const benAnswer = { category: 'process', comment: 'There is no step in the outage runbook that tells support.' };
    const benSent = await redeem(anonymous, paths.answerUrl, ben.token, benAnswer);
    assert.equal(benSent.status, 202, `Ben's answer: ${benSent.text}`);

    // A token for one round is not an answer to another round.
    const elsewhere = await redeem(anonymous, `/anon/rounds/${ids.olu}/answers`, ben.token, benAnswer);
    assert.ok(elsewhere.status >= 400 && elsewhere.status < 500, `a token sent to another round: ${elsewhere.status}`);

    // Two answers wait, no more than the minimum batch (2): several epochs pass, nothing is sealed.
    await sleep(3_500);
    const stillWaiting = await marks(anonymous, paths.marksUrl);
    assert.deepEqual(stillWaiting.sealed, [], 'a batch of 2 (the minimum) is not sealed before a third answer');

    // A third answer: the next epoch seals a batch of 2 in random order and keeps 1 back.
    const dee = await fetchToken(people.dee, round);
    assert.equal(dee.res.status, 200, `Dee's token: ${dee.res.text}`);
    const deeAnswer = { category: 'process', comment: 'The status page and the support inbox are not connected.' };
    assert.equal((await redeem(anonymous, paths.answerUrl, dee.token, deeAnswer)).status, 202);
    const sent = [
      { who: 'Ana', token: ana.token, answer },
      { who: 'Ben', token: ben.token, answer: benAnswer },
      { who: 'Dee', token: dee.token, answer: deeAnswer },
    ];
    for (const s of sent) s.mark = await anon.spentId(s.token);
    const sealedOnce = await waitForMarks(anonymous, paths.marksUrl, (m) => m.sealed.length > 0, 'the first batch to be sealed');
    assert.equal(sealedOnce.sealed.length, 2, `a batch of 2 sealed, 1 kept back: ${JSON.stringify(sealedOnce)}`);
    assert.deepEqual(sealedOnce.sealed, [...sealedOnce.sealed].sort(), 'the marks are sorted, not in arrival order');
    for (const m of sealedOnce.sealed) assert.ok(sent.some((s) => s.mark === m), `sealed mark ${m} is one of the three answers`);
    const threadsAgain = await anonymous.get(threadsPath, { cookies: false });
    const fromOther = await new Client(baseUrl).get(paths.marksUrl, { cookies: false });
    assert.equal(fromOther.text, JSON.stringify(sealedOnce), 'another client downloads the very same marks');
    assert.deepEqual(threadsAgain.json, { threads: [] }, 'no thread before any reply');
    for (const s of sent) {
      const again = await redeem(anonymous, paths.answerUrl, s.token, s.answer);
      if (sealedOnce.sealed.includes(s.mark)) {
        assert.equal(again.status, 409, `${s.who}'s sealed answer sent again: ${again.status} ${again.text}`);
        assert.match(again.json?.detail ?? '', /^already sealed/, `${s.who}'s sealed answer sent again says so`);
      } else {
        assert.equal(again.status, 202, `${s.who}'s waiting answer sent again: ${again.status} ${again.text}`);
        assert.equal(await isSealed(anonymous, paths.marksUrl, s.token), false);
      }
    }

    // Cy takes a token but the round closes before Cy answers.
    const cy = await fetchToken(people.cy, round);
    assert.equal(cy.res.status, 200, `Cy's token: ${cy.res.text}`);
    const closed = await admin.expect([200, 204], 'POST', `/api/v1/repairs/${repair.id}/rounds/${roundId}/close`);
    t.diagnostic(`close answered ${closed.status}: ${closed.text.slice(0, 300)}`);
    const late = await redeem(anonymous, paths.answerUrl, cy.token, answer);
    assert.equal(late.status, 409, `an answer after the close: ${late.status} ${late.text}`);
    // The close sealed the answer that still waited: all three marks, sorted, and the round closed.
    const closedMarks = await marks(anonymous, paths.marksUrl);
    assert.equal(closedMarks.open, false);
    assert.deepEqual(closedMarks.sealed, sent.map((s) => s.mark).sort(), 'every accepted answer is sealed, none twice');
    const lateToken = await fetchToken(people.lee, round);
    assert.ok(lateToken.res.status >= 400 && lateToken.res.status < 500, `a token after the close: ${lateToken.res.status}`);

    // Three answers is fewer than k = 5: nothing of them shows anywhere.
    const after = await people.ana.expect(200, 'GET', `/repairs/${repair.id}`);
    const facilitator = await admin.expect(200, 'GET', `/repairs/${repair.id}`);
    const api = await admin.expect(200, 'GET', `/api/v1/repairs/${repair.id}`);
    for (const [where, text] of [
      ['the close response', closed.text],
      ["Ana's repair page", after.text],
      ["the facilitator's repair page", facilitator.text],
      ['the repair in the API', api.text],
    ]) {
      for (const comment of sent.map((x) => x.answer.comment)) {
        assert.ok(!text.includes(comment), `${where} shows an answer from a round below k`);
      }
    }
    for (const [where, text] of [["Ana's repair page", after.text], ["the facilitator's repair page", facilitator.text]]) {
      assert.match(text, /Fewer than 5 answered; nothing is shown\./, `${where} says why nothing is shown`);
      assert.doesNotMatch(text, /(?<!at least )\b\d+ (people|person) answered/, `${where} shows no count below k`);
      assert.match(text, /1 key was replaced; at most 1 answer may be from someone who answered twice\./, `${where} discloses Ana's replacement`);
    }
    assert.deepEqual(roundSections(after.text), [], 'a closed round has no answer form');
  } catch (e) {
    fail(e);
  }
});
