// Anonymous replies and the genuineness rating, in Chromium, against the real
// server binary, with one browser context per person (k = 5, the default):
//
//   the organisation, a Support team of five, Lee (who leads) and Fay
//   (facilitator) are set up, and Fay opens a leader ↔ team repair, over HTTP →
//   Fay clicks "Open a listening round"; the five Support members and Lee
//   answer in their own browsers; Fay clicks "Close the round" → Fay replies to
//   Cai's comment through its "Reply to this comment" box and sees "You: …"
//   under it → Cai reloads: his browser downloads the round's threads (with no
//   cookie, the very same download as everyone's), finds and opens his own, and
//   shows "Replies to your comment (only you see this)"; Ana's page shows no
//   thread; Cai answers anonymously and Fay sees "The author: …" → Lee
//   acknowledges (API); Fay clicks "Ask the affected side how genuine the
//   acknowledgment felt"; Lee gets no rating form; the five rate 1–7 and see
//   "Received" (their answers wait to be sealed); Fay closes the round, which
//   seals them, and sees the mean, to one decimal.
//
// Every page visited is checked with axe-core; screenshots are saved as
// 60-….png, 61-….png, … in test-output/screenshots/.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  byLabel,
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
  STEP_TIMEOUT_MS, sequentialSteps } from '../lib/harness.mjs';
import { acceptInvitation, addPerson, createTeam, setUpOrganisation } from '../interop/http.mjs';
import { anon, fetchToken } from '../interop/anon-client.mjs';

const ADMIN = { name: 'Ada Admin', email: 'ada@example.org', password: 'correct horse battery staple' };
const PASSWORD = 'golden-seams-replies-1';
const FAY = { key: 'fay', name: 'Fay Facilitator', facilitator: true };
const LEE = { key: 'lee', name: 'Lee Lead', category: 'Process or structure', comment: 'I had no step for telling support; I relied on memory.' };
const SUPPORT = [
  { key: 'ana', name: 'Ana Support', category: 'Communication breakdown', comment: 'We learn about releases from customers, not from engineering.', rating: 6 },
  { key: 'ben', name: 'Ben Support', category: 'Process or structure', comment: 'Nothing in the release checklist tells support anything.', rating: 5 },
  { key: 'cai', name: 'Cai Support', category: 'Unmet expectations', comment: 'We were promised a week of notice and got none.', rating: 7 },
  { key: 'dee', name: 'Dee Support', category: 'Communication breakdown', comment: 'The release channel is engineering-only.', rating: 4 },
  { key: 'eli', name: 'Eli Support', category: 'Cultural gaps', comment: 'Support is treated as downstream of everything.', rating: 6 },
];
/** Whose comment Fay replies to. */
const AUTHOR = SUPPORT[2];
/** A member whose comment gets no reply. */
const OTHER = SUPPORT[0];

const REPAIR_TITLE = 'Support left out of the release';
const REPAIR_SUMMARY = 'Version 4 shipped on Tuesday; support heard about it from customers on Wednesday.';
const ACK =
  'I shipped version 4 without telling support. That was my responsibility, and it left you answering ' +
  "customers blind. I'm sorry. From now on I will post every release to support a week ahead.";
const FAY_REPLY = 'Who promised the week of notice, and where was it written down? I would like to make it a rule.';
const AUTHOR_ANSWER = 'It was said in the March planning meeting; it is in those notes, not in any checklist.';

const TEXT = {
  ready: 'Your answer key is on this device.',
  received: 'Received. It waits to be sealed together with other answers (at the latest when the round closes)',
  replyLabel: 'Reply to this comment (only its anonymous author sees the reply)',
  threadHeading: 'Replies to your comment (only you see this)',
  answerLabel: 'Answer the facilitator, still anonymous',
  ask: 'Ask the affected side how genuine the acknowledgment felt',
  ratingLabel: 'From 1 (not genuine at all) to 7 (completely genuine)',
  ratingHeading: 'How genuine did the acknowledgment feel?',
};

/** The mean as the server shows it: rounded half up to a tenth. */
function expectedMean(ratings) {
  const sum = ratings.reduce((a, b) => a + b, 0);
  const tenths = Math.floor((sum * 20 + ratings.length) / (2 * ratings.length));
  return `${Math.floor(tenths / 10)}.${tenths % 10}`;
}

let server;
let browser;
const contexts = [];

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
});

test('anonymous replies to a comment, and the genuineness rating of an acknowledgment', { timeout: 600_000 }, async (t) => {
  server = await startServer();
  t.diagnostic(`server at ${server.baseUrl}, data dir ${server.dataDir}`);
  browser = await launchBrowser();

  /** Browser sessions by person key; HTTP clients by person key. */
  const people = {};
  const clients = {};
  const ids = {};
  let shotNo = 60;
  const axeFindings = [];
  let repairId;
  let repairUrl;
  let listeningRound;
  let ratingRound;
  /** Every request to the anonymous path (and token issuance), as the browsers sent them. */
  const watched = [];

  const step = sequentialSteps(t, { prefix: '35', people, server: () => server });

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

  /**
   * A browser context signed in with an HTTP client's cookies. Requests to the
   * anonymous path and to token issuance are intercepted (page.route), recorded
   * and let through unchanged, so that the headers Chromium really sent
   * (allHeaders(), cookies included) can be checked once they have gone out.
   */
  const openBrowserAs = async (who, client) => {
    const s = await newPage(browser);
    contexts.push(s.context);
    await s.context.addCookies(
      [...client.cookies].map(([name, value]) => ({ name, value, url: server.baseUrl, httpOnly: true, sameSite: 'Strict' })),
    );
    const record = async (route) => {
      const req = route.request();
      watched.push({ who, req, path: new URL(req.url()).pathname, method: req.method() });
      await route.continue();
    };
    await s.context.route((url) => url.pathname.startsWith('/anon/'), record);
    await s.context.route((url) => /^\/repairs\/[^/]+\/rounds\/[^/]+\/token$/.test(url.pathname), record);
    people[who] = s;
    return s.page;
  };

  const roundSection = (p) => p.locator('section.round');
  const status = (p) => roundSection(p).locator('.anon-status');
  const listeningArticle = (p) => p.locator(`article.round-results[data-round="${listeningRound}"]`);
  const thread = (p) => listeningArticle(p).locator('.anon-thread');
  /** Fay's <li> for one comment of the closed listening round. */
  const commentItem = (p, comment) =>
    p.locator('article.round-results ul.comments > li').filter({ has: p.getByText(comment, { exact: true }) });

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

  const waitForToken = async (p, who, roundId) => {
    const key = `kintsugi-token-${roundId}`;
    try {
      await p.waitForFunction((k) => localStorage.getItem(k) !== null, key, { timeout: STEP_TIMEOUT_MS, polling: 100 });
    } catch {
      const now = await status(p).first().innerText().catch(() => '(no .anon-status)');
      throw new Error(`${who}'s browser did not store localStorage["${key}"]; the status line says "${now}".\n${await describePage(p)}`);
    }
    return JSON.parse(await p.evaluate((k) => localStorage.getItem(k), key));
  };

  /** Asserts that a request, as Chromium sent it, carried no cookie, referrer or CSRF token. */
  const assertAnonymous = async (req, what) => {
    const headers = await req.allHeaders();
    assert.equal(headers.cookie, undefined, `${what} carries no cookie`);
    assert.equal(headers.referer, undefined, `${what} carries no referrer`);
    assert.equal(headers['x-csrf-token'], undefined, `${what} carries no CSRF token`);
  };

  const rounds = async () => (await clients.fay.expect(200, 'GET', `/api/v1/repairs/${repairId}/rounds`)).json;

  /** Sends the open round's form; returns the answer request as the browser sent it. */
  const sendAnswer = async (p, who, roundId, fill) => {
    const section = roundSection(p);
    await fill(section);
    const sent = p.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === `/anon/rounds/${roundId}/answers`);
    await (await byRole(section, 'button', 'Send anonymously', { page: p })).click();
    const req = await sent;
    const res = await req.response();
    assert.equal(res?.status(), 202, `${who}'s answer is accepted and waits for its seal (202)`);
    await assertAnonymous(req, `${who}'s anonymous answer`);
    return req.postDataJSON();
  };

  // -------------------------------------------------------------------------

  await step('1. the organisation, a Support team of five, Lee and Fay are set up; Fay opens the repair (over HTTP)', async (st) => {
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
      await openBrowserAs(person.key, clients[person.key]);
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
    st.diagnostic(`repair ${repairUrl}; ${Object.keys(people).length} browser contexts signed in`);
  });

  await step('2. Fay clicks "Open a listening round" (no rating button yet: nothing to rate)', async (st) => {
    const p = people.fay.page;
    await openRepair(p);
    assert.equal(
      await p.getByRole('button', { name: TEXT.ask, exact: true }).count(),
      0,
      `"${TEXT.ask}" is offered only once there is an acknowledgment`,
    );
    await visited(st, p, 'replies-repair-fay', 'the new repair, as Fay');
    await (await byRole(p, 'button', 'Open a listening round')).click();
    await settled(p);
    await expectText(p.getByRole('main'), 'Open listening round', { page: p, what: "Fay's repair page" });
    const open = (await rounds()).filter((r) => r.open);
    assert.equal(open.length, 1, 'one open round');
    assert.equal(open[0].kind, 'listening');
    listeningRound = open[0].id;
    st.diagnostic(`listening round ${listeningRound}`);
    await visited(st, p, 'replies-round-open-fay', 'the open listening round, as Fay');
  });

  await step('3. the five Support members and Lee answer, each in their own browser', async (st) => {
    for (const person of [...SUPPORT, LEE]) {
      const p = people[person.key].page;
      await openRepair(p);
      await waitForToken(p, person.name, listeningRound);
      await expectStatus(p, TEXT.ready, `${person.name}'s page`);
      if (person === SUPPORT[0]) await visited(st, p, 'replies-round-key-ana', 'the open listening round, as Ana');
      else await visited(st, p, null, `the open listening round, as ${person.name}`);
      const body = await sendAnswer(p, person.name, listeningRound, async (section) => {
        await section.locator('select[name="category"]').selectOption({ label: person.category });
        await section.locator('textarea[name="comment"]').fill(person.comment);
      });
      assert.equal(body.answer.comment, person.comment);
      await expectStatus(p, TEXT.received, `${person.name}'s page after sending`);
    }
    // Control for the cookie checks below: the same interception sees the
    // session cookie on token issuance, which is sent with credentials.
    const issue = watched.find((w) => w.who === 'ana' && w.path.endsWith(`/rounds/${listeningRound}/token`));
    assert.ok(issue, "Ana's browser fetched a token (seen by the interception)");
    assert.match((await issue.req.allHeaders()).cookie ?? '', /kintsugi_session=/, 'token issuance carries the session cookie, and the interception sees it');
  });

  await step('4. Fay clicks "Close the round": six answers (k = 5), each comment with a reply box', async (st) => {
    const p = people.fay.page;
    await openRepair(p);
    await (await byRole(p, 'button', 'Close the round')).click();
    await settled(p);
    for (const { comment } of [...SUPPORT, LEE]) {
      const item = commentItem(p, comment);
      await expectText(item, comment, { page: p, what: `the comment "${comment}" in the results` });
      assert.equal(await item.count(), 1, `one <li> for "${comment}"`);
      assert.equal(await item.getByRole('textbox', { name: TEXT.replyLabel, exact: true }).count(), 1, `a reply box under "${comment}"`);
      assert.equal(await item.locator('.reply').count(), 0, 'no reply yet');
    }
    await visited(st, p, 'replies-results-fay', 'the closed listening round with reply boxes, as Fay');
  });

  await step(`5. Fay replies to ${AUTHOR.name}'s comment; it shows under that comment as "You: …"`, async (st) => {
    const p = people.fay.page;
    const item = commentItem(p, AUTHOR.comment);
    await (await byRole(item, 'textbox', TEXT.replyLabel, { page: p })).fill(FAY_REPLY);
    await (await byRole(item, 'button', 'Send reply', { page: p })).click();
    await settled(p);
    const after = commentItem(p, AUTHOR.comment);
    await expectText(after, FAY_REPLY, { page: p, what: `the comment "${AUTHOR.comment}"` });
    const replies = await after.locator('p.reply').allInnerTexts();
    assert.deepEqual(replies.map((r) => r.replace(/\s+/g, ' ').trim()), [`You: ${FAY_REPLY}`]);
    for (const { comment } of [...SUPPORT, LEE].filter((x) => x !== AUTHOR)) {
      assert.equal(await commentItem(p, comment).locator('p.reply').count(), 0, `no reply under "${comment}"`);
    }
    assert.equal(await p.locator('.anon-thread').count(), 0, 'Fay (on neither side) has no author thread box');
    await visited(st, p, 'replies-sent-fay', "Fay's reply under the comment");
  });

  await step(`6. ${AUTHOR.name} finds the reply in the round's threads download (no cookie, the same for everyone); ${OTHER.name} sees no thread`, async (st) => {
    const threadsPath = `/anon/rounds/${listeningRound}/threads`;
    const isThreads = (r) => r.request().method() === 'GET' && new URL(r.url()).pathname === threadsPath;
    const c = people[AUTHOR.key].page;
    const asked = c.waitForResponse(isThreads);
    await c.reload({ waitUntil: 'load' });
    const res = await asked;
    assert.equal(res.status(), 200, "the threads download is answered");
    await assertAnonymous(res.request(), "the author's threads download");
    assert.equal(res.request().postData(), null, 'the download sends nothing');
    assert.equal(new URL(res.url()).search, '', 'and names nothing in its address');
    const download = await res.text();
    const parsed = JSON.parse(download);
    assert.equal(parsed.threads.length, 1, 'one thread has a reply');
    assert.deepEqual(Object.keys(parsed.threads[0]).sort(), ['address', 'nonce', 'sealed']);
    const token = JSON.parse(await c.evaluate((k) => localStorage.getItem(k), `kintsugi-token-${listeningRound}`));
    assert.ok(!download.includes(FAY_REPLY) && !download.includes(AUTHOR.comment), 'the download is sealed: neither the reply nor the comment shows');
    assert.ok(!download.includes(token.secret), 'the token secret never leaves the browser');
    const box = thread(c);
    await expectText(box, TEXT.threadHeading, { page: c, what: `${AUTHOR.name}'s thread box` });
    assert.equal(await box.getByRole('heading', { name: TEXT.threadHeading, exact: true }).count(), 1);
    await expectText(box, `You wrote: ${AUTHOR.comment}`, { page: c, what: `${AUTHOR.name}'s thread box` });
    const lines = (await box.locator('p.reply').allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').trim());
    assert.deepEqual(lines, [`The facilitator: ${FAY_REPLY}`]);
    await visited(st, c, 'replies-thread-cai', `the reply in ${AUTHOR.name}'s thread`);

    for (const other of [OTHER, LEE]) {
      const o = people[other.key].page;
      const otherAsked = o.waitForResponse(isThreads);
      await openRepair(o);
      const oRes = await otherAsked;
      assert.equal(oRes.status(), 200);
      await assertAnonymous(oRes.request(), `${other.name}'s threads download`);
      // The same download, byte for byte, for everyone: each thread's nonce follows from its key
      // and its text, so nothing in it differs by who asks.
      assert.deepEqual(await oRes.json(), parsed, `${other.name} downloads exactly what ${AUTHOR.name} does`);
      await settled(o);
      assert.equal(await thread(o).count(), 1, `${other.name}'s page has the (empty) thread box`);
      assert.equal((await thread(o).innerText()).trim(), '', `${other.name}'s thread box stays empty`);
      assert.equal(await o.getByText(TEXT.threadHeading).count(), 0);
      assert.equal(await o.getByText(FAY_REPLY).count(), 0, `${other.name} does not see the reply`);
      assert.equal(await o.getByRole('textbox', { name: TEXT.replyLabel }).count(), 0, `${other.name} has no facilitator reply boxes`);
      if (other === OTHER) await visited(st, o, 'replies-no-thread-ana', `the closed round, as ${other.name} (no thread)`);
      else await visited(st, o, null, `the closed round, as ${other.name} (no thread)`);
    }
  });

  await step(`7. ${AUTHOR.name} answers anonymously; Fay sees "The author: …"`, async (st) => {
    const c = people[AUTHOR.key].page;
    const box = thread(c);
    await (await byRole(box, 'textbox', TEXT.answerLabel, { page: c })).fill(AUTHOR_ANSWER);
    const sent = c.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/anon/replies');
    const reread = c.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).pathname === `/anon/rounds/${listeningRound}/threads`);
    await (await byRole(box, 'button', 'Answer anonymously', { page: c })).click();
    const res = await sent;
    assert.equal(res.status(), 201, "the author's answer is accepted (201)");
    await assertAnonymous(res.request(), "the author's answer to the facilitator");
    assert.deepEqual(Object.keys(res.request().postDataJSON()).sort(), ['body', 'capability']);
    assert.equal(res.request().postDataJSON().body, AUTHOR_ANSWER);
    const again = await reread;
    await assertAnonymous(again.request(), 'the threads download after answering');
    await expectText(box, AUTHOR_ANSWER, { page: c, what: `${AUTHOR.name}'s thread after answering` });
    const lines = (await box.locator('p.reply').allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').trim());
    assert.deepEqual(lines, [`The facilitator: ${FAY_REPLY}`, `You: ${AUTHOR_ANSWER}`]);
    assert.equal(await box.getByRole('textbox', { name: TEXT.answerLabel, exact: true }).inputValue(), '', 'the answer box is emptied');
    await visited(st, c, 'replies-answered-cai', `${AUTHOR.name}'s answer in his thread`);

    const p = people.fay.page;
    await openRepair(p);
    const item = commentItem(p, AUTHOR.comment);
    await expectText(item, AUTHOR_ANSWER, { page: p, what: `the comment "${AUTHOR.comment}" on Fay's page` });
    const replies = (await item.locator('p.reply').allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').trim());
    assert.deepEqual(replies, [`You: ${FAY_REPLY}`, `The author: ${AUTHOR_ANSWER}`]);
    await visited(st, p, 'replies-thread-fay', "the whole thread under the comment, as Fay");

    // Every request on the anonymous path, from every browser, went without cookies.
    const anon = watched.filter((w) => w.path.startsWith('/anon/'));
    assert.ok(anon.some((w) => w.path === '/anon/replies'), 'the interception saw the author reply');
    for (const w of anon) await assertAnonymous(w.req, `${w.who}'s ${w.method} ${w.path}`);
    st.diagnostic(`${anon.length} intercepted requests on /anon/, none with a cookie`);
  });

  await step('8. Lee acknowledges (API); Fay clicks "Ask the affected side how genuine the acknowledgment felt"', async (st) => {
    await clients.lee.expect(204, 'POST', `/api/v1/repairs/${repairId}/acknowledgments`, { json: { body: ACK } });
    const p = people.fay.page;
    await openRepair(p);
    await (await byRole(p, 'button', TEXT.ask)).click();
    await settled(p);
    await expectText(roundSection(p), TEXT.ratingHeading, { page: p, what: "Fay's open rating round" });
    assert.equal(await p.getByRole('button', { name: TEXT.ask, exact: true }).count(), 0, 'no second rating round while one is open');
    assert.equal(await roundSection(p).locator('select[name="rating"]').count(), 0, 'the facilitator gets no rating form');
    const open = (await rounds()).filter((r) => r.open);
    assert.equal(open.length, 1, 'one open round');
    assert.equal(open[0].kind, 'genuineness');
    ratingRound = open[0];
    st.diagnostic(`rating round ${ratingRound.id}`);
    await visited(st, p, 'rating-open-fay', 'the open rating round, as Fay');
  });

  await step('9. Lee (accountable) gets no rating form, and the server would not give him a key', async (st) => {
    const p = people.lee.page;
    const before = watched.length;
    await openRepair(p);
    await settled(p);
    await expectText(roundSection(p), TEXT.ratingHeading, { page: p, what: "Lee's repair page" });
    assert.equal(await roundSection(p).locator('select[name="rating"]').count(), 0, 'no rating select for the accountable side');
    assert.equal(await roundSection(p).locator('form.anon-answer').count(), 0, 'no answer form for the accountable side');
    assert.equal(await p.getByRole('combobox', { name: TEXT.ratingLabel }).count(), 0);
    assert.equal(await roundSection(p).getByRole('button', { name: 'Send anonymously' }).count(), 0);
    assert.equal(await roundSection(p).getAttribute('data-round'), null, 'the section carries no round data for Lee');
    assert.equal(await p.evaluate((k) => localStorage.getItem(k), `kintsugi-token-${ratingRound.id}`), null, 'no key on Lee’s device');
    const tokenAsks = watched.slice(before).filter((w) => w.who === 'lee' && w.path.includes(`/rounds/${ratingRound.id}/`));
    assert.deepEqual(tokenAsks.map((w) => w.path), [], "Lee's browser asks for no rating key");
    await visited(st, p, 'rating-none-lee', 'the open rating round, as Lee (no form)');

    const refused = await fetchToken(clients.lee, {
      roundId: ratingRound.id,
      publicKey: ratingRound.public_key,
      tokenPath: `/repairs/${repairId}/rounds/${ratingRound.id}/token`,
    });
    assert.equal(refused.res.status, 403, `a rating key for Lee is refused (got ${refused.res.status}: ${refused.res.text.slice(0, 200)})`);
  });

  await step('10. the five affected members rate the acknowledgment and each sees "Received"', async (st) => {
    for (const person of SUPPORT) {
      const p = people[person.key].page;
      await openRepair(p);
      await waitForToken(p, person.name, ratingRound.id);
      await expectStatus(p, TEXT.ready, `${person.name}'s page`);
      const select = await byLabel(p, TEXT.ratingLabel);
      assert.equal(await select.getAttribute('name'), 'rating');
      const options = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(options, ['', '1', '2', '3', '4', '5', '6', '7']);
      assert.equal(await roundSection(p).locator('select[name="category"]').count(), 0, 'a rating round asks no category');
      if (person === SUPPORT[0]) await visited(st, p, 'rating-form-ana', 'the rating form, as Ana');
      else await visited(st, p, null, `the rating form, as ${person.name}`);
      const body = await sendAnswer(p, person.name, ratingRound.id, async () => {
        await select.selectOption(String(person.rating));
      });
      assert.equal(body.answer.rating, person.rating, 'the rating is sent as a number');
      await expectStatus(p, TEXT.received, `${person.name}'s page after rating`);
      if (person === SUPPORT[0]) await visited(st, p, 'rating-received-ana', "Ana's rating received");
    }
  });

  await step('11. Fay clicks "Close the round" and sees the mean, to one decimal', async (st) => {
    const p = people.fay.page;
    await openRepair(p);
    await (await byRole(p, 'button', 'Close the round')).click();
    await settled(p);
    const mean = expectedMean(SUPPORT.map((s) => s.rating));
    const shown = `How genuine it felt, on average: ${mean} of 7`;
    await expectText(p.getByRole('main'), shown, { page: p, what: 'the closed rating round' });
    const line = p.locator('article.round-results p.answered').filter({ hasText: 'How genuine it felt' });
    assert.equal(await line.count(), 1);
    assert.equal((await line.innerText()).replace(/\s+/g, ' ').trim(), `${SUPPORT.length} people answered. ${shown}.`);
    assert.equal(await roundSection(p).count(), 0, 'no open round is left');
    st.diagnostic(`mean of ${SUPPORT.map((s) => s.rating).join(', ')} shown as ${mean}`);
    await visited(st, p, 'rating-results-fay', 'the closed rating round, as Fay');

    const a = people[OTHER.key].page;
    await openRepair(a);
    await expectText(a.getByRole('main'), shown, { page: a, what: `the closed rating round, as ${OTHER.name}` });
    await visited(st, a, 'rating-results-ana', `the closed rating round, as ${OTHER.name}`);
  });

  for (const line of axeFindings) t.diagnostic(`axe (minor/moderate): ${line}`);
  const pageErrors = [];
  const cspViolations = [];
  const failedResources = [];
  for (const [who, s] of Object.entries(people)) {
    for (const line of s.problems.consoleErrors) {
      t.diagnostic(`${who}: browser console error: ${line}`);
      if (line.includes('CSP violation')) cspViolations.push(`${who}: ${line}`);
    }
    for (const line of s.problems.failedResources) {
      t.diagnostic(`${who}: failed sub-resource: ${line}`);
      failedResources.push(`${who}: ${line}`);
    }
    pageErrors.push(...s.problems.pageErrors.map((e) => `${who}: ${e}`));
  }
  if (!step.failed()) {
    assert.deepEqual(pageErrors, [], `JavaScript errors in the pages:\n${pageErrors.join('\n')}`);
    assert.deepEqual(cspViolations, [], `Content-Security-Policy violations:\n${cspViolations.join('\n')}`);
    assert.deepEqual(failedResources, [], `Failed requests (nothing in this scenario should fail):\n${failedResources.join('\n')}`);
  }
});
