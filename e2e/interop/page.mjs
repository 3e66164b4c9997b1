// Reading the anonymous-round sections out of a server-rendered repair page.

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[e.toLowerCase()] ?? whole;
  });
}

/**
 * Every <section class="round" ...> on the page, as
 * { round, publicKey, tokenUrl, answerUrl, marksUrl }.
 */
export function roundSections(html) {
  const out = [];
  for (const m of html.matchAll(/<section\b([^>]*)>/g)) {
    const attrs = {};
    for (const a of m[1].matchAll(/([a-z-]+)="([^"]*)"/g)) attrs[a[1]] = decodeEntities(a[2]);
    if (!(attrs.class ?? '').split(/\s+/).includes('round') || !attrs['data-round']) continue;
    out.push({
      round: attrs['data-round'],
      publicKey: attrs['data-public-key'],
      tokenUrl: attrs['data-token-url'],
      answerUrl: attrs['data-answer-url'],
      marksUrl: attrs['data-marks-url'],
    });
  }
  return out;
}
