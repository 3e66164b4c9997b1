// A small HTTP client for talking to a running Kintsugi server from Node, the
// way a browser would: it keeps cookies, fills in form CSRF tokens, and never
// follows redirects on its own (so tests can see them). Plus helpers that set
// up an organisation and its people quickly, without a browser.

/** One person's HTTP client: a base URL and a cookie jar. */
export class Client {
  constructor(baseUrl) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    /** @type {Map<string, string>} */
    this.cookies = new Map();
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  remember(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /**
   * Sends a request. `json` sends a JSON body, `form` an urlencoded one (with
   * this client's CSRF token added). `cookies: false` sends no cookie at all.
   * Resolves to { status, headers, text, json }.
   */
  async request(method, path, { json, form, headers = {}, cookies = true } = {}) {
    const h = { ...headers };
    let body;
    if (json !== undefined) {
      h['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      h['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ csrf_token: this.cookies.get('kintsugi_csrf') ?? '', ...form }).toString();
    }
    if (cookies && this.cookies.size) h.Cookie = this.cookieHeader();
    // Like htmx on a page: unsafe requests carry the CSRF token in a header.
    if (cookies && method !== 'GET' && this.cookies.has('kintsugi_csrf') && !('X-CSRF-Token' in h)) {
      h['X-CSRF-Token'] = this.cookies.get('kintsugi_csrf');
    }
    const url = path.startsWith('http') ? path : `${this.baseUrl}${path}`;
    const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
    if (cookies) this.remember(res);
    const text = await res.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, json: parsed, url };
  }

  get(path, opts) {
    return this.request('GET', path, opts);
  }

  post(path, opts) {
    return this.request('POST', path, opts);
  }

  /** Like request, but fails with the server's answer unless the status is one of `expected`. */
  async expect(expected, method, path, opts) {
    const res = await this.request(method, path, opts);
    const want = Array.isArray(expected) ? expected : [expected];
    if (!want.includes(res.status)) {
      throw new Error(`${method} ${path} answered ${res.status}, expected ${want.join(' or ')}:\n${res.text.slice(0, 800)}`);
    }
    return res;
  }
}

/** The CSRF token a page embeds in <meta name="csrf-token">. */
export function metaCsrf(html) {
  return /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? null;
}

/**
 * Uses the server's setup link to create the organisation and its first
 * admin. Resolves to the admin's signed-in Client.
 */
export async function setUpOrganisation(baseUrl, setupUrl, { organisation, name, email, password }) {
  const admin = new Client(baseUrl);
  await admin.expect(200, 'GET', setupUrl);
  const token = new URL(setupUrl).searchParams.get('token');
  await admin.expect([302, 303], 'POST', '/setup', {
    form: { token, organisation_name: organisation, name, email, password },
  });
  await admin.expect(200, 'GET', '/api/v1/me');
  return admin;
}

/** Creates a team (admin). Resolves to its id. */
export async function createTeam(admin, name) {
  return (await admin.expect(201, 'POST', '/api/v1/teams', { json: { name } })).json.id;
}

/**
 * Adds a person (admin) and returns their invitation link and id.
 * `roles` is { admin, facilitator }.
 */
export async function addPerson(admin, { name, email, teamIds = [], roles = {} }) {
  const person = (
    await admin.expect(201, 'POST', '/api/v1/people', {
      json: { name, email, team_ids: teamIds, roles: { admin: false, facilitator: false, ...roles } },
    })
  ).json;
  const invitation = (await admin.expect(201, 'POST', `/api/v1/people/${person.id}/invitation`)).json;
  return { id: person.id, invitationUrl: invitation.link };
}

/** Accepts an invitation link with a password. Resolves to the person's signed-in Client. */
export async function acceptInvitation(baseUrl, invitationUrl, password) {
  const c = new Client(baseUrl);
  const path = new URL(invitationUrl).pathname;
  await c.expect(200, 'GET', path);
  await c.expect([302, 303], 'POST', `${path}/password`, { form: { password } });
  return c;
}

/** Logs in through the JSON API. Resolves to the person's signed-in Client. */
export async function logIn(baseUrl, email, password) {
  const c = new Client(baseUrl);
  await c.expect(200, 'POST', '/api/v1/session', { json: { email, password } });
  if (!c.cookies.has('kintsugi_session')) throw new Error(`logging in as ${email} set no session cookie`);
  return c;
}
