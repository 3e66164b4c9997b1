// The organisation dashboard and a repair's trust pulse trends, with the demo organisation
// (`serve --demo`): a repair at each stage, a rebuild repair whose third pulse had too few
// answers, and commitments with follow-through.
//
//   facilitator opens /dashboard (stage, follow-through and overdue charts) → the rebuilding
//   repair shows one trend chart per dimension with a gap that says why → the admin's
//   dashboard → a member is refused the dashboard and has no link to it.
//
// Every page is checked with axe-core and screenshotted as 40-….png, 41-….png, …

import { test, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  byLabel,
  byRole,
  checkAccessibility,
  expectPath,
  expectText,
  goto,
  launchBrowser,
  newPage,
  screenshot,
  startServer,
  sequentialSteps,
  SCREENSHOT_DIR,
} from '../lib/harness.mjs';
import { join } from 'node:path';

const PASSWORD = 'kintsugi-demo-password';
const STAGES = ['Acknowledge', 'Understand', 'Act', 'Rebuild', 'Rebuilt', 'Closed without repair'];
const REBUILDING = 'Release dates changed without telling Support';

let server;
let browser;

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function logIn(page, email) {
  await goto(page, `${server.baseUrl}/login`);
  await (await byLabel(page, 'Email')).fill(email);
  await (await byLabel(page, 'Password')).fill(PASSWORD);
  await (await byRole(page, 'button', 'Log in')).click();
  await expectPath(page, '/', 'after logging in, the home page');
}

async function visited(page, file, label) {
  await checkAccessibility(page, label);
  await screenshot(page, file);
}

test('the dashboard and pulse trends with the demo organisation', async (t) => {
  server = await startServer({ extraArgs: ['--demo'] });
  browser = await launchBrowser();
  const fac = await newPage(browser);
  const admin = await newPage(browser);
  const member = await newPage(browser);
  const step = sequentialSteps(t, {
    prefix: '4x',
    people: { facilitator: fac, admin, member },
    server: () => server,
  });

  await step('1. the facilitator opens the dashboard from the navigation', async () => {
    const page = fac.page;
    await logIn(page, 'facilitator@demo.example');
    await (await byRole(page.locator('header'), 'link', 'Dashboard', { page })).click();
    await expectPath(page, '/dashboard', 'the dashboard');
    await byRole(page, 'heading', 'Repairs by stage and age');
    await byRole(page, 'heading', 'Follow-through across the organisation');
    await byRole(page, 'heading', 'Overdue updates');
    // Charts are images with a name, and every stage has a row in the table.
    await byRole(page, 'img', 'Repairs by stage and age How many repairs are at each stage', { exact: false });
    for (const stage of STAGES) await byRole(page, 'rowheader', stage, { page });
    // The overdue repair is Hana's: this facilitator learns only that it exists.
    await expectText(page, 'you are not part of', { what: 'the overdue section' });
    await visited(page, '40-dashboard-facilitator.png', 'the dashboard (facilitator)');
  });

  await step('2. a rebuilding repair shows each dimension over time, with the gap explained', async () => {
    const page = fac.page;
    await goto(page, `${server.baseUrl}/repairs`);
    await (await byRole(page, 'link', REBUILDING)).click();
    await byRole(page, 'heading', 'Trust over time');
    const charts = page.locator('section.trend svg[role="img"]');
    assert.equal(await charts.count(), 4, 'one chart per dimension');
    const gaps = await page.locator('section.trend .gap text').allTextContents();
    assert.equal(gaps.length, 4, `a gap in each chart: ${gaps}`);
    for (const g of gaps) assert.equal(g, 'Gap: fewer than 5 answered');
    // The data table behind a chart opens and says "suppressed" for that pulse.
    await page.locator('section.trend details summary').first().click();
    await expectText(page.locator('section.trend details').first(), 'suppressed (fewer than 5 answered)', {
      page,
      what: 'the first chart\'s data table',
    });
    await visited(page, '41-repair-trend.png', 'the rebuilding repair with its trends');
    const trend = page.locator('section.trend');
    await trend.scrollIntoViewIfNeeded();
    await trend.screenshot({ path: join(SCREENSHOT_DIR, '42-repair-trend-section.png') });
  });

  await step('3. the admin sees the same dashboard', async () => {
    const page = admin.page;
    await logIn(page, 'admin@demo.example');
    await goto(page, `${server.baseUrl}/dashboard`);
    await expectText(page, 'last update 18 days ago, promised every 7', { what: 'the overdue table' });
    await byRole(page, 'link', 'On-call swap promised, then withdrawn');
    await visited(page, '43-dashboard-admin.png', 'the dashboard (admin)');
  });

  await step('4. a member has no dashboard', async () => {
    const page = member.page;
    await logIn(page, 'member@demo.example');
    assert.equal(await page.locator('header').getByRole('link', { name: 'Dashboard' }).count(), 0);
    const res = await page.goto(`${server.baseUrl}/dashboard`);
    assert.equal(res.status(), 403);
    await expectText(page, 'this needs the admin or facilitator role', { what: 'the refusal' });
    await visited(page, '44-dashboard-member-refused.png', 'the refusal');
  });
});
