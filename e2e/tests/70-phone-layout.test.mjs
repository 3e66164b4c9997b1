// The phone layout, with the demo organisation (`serve --demo`): at 390 px no page scrolls
// sideways, for the admin, a facilitator and a member, and the header's navigation folds into
// a menu (<details>/<summary>, no JavaScript needed) through which Log out is reachable.
//
//   for each role: log in at 390 px → every page (the home page, the repairs, a repair and its
//   lesson, team health and a team, the library, the dashboard, email preferences and feeds,
//   every admin page, an unknown address) is no wider than the screen and passes axe (a page
//   refused to the role is an error page, and that is measured too) → the menu opens and axe passes → Log out through the menu.
//   Then the admin's pages at 1280 px, where the navigation shows without opening anything.
//
// Screenshots: 70-phone-<role>-<page>.png and 71-desktop-admin-<page>.png.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  byLabel,
  byRole,
  checkAccessibility,
  expectPath,
  goto,
  launchBrowser,
  newPage,
  screenshot,
  settled,
  startServer,
  sequentialSteps,
} from '../lib/harness.mjs';

const PASSWORD = 'kintsugi-demo-password';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
// The facilitator first: the admin is in no repair, and opens the facilitator's (whatever the
// admin is shown there, refused or not, must fit too).
const ROLES = [
  ['facilitator', 'facilitator@demo.example'],
  ['member', 'member@demo.example'],
  ['admin', 'admin@demo.example'],
];
let knownRepair = null;
// Every page is measured and checked with axe; these are also screenshotted.
const SCREENSHOTS = new Set(['home', 'repair', 'people', 'health-overview', 'dashboard', 'not-found']);

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

/** The first repair the person can open, from the repairs list. */
async function firstRepair(page) {
  await goto(page, `${server.baseUrl}/repairs`);
  const hrefs = await page
    .locator('main a[href^="/repairs/"]')
    .evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  const repair = hrefs.find((h) => /^\/repairs\/[0-9a-f-]{36}$/.test(h)) ?? knownRepair;
  assert.ok(repair, `a repair to open among ${hrefs}`);
  knownRepair ??= repair;
  return repair;
}

/** The first link under `prefix` on the page at `from`, if the person can open it. */
async function firstLink(page, from, prefix) {
  const res = await page.goto(`${server.baseUrl}${from}`, { waitUntil: 'load' });
  if (!res || res.status() >= 400) return null;
  const hrefs = await page
    .locator(`main a[href^="${prefix}"]`)
    .evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  return hrefs.find((h) => /[0-9a-f-]{36}$/.test(h)) ?? null;
}

/**
 * Opens `path` (a page refused to this role is allowed: its error page is measured) and checks
 * that nothing is wider than the viewport. A failure names the elements that stick out.
 */
async function assertFits(page, path, what) {
  const res = await page.goto(`${server.baseUrl}${path}`, { waitUntil: 'load' });
  assert.ok(res.status() < 500, `${what}: ${res.status()}`);
  await settled(page);
  const width = page.viewportSize().width;
  const { scrollWidth, culprits } = await page.evaluate((limit) => {
    const culprits = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.right > limit + 0.5 && r.width > 0) {
        // Only the outermost: skip an element whose parent already sticks out.
        const p = el.parentElement?.getBoundingClientRect();
        if (!p || p.right <= limit + 0.5) {
          culprits.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}`);
        }
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, culprits: culprits.slice(0, 10) };
  }, width);
  assert.ok(
    scrollWidth <= width,
    `${what} (${path}) is ${scrollWidth} px wide at ${width} px; sticking out:\n  ${culprits.join('\n  ')}`,
  );
  return res.status();
}

test('no page scrolls sideways at 390 px, and the menu holds Log out', async (t) => {
  server = await startServer({ extraArgs: ['--demo'] });
  browser = await launchBrowser();
  const people = {};
  for (const [role] of ROLES) people[role] = await newPage(browser);
  const step = sequentialSteps(t, { prefix: '70', people, server: () => server });

  for (const [role, email] of ROLES) {
    await step(`${role}: every page fits 390 px`, async () => {
      const { page } = people[role];
      await page.setViewportSize(PHONE);
      await logIn(page, email);
      const repair = await firstRepair(page);
      const nil = '00000000-0000-0000-0000-000000000000';
      const pages = [
        ['home', '/'],
        ['repairs', '/repairs'],
        ['repair-new', '/repairs/new'],
        ['repair', repair],
        ['repair-lesson', `${repair}/lesson`],
        ['health', '/health'],
        ['health-overview', '/health/overview'],
        ['health-team', (await firstLink(page, '/health/overview', '/health/teams/')) ?? `/health/teams/${nil}`],
        ['library', '/library'],
        ['lesson', (await firstLink(page, '/library', '/library/lessons/')) ?? `/library/lessons/${nil}`],
        ['story-new', '/library/stories/new'],
        ['stories-mine', '/library/stories/mine'],
        ['dashboard', '/dashboard'],
        ['preferences', '/preferences'],
        ['feeds', '/me/feeds'],
        ['people', '/admin/people'],
        ['person', (await firstLink(page, '/admin/people', '/admin/people/')) ?? `/admin/people/${nil}`],
        ['teams', '/admin/teams'],
        ['audit', '/admin/audit'],
        ['settings', '/admin/settings'],
        ['health-settings', '/admin/health'],
        ['jobs', '/admin/jobs'],
        ['webhooks', '/admin/webhooks'],
        ['not-found', '/no/such/page'],
      ];
      for (const [name, path] of pages) {
        await assertFits(page, path, `${role}'s ${name} page`);
        await checkAccessibility(page, `${role}'s ${name} page at 390 px`);
        if (SCREENSHOTS.has(name)) await screenshot(page, `70-phone-${role}-${name}.png`);
      }
    });

    await step(`${role}: the menu opens, passes axe, and logs out`, async () => {
      const { page } = people[role];
      await goto(page, `${server.baseUrl}/`);
      const header = page.locator('header');
      // Folded: Log out is not shown until the menu opens.
      assert.equal(await header.getByRole('button', { name: 'Log out' }).isVisible(), false);
      await header.locator('summary', { hasText: 'Menu' }).click();
      const logOut = await byRole(header, 'button', 'Log out', { page });
      assert.ok(await logOut.isVisible(), 'Log out shows in the open menu');
      await byRole(header, 'link', 'Emails', { page });
      assert.ok(
        await page.evaluate(() => document.documentElement.scrollWidth) <= PHONE.width,
        'the open menu fits the screen too',
      );
      await checkAccessibility(page, `the open menu (${role})`);
      await screenshot(page, `70-phone-${role}-menu-open.png`);
      await logOut.click();
      await expectPath(page, '/login', 'after logging out through the menu');
    });
  }

  await step('admin at 768 and 1024 px: the row of links wraps inside the screen', async () => {
    const { page } = people.admin;
    await logIn(page, 'admin@demo.example');
    for (const width of [768, 1024]) {
      await page.setViewportSize({ width, height: 800 });
      for (const path of ['/', '/admin/people']) await assertFits(page, path, `the admin's ${path} at ${width} px`);
      assert.ok(await page.locator('header').getByRole('button', { name: 'Log out' }).isVisible());
    }
  });

  await step('admin at 1280 px: the navigation shows without a menu', async () => {
    const { page } = people.admin;
    await page.setViewportSize(DESKTOP);
    const header = page.locator('header');
    assert.equal(await header.locator('summary', { hasText: 'Menu' }).isVisible(), false);
    assert.ok(await header.getByRole('button', { name: 'Log out' }).isVisible());
    assert.ok(await header.getByRole('link', { name: 'People' }).isVisible());
    for (const [name, path] of [
      ['home', '/'],
      ['repair', await firstRepair(page)],
      ['people', '/admin/people'],
      ['health-overview', '/health/overview'],
    ]) {
      await assertFits(page, path, `the admin's ${name} page at 1280 px`);
      await checkAccessibility(page, `the admin's ${name} page at 1280 px`);
      await screenshot(page, `71-desktop-admin-${name}.png`);
    }
  });
});
