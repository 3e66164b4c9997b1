// Checks the test harness itself, without the server: Chromium launches,
// renders a page, takes a screenshot, and the axe gate fails on a serious
// violation and passes on a clean page.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { checkAccessibility, launchBrowser, newPage } from '../lib/harness.mjs';

let browser;
after(async () => {
  await browser?.close();
});

const CLEAN = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Clean</title></head>
<body><header><nav><a href="#main">Skip</a></nav></header>
<main id="main"><h1>Hello</h1><form><label for="e">Email</label><input id="e" type="email">
<button type="submit">Send</button></form></main></body></html>`;

const BROKEN = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Broken</title></head>
<body><main><h1>Hello</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<p style="color:#bbb;background:#fff">Low contrast text</p></main></body></html>`;

const dataUrl = (html) => `data:text/html;charset=utf-8,${encodeURIComponent(html)}`;

test('headless Chromium and axe-core work', { timeout: 60_000 }, async (t) => {
  browser = await launchBrowser();
  t.diagnostic(`Chromium ${browser.version()}`);
  const { context, page } = await newPage(browser);
  try {
    await page.goto(dataUrl(CLEAN));
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Hello');
    await page.getByLabel('Email', { exact: true }).fill('a@example.org');

    const dir = mkdtempSync(join(tmpdir(), 'kintsugi-e2e-shot-'));
    try {
      const file = join(dir, 'clean.png');
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(statSync(file).size > 500, 'screenshot is not empty');
      assert.equal(readFileSync(file).subarray(1, 4).toString(), 'PNG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const lesser = await checkAccessibility(page, 'a clean page');
    t.diagnostic(`lesser violations on the clean page: ${lesser.map((v) => v.id).join(', ') || 'none'}`);

    await page.goto(dataUrl(BROKEN));
    await assert.rejects(checkAccessibility(page, 'a broken page'), (e) => {
      assert.match(e.message, /image-alt/);
      assert.match(e.message, /color-contrast/);
      return true;
    });
  } finally {
    await context.close();
  }
});
