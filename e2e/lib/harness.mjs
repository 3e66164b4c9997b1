// Shared helpers for the Kintsugi browser tests: start and stop the server
// binary, launch headless Chromium, run axe-core, take screenshots, and find
// form fields by their accessible names with readable failure messages.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

export const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(E2E_DIR, '..');
export const SCREENSHOT_DIR = process.env.KINTSUGI_SCREENSHOT_DIR
  ? resolve(process.env.KINTSUGI_SCREENSHOT_DIR)
  : join(REPO_ROOT, 'test-output', 'screenshots');

/** Time allowed for one navigation or one action. */
export const STEP_TIMEOUT_MS = 15_000;
/** Time allowed for the server to print its start-up lines. */
const SERVER_START_TIMEOUT_MS = 30_000;

const CHROMIUM_PATH = process.env.KINTSUGI_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SERVING_RE = /Kintsugi is serving at (http:\/\/127\.0\.0\.1:\d+)\/?/;
const SETUP_RE = /Set up your organisation: (http:\/\/127\.0\.0\.1:\d+\/setup\?token=\S+)/;

// ---------------------------------------------------------------------------
// Server

/** Path of the server binary: $KINTSUGI_BIN, else ../target/debug/kintsugi. */
export function serverBinary() {
  const fromEnv = process.env.KINTSUGI_BIN;
  return fromEnv ? resolve(fromEnv) : join(REPO_ROOT, 'target', 'debug', 'kintsugi');
}

/**
 * Settings every test server gets unless the caller's `env` says otherwise. Anonymous answers
 * wait for an epoch's seal (300 s by default); one second keeps the tests quick and still
 * shows answers waiting, then sealed.
 */
export const SERVER_ENV = { KINTSUGI_ANON_EPOCH_SECONDS: '1' };

/**
 * Starts `kintsugi serve --listen 127.0.0.1:0 --data-dir <fresh temp dir>` and
 * waits until it has printed both its serving URL and its setup link. `env` adds
 * or overrides environment variables (SERVER_ENV, then the process's, then the caller's).
 *
 * Resolves to { baseUrl, setupUrl, port, dataDir, stdout(), stderr(), stop() }.
 */
export async function startServer({ extraArgs = [], env = {} } = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) {
    throw new Error(
      `Kintsugi server binary not found at ${bin}.\n` +
        'Build it first (cargo build) or point KINTSUGI_BIN at it.',
    );
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'kintsugi-e2e-'));
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs];
  const child = spawn(bin, args, {
    cwd: REPO_ROOT,
    env: { ...SERVER_ENV, ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const out = [];
  const err = [];
  let exited = null;
  const exitPromise = new Promise((resolveExit) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolveExit(exited);
    });
  });
  // Never leave the server running if the test process dies.
  const killOnExit = () => {
    if (!exited) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', killOnExit);

  createInterface({ input: child.stderr }).on('line', (line) => {
    err.push(line);
    if (process.env.KINTSUGI_E2E_VERBOSE) process.stderr.write(`[server stderr] ${line}\n`);
  });

  const started = new Promise((resolveStart, rejectStart) => {
    let baseUrl = null;
    let setupUrl = null;
    createInterface({ input: child.stdout }).on('line', (line) => {
      out.push(line);
      if (process.env.KINTSUGI_E2E_VERBOSE) process.stderr.write(`[server stdout] ${line}\n`);
      const serving = SERVING_RE.exec(line);
      if (serving) baseUrl = serving[1];
      const setup = SETUP_RE.exec(line);
      if (setup) setupUrl = setup[1];
      if (baseUrl && setupUrl) resolveStart({ baseUrl, setupUrl });
    });
    child.on('error', (e) => rejectStart(new Error(`could not start ${bin}: ${e.message}`)));
    exitPromise.then(({ code, signal }) =>
      rejectStart(
        new Error(
          `the server exited before it was ready (code ${code}, signal ${signal}).\n` +
            `command: ${bin} ${args.join(' ')}\n` +
            dumpOutput(out, err),
        ),
      ),
    );
    setTimeout(
      () =>
        rejectStart(
          new Error(
            `the server did not print both "Kintsugi is serving at http://127.0.0.1:PORT" and ` +
              `"Set up your organisation: http://127.0.0.1:PORT/setup?token=TOKEN" on stdout ` +
              `within ${SERVER_START_TIMEOUT_MS / 1000} s.\n` +
              `command: ${bin} ${args.join(' ')}\n` +
              dumpOutput(out, err),
          ),
        ),
      SERVER_START_TIMEOUT_MS,
    ).unref();
  });

  let urls;
  try {
    urls = await started;
  } catch (e) {
    await stopChild(child, () => exited, exitPromise);
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }

  const port = Number(new URL(urls.baseUrl).port);
  return {
    ...urls,
    port,
    dataDir,
    stdout: () => out.join('\n'),
    stderr: () => err.join('\n'),
    /** Server output for failure messages. */
    dump: (lines = 80) => dumpOutput(out, err, lines),
    async stop() {
      await stopChild(child, () => exited, exitPromise);
      process.off('exit', killOnExit);
      if (!process.env.KINTSUGI_E2E_KEEP_DATA) {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

async function stopChild(child, getExited, exitPromise) {
  if (getExited()) return;
  child.kill('SIGTERM');
  const timer = new Promise((r) => setTimeout(r, 5_000).unref());
  await Promise.race([exitPromise, timer]);
  if (!getExited()) {
    child.kill('SIGKILL');
    await exitPromise;
  }
}

function dumpOutput(out, err, lines = 80) {
  const tail = (arr) => (arr.length ? arr.slice(-lines).join('\n') : '(nothing)');
  return (
    `--- server stdout (last ${lines} lines) ---\n${tail(out)}\n` +
    `--- server stderr (last ${lines} lines) ---\n${tail(err)}\n` +
    '--- end of server output ---'
  );
}

// ---------------------------------------------------------------------------
// Browser

/**
 * Launches headless Chromium from Debian's package. Playwright gives every
 * launch a fresh, empty, temporary user data dir.
 */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Run scripts/ensure-chromium ` +
        '(or set KINTSUGI_CHROMIUM to a Chromium binary).',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
}

/**
 * A new, isolated browser context (no cookies) and page with step timeouts,
 * collecting JavaScript errors, console errors and failed sub-resources.
 */
export async function newPage(browser) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: 'en-GB',
    colorScheme: 'light',
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  // Report Content-Security-Policy violations with their source, for diagnosis.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(
        `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}` +
          ` at ${e.sourceFile || '?'}:${e.lineNumber}:${e.columnNumber} sample=${JSON.stringify(e.sample)}`,
      );
    });
  });
  const page = await context.newPage();
  const problems = { pageErrors: [], consoleErrors: [], failedResources: [] };
  page.on('pageerror', (e) => problems.pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.consoleErrors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('response', (res) => {
    const req = res.request();
    if (res.status() >= 400 && req.resourceType() !== 'document' && !req.isNavigationRequest()) {
      problems.failedResources.push(`${res.status()} ${req.method()} ${res.url()}`);
    }
  });
  page.on('requestfailed', (req) => {
    problems.failedResources.push(`failed ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  return { context, page, problems };
}

// ---------------------------------------------------------------------------
// Accessibility

const BLOCKING_IMPACTS = new Set(['serious', 'critical']);

/**
 * Runs axe-core on the page. Throws, listing every violation readably, if any
 * has impact "serious" or "critical". Returns the lesser violations.
 */
export async function checkAccessibility(page, label) {
  const results = await new AxeBuilder({ page }).analyze();
  const blocking = results.violations.filter((v) => BLOCKING_IMPACTS.has(v.impact));
  const lesser = results.violations.filter((v) => !BLOCKING_IMPACTS.has(v.impact));
  if (blocking.length) {
    throw new Error(
      `axe found ${blocking.length} serious/critical accessibility violation(s) on ${label} (${page.url()}):\n` +
        formatViolations(blocking),
    );
  }
  return lesser;
}

export function formatViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .slice(0, 8)
        .map((n) => {
          const why = (n.failureSummary || '').replace(/\s+/g, ' ').trim();
          return `      at ${n.target.join(' ')}\n        ${n.html.slice(0, 200)}\n        ${why}`;
        })
        .join('\n');
      const more = v.nodes.length > 8 ? `\n      … and ${v.nodes.length - 8} more` : '';
      return `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.helpUrl}\n${nodes}${more}`;
    })
    .join('\n');
}

/**
 * Waits until the page has loaded and htmx has finished any request, swap
 * and settle (pages use hx-boost, so forms and links may not navigate).
 */
export async function settled(page) {
  await page.waitForLoadState('load', { timeout: STEP_TIMEOUT_MS });
  await page.waitForFunction(
    () => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling'),
    null,
    { timeout: STEP_TIMEOUT_MS, polling: 50 },
  );
}

// ---------------------------------------------------------------------------
// Screenshots

export function prepareScreenshotDir() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  for (const f of readdirSync(SCREENSHOT_DIR)) {
    if (f.startsWith('FAILED-') && f.endsWith('.png')) rmSync(join(SCREENSHOT_DIR, f));
  }
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, name.endsWith('.png') ? name : `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await docScreenshot(page, name);
  return file;
}

// Screenshots for docs/facilitating.md, by the name a test gives its step (without the
// number). Written to docs/img/ only when KINTSUGI_DOC_SCREENSHOTS is set, so an ordinary
// test run never changes committed files.
const DOC_SHOTS = new Set([
  'repair-new',
  'repair-opened-fay',
  'coach-flags',
  'coach-good',
  'understand-cause',
  'round-opened-fay',
  'round-key-ana',
  'round-results-fay',
  'update-history',
  'commitment-form',
  'commitment-kept-ana',
  'missed-ana',
  'rebuild-override-fay',
  'rebuilt-ana',
]);
export const DOC_IMG_DIR = join(REPO_ROOT, 'docs', 'img');

async function docScreenshot(page, name) {
  if (!process.env.KINTSUGI_DOC_SCREENSHOTS) return;
  const base = name.replace(/\.png$/, '').replace(/^\d+-/, '');
  if (!DOC_SHOTS.has(base)) return;
  mkdirSync(DOC_IMG_DIR, { recursive: true });
  await page.screenshot({ path: join(DOC_IMG_DIR, `${base}.png`), fullPage: true });
}

// ---------------------------------------------------------------------------
// Locating things by accessible name, with useful failure messages

/** Describes the page's form controls and links, for failure messages. */
export async function describePage(page) {
  let controls = [];
  try {
    controls = await page.locator('input, select, textarea, button, a[href]').evaluateAll((els) =>
      els.map((el) => {
        const tag = el.tagName.toLowerCase();
        const type = el.getAttribute('type') || '';
        const labels = el.labels ? [...el.labels].map((l) => l.textContent.trim().replace(/\s+/g, ' ')) : [];
        const aria = el.getAttribute('aria-label');
        const text = (tag === 'button' || tag === 'a') ? el.textContent.trim().replace(/\s+/g, ' ') : '';
        const name = aria || labels.join(' / ') || text || el.getAttribute('value') || '';
        const hidden = type === 'hidden';
        return hidden ? null : `${tag}${type ? `[type=${type}]` : ''}${el.name ? ` name=${el.name}` : ''} "${name}"`;
      }).filter(Boolean),
    );
  } catch {
    // page may be navigating
  }
  let heading = '';
  try {
    heading = (await page.locator('h1').first().textContent({ timeout: 1_000 }))?.trim() ?? '';
  } catch {
    // no h1
  }
  let bodyText = '';
  try {
    bodyText = (await page.locator('body').innerText({ timeout: 1_000 })).replace(/\s+/g, ' ').slice(0, 600);
  } catch {
    // ignore
  }
  return (
    `  page: ${page.url()}\n  title: ${await page.title().catch(() => '?')}\n  h1: ${heading}\n` +
    `  controls and links:\n${controls.map((c) => `    - ${c}`).join('\n') || '    (none)'}\n` +
    `  text: ${bodyText}`
  );
}

/** A single element found by label (exact accessible name), or a clear error. */
export async function byLabel(page, label, { exact = true } = {}) {
  const loc = page.getByLabel(label, { exact });
  await waitForOne(page, loc, `a form field labelled "${label}"`);
  return loc;
}

/** A single element found by role and (exact) accessible name, or a clear error. */
export async function byRole(scope, role, name, { exact = true, page } = {}) {
  const loc = scope.getByRole(role, { name, exact });
  await waitForOne(page ?? scope, loc, `a ${role} named "${name}"`);
  return loc;
}

async function waitForOne(page, loc, what) {
  try {
    await loc.first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  } catch {
    throw new Error(`Expected ${what}, but found none visible.\n${await describePage(page)}`);
  }
  const n = await loc.count();
  if (n !== 1) {
    throw new Error(`Expected exactly one ${what}, but found ${n}.\n${await describePage(page)}`);
  }
}

/** Waits until some visible element contains the text. */
export async function expectText(scope, text, { page, what } = {}) {
  try {
    await scope.getByText(text).first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  } catch {
    const p = page ?? scope;
    throw new Error(`Expected ${what ?? 'the page'} to show the text "${text}", but it does not.\n${await describePage(p)}`);
  }
}

/** Waits until the page's path (and optionally query) satisfies the check. */
export async function expectPath(page, expected, what) {
  const matches = (url) => {
    const u = new URL(url);
    return expected instanceof RegExp ? expected.test(u.pathname) : u.pathname === expected;
  };
  try {
    await page.waitForURL((url) => matches(url.toString()), { timeout: STEP_TIMEOUT_MS, waitUntil: 'load' });
  } catch {
    throw new Error(`Expected ${what ?? 'to be'} at path ${expected}, but the browser is at ${page.url()}.\n${await describePage(page)}`);
  }
}

/** Navigates and fails readably on a non-2xx response. */
export async function goto(page, url) {
  const res = await page.goto(url, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
  if (!res) return res;
  if (res.status() >= 400) {
    throw new Error(`GET ${url} answered ${res.status()}.\n${await describePage(page)}`);
  }
  return res;
}

/**
 * A runner for scenario steps that build on each other: once one fails, the later ones are
 * skipped, and the failing step leaves a screenshot of every person's page and the server's
 * output. `people` maps a name to `{ page }`; `server` is read when a step fails.
 */
export function sequentialSteps(t, { prefix, people, server }) {
  let failed = false;
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
        const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 60);
        for (const [who, s] of Object.entries(people)) {
          if (s.page.isClosed()) continue;
          await screenshot(s.page, `FAILED-${prefix}-${slug}-${who}.png`).catch(() => {});
        }
        e.message += `\n${server().dump()}`;
        throw e;
      }
    });
  /** Whether a step has failed (the run's closing checks skip then). */
  step.failed = () => failed;
  return step;
}
