// Background jobs and email in the browser: an admin emails an invitation while the mail
// server is down, sees it land in the dead letters on the jobs page and retries it; a
// person chooses their emails; the one-click unsubscribe page. Every page is checked with
// axe-core and screenshotted.

import { test, after } from 'node:test';

import {
  byLabel,
  byRole,
  checkAccessibility,
  expectPath,
  expectText,
  goto,
  launchBrowser,
  newPage,
  prepareScreenshotDir,
  screenshot,
  sequentialSteps,
  settled,
  startServer,
} from '../lib/harness.mjs';

// Mail to a port nobody listens on, and one attempt only: the job dies at once.
process.env.KINTSUGI_SMTP_HOST = '127.0.0.1';
process.env.KINTSUGI_SMTP_PORT = '9';
process.env.KINTSUGI_SMTP_TLS = 'none';
process.env.KINTSUGI_MAIL_FROM = 'Kintsugi <kintsugi@example.org>';
process.env.KINTSUGI_JOB_MAX_ATTEMPTS = '1';
process.env.KINTSUGI_JOB_POLL_MILLIS = '200';

const ADMIN = { name: 'Ada Admin', email: 'ada@example.org', password: 'correct horse battery staple' };

let server;
let browser;
const contexts = [];

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
});

test('jobs page, email invitations, preferences and unsubscribe', { timeout: 300_000 }, async (t) => {
  prepareScreenshotDir();
  server = await startServer();
  browser = await launchBrowser();
  const admin = await newPage(browser);
  contexts.push(admin.context);
  const page = admin.page;
  const step = sequentialSteps(t, { prefix: '40', people: { admin }, server: () => server });
  const visited = async (st, p, shot, label) => {
    await settled(p);
    const lesser = await checkAccessibility(p, label);
    if (lesser.length) st.diagnostic(`${label}: ${lesser.map((v) => `${v.id} (${v.impact})`).join(', ')}`);
    await screenshot(p, shot);
  };

  await step('1. set up, add a person, email them an invitation', async (st) => {
    await goto(page, server.setupUrl);
    await (await byLabel(page, 'Organisation name')).fill('Acme Pottery Works');
    await (await byLabel(page, 'Your name')).fill(ADMIN.name);
    await (await byLabel(page, 'Email')).fill(ADMIN.email);
    await (await byLabel(page, 'Password')).fill(ADMIN.password);
    await (await byRole(page, 'button', 'Create organisation')).click();
    await expectPath(page, '/', 'after setup, the home page');
    const made = await page.request.post(`${server.baseUrl}/api/v1/people`, {
      data: { name: 'Pat Participant', email: 'pat@example.org' },
    });
    if (made.status() !== 201) throw new Error(`creating a person: ${made.status()} ${await made.text()}`);
    const { id } = await made.json();
    await goto(page, `${server.baseUrl}/admin/people/${id}`);
    await (await byRole(page, 'button', 'Email an invitation to pat@example.org')).click();
    await expectText(page, 'An invitation is on its way to Pat Participant', { what: 'the confirmation' });
    await visited(st, page, '40-01-invitation-sent.png', 'the invitation-sent page');
  });

  await step('2. the mail server is down: the job lands in the dead letters; retry it', async (st) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      await goto(page, `${server.baseUrl}/admin/jobs`);
      if ((await page.getByRole('button', { name: /^Retry email job/ }).count()) > 0) break;
      if (Date.now() > deadline) throw new Error('no dead email job on /admin/jobs within 20 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    await expectText(page, 'could not hand it to the mail server', { what: 'the dead letter' });
    await visited(st, page, '40-02-jobs-dead-letter.png', 'the jobs page with a dead letter');
    await page.getByRole('button', { name: /^Retry email job/ }).first().click();
    await expectPath(page, '/admin/jobs', 'after retrying, the jobs page');
    await visited(st, page, '40-03-jobs-after-retry.png', 'the jobs page after a retry');
  });

  await step('3. email preferences: untick the weekly digest and save', async (st) => {
    await (await byRole(page, 'link', 'Emails')).click();
    await expectPath(page, '/preferences', 'the "Emails" link leads to');
    await visited(st, page, '40-04-preferences.png', 'the preferences page');
    await (await byLabel(page, 'A weekly digest of my commitments and repairs')).uncheck();
    await (await byRole(page, 'button', 'Save preferences')).click();
    await expectText(page, 'Saved.', { what: 'the preferences page after saving' });
    await visited(st, page, '40-05-preferences-saved.png', 'the preferences page after saving');
  });

  await step('4. the unsubscribe page asks before it acts', async (st) => {
    const anon = await newPage(browser);
    contexts.push(anon.context);
    await goto(anon.page, `${server.baseUrl}/unsubscribe/not-a-real-link`);
    await byRole(anon.page, 'button', 'Unsubscribe');
    await visited(st, anon.page, '40-06-unsubscribe.png', 'the unsubscribe page');
    await (await byRole(anon.page, 'button', 'Unsubscribe')).click();
    await expectText(anon.page, 'Unsubscribe link not valid', { what: 'a forged link' });
    await visited(st, anon.page, '40-07-unsubscribe-invalid.png', 'the unsubscribe page for a forged link');
  });
});
