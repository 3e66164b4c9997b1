// One whole repair, end to end, against the real server binary, driven the
// way people would (by labels and roles), in one browser context per person:
//
//   admin sets up the organisation and adds a facilitator, an accountable
//   person and an affected person, who each set a password through their
//   invitation link → the facilitator opens a repair → the accountable person
//   drafts an acknowledgment with the apology coach (flags, then a good
//   apology) and posts it → the facilitator moves through Understand (no
//   listening round, a cause) to Act → an update is posted and edited (version
//   history) → commitments are added, marked done and confirmed, and a
//   back-dated one is missed automatically → the facilitator moves to Rebuild
//   and overrides the recovery gate, which the affected person sees.
//
// Every page visited is checked with axe-core and screenshotted into
// test-output/screenshots/ as 20-….png, 21-….png, …

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

const ORG_NAME = 'Blue Kiln Studio';
const ADMIN = { name: 'Ada Admin', email: 'ada@example.org', password: 'correct horse battery staple' };
const FAY = { name: 'Fay Facilitator', email: 'fay@example.org', password: 'fay-golden-seams-1', facilitator: true };
const LEE = { name: 'Lee Lead', email: 'lee@example.org', password: 'lee-golden-seams-2' };
const ANA = { name: 'Ana Affected', email: 'ana@example.org', password: 'ana-golden-seams-3' };

const REPAIR_TITLE = 'Launch date missed twice';
const REPAIR_SUMMARY =
  'The launch moved twice without warning, and the support team heard about it from customers.';
const BAD_APOLOGY = "I'm sorry if anyone was offended, but the deadline was unrealistic.";
const GOOD_APOLOGY =
  'I missed the launch date twice and did not warn you. That was my responsibility, and it left ' +
  "your team answering angry customers. I'm sorry. From now on I will send the release plan every Monday.";
const NO_ROUND_REASON = 'Ana is on leave for three weeks; we agreed to work from written notes instead.';
const CAUSE_CATEGORY = 'Communication breakdown';
const CAUSE = 'Release dates changed in the engineering channel only; support was never told.';
const UPDATE_FIRST = 'Lee and Fay met and drafted a release calendar.';
const UPDATE_EDITED = 'Lee and Fay met and drafted a release calendar; support reviewed it on Friday.';
const COMMITMENT_1 = 'Send the release plan every Monday';
const COMMITMENT_2 = 'Hold a check-in with support';
const OVERRIDE_REASON = 'Support and engineering agreed the new rhythm works; no pulse survey is running yet.';

/** A UTC calendar date as YYYY-MM-DD, `offsetDays` from today (the server's clock is UTC). */
function utcDate(offsetDays = 0) {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + offsetDays);
  return d.toISOString().slice(0, 10);
}

let server;
let browser;
const contexts = [];

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
});

test('a whole repair: open, acknowledge with the coach, understand, act, commitments, rebuild', { timeout: 600_000 }, async (t) => {
  server = await startServer();
  t.diagnostic(`server at ${server.baseUrl}, data dir ${server.dataDir}`);
  browser = await launchBrowser();

  const TODAY = utcDate(0);
  const WEEK_AGO = utcDate(-7);
  t.diagnostic(`today (UTC) ${TODAY}, a week ago ${WEEK_AGO}`);

  // One browser context (one login) per person.
  const people = {};
  const open = async (who) => {
    const s = await newPage(browser);
    contexts.push(s.context);
    people[who] = s;
    return s.page;
  };
  const admin = await open('admin');

  let repairUrl;
  let shotNo = 20;
  const axeFindings = [];

  // Runs one step as a subtest; after a failure the later steps are skipped.
  // A failing step saves a FAILED-*.png screenshot of every person's page.
  const step = sequentialSteps(t, { prefix: '20', people, server: () => server });

  // Checks and records a page: axe (fails on serious/critical) and, when
  // `name` is given, a numbered full-page screenshot.
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

  const header = (p) => p.locator('header').first();
  const region = (p, name) => p.getByRole('region', { name, exact: true });

  /** Opens the repair page fresh (a person returning to it). */
  const openRepair = async (p) => {
    await goto(p, repairUrl);
    await expectText(p.getByRole('heading', { level: 1 }), REPAIR_TITLE, { page: p, what: 'the repair heading' });
  };

  const expectStage = async (p, label) => {
    const stage = p.locator('.stage').first();
    try {
      await stage.getByText(`Stage: ${label}`, { exact: true }).waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    } catch {
      throw new Error(`Expected the repair page to show "Stage: ${label}".\n${await describePage(p)}`);
    }
    // The progress list marks the current stage for assistive technology too.
    if (label !== 'Closed without repair') {
      const current = (await p.locator('ol.stages [aria-current="step"]').allTextContents()).map((s) => s.trim());
      assert.deepEqual(current, [label], `the stages list should mark "${label}" as the current step`);
    }
  };

  /** Resolves when the coach has answered for exactly this draft (htmx POST …/coach). */
  const coachAnswer = (p, draft) =>
    p.waitForResponse(
      (res) =>
        res.request().method() === 'POST' &&
        new URL(res.url()).pathname.endsWith('/coach') &&
        new URLSearchParams(res.request().postData() ?? '').get('body') === draft,
      { timeout: STEP_TIMEOUT_MS },
    );

  /** Reads the follow-through line of the repair page. */
  const followThrough = async (p) =>
    ((await p.locator('.follow-through').first().textContent()) ?? '').replace(/\s+/g, ' ').trim();

  const expectFollowThrough = async (p, rate) => {
    const want = `Follow-through: ${rate}`;
    try {
      await region(p, 'Commitments').getByText(want).first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    } catch {
      throw new Error(`Expected "${want}", but the page says "${await followThrough(p)}".\n${await describePage(p)}`);
    }
  };

  // -------------------------------------------------------------------------

  await step('1. the admin sets up the organisation', async (st) => {
    await goto(admin, server.setupUrl);
    await visited(st, admin, 'setup', 'the setup page');
    await (await byLabel(admin, 'Organisation name')).fill(ORG_NAME);
    await (await byLabel(admin, 'Your name')).fill(ADMIN.name);
    await (await byLabel(admin, 'Email')).fill(ADMIN.email);
    await (await byLabel(admin, 'Password')).fill(ADMIN.password);
    await (await byRole(admin, 'button', 'Create organisation')).click();
    await expectPath(admin, '/', 'after setup, the home page');
    await expectText(admin, ORG_NAME, { what: 'the home page' });
  });

  for (const person of [FAY, LEE, ANA]) {
    const who = person.name.split(' ')[0].toLowerCase();
    // Screenshots of the admin pages only for the first person: the rest look alike.
    const shoot = (name) => (person === FAY ? name : null);
    await step(`2. the admin adds ${person.name}, who sets a password through the invitation link`, async (st) => {
      await (await byRole(header(admin), 'link', 'People', { page: admin })).click();
      await expectPath(admin, '/admin/people', 'the "People" link leads to');
      await visited(st, admin, shoot('people'), 'the people page');
      await (await byLabel(admin, 'Name')).fill(person.name);
      await (await byLabel(admin, 'Email')).fill(person.email);
      const facilitator = await byRole(admin, 'checkbox', 'Facilitator');
      if (person.facilitator) await facilitator.check();
      await (await byRole(admin, 'button', 'Add person')).click();

      // "Add person" may show the people table again or go to the person's page.
      const inTable = admin.getByRole('table').getByRole('link', { name: person.name, exact: true });
      const heading = admin.getByRole('heading', { level: 1, name: person.name, exact: true });
      try {
        await inTable.or(heading).first().waitFor({ state: 'visible' });
      } catch {
        throw new Error(`After "Add person", expected ${person.name} in the table or on their page.\n${await describePage(admin)}`);
      }
      if (!/^\/admin\/people\/[^/]+$/.test(new URL(admin.url()).pathname)) {
        await visited(st, admin, null, `the people page with ${person.name}`);
        await (await byRole(admin.getByRole('table'), 'link', person.name, { page: admin })).click();
        await expectPath(admin, /^\/admin\/people\/[^/]+$/, `${person.name}'s page`);
      }
      if (person.facilitator) {
        await expectText(admin.getByRole('main'), 'Facilitator', { page: admin, what: `${person.name}'s roles` });
      }
      await (await byRole(admin, 'button', 'Create invitation link')).click();
      const invitationUrl = await (await byLabel(admin, 'Invitation link')).inputValue();
      assert.match(invitationUrl, /\/invite\/[^/?#\s]+$/, 'the invitation link should point at /invite/TOKEN');
      await visited(st, admin, shoot('person-invitation'), `${person.name}'s page with an invitation link`);

      const p = await open(who);
      await goto(p, invitationUrl);
      await visited(st, p, shoot('invitation'), `${person.name}'s invitation page`);
      await (await byLabel(p, 'New password')).fill(person.password);
      await (await byRole(p, 'button', 'Set password and sign in')).click();
      await expectPath(p, '/', `after ${person.name} accepts the invitation, the home page`);
      await expectText(header(p), person.name, { page: p, what: `the header (signed in as ${person.name})` });
      await visited(st, p, null, `${person.name}'s home page`);
    });
  }

  await step('3. Fay opens a repair between Lee and Ana', async (st) => {
    const p = people.fay.page;
    await visited(st, p, 'home-fay', "Fay's home page");
    await (await byRole(header(p), 'link', 'Repairs', { page: p })).click();
    await expectPath(p, '/repairs', 'the "Repairs" link leads to');
    await visited(st, p, 'repairs-empty', 'the repairs list (empty)');

    // A link styled as a button: role="button" in the markup.
    await (await byRole(p, 'button', 'Open a repair')).click();
    await expectPath(p, '/repairs/new', '"Open a repair" leads to');
    await expectText(p.getByRole('heading', { level: 1 }), 'Open a repair', { page: p });

    await (await byLabel(p, 'Title')).fill(REPAIR_TITLE);
    await (await byLabel(p, 'What happened')).fill(REPAIR_SUMMARY);
    await (await byLabel(p, 'Kind of breach')).selectOption({ label: 'Missed deadline' });
    await (await byLabel(p, 'Between whom')).selectOption({ label: 'Person ↔ person' });
    await (await byLabel(p, 'People on the accountable side')).selectOption([{ label: LEE.name }]);
    await (await byLabel(p, 'People on the affected side')).selectOption([{ label: ANA.name }]);
    await visited(st, p, 'repair-new', 'the "Open a repair" form, filled in');
    await (await byRole(p, 'button', 'Open repair')).click();

    await expectPath(p, /^\/repairs\/[0-9a-f-]{36}$/, 'after "Open repair", the repair page');
    repairUrl = p.url().replace(/#.*$/, '');
    st.diagnostic(`repair page ${repairUrl}`);
    await expectText(p.getByRole('heading', { level: 1 }), REPAIR_TITLE, { page: p, what: 'the repair heading' });
    await expectStage(p, 'Acknowledge');
    const what = region(p, 'What happened');
    await expectText(what, REPAIR_SUMMARY, { page: p, what: 'the "What happened" section' });
    await expectText(what, LEE.name, { page: p, what: 'the accountable side' });
    await expectText(what, ANA.name, { page: p, what: 'the affected side' });
    await expectText(p, 'Missed deadline', { what: 'the repair page (kind of breach)' });
    await visited(st, p, 'repair-opened-fay', 'the new repair, as Fay');
  });

  let badScore;
  await step('4. Lee finds the repair and drafts an apology: the coach flags a conditional "sorry … but"', async (st) => {
    const p = people.lee.page;
    await goto(p, `${server.baseUrl}/`);
    const news = region(p, 'New for you');
    await expectText(news, REPAIR_TITLE, { page: p, what: `Lee's notifications ("New for you")` });
    await visited(st, p, 'home-lee', "Lee's home page with the repair");
    await (await byRole(region(p, 'Your repairs'), 'link', REPAIR_TITLE, { page: p })).click();
    await expectPath(p, new URL(repairUrl).pathname, 'the repair link on the home page leads to');

    await visited(st, p, null, 'the repair page, as Lee');
    assert.equal(
      await p.getByRole('button', { name: 'Move to the next stage', exact: true }).count(),
      0,
      'only the facilitator may move the repair between stages',
    );
    const draft = await byLabel(p, 'Your acknowledgment');
    const coach = p.locator('#coach');
    await expectText(coach, 'Start typing', { page: p, what: 'the coach before any typing' });
    await draft.click();
    const answered = coachAnswer(p, BAD_APOLOGY);
    await draft.pressSequentially(BAD_APOLOGY, { delay: 5 });
    try {
      await answered;
    } catch {
      throw new Error(`Typing in "Your acknowledgment" should make htmx ask the coach (POST …/coach) about the whole draft, but it did not.\n${await describePage(p)}`);
    }
    await settled(p);

    const flagged = coach.locator('ul.flags li');
    try {
      await flagged.filter({ hasText: '(sorry-but)' }).first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
      await flagged.filter({ hasText: '(conditional)' }).first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    } catch {
      throw new Error(
        `After typing "${BAD_APOLOGY}", expected the coach (#coach) to flag (conditional) and (sorry-but).\n` +
          `coach says: ${(await coach.innerText().catch(() => '?')).replace(/\s+/g, ' ')}\n${await describePage(p)}`,
      );
    }
    const rules = await flagged.evaluateAll((lis) =>
      lis.map((li) => /\(([a-z0-9-]+)\):/.exec(li.textContent)?.[1]).filter(Boolean),
    );
    st.diagnostic(`coach flags: ${rules.join(', ')}`);
    assert.ok(rules.includes('conditional') && rules.includes('sorry-but'), `flags should include conditional and sorry-but, got ${rules}`);
    badScore = Number(/Score: (\d+) of 100/.exec(await coach.innerText())?.[1]);
    assert.ok(Number.isFinite(badScore), 'the coach should show "Score: N of 100"');
    st.diagnostic(`coach score for the conditional apology: ${badScore}`);
    // The draft keeps its link to the coach after the htmx swap.
    assert.equal(await draft.getAttribute('aria-describedby'), 'coach-summary');
    await visited(st, p, 'coach-flags', 'the coach flagging a conditional apology');
  });

  await step('5. Lee rewrites the apology: higher score, no flags, an offer of repair; then posts it', async (st) => {
    const p = people.lee.page;
    const draft = await byLabel(p, 'Your acknowledgment');
    const coach = p.locator('#coach');
    await draft.fill('');
    const answered = coachAnswer(p, GOOD_APOLOGY);
    await draft.pressSequentially(GOOD_APOLOGY, { delay: 2 });
    try {
      await answered;
      await settled(p);
      assert.equal(await coach.locator('ul.flags').count(), 0, 'no flags');
      await coach
        .getByRole('button', { name: 'Add as a commitment', exact: true })
        .first()
        .waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    } catch {
      throw new Error(
        'After typing a good apology, expected the coach to show no flags and offer "Add as a commitment".\n' +
          `coach says: ${(await coach.innerText().catch(() => '?')).replace(/\s+/g, ' ')}\n${await describePage(p)}`,
      );
    }
    const coachText = (await coach.innerText()).replace(/\s+/g, ' ');
    const goodScore = Number(/Score: (\d+) of 100/.exec(coachText)?.[1]);
    st.diagnostic(`coach score for the good apology: ${goodScore} (was ${badScore}); coach says: ${coachText}`);
    assert.ok(goodScore > badScore, `the good apology should score higher than ${badScore}, got ${goodScore}`);
    assert.match(coachText, /send the release plan every Monday/i, 'the offer of repair should be quoted');
    await visited(st, p, 'coach-good', 'the coach on a good apology');

    await (await byRole(p, 'button', 'Post acknowledgment')).click();
    const ack = region(p, 'Acknowledgment');
    await expectText(ack.getByRole('article'), 'That was my responsibility', { page: p, what: 'the posted acknowledgment' });
    await expectText(ack.getByRole('article'), LEE.name, { page: p, what: "the acknowledgment's author" });
    await visited(st, p, 'acknowledged-lee', 'the repair with the acknowledgment, as Lee');
  });

  await step('6. Fay moves to Understand, records why there is no listening round, names a cause, moves to Act', async (st) => {
    const p = people.fay.page;
    await openRepair(p);
    await (await byRole(p, 'button', 'Move to the next stage')).click();
    await expectStage(p, 'Understand');
    await expectText(region(p, 'Progress'), 'at least one cause must be named', { page: p, what: 'what Understand still needs' });
    await visited(st, p, 'understand-fay', 'the repair in Understand, as Fay');

    await (await byLabel(p, 'Why no listening round is possible')).fill(NO_ROUND_REASON);
    await (await byRole(p, 'button', 'Record the reason')).click();
    await expectText(region(p, 'Causes'), `No listening round was possible: ${NO_ROUND_REASON}`, { page: p });
    await visited(st, p, null, 'the repair after recording why there is no listening round');

    await (await byLabel(p, 'Category')).selectOption({ label: CAUSE_CATEGORY });
    await (await byLabel(p, 'Cause')).fill(CAUSE);
    await (await byRole(p, 'button', 'Name this cause')).click();
    await expectText(region(p, 'Causes').getByRole('listitem'), CAUSE, { page: p, what: 'the named cause' });
    await expectText(region(p, 'Causes').getByRole('listitem'), CAUSE_CATEGORY, { page: p, what: "the cause's category" });
    await visited(st, p, 'understand-cause', 'the repair with a cause, as Fay');

    await (await byRole(p, 'button', 'Move to the next stage')).click();
    await expectStage(p, 'Act');
    await expectText(region(p, 'Progress'), 'at least one commitment needs an owner', { page: p, what: 'what Act still needs' });
    await visited(st, p, null, 'the repair in Act, as Fay');
  });

  await step('7. Fay posts a progress update and edits it: the log keeps both versions', async (st) => {
    const p = people.fay.page;
    await (await byLabel(p, 'Kind of update')).selectOption({ label: 'Progress' });
    await (await byLabel(p, 'Update')).fill(UPDATE_FIRST);
    await (await byRole(p, 'button', 'Post update')).click();
    const updates = region(p, 'Updates');
    await expectText(updates.getByRole('article'), UPDATE_FIRST, { page: p, what: 'the posted update' });
    await visited(st, p, 'update-posted', 'the repair with an update, as Fay');

    const edit = await byRole(updates, 'link', /^Edit update #\d+$/, { page: p });
    const editName = (await edit.textContent()).trim();
    await edit.click();
    await expectPath(p, /^\/repairs\/[^/]+\/updates\/[^/]+\/edit$/, `"${editName}" leads to`);
    await expectText(p.getByRole('heading', { level: 1 }), editName, { page: p });
    const body = await byLabel(p, 'Update');
    assert.equal(await body.inputValue(), UPDATE_FIRST, 'the edit form starts from the current text');
    await visited(st, p, 'update-edit', 'the edit-update page');
    await body.fill(UPDATE_EDITED);
    await (await byRole(p, 'button', 'Save as a new version')).click();

    await expectPath(p, new URL(repairUrl).pathname, 'after saving a new version, the repair page');
    const article = region(p, 'Updates').getByRole('article').filter({ hasText: UPDATE_EDITED });
    await expectText(article, 'edited', { page: p, what: 'the edited update' });
    const summary = article.locator('summary', { hasText: 'Version history (2 versions)' });
    try {
      await summary.waitFor({ state: 'visible' });
    } catch {
      throw new Error(`Expected the edited update to offer "Version history (2 versions)".\n${await describePage(p)}`);
    }
    await summary.click();
    const versions = article.locator('details[open] li');
    await versions.first().waitFor({ state: 'visible' });
    const texts = (await versions.allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
    assert.equal(texts.length, 2, `two versions should be listed, got ${JSON.stringify(texts)}`);
    assert.ok(texts[0].includes(UPDATE_FIRST) && texts[0].startsWith('Version 1'), `version 1: ${texts[0]}`);
    assert.ok(texts[1].includes(UPDATE_EDITED) && texts[1].startsWith('Version 2'), `version 2: ${texts[1]}`);
    await visited(st, p, 'update-history', 'the update with its version history open');
  });

  let commitmentDay;
  await step('8. Lee adds a weekly commitment and marks today done; Ana confirms it: 100%', async (st) => {
    const p = people.lee.page;
    await openRepair(p);
    const commitments = region(p, 'Commitments');
    await expectText(commitments, 'No commitments yet.', { page: p });
    const add = commitments.locator('details', { has: p.locator('summary', { hasText: 'Add a commitment' }) });
    if (!(await add.evaluate((d) => d.open))) await add.locator('summary').click();

    await (await byLabel(p, 'What will be done')).fill(COMMITMENT_1);
    await (await byLabel(p, 'Owner')).selectOption({ label: LEE.name });
    await (await byLabel(p, 'Cadence')).selectOption({ label: 'weekly' });
    await (await byLabel(p, 'How many times')).fill('8');
    await (await byLabel(p, 'First due date')).fill(TODAY);
    await visited(st, p, 'commitment-form', 'the "Add a commitment" form, filled in');
    await (await byRole(p, 'button', 'Add commitment')).click();

    const article = region(p, 'Commitments').getByRole('article').filter({ hasText: COMMITMENT_1 });
    await expectText(article, 'weekly, 8 times', { page: p, what: 'the new commitment' });
    // Eight occurrences make a window: today's (Lee can mark it done) and the next one ahead;
    // the rest are one link away.
    const rows = article.getByRole('row');
    assert.equal(await rows.count(), 3, 'a header row, today and the next occurrence');
    await expectText(article, '6 more occurrences', { page: p, what: 'the note on the hidden occurrences' });
    await (await byRole(article, 'link', 'Show all 8', { page: p })).click();
    const whole = region(p, 'Commitments').getByRole('article').filter({ hasText: COMMITMENT_1 });
    // The old article says "weekly, 8 times" too: wait for the swapped page's ninth row.
    await whole.getByRole('row').nth(8).waitFor();
    assert.equal(await whole.getByRole('row').count(), 9, 'a header row and 8 occurrences');
    assert.ok(p.url().includes('occurrences=all'), `the address says so: ${p.url()}`);
    await visited(st, p, 'commitment-all-occurrences', 'every occurrence of the weekly commitment');
    commitmentDay = TODAY;
    await (await byRole(article, 'button', `Mark done (${TODAY})`, { page: p })).click();
    await expectText(
      region(p, 'Commitments').getByRole('article').filter({ hasText: COMMITMENT_1 }),
      'Done: waiting for the affected side to confirm',
      { page: p, what: "today's occurrence after Mark done" },
    );
    await visited(st, p, 'commitment-done-lee', 'the commitment marked done, as Lee');

    const a = people.ana.page;
    await goto(a, `${server.baseUrl}/`);
    await expectText(region(a, 'New for you'), REPAIR_TITLE, { page: a, what: `Ana's notifications ("New for you")` });
    await visited(st, a, null, "Ana's home page");
    await (await byRole(region(a, 'Your repairs'), 'link', REPAIR_TITLE, { page: a })).click();
    await expectPath(a, new URL(repairUrl).pathname, "Ana's link to the repair leads to");
    assert.equal(
      await a.getByLabel('Your acknowledgment', { exact: true }).count(),
      0,
      'the affected side should not be offered an acknowledgment form',
    );
    const anaArticle = region(a, 'Commitments').getByRole('article').filter({ hasText: COMMITMENT_1 });
    await (await byRole(anaArticle, 'button', `It happened (${TODAY})`, { page: a })).click();
    await expectText(
      region(a, 'Commitments').getByRole('article').filter({ hasText: COMMITMENT_1 }),
      'Kept: confirmed',
      { page: a, what: "today's occurrence after Ana's confirmation" },
    );
    await expectFollowThrough(a, '100%');
    assert.equal(
      await a.getByRole('button', { name: /^Mark done/ }).count(),
      0,
      'only the owner may mark an occurrence done',
    );
    for (const name of ['Move to the next stage', 'Post update', 'Add commitment']) {
      assert.equal(await a.getByRole('button', { name, exact: true }).count(), 0, `the affected side should not see "${name}"`);
    }
    st.diagnostic(`Ana sees: ${await followThrough(a)}`);
    await visited(st, a, 'commitment-kept-ana', 'the kept commitment, as Ana');
  });

  await step('9. a weekly commitment that started a week ago is missed: automatic update, 50%', async (st) => {
    assert.ok(commitmentDay);
    const p = people.lee.page;
    await openRepair(p);
    const add = region(p, 'Commitments').locator('details', { has: p.locator('summary', { hasText: 'Add a commitment' }) });
    if (!(await add.evaluate((d) => d.open))) await add.locator('summary').click();
    await (await byLabel(p, 'What will be done')).fill(COMMITMENT_2);
    await (await byLabel(p, 'Owner')).selectOption({ label: LEE.name });
    await (await byLabel(p, 'Cadence')).selectOption({ label: 'weekly' });
    await (await byLabel(p, 'How many times')).fill('4');
    await (await byLabel(p, 'First due date')).fill(WEEK_AGO);
    await (await byRole(p, 'button', 'Add commitment')).click();
    await expectText(
      region(p, 'Commitments').getByRole('article').filter({ hasText: COMMITMENT_2 }),
      'weekly, 4 times',
      { page: p, what: 'the back-dated commitment' },
    );
    assert.equal(
      await p.getByRole('button', { name: /^It happened/ }).count(),
      0,
      'only the affected side confirms occurrences',
    );
    await visited(st, p, null, 'the repair with two commitments, as Lee');

    const a = people.ana.page;
    await a.reload({ waitUntil: 'load' });
    const missed = region(a, 'Updates').getByRole('article').filter({ hasText: `Missed: “${COMMITMENT_2}”` });
    try {
      await missed.first().waitFor({ state: 'visible' });
    } catch {
      throw new Error(`Expected an automatic update beginning "Missed: “${COMMITMENT_2}”".\n${await describePage(a)}`);
    }
    const missedText = (await missed.first().innerText()).replace(/\s+/g, ' ');
    st.diagnostic(`automatic update: ${missedText}`);
    assert.equal(await missed.count(), 1, 'exactly one automatic "Missed" update');
    assert.match(missedText, new RegExp(`due ${WEEK_AGO}`), 'the automatic update names the missed date');
    assert.match(missedText, /Kintsugi/, 'the automatic update is signed by Kintsugi, not a person');
    await expectText(
      region(a, 'Commitments').getByRole('article').filter({ hasText: COMMITMENT_2 }),
      'Missed',
      { page: a, what: 'the back-dated commitment' },
    );
    await expectFollowThrough(a, '50%');
    st.diagnostic(`Ana sees: ${await followThrough(a)}`);
    await visited(st, a, 'missed-ana', 'the repair with a missed commitment, as Ana');
  });

  await step('10. Fay moves to Rebuild and overrides the recovery gate; Ana sees the reason and "Rebuilt"', async (st) => {
    const p = people.fay.page;
    await openRepair(p);
    await (await byRole(p, 'button', 'Move to the next stage')).click();
    await expectStage(p, 'Rebuild');
    await expectText(region(p, 'Progress'), 'the recovery gate has not passed', { page: p });
    await visited(st, p, null, 'the repair in Rebuild, as Fay');

    await p.locator('summary', { hasText: 'Close without repair, or override the recovery gate' }).click();
    await (await byLabel(p, 'Reason (every participant sees it)')).fill(OVERRIDE_REASON);
    await visited(st, p, 'rebuild-override-fay', 'the repair in Rebuild with the override form open');
    await (await byRole(p, 'button', 'Override the recovery gate')).click();
    await expectStage(p, 'Rebuilt');
    assert.equal(
      await p.getByRole('button', { name: 'Move to the next stage', exact: true }).count(),
      0,
      'a rebuilt repair offers no further stage moves',
    );
    await visited(st, p, null, 'the rebuilt repair, as Fay');

    const a = people.ana.page;
    await a.reload({ waitUntil: 'load' });
    await expectText(a, 'The recovery gate was overridden.', { what: "Ana's repair page" });
    await expectText(a, OVERRIDE_REASON, { what: "Ana's repair page (the facilitator's reason)" });
    await expectStage(a, 'Rebuilt');
    await visited(st, a, 'rebuilt-ana', 'the rebuilt repair, as Ana');
  });

  for (const line of axeFindings) t.diagnostic(`axe (minor/moderate): ${line}`);
  const pageErrors = [];
  for (const [who, s] of Object.entries(people)) {
    for (const line of s.problems.consoleErrors) t.diagnostic(`${who}: browser console error: ${line}`);
    for (const line of s.problems.failedResources) t.diagnostic(`${who}: failed sub-resource: ${line}`);
    pageErrors.push(...s.problems.pageErrors.map((e) => `${who}: ${e}`));
  }
  if (!step.failed()) {
    assert.deepEqual(pageErrors, [], `JavaScript errors in the pages:\n${pageErrors.join('\n')}`);
  }
});
