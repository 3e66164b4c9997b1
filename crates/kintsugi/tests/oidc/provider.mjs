// A real OpenID provider (panva's oidc-provider) for Kintsugi's single sign-on tests.
//
//   node provider.mjs            listens on a free loopback port
//   PORT=4000 node provider.mjs  listens on 127.0.0.1:4000
//
// Prints `READY <issuer>` on stdout once it answers. One confidential client,
// `kintsugi-test` / `kintsugi-test-secret`, may redirect to `/login/oidc/callback` on any
// loopback port (the server under test picks its port at start). The development login
// form accepts any password for the test users below.
//
// Some test users exist to prove the relying party checks what it is given: the provider
// rewrites their ID tokens and signs them again with its real key, so only the claim checks
// (issuer, nonce, expiry) can catch them.
import { createServer } from 'node:http';
import { generateKeyPair, exportJWK, SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import Provider from 'oidc-provider';

export const CLIENT_ID = 'kintsugi-test';
export const CLIENT_SECRET = 'kintsugi-test-secret';

const USERS = {
  ann: { email: 'ann@acme.example', name: 'Ann Oidc', groups: ['Platform', 'No Such Team'] },
  bob: { email: 'bob@acme.example', name: 'Bob Invited', groups: [] },
  unverified: { email: 'unverified@acme.example', name: 'Una Verified', groups: [], email_verified: false },
  'forge-issuer': { email: 'forge-issuer@acme.example', name: 'Forged Issuer', groups: [] },
  'forge-nonce': { email: 'forge-nonce@acme.example', name: 'Forged Nonce', groups: [] },
  'forge-expired': { email: 'forge-expired@acme.example', name: 'Forged Expiry', groups: [] },
  'forge-audience': { email: 'forge-audience@acme.example', name: 'Forged Audience', groups: [] },
};

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

const server = createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: ['http://127.0.0.1/login/oidc/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // Put the requested claims in the ID token, where the relying party reads them.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, IdToken: 300, AccessToken: 300 },
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: user.email,
          email_verified: user.email_verified ?? true,
          name: user.name,
          groups: user.groups,
        };
      },
    };
  },
  // A first-party client: no consent screen, every requested scope granted.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});

// The server under test listens on a port chosen at its start.
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && url.hostname === '127.0.0.1'
      && url.pathname === '/login/oidc/callback' && url.search === '';
  } catch {
    return false;
  }
};

const FORGE = {
  'forge-issuer': (claims) => ({ ...claims, iss: 'http://127.0.0.1:1/someone-else' }),
  'forge-nonce': (claims) => ({ ...claims, nonce: 'not-the-nonce-that-was-sent' }),
  'forge-expired': (claims) => ({ ...claims, iat: claims.iat - 3600, exp: claims.iat - 1800 }),
  'forge-audience': (claims) => ({ ...claims, aud: 'another-client' }),
};

provider.use(async (ctx, next) => {
  await next();
  const token = ctx.path === '/token' && ctx.body && ctx.body.id_token;
  if (!token) return;
  const claims = decodeJwt(token);
  const forge = FORGE[claims.sub];
  if (!forge) return;
  const header = decodeProtectedHeader(token);
  ctx.body = {
    ...ctx.body,
    id_token: await new SignJWT(forge(claims)).setProtectedHeader(header).sign(privateKey),
  };
});

server.on('request', provider.callback());
process.stdout.write(`READY ${issuer}\n`);
process.on('SIGTERM', () => process.exit(0));
