// Kintsugi front-end entry point.
//
// The server renders every page as HTML and works without JavaScript; htmx
// only improves it. This file bundles htmx, exposes it as window.htmx, and
// attaches the page's CSRF token to every htmx request.
import htmx from 'htmx.org';
import { startAnonymousRounds } from './anon.js';
import { startStories } from './stories.js';

window.htmx = htmx;

// Configuration must be set before htmx initialises on DOMContentLoaded.
// A <meta name="htmx-config"> tag in a page can still override these.
Object.assign(htmx.config, {
  // Do not keep snapshots of pages (which may hold confidential text) in
  // localStorage; going back re-fetches the page from the server instead.
  historyCacheSize: 0,
  refreshOnHistoryMiss: true,
  // No inline <style> injection (keeps a strict style-src CSP happy); the
  // indicator rules live in app.css instead.
  includeIndicatorStyles: false,
  // Do not copy `style` attributes while settling a swap: under the server's
  // `style-src 'self'` CSP that is refused and logged as a violation.
  attributesToSettle: ['class', 'width', 'height'],
  // Swap 4xx responses so the server's validation messages are shown in
  // place; 5xx responses are not swapped.
  responseHandling: [
    { code: '204', swap: false },
    { code: '[23]..', swap: true },
    { code: '4..', swap: true, error: true },
    { code: '5..', swap: false, error: true },
  ],
});

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') : null;
}

document.addEventListener('htmx:configRequest', (event) => {
  const token = csrfToken();
  if (token) {
    event.detail.headers['X-CSRF-Token'] = token;
  }
});

// Anonymous listening rounds (anon.js): on the first page and on every piece
// of content htmx swaps in (hx-boost navigations included).
htmx.onLoad((elt) => startAnonymousRounds(elt));
// Anonymous stories in the lessons library (stories.js).
htmx.onLoad((elt) => startStories(elt));
