// Single sign-on in a real browser: a real OpenID provider (oidc-provider, from
// crates/kintsugi/tests/oidc) runs on loopback, Kintsugi points at it, and a person nobody
// created signs in with "Sign in with Acme ID", fills in the provider's login form, and lands
// on Kintsugi's home page, provisioned just in time. The pages are checked with axe.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import {
  REPO_ROOT,
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
  settled,
  startServer,
} from '../lib/harness.mjs';

const PROVIDER_DIR = join(REPO_ROOT, 'crates', 'kintsugi', 'tests', 'oidc');

let provider;
let server;
let browser;
const contexts = [];

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
  provider?.kill('SIGTERM');
});

/** Starts the test provider; resolves to its issuer URL. */
function startProvider() {
  assert.ok(
    existsSync(join(PROVIDER_DIR, 'node_modules', 'oidc-provider')),
    `run npm ci in ${PROVIDER_DIR} first (scripts/test does)`,
  );
  provider = spawn(process.execPath, ['provider.mjs'], { cwd: PROVIDER_DIR, stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: provider.stdout }).on('line', (line) => {
      if (line.startsWith('READY ')) resolve(line.slice(6));
    });
    provider.on('exit', (code) => reject(new Error(`the OpenID provider exited (${code})`)));
    setTimeout(() => reject(new Error('the OpenID provider did not start in 30 s')), 30_000).unref();
  });
}

test('sign in with an OpenID provider', { timeout: 300_000 }, async (t) => {
  prepareScreenshotDir();
  const issuer = await startProvider();
  Object.assign(process.env, {
    KINTSUGI_OIDC_ISSUER: issuer,
    KINTSUGI_OIDC_CLIENT_ID: 'kintsugi-test',
    KINTSUGI_OIDC_CLIENT_SECRET: 'kintsugi-test-secret',
    KINTSUGI_OIDC_SCOPES: 'openid email profile groups',
    KINTSUGI_OIDC_NAME: 'Acme ID',
    KINTSUGI_OIDC_GROUPS_CLAIM: 'groups',
  });
  try {
    server = await startServer();
  } finally {
    for (const k of Object.keys(process.env)) if (k.startsWith('KINTSUGI_OIDC_')) delete process.env[k];
  }
  browser = await launchBrowser();

  const checked = async (page, shot, label) => {
    await settled(page);
    const lesser = await checkAccessibility(page, label);
    if (lesser.length) t.diagnostic(`${label}: minor findings: ${lesser.map((v) => v.id).join(', ')}`);
    await screenshot(page, shot);
  };

  // The organisation exists first: people nobody invited join it at their first sign-in.
  const admin = await newPage(browser);
  contexts.push(admin.context);
  await goto(admin.page, server.setupUrl);
  await (await byLabel(admin.page, 'Organisation name')).fill('Acme Works');
  await (await byLabel(admin.page, 'Your name')).fill('Ada Admin');
  await (await byLabel(admin.page, 'Email')).fill('ada@acme.example');
  await (await byLabel(admin.page, 'Password')).fill('correct horse battery staple');
  await (await byRole(admin.page, 'button', 'Create organisation')).click();
  await expectPath(admin.page, '/', 'after setup');

  const ann = await newPage(browser);
  contexts.push(ann.context);
  const page = ann.page;
  try {
    await goto(page, `${server.baseUrl}/login`);
    await checked(page, '50-login-with-sso.png', 'the login page with single sign-on');
    await (await byRole(page, 'button', 'Sign in with Acme ID')).click();

    // The provider's own login form (its development interaction).
    await page.waitForURL((u) => u.toString().startsWith(issuer), { timeout: 15_000 });
    await page.locator('input[name="login"]').fill('ann');
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').click();

    await expectPath(page, '/', 'after signing in at the provider, the home page');
    await expectText(page, 'Ann Oidc', { what: 'the home page of the person just provisioned' });
    await checked(page, '51-home-after-sso.png', 'the home page after single sign-on');

    // The admin sees the new person, created just in time.
    await goto(admin.page, `${server.baseUrl}/admin/people`);
    await expectText(admin.page, 'ann@acme.example', { what: 'the people page' });
  } catch (e) {
    await screenshot(page, 'FAILED-50-oidc.png').catch(() => {});
    e.message += `\n${server.dump()}`;
    throw e;
  }
});
