// Trust pulses over simulated weeks, the recovery gate and the lessons library, in Chromium,
// against the real (development) server binary, whose clock reads a file
// (KINTSUGI_DEV_CLOCK; release builds refuse the setting):
//
//   the organisation, Fay (facilitator), Lee, Ana and Oz are set up; Fay opens a
//   person ↔ person repair (Lee accountable, Ana affected) and it reaches rebuild
//   over HTTP → the first pulse opens by itself; Ana answers it in her browser (it
//   waits to be sealed) → the clock moves on 15 days at a time: the background
//   sweep seals each pulse's answer as its close comes, closes the pulse
//   and opens the next with nobody clicking, everyone logs in again (sessions last
//   a week), Ana answers each pulse, and the gate's checklist fills in ("1 of 3
//   pulses in a row…", …, "6 of 6 weeks") → Fay clicks "Move to the next stage" and
//   the repair is rebuilt → Fay publishes a lesson: the preview shows the names
//   replaced, she confirms, and Oz finds it in the library → Oz shares an
//   anonymous story (sent with no cookie), Fay answers it in the library, and Oz
//   reads the answer through the capability his browser kept.
//
// Every page visited is checked with axe-core; screenshots are saved as 80-….png,
// 81-….png, … in test-output/screenshots/.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  STEP_TIMEOUT_MS,
  sequentialSteps,
} from '../lib/harness.mjs';
import { acceptInvitation, addPerson, logIn, setUpOrganisation } from '../interop/http.mjs';

const ADMIN = { name: 'Ada Admin', email: 'ada@example.org', password: 'correct horse battery staple' };
const PASSWORD = 'golden-seams-pulses-1';
const PEOPLE = [
  { key: 'fay', name: 'Fay Facilitator', facilitator: true },
  { key: 'lee', name: 'Lee Lead' },
  { key: 'ana', name: 'Ana Affected' },
  { key: 'oz', name: 'Oz Other' },
];
const REPAIR_TITLE = 'Launch date moved without a word';
const REPAIR_SUMMARY = 'Lee moved the launch twice; Ana heard it from a customer.';
/** Ana's answers, one pulse every 15 days: the first is the baseline (4.0, so the target is 4.5). */
const PULSES = [4, 5, 5, 5];
const WORKED = 'Lee sent Ana the launch plan every Monday, and Ana confirmed each one.';
const STORY = {
  title: 'My lead presents my work as theirs',
  body: 'In every review my lead shows my analysis as their own. How can I raise it without a fight?',
};
const ANSWER = 'Keep a short written record before each review, and ask for a joint presentation next time.';

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

test('pulses over simulated weeks, the gate, rebuilt, a lesson and an anonymous story', { timeout: 600_000 }, async (t) => {
  clockDir = await mkdtemp(join(tmpdir(), 'kintsugi-clock-'));
  const clock = join(clockDir, 'clock');
  let days = 0;
  await writeFile(clock, '0');
  process.env.KINTSUGI_DEV_CLOCK = clock;
  server = await startServer();
  assert.match(server.stdout(), /Running on the development clock/);
  t.diagnostic(`server at ${server.baseUrl}, clock file ${clock}`);
  browser = await launchBrowser();

  const people = {};
  const clients = {};
  const ids = {};
  let shotNo = 80;
  const axeFindings = [];
  let repairId;
  let repairUrl;
  let lessonUrl;
  const anonRequests = [];

  const step = sequentialSteps(t, { prefix: '40', people, server: () => server });

  const visited = async (st, p, name, label) => {
    await settled(p);
    const lesser = await checkAccessibility(p, label);
    if (lesser.length) {
      const line = `${label}: minor/moderate axe findings: ${lesser.map((v) => `${v.id} (${v.impact})`).join('; ')}`;
      axeFindings.push(line);
      st.diagnostic(line);
    }
    if (name) await screenshot(p, `${shotNo++}-${name}.png`);
  };

  const signIn = async (key, client) => {
    const s = people[key];
    await s.context.clearCookies();
    await s.context.addCookies(
      [...client.cookies].map(([name, value]) => ({ name, value, url: server.baseUrl, httpOnly: true, sameSite: 'Strict' })),
    );
  };

  /** Moves the server's clock on; sessions last a week, so everyone logs in again. */
  const advance = async (st, by) => {
    days += by;
    await writeFile(clock, `+${days}d`);
    for (const person of PEOPLE) {
      clients[person.key] = await logIn(server.baseUrl, `${person.key}@example.org`, PASSWORD);
      await signIn(person.key, clients[person.key]);
    }
    st.diagnostic(`the clock reads +${days}d`);
  };

  const pulses = async () =>
    (await clients.fay.expect(200, 'GET', `/api/v1/repairs/${repairId}/rounds`)).json.filter((r) => r.kind === 'pulse');

  /** Waits for the background sweep (every second on the development clock). */
  const waitForPulses = async (open, closed) => {
    const until = Date.now() + STEP_TIMEOUT_MS;
    let now = [];
    while (Date.now() < until) {
      now = await pulses();
      if (now.filter((r) => r.open).length === open && now.filter((r) => !r.open).length === closed) return now;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`expected ${open} open and ${closed} closed pulses, found ${JSON.stringify(now.map((r) => r.open))}`);
  };

  const openRepair = async (p) => {
    await goto(p, repairUrl);
    await expectText(p.getByRole('heading', { level: 1 }), REPAIR_TITLE, { page: p, what: 'the repair heading' });
  };

  const gateLines = async (p) =>
    (await p.locator('.gate li').allInnerTexts()).map((l) => l.replace(/\s+/g, ' ').trim());

  await step('1. the organisation and its people are set up; the repair reaches rebuild (over HTTP)', async (st) => {
    const admin = await setUpOrganisation(server.baseUrl, server.setupUrl, { organisation: 'Gold Seam Works', ...ADMIN });
    for (const person of PEOPLE) {
      const added = await addPerson(admin, {
        name: person.name,
        email: `${person.key}@example.org`,
        roles: { facilitator: Boolean(person.facilitator) },
      });
      ids[person.key] = added.id;
      clients[person.key] = await acceptInvitation(server.baseUrl, added.invitationUrl, PASSWORD);
      const s = await newPage(browser);
      contexts.push(s.context);
      people[person.key] = s;
      await signIn(person.key, clients[person.key]);
      await s.context.route(
        (url) => url.pathname.startsWith('/anon/'),
        async (route) => {
          anonRequests.push({ who: person.key, req: route.request() });
          await route.continue();
        },
      );
    }
    const { fay, lee, ana } = clients;
    const created = await fay.expect(201, 'POST', '/api/v1/repairs', {
      json: {
        title: REPAIR_TITLE,
        summary: REPAIR_SUMMARY,
        breach: 'missed_deadline',
        scope: 'person_person',
        accountable_people: [ids.lee],
        affected_people: [ids.ana],
      },
    });
    repairId = created.json.id;
    repairUrl = `${server.baseUrl}/repairs/${repairId}`;
    const base = `/api/v1/repairs/${repairId}`;
    const advanceFrom = (from) => fay.expect(200, 'POST', `${base}/stage`, { json: { from, action: 'advance' } });
    await lee.expect(204, 'POST', `${base}/acknowledgments`, { json: { body: 'I moved the launch without telling you. I am sorry; I will send the plan every Monday.' } });
    await advanceFrom('acknowledge');
    await fay.expect([200, 204], 'POST', `${base}/no-round-reason`, { json: { reason: 'Two people: we talked instead.' } });
    await fay.expect([200, 201, 204], 'POST', `${base}/causes`, { json: { category: 'process', description: 'No checklist step for telling Ana.' } });
    await advanceFrom('understand');
    const due = new Date().toISOString().slice(0, 10);
    const made = await lee.expect(201, 'POST', `${base}/commitments`, { json: { owner: ids.lee, statement: 'Send Ana the launch plan every Monday', due } });
    await lee.expect([200, 204], 'POST', `${base}/commitments/${made.json.id}/occurrences/${due}/done`);
    await ana.expect([200, 204], 'POST', `${base}/commitments/${made.json.id}/occurrences/${due}/confirmation`, { json: { happened: true } });
    const moved = await advanceFrom('act');
    assert.equal(moved.json.stage, 'rebuild');
    st.diagnostic(`repair ${repairUrl} is in rebuild`);
  });

  await step('2. the first pulse opens by itself; the gate checklist starts empty', async (st) => {
    await waitForPulses(1, 0);
    const p = people.fay.page;
    await openRepair(p);
    assert.deepEqual(await gateLines(p), [
      'Not yet: 0 of 3 pulses in a row at target (5.5 of 7)',
      'Met: follow-through 100% of 90%',
      'Not yet: 0 of 6 weeks',
    ].map((l) => (l.startsWith('Met') ? `✓ ${l}` : l)));
    await visited(st, p, 'pulse-gate-start-fay', 'the repair in rebuild, as Fay');
  });

  const answerPulse = async (st, n, value) => {
    const p = people.ana.page;
    await openRepair(p);
    const section = p.locator('section.round').filter({ hasText: 'Trust pulse' });
    await expectText(section, 'Your answer key is on this device.', { page: p, what: "Ana's pulse" });
    for (const item of ['ability', 'benevolence', 'integrity', 'follow_through']) {
      await section.locator(`select[name="item_${item}"]`).selectOption(String(value));
    }
    if (n === 0) await visited(st, p, 'pulse-form-ana', "Ana's first pulse");
    const sent = p.waitForResponse((r) => r.request().method() === 'POST' && /^\/anon\/rounds\/[^/]+\/answers$/.test(new URL(r.url()).pathname));
    await (await byRole(section, 'button', 'Send anonymously', { page: p })).click();
    const res = await sent;
    assert.equal(res.status(), 202, `pulse ${n + 1} is accepted and waits for its seal`);
    assert.equal((await res.request().allHeaders()).cookie, undefined, 'the pulse answer carries no cookie');
    assert.deepEqual(res.request().postDataJSON().answer.items, { ability: value, benevolence: value, integrity: value, follow_through: value });
    await expectText(section, 'Received. It waits to be sealed together with other answers', { page: p, what: "Ana's pulse after sending" });
  };

  const expected = [
    ['Not yet: 0 of 3 pulses in a row at target (4.5 of 7)', 'Not yet: 2 of 6 weeks'],
    ['Not yet: 1 of 3 pulses in a row at target (4.5 of 7)', 'Not yet: 4 of 6 weeks'],
    ['Not yet: 2 of 3 pulses in a row at target (4.5 of 7)', '✓ Met: 6 of 6 weeks'],
    ['✓ Met: 3 of 3 pulses in a row at target (4.5 of 7)', '✓ Met: 6 of 6 weeks'],
  ];
  for (const [n, value] of PULSES.entries()) {
    await step(`3.${n + 1}. Ana answers pulse ${n + 1} (${value} of 7); 15 days pass; the checklist fills in`, async (st) => {
      await answerPulse(st, n, value);
      await advance(st, 15);
      // The sweep closes this pulse and opens the next, without anyone opening a page.
      await waitForPulses(1, n + 1);
      const p = people.ana.page;
      await openRepair(p);
      const lines = await gateLines(p);
      assert.equal(lines[0], expected[n][0]);
      assert.equal(lines[1], '✓ Met: follow-through 100% of 90%');
      assert.equal(lines[2], expected[n][1]);
      const closed = p.locator('article.round-results').filter({ hasText: 'Closed trust pulse' });
      assert.equal(await closed.count(), n + 1, `${n + 1} closed pulses on the page`);
      await visited(st, p, `pulse-gate-${n + 1}-ana`, `the gate after pulse ${n + 1}, as Ana`);
    });
  }

  await step('4. the gate passes: Fay clicks "Move to the next stage" and the repair is rebuilt', async (st) => {
    const p = people.fay.page;
    await openRepair(p);
    await expectText(p.locator('.gate'), 'Recovery gate: passed', { page: p, what: 'the gate' });
    await visited(st, p, 'pulse-gate-passed-fay', 'the passed gate, as Fay');
    await (await byRole(p, 'button', 'Move to the next stage')).click();
    await settled(p);
    await expectText(p.getByRole('main'), 'Stage: Rebuilt', { page: p, what: 'the rebuilt repair' });
    assert.equal(await p.getByText('The recovery gate was overridden.').count(), 0, 'through the gate, not an override');
    await visited(st, p, 'rebuilt-fay', 'the rebuilt repair, as Fay');
  });

  await step('5. Fay publishes a lesson: a preview with names replaced, then confirmation', async (st) => {
    const p = people.fay.page;
    await (await byRole(p, 'button', 'Publish a lesson to the library')).click();
    await settled(p);
    await expectText(p.getByRole('heading', { level: 1 }), 'Publish a lesson', { page: p });
    assert.equal(await (await byLabel(p, 'Title')).inputValue(), REPAIR_TITLE);
    await visited(st, p, 'lesson-draft-fay', 'the lesson draft, as Fay');
    await (await byLabel(p, 'What worked')).fill(WORKED);
    await (await byRole(p, 'button', 'Preview with names replaced')).click();
    await settled(p);
    const preview = p.locator('section.preview');
    await expectText(preview, 'Person A sent Person B the launch plan every Monday', { page: p, what: 'the preview' });
    const text = await preview.innerText();
    for (const name of ['Lee', 'Ana', 'Fay']) assert.ok(!text.includes(name), `${name} is replaced in the preview`);
    await visited(st, p, 'lesson-preview-fay', 'the lesson preview, as Fay');
    await (await byRole(p, 'button', 'Confirm and publish')).click();
    await settled(p);
    await expectText(p.getByRole('heading', { level: 1 }), REPAIR_TITLE, { page: p, what: 'the published lesson' });
    await expectText(p.getByRole('main'), 'Person A sent Person B the launch plan every Monday, and Person B confirmed each one.', { page: p, what: 'the published lesson' });
    lessonUrl = p.url();
    assert.match(new URL(lessonUrl).pathname, /^\/library\/lessons\/[0-9a-f-]{36}$/);
    await visited(st, p, 'lesson-fay', 'the published lesson');
  });

  await step('6. Oz finds the lesson in the library by searching', async (st) => {
    const p = people.oz.page;
    await goto(p, `${server.baseUrl}/library`);
    await (await byLabel(p, 'Search lessons and stories')).fill('every monday');
    await (await byRole(p, 'button', 'Search')).click();
    await settled(p);
    const link = await byRole(p.locator('section[aria-labelledby="lessons-heading"]'), 'link', REPAIR_TITLE, { page: p });
    await visited(st, p, 'library-search-oz', 'the library search, as Oz');
    await link.click();
    await settled(p);
    await expectText(p.getByRole('main'), 'Person A sent Person B the launch plan every Monday', { page: p, what: 'the lesson, as Oz' });
    await visited(st, p, null, 'the lesson, as Oz');
  });

  await step('7. Oz shares an anonymous story: sent with no cookie, and he is given its code', async (st) => {
    const p = people.oz.page;
    await goto(p, `${server.baseUrl}/library/stories/new`);
    await visited(st, p, 'story-new-oz', 'the story form, as Oz');
    await (await byLabel(p, 'A short title')).fill(STORY.title);
    await (await byLabel(p, 'What is happening')).fill(STORY.body);
    const sent = p.waitForResponse((r) => r.request().method() === 'POST' && /^\/anon\/orgs\/[^/]+\/stories$/.test(new URL(r.url()).pathname));
    await (await byRole(p, 'button', 'Share anonymously')).click();
    const res = await sent;
    assert.equal(res.status(), 201);
    const headers = await res.request().allHeaders();
    assert.equal(headers.cookie, undefined, 'the story carries no cookie');
    assert.equal(headers['x-csrf-token'], undefined, 'the story carries no CSRF token');
    assert.deepEqual(Object.keys(res.request().postDataJSON()).sort(), ['body', 'reply_check', 'title']);
    await expectText(p.getByRole('main'), 'Shared anonymously.', { page: p, what: 'the story page after sharing' });
    const code = (await p.locator('code.story-code').innerText()).trim();
    assert.match(code, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(res.request().postDataJSON()).includes(code), 'the capability itself is not sent');
    await visited(st, p, 'story-shared-oz', 'the shared story, as Oz');
  });

  await step('8. Fay answers the story in the library', async (st) => {
    const p = people.fay.page;
    await goto(p, `${server.baseUrl}/library`);
    const story = p.locator('article.story').filter({ hasText: STORY.title });
    await expectText(story, 'No answer yet.', { page: p, what: 'the story in the library' });
    await (await byRole(story, 'textbox', 'Your answer (signed with your name)', { page: p })).fill(ANSWER);
    await (await byRole(story, 'button', 'Answer', { page: p })).click();
    await settled(p);
    await expectText(p.locator('article.story').filter({ hasText: STORY.title }), ANSWER, { page: p, what: 'the answered story' });
    await visited(st, p, 'library-fay', 'the library with the answered story, as Fay');
  });

  await step('9. Oz reads the answer through the capability his browser kept (no cookie)', async (st) => {
    const p = people.oz.page;
    const asked = p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/anon/stories/thread');
    await goto(p, `${server.baseUrl}/library/stories/mine`);
    const res = await asked;
    assert.equal(res.status(), 200);
    assert.equal((await res.request().allHeaders()).cookie, undefined, 'the thread request carries no cookie');
    await expectText(p.locator('#my-stories-list'), ANSWER, { page: p, what: "Oz's stories" });
    await expectText(p.locator('#my-stories-list'), '— Fay Facilitator, facilitator', { page: p, what: "Oz's stories" });
    await visited(st, p, 'stories-mine-oz', "Oz's stories and their answers");
    // Another person's browser holds no capability: it shows none of Oz's stories.
    const a = people.ana.page;
    await goto(a, `${server.baseUrl}/library/stories/mine`);
    await expectText(a.locator('#my-stories-status'), 'This browser has shared no story yet.', { page: a });
    await visited(st, a, null, "Ana's (empty) stories page");
    for (const w of anonRequests) {
      assert.equal((await w.req.allHeaders()).cookie, undefined, `${w.who}'s ${w.req.url()} carries no cookie`);
    }
    st.diagnostic(`${anonRequests.length} requests on /anon/, none with a cookie`);
  });

  for (const line of axeFindings) t.diagnostic(`axe (minor/moderate): ${line}`);
  const problems = [];
  for (const [who, s] of Object.entries(people)) {
    for (const line of [...s.problems.pageErrors, ...s.problems.consoleErrors]) problems.push(`${who}: ${line}`);
    for (const line of s.problems.failedResources) problems.push(`${who}: ${line}`);
  }
  if (!step.failed()) {
    assert.deepEqual(problems, [], `errors in the pages:\n${problems.join('\n')}\n${await describePage(people.fay.page)}`);
  }
});
