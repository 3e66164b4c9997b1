// The first-run flow, end to end, against the real server binary:
// set up the organisation, log out and in, create a team and a person,
// create an invitation link for that person, and accept it in a fresh
// browser with a password. Every page visited is checked with axe-core and
// screenshotted into test-output/screenshots/.

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
  prepareScreenshotDir,
  screenshot,
  settled,
  startServer,
} from '../lib/harness.mjs';

const ORG_NAME = 'Acme Pottery Works';
const ADMIN = { name: 'Ada Admin', email: 'ada@example.org', password: 'correct horse battery staple' };
const TEAM_NAME = 'Glaze Team';
const PERSON = { name: 'Pat Participant', email: 'pat@example.org', password: 'golden seams 2024!' };

let server;
let browser;
const contexts = [];

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
});

test('setup, log in, teams, people and invitation links', { timeout: 300_000 }, async (t) => {
  prepareScreenshotDir();
  server = await startServer();
  t.diagnostic(`server at ${server.baseUrl}, data dir ${server.dataDir}`);
  browser = await launchBrowser();

  const admin = await newPage(browser);
  contexts.push(admin.context);
  const page = admin.page;
  let invitationUrl;
  let personPageUrl;
  let failed = false;
  let lastInviteePage = null;

  // Runs one step as a subtest. After a failure the later steps are skipped,
  // since each depends on the state the previous ones made. A failing step
  // saves a FAILED-*.png screenshot and appends the server's output.
  const step = (name, fn) =>
    t.test(name, async (st) => {
      if (failed) {
        st.skip('an earlier step failed');
        return;
      }
      try {
        await fn(st);
      } catch (e) {
        failed = true;
        const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
        for (const [who, p] of [['admin', page], ['invitee', lastInviteePage]]) {
          if (!p || p.isClosed()) continue;
          await screenshot(p, `FAILED-${slug}-${who}.png`).catch(() => {});
        }
        e.message += `\n${server.dump()}`;
        throw e;
      }
    });

  // Checks and records a page: axe (fails on serious/critical) and a screenshot.
  const visited = async (st, p, shot, label) => {
    await settled(p);
    const lesser = await checkAccessibility(p, label);
    if (lesser.length) {
      st.diagnostic(`${label}: minor/moderate axe findings: ${lesser.map((v) => `${v.id} (${v.impact})`).join(', ')}`);
    }
    await screenshot(p, shot);
  };

  await step('1. the setup link creates the organisation and signs the admin in', async (st) => {
    await goto(page, server.setupUrl);
    await visited(st, page, '01-setup.png', 'the setup page');
    const assets = await page.evaluate(() => ({
      htmx: typeof window.htmx === 'object' && window.htmx !== null,
      stylesheets: document.styleSheets.length,
    }));
    st.diagnostic(`front-end assets: window.htmx ${assets.htmx ? 'present' : 'MISSING'}, ${assets.stylesheets} stylesheet(s)`);

    await (await byLabel(page, 'Organisation name')).fill(ORG_NAME);
    await (await byLabel(page, 'Your name')).fill(ADMIN.name);
    await (await byLabel(page, 'Email')).fill(ADMIN.email);
    await (await byLabel(page, 'Password')).fill(ADMIN.password);
    await (await byRole(page, 'button', 'Create organisation')).click();

    await expectPath(page, '/', 'after setup, the home page');
    await expectText(page, ORG_NAME, { what: 'the home page' });
    await byRole(page, 'button', 'Log out');
    await visited(st, page, '02-home-after-setup.png', 'the home page after setup');
  });

  await step('2. "Log out" in the header signs out and lands on /login', async () => {
    await (await byRole(page.locator('header'), 'button', 'Log out', { page })).click();
    await expectPath(page, '/login', 'after logging out, the login page');
    const logout = await page.getByRole('button', { name: 'Log out', exact: true }).count();
    assert.equal(logout, 0, 'the login page should not offer "Log out"');
  });

  await step('3. logging in: a wrong password is refused, the right one works', async (st) => {
    await goto(page, `${server.baseUrl}/login`);
    await visited(st, page, '03-login.png', 'the login page');

    await (await byLabel(page, 'Email')).fill(ADMIN.email);
    await (await byLabel(page, 'Password')).fill('not the password at all');
    await (await byRole(page, 'button', 'Log in')).click();
    await expectText(page, 'Email or password is incorrect', { what: 'the login page after a wrong password' });
    await expectPath(page, '/login', 'after a wrong password, still the login page');
    await visited(st, page, '04-login-wrong-password.png', 'the login page with an error');

    await (await byLabel(page, 'Email')).fill(ADMIN.email);
    await (await byLabel(page, 'Password')).fill(ADMIN.password);
    await (await byRole(page, 'button', 'Log in')).click();
    await expectPath(page, '/', 'after logging in, the home page');
    await expectText(page, ORG_NAME, { what: 'the home page' });
    await visited(st, page, '05-home.png', 'the home page');
  });

  await step('4. teams: create a team and see it in the table', async (st) => {
    await (await byRole(page, 'link', 'Teams')).click();
    await expectPath(page, '/admin/teams', 'the "Teams" link leads to');
    await visited(st, page, '06-teams-empty.png', 'the teams page');

    await (await byLabel(page, 'Team name')).fill(TEAM_NAME);
    await (await byRole(page, 'button', 'Create team')).click();
    await expectPath(page, '/admin/teams', 'after creating a team, the teams page');
    await expectText(page.getByRole('table'), TEAM_NAME, { page, what: 'the teams table' });
    await visited(st, page, '07-teams.png', 'the teams page with a team');
  });

  await step('5. people: add a person and open their page', async (st) => {
    await (await byRole(page, 'link', 'People')).click();
    await expectPath(page, '/admin/people', 'the "People" link leads to');
    await visited(st, page, '08-people-empty.png', 'the people page');

    await (await byLabel(page, 'Name')).fill(PERSON.name);
    await (await byLabel(page, 'Email')).fill(PERSON.email);
    const team = await byLabel(page, 'Team');
    assert.equal(await team.evaluate((el) => el.tagName.toLowerCase()), 'select', '"Team" should be a select');
    await team.selectOption({ label: TEAM_NAME });
    const facilitator = await byRole(page, 'checkbox', 'Facilitator');
    await byRole(page, 'checkbox', 'Admin');
    await facilitator.check();
    await (await byRole(page, 'button', 'Add person')).click();

    // After "Add person" the server may show the people table again, or go
    // straight to the new person's page. Either is fine; wait for one of them.
    const inTable = page.getByRole('table').getByRole('link', { name: PERSON.name, exact: true });
    const personHeading = page.getByRole('heading', { level: 1, name: PERSON.name, exact: true });
    try {
      await inTable.or(personHeading).first().waitFor({ state: 'visible' });
    } catch {
      throw new Error(
        `After "Add person", expected either the people table with a link "${PERSON.name}" ` +
          `or that person's page (h1 "${PERSON.name}"), but got neither.\n${await describePage(page)}`,
      );
    }
    if (/^\/admin\/people\/[^/]+$/.test(new URL(page.url()).pathname)) {
      st.diagnostic(`"Add person" went straight to the person's page ${page.url()}`);
      await (await byRole(page, 'link', 'People')).click();
      await expectPath(page, '/admin/people', 'the "People" link leads to');
    }
    const link = await byRole(page.getByRole('table'), 'link', PERSON.name, { page });
    await visited(st, page, '09-people.png', 'the people page with a person');
    await link.click();
    await expectPath(page, /^\/admin\/people\/[^/]+$/, "the person's page");
    personPageUrl = page.url();
    await expectText(page.getByRole('heading', { level: 1 }), PERSON.name, { page, what: "the person's page heading" });
    await visited(st, page, '10-person.png', "the person's page");
  });

  await step('6. the person page creates an invitation link', async (st) => {
    await (await byRole(page, 'button', 'Create invitation link')).click();
    const input = await byLabel(page, 'Invitation link');
    assert.equal(await input.isEditable(), false, 'the invitation link input should be read-only');
    invitationUrl = await input.inputValue();
    const expected = new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/invite/[^/?#\\s]+$`);
    assert.match(invitationUrl, expected, 'the invitation link should be an absolute URL to /invite/TOKEN');
    st.diagnostic(`person page ${personPageUrl}, invitation link ${invitationUrl}`);
    await visited(st, page, '11-person-invitation.png', "the person's page with an invitation link");
  });

  await step('7. the invitee sets a password with the link, then logs in with it', async (st) => {
    const invitee = await newPage(browser);
    contexts.push(invitee.context);
    const p = invitee.page;
    lastInviteePage = p;

    await goto(p, invitationUrl);
    await visited(st, p, '12-invitation.png', 'the invitation page');
    const pw = await byLabel(p, 'New password');
    await byRole(p, 'button', 'Continue without a password');
    await pw.fill(PERSON.password);
    await (await byRole(p, 'button', 'Set password and sign in')).click();

    await expectPath(p, '/', 'after accepting the invitation, the home page');
    await expectText(p.locator('header'), PERSON.name, { page: p, what: 'the header (signed in as the invitee)' });
    await visited(st, p, '13-home-invitee.png', "the invitee's home page");

    await (await byRole(p.locator('header'), 'button', 'Log out', { page: p })).click();
    await expectPath(p, '/login', 'after the invitee logs out, the login page');
    await (await byLabel(p, 'Email')).fill(PERSON.email);
    await (await byLabel(p, 'Password')).fill(PERSON.password);
    await (await byRole(p, 'button', 'Log in')).click();
    await expectPath(p, '/', 'after the invitee logs in, the home page');
    await expectText(p.locator('header'), PERSON.name, { page: p, what: 'the header (invitee logged in)' });
    await visited(st, p, '14-home-invitee-login.png', "the invitee's home page after logging in");

    for (const line of [...invitee.problems.pageErrors, ...invitee.problems.failedResources]) {
      st.diagnostic(`invitee browser problem: ${line}`);
    }
  });

  const { pageErrors, consoleErrors, failedResources } = admin.problems;
  for (const line of consoleErrors) t.diagnostic(`browser console error: ${line}`);
  for (const line of failedResources) t.diagnostic(`failed sub-resource: ${line}`);
  if (!failed) {
    assert.deepEqual(pageErrors, [], `JavaScript errors in the pages:\n${pageErrors.join('\n')}`);
  }
});
