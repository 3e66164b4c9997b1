// A member answers from a second device after losing the first (issue 14, "nobody is locked
// out"), in Chromium, against the real (development) server binary, whose clock reads a file
// (KINTSUGI_DEV_CLOCK) so that the round's set close can be reached without waiting a day:
//
//   the organisation, Fay (facilitator), Lee (who leads) and a Support team of five are set
//   up, and a listening round that closes by itself after a day is opened, over HTTP → Ana
//   opens the repair on her phone (390 px): her browser fetches her answer key at page load;
//   she does not answer, and the phone is lost → on her laptop (a new session, an empty
//   browser) the page says the key is on another device and offers "Get a replacement key";
//   she clicks it, answers anonymously and sees "Received" (the answer waits to be sealed);
//   a reload says it still waits → a third browser asks for a second replacement and is
//   refused, with the reason → the other four answer (over HTTP, with anon.js's client);
//   five waiting is no more than the minimum batch (k = 5), so nothing is sealed → the clock
//   reaches the seconds before the set close: every answer is sealed, and Ana's laptop says
//   "Your answer is sealed" → the close: Fay sees the five answers and "1 key was replaced;
//   at most 1 answer may be from someone who answered twice."
//
// Every page visited is checked with axe-core; screenshots of the anonymous-answer states are
// saved at 1280 px and at 390 px (…-390.png) as 32-NN-….png in test-output/screenshots/.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  byRole,
  checkAccessibility,
  describePage,
  expectText,
  goto,
  launchBrowser,
  newPage,
  screenshot,
  settled,
  startServer,
  STEP_TIMEOUT_MS,
  sequentialSteps,
} from '../lib/harness.mjs';
import { Client, acceptInvitation, addPerson, createTeam, logIn, setUpOrganisation } from '../interop/http.mjs';
import { anon, fetchToken, marks, redeem, waitForMarks } from '../interop/anon-client.mjs';

const ADMIN = { name: 'Ada Admin', email: 'ada@example.org', password: 'correct horse battery staple' };
const PASSWORD = 'golden-seams-replace-1';
const FAY = { key: 'fay', name: 'Fay Facilitator', facilitator: true };
const LEE = { key: 'lee', name: 'Lee Lead' };
const SUPPORT = [
  { key: 'ana', name: 'Ana Support', category: 'Communication breakdown', comment: 'I found out from a customer, on my phone, on a Sunday.' },
  { key: 'ben', name: 'Ben Support', category: 'process', comment: 'Nothing in the release checklist tells support anything.' },
  { key: 'cai', name: 'Cai Support', category: 'expectations', comment: 'We were promised a week of notice and got none.' },
  { key: 'dee', name: 'Dee Support', category: 'communication', comment: 'The release channel is engineering-only.' },
  { key: 'eli', name: 'Eli Support', category: 'culture', comment: 'Support is treated as downstream of everything.' },
];
const ANA = SUPPORT[0];

const REPAIR_TITLE = 'Support left out of the release';
const REPAIR_SUMMARY = 'Version 4 shipped on Tuesday; support heard about it from customers on Wednesday.';

const TEXT = {
  ready: 'Your answer key is on this device.',
  elsewhere:
    'Your answer key for this round is on another device. Answer there, move the key here (below), ' +
    'or, if that device is lost, get a replacement key.',
  replace: 'Get a replacement key',
  replaced: 'Replacement key saved on this device.',
  received: 'Received. It waits to be sealed together with other answers',
  waiting: 'Your answer was received and waits to be sealed together with other answers',
  sealed: 'Your answer is sealed: counted once, anonymously.',
  refused: 'No replacement: your key for this round was already replaced once; a second replacement is not possible.',
  disclosed: '1 key was replaced; at most 1 answer may be from someone who answered twice.',
};

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let server;
let browser;
let clockDir;
const contexts = [];

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
  if (clockDir) await rm(clockDir, { recursive: true, force: true });
});

test('a member who lost the device with their answer key gets one replacement and answers', { timeout: 600_000 }, async (t) => {
  // The clock stands still at a whole second, so that the round's set close is known exactly.
  const start = new Date(Math.floor(Date.now() / 1000) * 1000);
  const at = (ms) => new Date(start.getTime() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  clockDir = await mkdtemp(join(tmpdir(), 'kintsugi-clock-'));
  const clock = join(clockDir, 'clock');
  await writeFile(clock, at(0));
  server = await startServer({ env: { KINTSUGI_DEV_CLOCK: clock } });
  assert.match(server.stdout(), /Running on the development clock/);
  t.diagnostic(`server at ${server.baseUrl}, clock file ${clock} at ${at(0)}`);
  browser = await launchBrowser();

  /** Browser sessions: Ana's phone, laptop and a third browser, and Fay's. */
  const people = {};
  const clients = {};
  const ids = {};
  let shotNo = 1;
  const axeFindings = [];
  let repairId;
  let repairUrl;
  let round;
  let laptopToken;

  const step = sequentialSteps(t, { prefix: '32', people, server: () => server });

  const checkPage = async (st, p, label) => {
    await settled(p);
    const lesser = await checkAccessibility(p, label);
    if (lesser.length) {
      const line = `${label}: minor/moderate axe findings: ${lesser
        .map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`)
        .join('; ')}`;
      axeFindings.push(line);
      st.diagnostic(line);
    }
  };

  /** Checks the page with axe and saves it at 1280 px and at 390 px; the page keeps `keep`'s width. */
  const shots = async (st, p, name, label, keep = DESKTOP) => {
    await checkPage(st, p, label);
    const n = String(shotNo++).padStart(2, '0');
    await p.setViewportSize(DESKTOP);
    await screenshot(p, `32-${n}-${name}.png`);
    await p.setViewportSize(PHONE);
    await checkPage(st, p, `${label} (390 px)`);
    // The round's form, its status line and its buttons fit a 390 px screen.
    for (const el of await roundSection(p).locator('form.anon-answer, .anon-status, button').all()) {
      const box = await el.boundingBox();
      if (box) assert.ok(box.x + box.width <= PHONE.width, `${label}: ${await el.evaluate((e) => e.outerHTML.slice(0, 80))} ends at ${box.x + box.width} px, beyond 390 px`);
    }
    await screenshot(p, `32-${n}-${name}-390.png`);
    await p.setViewportSize(keep);
  };

  const openBrowserAs = async (who, client, viewport = DESKTOP) => {
    const s = await newPage(browser);
    contexts.push(s.context);
    await s.page.setViewportSize(viewport);
    await s.context.addCookies(
      [...client.cookies].map(([name, value]) => ({ name, value, url: server.baseUrl, httpOnly: true, sameSite: 'Strict' })),
    );
    people[who] = s;
    return s.page;
  };

  const roundSection = (p) => p.locator('section.round');
  const status = (p) => roundSection(p).locator('.anon-status');
  const replaceButton = (p) => roundSection(p).getByRole('button', { name: TEXT.replace, exact: true });
  const sendButton = (p) => roundSection(p).getByRole('button', { name: 'Send anonymously', exact: true });
  const storageKey = () => `kintsugi-token-${round.id}`;
  const stored = async (p) => JSON.parse(await p.evaluate((k) => localStorage.getItem(k), storageKey()));
  const isTokenRequest = (r) => r.method() === 'POST' && new URL(r.url()).pathname === `/repairs/${repairId}/rounds/${round.id}/token`;

  const openRepair = async (p) => {
    await goto(p, repairUrl);
    await expectText(p.getByRole('heading', { level: 1 }), REPAIR_TITLE, { page: p, what: 'the repair heading' });
  };

  const expectStatus = async (p, text, what, state) => {
    try {
      await status(p).getByText(text).waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    } catch {
      const now = await status(p).first().innerText().catch(() => '(no .anon-status)');
      throw new Error(`Expected ${what} to say "${text}" in the round's status line, but it says "${now}".\n${await describePage(p)}`);
    }
    if (state) assert.equal(await status(p).getAttribute('data-state'), state, `${what}: the status line's state`);
  };

  /** Opens the repair in a browser with no key: told the key is elsewhere, offered a replacement. */
  const arriveWithoutKey = async (p, what) => {
    const refused = p.waitForResponse((r) => isTokenRequest(r.request()));
    await openRepair(p);
    const res = await refused;
    assert.equal(res.status(), 409, `${what}: the ordinary token request is refused (the key was issued)`);
    assert.deepEqual(res.request().postDataJSON().replace, false, `${what}: the page first asks for no replacement`);
    await expectStatus(p, TEXT.elsewhere, what, 'info');
    try {
      await replaceButton(p).waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    } catch {
      throw new Error(`${what}: expected a button "${TEXT.replace}".\n${await describePage(p)}`);
    }
    assert.equal(await replaceButton(p).count(), 1, `${what}: one "${TEXT.replace}" button`);
    assert.equal(await replaceButton(p).isEnabled(), true);
    assert.equal(await p.evaluate((k) => localStorage.getItem(k), storageKey()), null, `${what}: no key on this device`);
  };

  // -------------------------------------------------------------------------

  await step('1. the organisation, Fay, Lee and a Support team of five are set up; a round that closes in a day opens (over HTTP)', async (st) => {
    const admin = await setUpOrganisation(server.baseUrl, server.setupUrl, { organisation: 'Blue Kiln Studio', ...ADMIN });
    const support = await createTeam(admin, 'Support');
    for (const person of [FAY, LEE, ...SUPPORT]) {
      const added = await addPerson(admin, {
        name: person.name,
        email: `${person.key}@example.org`,
        teamIds: SUPPORT.includes(person) ? [support] : [],
        roles: { facilitator: Boolean(person.facilitator) },
      });
      ids[person.key] = added.id;
      clients[person.key] = await acceptInvitation(server.baseUrl, added.invitationUrl, PASSWORD);
    }
    const created = await clients.fay.expect(201, 'POST', '/api/v1/repairs', {
      json: {
        title: REPAIR_TITLE,
        summary: REPAIR_SUMMARY,
        breach: 'broken_promise',
        scope: 'leader_team',
        accountable_people: [ids.lee],
        affected_teams: [support],
      },
    });
    repairId = created.json.id;
    repairUrl = `${server.baseUrl}/repairs/${repairId}`;
    const opened = await clients.fay.expect(201, 'POST', `/api/v1/repairs/${repairId}/rounds`, {
      json: { kind: 'listening', closes_in_days: 1 },
    });
    round = { id: opened.json.id, publicKey: opened.json.public_key };
    round.paths = {
      token: `/repairs/${repairId}/rounds/${round.id}/token`,
      answer: `/anon/rounds/${round.id}/answers`,
      marks: `/anon/rounds/${round.id}/marks`,
    };
    st.diagnostic(`repair ${repairUrl}, round ${round.id}, closing at ${at(86_400_000)} on the server's clock`);
  });

  await step("2. on Ana's phone (390 px) the page fetches her answer key as it loads; she does not answer", async (st) => {
    const phone = await openBrowserAs('anaPhone', clients.ana, PHONE);
    const asked = phone.waitForResponse((r) => isTokenRequest(r.request()));
    await openRepair(phone);
    const res = await asked;
    assert.equal(res.status(), 200, 'the key is issued at page load, before any answer');
    assert.deepEqual(Object.keys(res.request().postDataJSON()).sort(), ['blinded_message', 'replace']);
    assert.equal(res.request().postDataJSON().replace, false);
    await expectStatus(phone, TEXT.ready, "Ana's phone", 'ok');
    const token = await stored(phone);
    assert.equal(token.round, round.id);
    await shots(st, phone, 'key-on-phone-ana', "the open round on Ana's phone", PHONE);
    // The phone is lost.
    await people.anaPhone.context.close();
    delete people.anaPhone;
  });

  await step('3. on her laptop (a new session, an empty browser) she gets "Get a replacement key", clicks it, answers and sees "Received"', async (st) => {
    clients.anaLaptop = await logIn(server.baseUrl, 'ana@example.org', PASSWORD);
    const laptop = await openBrowserAs('anaLaptop', clients.anaLaptop);
    await arriveWithoutKey(laptop, "Ana's laptop");
    await shots(st, laptop, 'replacement-offered-ana', "the open round on Ana's laptop, the key elsewhere");

    const asked = laptop.waitForResponse((r) => isTokenRequest(r.request()));
    await replaceButton(laptop).click();
    const res = await asked;
    assert.equal(res.status(), 200, `the replacement is issued: ${await res.text()}`);
    assert.equal(res.request().postDataJSON().replace, true, 'the button asks for a replacement');
    await expectStatus(laptop, TEXT.replaced, "Ana's laptop", 'ok');
    assert.equal(await replaceButton(laptop).count(), 0, 'the button is gone once the replacement is saved');
    laptopToken = await stored(laptop);
    assert.equal(laptopToken.round, round.id);
    assert.equal(await sendButton(laptop).isEnabled(), true, 'the form can be sent');
    await shots(st, laptop, 'replacement-saved-ana', "the replacement key saved on Ana's laptop");

    const section = roundSection(laptop);
    await section.locator('select[name="category"]').selectOption({ label: ANA.category });
    await section.locator('textarea[name="comment"]').fill(ANA.comment);
    const sent = laptop.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === round.paths.answer);
    await sendButton(laptop).click();
    const answer = await sent;
    assert.equal(answer.status(), 202, 'the answer is accepted and waits for its seal');
    const body = await answer.json();
    assert.equal(body.status, 'waiting');
    const headers = await answer.request().allHeaders();
    assert.equal(headers.cookie, undefined, 'the answer carries no cookie');
    assert.equal(headers.referer, undefined, 'the answer carries no referrer');
    assert.equal(answer.request().postDataJSON().token.message, laptopToken.message, 'sent with the replacement key');
    await expectStatus(laptop, TEXT.received, "Ana's laptop after sending", 'ok');
    assert.equal(await sendButton(laptop).isDisabled(), true, 'the form is disabled once sent');
    await shots(st, laptop, 'received-ana', "Ana's answer received on her laptop");

    await laptop.reload({ waitUntil: 'load' });
    await expectStatus(laptop, TEXT.waiting, "Ana's laptop after a reload", 'ok');
    assert.equal(await sendButton(laptop).isDisabled(), true, 'the form stays disabled while the answer waits');
    assert.equal(await replaceButton(laptop).count(), 0, 'no replacement is offered on the device with the key');
    await shots(st, laptop, 'waiting-ana', "Ana's answer waiting, after a reload");
  });

  await step('4. a third browser asks for a second replacement and is refused, with the reason', async (st) => {
    clients.anaThird = await logIn(server.baseUrl, 'ana@example.org', PASSWORD);
    const third = await openBrowserAs('anaThird', clients.anaThird);
    await arriveWithoutKey(third, "Ana's third browser");
    const asked = third.waitForResponse((r) => isTokenRequest(r.request()));
    await replaceButton(third).click();
    const res = await asked;
    assert.equal(res.status(), 409, 'a second replacement is refused');
    assert.equal(res.request().postDataJSON().replace, true);
    await expectStatus(third, TEXT.refused, "Ana's third browser", 'error');
    assert.equal(await third.evaluate((k) => localStorage.getItem(k), storageKey()), null, 'no key is kept');
    await shots(st, third, 'replacement-refused-ana', "a second replacement refused, in Ana's third browser");
  });

  await step('5. the other four answer (over HTTP); five waiting is not more than the minimum batch, so nothing is sealed', async (st) => {
    const anonymous = new Client(server.baseUrl);
    for (const person of SUPPORT.slice(1)) {
      const got = await fetchToken(clients[person.key], { roundId: round.id, publicKey: round.publicKey, tokenPath: round.paths.token });
      assert.equal(got.res.status, 200, `${person.name}'s key: ${got.res.text}`);
      person.token = got.token;
      const res = await redeem(anonymous, round.paths.answer, got.token, { category: person.category, comment: person.comment });
      assert.equal(res.status, 202, `${person.name}'s answer waits: ${res.text}`);
    }
    // Several epochs (1 s each) pass.
    await new Promise((r) => setTimeout(r, 3_500));
    const now = await marks(anonymous, round.paths.marks);
    assert.equal(now.open, true);
    assert.deepEqual(now.sealed, [], 'a batch of 5 with a minimum of 5 (k) waits for more, or for the close');
    const laptop = people.anaLaptop.page;
    await laptop.reload({ waitUntil: 'load' });
    await expectStatus(laptop, TEXT.waiting, "Ana's laptop", 'ok');
  });

  await step('6. the clock reaches the seconds before the set close: every answer is sealed, and Ana\'s laptop says so', async (st) => {
    await writeFile(clock, at(86_400_000 - 3_000));
    const anonymous = new Client(server.baseUrl);
    const mine = await anon.spentId(laptopToken);
    const all = [mine, ...(await Promise.all(SUPPORT.slice(1).map((p) => anon.spentId(p.token))))].sort();
    const sealed = await waitForMarks(anonymous, round.paths.marks, (m) => m.sealed.length === all.length, 'the five answers to be sealed');
    assert.deepEqual(sealed.sealed, all, "the five answers' marks, sorted");
    assert.equal(sealed.open, true, 'the round is still open');
    const laptop = people.anaLaptop.page;
    await laptop.reload({ waitUntil: 'load' });
    await expectStatus(laptop, TEXT.sealed, "Ana's laptop once her answer is sealed", 'ok');
    assert.equal(await sendButton(laptop).isDisabled(), true, 'the form stays disabled');
    assert.equal(await laptop.evaluate((k) => localStorage.getItem(k), `kintsugi-pending-${round.id}`), null, 'the kept copy of the answer is dropped once sealed');
    await shots(st, laptop, 'sealed-ana', "Ana's answer sealed, on her laptop");
  });

  await step('7. the set close passes: Fay sees the five answers and that one key was replaced', async (st) => {
    await writeFile(clock, at(86_400_000 + 2_000));
    const fay = await openBrowserAs('fay', clients.fay);
    await openRepair(fay);
    const main = fay.getByRole('main');
    await expectText(main, 'Closed listening round', { page: fay, what: "the round after its set close" });
    for (const { comment } of SUPPORT) await expectText(main, comment, { page: fay, what: "the closed round's results" });
    await expectText(main, '5 people answered.', { page: fay, what: "the closed round's results" });
    await expectText(fay.locator('article.round-results .replaced-keys'), TEXT.disclosed, { page: fay, what: 'the replaced-keys note' });
    await checkPage(st, fay, 'the closed round with a replaced key, as Fay');
    await screenshot(fay, `32-${String(shotNo++).padStart(2, '0')}-results-fay.png`);
  });

  for (const line of axeFindings) t.diagnostic(`axe (minor/moderate): ${line}`);
  const problems = [];
  for (const [who, s] of Object.entries(people)) {
    // The 409s this scenario provokes on purpose, in Ana's browsers without a key: a key already
    // issued, a second replacement. Chromium logs each as a console error too.
    const provoked = (line) =>
      who.startsWith('ana') &&
      (/^409 POST \S+\/repairs\/[^/]+\/rounds\/[^/]+\/token$/.test(line) ||
        /: Failed to load resource: the server responded with a status of 409 \(Conflict\)$/.test(line));
    for (const line of s.problems.pageErrors) problems.push(`${who}: ${line}`);
    for (const line of [...s.problems.consoleErrors, ...s.problems.failedResources]) {
      if (!provoked(line)) problems.push(`${who}: ${line}`);
    }
  }
  if (!step.failed()) {
    assert.deepEqual(problems, [], `errors in the pages:\n${problems.join('\n')}`);
  }
});
