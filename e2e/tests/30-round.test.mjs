// An anonymous listening round in the browser, against the real server binary,
// with one browser context per person (and a second device for Lee):
//
//   the organisation, a Support team of five and Lee (who leads) are set up
//   over HTTP → Fay opens a leader ↔ team repair in the browser, Lee
//   acknowledges, Fay moves it to Understand and clicks "Open a listening
//   round" → each Support member opens the repair page, their browser fetches
//   an answer key by itself (blinded), and they "Send anonymously" (no cookie
//   goes with it) and see "Received": the answer waits to be sealed with
//   others; a reload says it still waits → Lee's second device is told the key
//   is on the first (and offered a replacement); Lee moves it across and
//   answers from there → six answers wait, more than the minimum batch (k = 5):
//   the next epoch (1 s here) seals five of them and keeps one back, and each
//   page says which → Fay clicks "Close the round", which seals the last one,
//   and, with six answers (k = 5), sees them.
//
// Every page visited is checked with axe-core; screenshots are saved as
// 50-….png, 51-….png, … in test-output/screenshots/.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  byLabel,
  byRole,
  checkAccessibility,
  describePage,
  expectPath,
  expectText,
  goto,
  launchBrowser,
  newPage,
  screenshot,
  settled,
  startServer,
  STEP_TIMEOUT_MS, sequentialSteps } from '../lib/harness.mjs';
import { Client, acceptInvitation, addPerson, createTeam, logIn, setUpOrganisation } from '../interop/http.mjs';
import { anon, marks, waitForMarks } from '../interop/anon-client.mjs';
import { roundSections } from '../interop/page.mjs';

const ADMIN = { name: 'Ada Admin', email: 'ada@example.org', password: 'correct horse battery staple' };
const PASSWORD = 'golden-seams-round-1';
const FAY = { key: 'fay', name: 'Fay Facilitator', facilitator: true };
const LEE = { key: 'lee', name: 'Lee Lead' };
const SUPPORT = [
  { key: 'ana', name: 'Ana Support', category: 'Communication breakdown', comment: 'We learn about releases from customers, not from engineering.' },
  { key: 'ben', name: 'Ben Support', category: 'Process or structure', comment: 'Nothing in the release checklist tells support anything.' },
  { key: 'cai', name: 'Cai Support', category: 'Unmet expectations', comment: 'We were promised a week of notice and got none.' },
  { key: 'dee', name: 'Dee Support', category: 'Communication breakdown', comment: 'The release channel is engineering-only.' },
  { key: 'eli', name: 'Eli Support', category: 'Cultural gaps', comment: 'Support is treated as downstream of everything.' },
];
const LEE_ANSWER = { category: 'Process or structure', comment: 'I never had a step for telling support; I relied on memory.' };

const REPAIR_TITLE = 'Support left out of the release';
const REPAIR_SUMMARY = 'Version 4 shipped on Tuesday; support heard about it from customers on Wednesday.';
const ACK =
  'I shipped version 4 without telling support. That was my responsibility, and it left you answering ' +
  "customers blind. I'm sorry. From now on I will post every release to support a week ahead.";

const TEXT = {
  ready: 'Your answer key is on this device.',
  received: 'Received. It waits to be sealed together with other answers (at the latest when the round closes)',
  waiting: 'Your answer was received and waits to be sealed together with other answers, at the latest when the round closes.',
  sealed: 'Your answer is sealed: counted once, anonymously. Nobody, not even the server, can tell it is yours.',
  answered: 'You have answered this round.',
  elsewhere:
    'Your answer key for this round is on another device. Answer there, move the key here (below), ' +
    'or, if that device is lost, get a replacement key.',
  replace: 'Get a replacement key',
  imported: 'Answer key saved on this device.',
};

let server;
let browser;
const contexts = [];

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
});

test('an anonymous listening round: tokens, anonymous answers, moving a key, results at close', { timeout: 600_000 }, async (t) => {
  server = await startServer();
  t.diagnostic(`server at ${server.baseUrl}, data dir ${server.dataDir}`);
  browser = await launchBrowser();

  /** Browser sessions by person key; clients (HTTP) by person key. */
  const people = {};
  const clients = {};
  let shotNo = 50;
  const axeFindings = [];
  let repairUrl;
  let roundId;
  /** How many "Get a replacement key" buttons Lee's second device shows once the key is moved there. */
  let replaceAfterImport = null;
  /** Each answer's mark (hex SHA-256 of its token's message), by person key. */
  const answerMarks = {};

  const step = sequentialSteps(t, { prefix: '30', people, server: () => server });

  const visited = async (st, p, name, label) => {
    await settled(p);
    const lesser = await checkAccessibility(p, label);
    if (lesser.length) {
      const line = `${label}: minor/moderate axe findings: ${lesser
        .map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`)
        .join('; ')}`;
      axeFindings.push(line);
      st.diagnostic(line);
    }
    if (!name) return null;
    const file = `${shotNo++}-${name}.png`;
    await screenshot(p, file);
    return file;
  };

  /** A browser context signed in with an HTTP client's cookies (session and CSRF). */
  const openBrowserAs = async (who, client) => {
    const s = await newPage(browser);
    contexts.push(s.context);
    await s.context.addCookies(
      [...client.cookies].map(([name, value]) => ({ name, value, url: server.baseUrl, httpOnly: true, sameSite: 'Strict' })),
    );
    people[who] = s;
    return s.page;
  };

  const region = (p, name) => p.getByRole('region', { name, exact: true });
  const roundSection = (p) => p.locator('section.round');
  const status = (p) => roundSection(p).locator('.anon-status');
  const storageKey = () => `kintsugi-token-${roundId}`;

  const openRepair = async (p) => {
    await goto(p, repairUrl);
    await expectText(p.getByRole('heading', { level: 1 }), REPAIR_TITLE, { page: p, what: 'the repair heading' });
  };

  const expectStatus = async (p, text, what) => {
    try {
      await status(p).getByText(text).waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    } catch {
      const now = await status(p).first().innerText().catch(() => '(no .anon-status)');
      throw new Error(`Expected ${what} to say "${text}" in the round's status line, but it says "${now}".\n${await describePage(p)}`);
    }
  };

  /** Waits until the browser holds an answer key for the round; returns it. */
  const waitForToken = async (p, who) => {
    try {
      await p.waitForFunction((k) => localStorage.getItem(k) !== null, storageKey(), { timeout: STEP_TIMEOUT_MS, polling: 100 });
    } catch {
      const now = await status(p).first().innerText().catch(() => '(no .anon-status)');
      throw new Error(`${who}'s browser did not store localStorage["${storageKey()}"]; the status line says "${now}".\n${await describePage(p)}`);
    }
    return JSON.parse(await p.evaluate((k) => localStorage.getItem(k), storageKey()));
  };

  /** Fills the round's form and sends it; returns the answer request as the browser sent it. */
  const answer = async (p, { category, comment }) => {
    const section = roundSection(p);
    await section.locator('select[name="category"]').selectOption({ label: category });
    await section.locator('textarea[name="comment"]').fill(comment);
    const sent = p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/anon/rounds/${roundId}/answers`);
    await (await byRole(section, 'button', 'Send anonymously', { page: p })).click();
    const res = await sent;
    assert.equal(res.status(), 202, `the answer is accepted and waits for its seal: ${await res.text()}`);
    assert.equal((await res.json()).status, 'waiting');
    const req = res.request();
    const headers = await req.allHeaders();
    assert.equal(headers.cookie, undefined, 'an anonymous answer carries no cookie');
    assert.equal(headers.referer, undefined, 'an anonymous answer carries no referrer');
    assert.equal(headers['x-csrf-token'], undefined, 'an anonymous answer carries no CSRF token (it is tied to the session)');
    const body = req.postDataJSON();
    assert.deepEqual(Object.keys(body).sort(), ['answer', 'reply_check', 'token']);
    assert.equal(body.answer.comment, comment);
    return body;
  };

  /** Records the mark of the answer a browser sent with the key it holds. */
  const remember = async (p, who) => {
    const token = JSON.parse(await p.evaluate((k) => localStorage.getItem(k), storageKey()));
    answerMarks[who] = await anon.spentId(token);
  };
  const marksPath = () => `/anon/rounds/${roundId}/marks`;

  // -------------------------------------------------------------------------

  await step('1. the organisation, a Support team of five, Lee and Fay are set up (over HTTP)', async (st) => {
    const admin = await setUpOrganisation(server.baseUrl, server.setupUrl, { organisation: 'Blue Kiln Studio', ...ADMIN });
    const support = await createTeam(admin, 'Support');
    for (const person of [FAY, LEE, ...SUPPORT]) {
      const added = await addPerson(admin, {
        name: person.name,
        email: `${person.key}@example.org`,
        teamIds: SUPPORT.includes(person) ? [support] : [],
        roles: { facilitator: Boolean(person.facilitator) },
      });
      clients[person.key] = await acceptInvitation(server.baseUrl, added.invitationUrl, PASSWORD);
      await openBrowserAs(person.key, clients[person.key]);
    }
    // Lee's second device: a separate login, a separate browser.
    clients.lee2 = await logIn(server.baseUrl, 'lee@example.org', PASSWORD);
    await openBrowserAs('lee2', clients.lee2);
    st.diagnostic(`${Object.keys(people).length} browser contexts signed in`);
  });

  await step('2. Fay opens a leader ↔ team repair; Lee acknowledges; Fay moves it to Understand', async (st) => {
    const p = people.fay.page;
    await goto(p, `${server.baseUrl}/repairs/new`);
    await (await byLabel(p, 'Title')).fill(REPAIR_TITLE);
    await (await byLabel(p, 'What happened')).fill(REPAIR_SUMMARY);
    await (await byLabel(p, 'Kind of breach')).selectOption({ label: 'Broken promise' });
    await (await byLabel(p, 'Between whom')).selectOption({ label: 'Leader ↔ team' });
    await (await byLabel(p, 'People on the accountable side')).selectOption([{ label: LEE.name }]);
    await (await byLabel(p, 'Teams on the affected side')).selectOption([{ label: 'Support' }]);
    await visited(st, p, null, 'the "Open a repair" form, filled in');
    await (await byRole(p, 'button', 'Open repair')).click();
    await expectPath(p, /^\/repairs\/[0-9a-f-]{36}$/, 'after "Open repair", the repair page');
    repairUrl = p.url().replace(/#.*$/, '');
    const repairId = new URL(repairUrl).pathname.split('/').pop();
    st.diagnostic(`repair page ${repairUrl}`);

    await clients.lee.expect(204, 'POST', `/api/v1/repairs/${repairId}/acknowledgments`, { json: { body: ACK } });
    await openRepair(p);
    await (await byRole(p, 'button', 'Move to the next stage')).click();
    await expectText(p.locator('.stage').first(), 'Stage: Understand', { page: p });
    await visited(st, p, 'round-understand-fay', 'the repair in Understand, as Fay');
  });

  await step('3. Fay clicks "Open a listening round"', async (st) => {
    const p = people.fay.page;
    await (await byRole(p, 'button', 'Open a listening round')).click();
    await settled(p);
    // The round's id, from the page as Ana's client reads it without running
    // scripts (her browser will fetch its key in the next step).
    const html = (await clients.ana.expect(200, 'GET', new URL(repairUrl).pathname)).text;
    const sections = roundSections(html);
    if (sections.length !== 1) {
      throw new Error(`After Fay opened a listening round, Ana's repair page should have one <section class="round">, but has ${sections.length}.`);
    }
    roundId = sections[0].round;
    assert.match(roundId, /^[0-9a-f-]{36}$/);
    st.diagnostic(`round ${roundId}: ${JSON.stringify(sections[0])}`);
    await openRepair(p);
    await visited(st, p, 'round-opened-fay', 'the repair with an open listening round, as Fay');
  });

  await step("4. Ana's browser fetches her answer key by itself; she answers anonymously and sees \"Received\"", async (st) => {
    const a = people.ana.page;
    const tokenRequest = a.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname.endsWith(`/rounds/${roundId}/token`));
    await openRepair(a);
    const req = await tokenRequest;
    const body = req.postDataJSON();
    assert.deepEqual(Object.keys(body), ['blinded_message', 'replace'], 'issuance sends only the blinded message (and that it is no replacement)');
    assert.equal(body.replace, false);
    assert.equal(Buffer.from(body.blinded_message, 'base64').length, 256, 'a 2048-bit blinded message');
    const token = await waitForToken(a, 'Ana');
    assert.deepEqual(Object.keys(token), ['round', 'secret', 'message', 'signature']);
    assert.equal(token.round, roundId);
    assert.ok(!JSON.stringify(body).includes(token.secret), 'the secret never leaves the browser');
    await expectStatus(a, TEXT.ready, "Ana's page");
    await visited(st, a, 'round-key-ana', "the open round, as Ana, with her answer key");

    await answer(a, SUPPORT[0]);
    await remember(a, 'ana');
    await expectStatus(a, TEXT.received, "Ana's page after sending");
    await visited(st, a, 'round-received-ana', "Ana's answer received");

    // One answer is no batch: it waits, and the page says so.
    await a.reload({ waitUntil: 'load' });
    await expectStatus(a, TEXT.waiting, "Ana's page after a reload");
    const send = roundSection(a).getByRole('button', { name: 'Send anonymously', exact: true });
    assert.equal(await send.isDisabled(), true, 'the form is disabled once the answer has arrived');
    await visited(st, a, 'round-waiting-ana', 'the round after a reload, as Ana');
  });

  await step('5. the other four Support members answer', async (st) => {
    for (const person of SUPPORT.slice(1)) {
      const p = people[person.key].page;
      if (person === SUPPORT[1]) {
        // Through the links (an hx-boost swap, not a page load): the key is fetched all the same.
        await goto(p, `${server.baseUrl}/repairs`);
        await (await byRole(p.getByRole('main'), 'link', REPAIR_TITLE, { page: p })).click();
        await expectPath(p, new URL(repairUrl).pathname, `${person.name}'s link to the repair leads to`);
      } else {
        await openRepair(p);
      }
      await waitForToken(p, person.name);
      await expectStatus(p, TEXT.ready, `${person.name}'s page`);
      await visited(st, p, null, `the open round, as ${person.name}`);
      await answer(p, person);
      await remember(p, person.key);
      await expectStatus(p, TEXT.received, `${person.name}'s page after sending`);
    }
    // Five answers wait: not more than the minimum batch (k = 5), so none is sealed yet.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual((await marks(new Client(server.baseUrl), marksPath())).sealed, [], 'five waiting answers are not sealed');
  });

  await step("6. Lee's second device is told the key is elsewhere; Lee moves it there and answers", async (st) => {
    const one = people.lee.page;
    await openRepair(one);
    const token = await waitForToken(one, 'Lee (first device)');

    const two = people.lee2.page;
    await openRepair(two);
    await expectStatus(two, TEXT.elsewhere, "Lee's second device");
    await byRole(roundSection(two), 'button', TEXT.replace, { page: two });
    assert.equal(await two.evaluate((k) => localStorage.getItem(k), storageKey()), null, 'no key on the second device');
    await visited(st, two, 'round-elsewhere-lee', "the open round on Lee's second device");

    const move = (p) => roundSection(p).locator('details.anon-move');
    await move(one).locator('summary').click();
    const exported = await move(one).locator('textarea[name="export"]').inputValue();
    assert.deepEqual(JSON.parse(exported), token, 'the export box shows the stored key');
    await visited(st, one, 'round-move-lee', "moving the answer key, on Lee's first device");

    await move(two).locator('summary').click();
    await move(two).locator('textarea[name="import"]').fill('{"round": "someone else\'s"}');
    await (await byRole(move(two), 'button', 'Use this answer key', { page: two })).click();
    await expectStatus(two, 'Not saved: This answer key belongs to a different round.', "Lee's second device");
    await move(two).locator('textarea[name="import"]').fill(exported);
    await (await byRole(move(two), 'button', 'Use this answer key', { page: two })).click();
    await expectStatus(two, TEXT.imported, "Lee's second device");
    assert.deepEqual(JSON.parse(await two.evaluate((k) => localStorage.getItem(k), storageKey())), token);
    await visited(st, two, 'round-moved-lee', "the answer key moved to Lee's second device");

    replaceAfterImport = await roundSection(two).getByRole('button', { name: TEXT.replace }).count();

    await answer(two, LEE_ANSWER);
    await remember(two, 'lee');
    await expectStatus(two, TEXT.received, "Lee's second device after sending");
  });

  // A click on a leftover "Get a replacement key" would spend the member's one replacement for
  // nothing, and overwrite the key just moved here.
  await t.test('6b. once the key is moved here, no replacement is offered', () => {
    assert.equal(replaceAfterImport, 0, `"${TEXT.replace}" is still offered on Lee's second device after the import`);
  });

  await step('7. six answers wait, more than k = 5: an epoch seals five and keeps one back, and each page says which', async (st) => {
    const all = Object.values(answerMarks);
    assert.equal(new Set(all).size, 6, 'six different answers');
    const sealed = (await waitForMarks(new Client(server.baseUrl), marksPath(), (m) => m.sealed.length > 0, 'the first batch to be sealed')).sealed;
    assert.equal(sealed.length, 5, `a batch of five sealed, one kept back for a later batch: ${sealed.length} sealed`);
    for (const m of sealed) assert.ok(all.includes(m), 'every sealed mark is one of the six answers');
    const kept = Object.keys(answerMarks).find((who) => !sealed.includes(answerMarks[who]));
    st.diagnostic(`kept back for a later batch: ${kept}'s answer`);
    // Each page that sent an answer finds it in the marks download (or not) by itself.
    for (const who of [...SUPPORT.map((s) => s.key), 'lee']) {
      const p = people[who === 'lee' ? 'lee2' : who].page;
      await p.reload({ waitUntil: 'load' });
      await expectStatus(p, who === kept ? TEXT.waiting : TEXT.sealed, `${who}'s page after the seal`);
      if (who === 'ana') await visited(st, p, who === kept ? 'round-still-waiting-ana' : 'round-sealed-ana', "Ana's page after the epoch's seal");
    }
    // Lee's first device holds the key but sent nothing: it says so once the answer is sealed.
    const one = people.lee.page;
    await one.reload({ waitUntil: 'load' });
    await expectStatus(one, kept === 'lee' ? TEXT.ready : TEXT.answered, "Lee's first device after a reload");
  });

  await step('8. Fay clicks "Close the round": it seals the last answer; six answered, k = 5, so the answers are shown', async (st) => {
    const p = people.fay.page;
    await openRepair(p);
    await (await byRole(p, 'button', 'Close the round')).click();
    await settled(p);
    const main = p.getByRole('main');
    for (const { comment } of [...SUPPORT, LEE_ANSWER]) {
      await expectText(main, comment, { page: p, what: "the closed round's results" });
    }
    assert.equal(await roundSection(p).count(), 0, 'a closed round has no answer form');
    await visited(st, p, 'round-results-fay', 'the results of the closed round, as Fay');
    const closed = await marks(new Client(server.baseUrl), marksPath());
    assert.equal(closed.open, false);
    assert.deepEqual(closed.sealed, Object.values(answerMarks).sort(), 'the close sealed the answer kept back');

    const a = people.ana.page;
    await openRepair(a);
    assert.equal(await roundSection(a).count(), 0, 'a closed round has no answer form');
    await visited(st, a, 'round-closed-ana', 'the repair after the round closed, as Ana');
  });

  for (const line of axeFindings) t.diagnostic(`axe (minor/moderate): ${line}`);
  const pageErrors = [];
  const cspViolations = [];
  for (const [who, s] of Object.entries(people)) {
    for (const line of s.problems.consoleErrors) {
      t.diagnostic(`${who}: browser console error: ${line}`);
      if (line.includes('CSP violation')) cspViolations.push(`${who}: ${line}`);
    }
    for (const line of s.problems.failedResources) t.diagnostic(`${who}: failed sub-resource: ${line}`);
    pageErrors.push(...s.problems.pageErrors.map((e) => `${who}: ${e}`));
  }
  if (!step.failed()) {
    assert.deepEqual(pageErrors, [], `JavaScript errors in the pages:\n${pageErrors.join('\n')}`);
    assert.deepEqual(cspViolations, [], `Content-Security-Policy violations:\n${cspViolations.join('\n')}`);
  }
});
