//! OpenID Connect single sign-on: the authorization code flow with PKCE, state and nonce.
//!
//! [`begin`] keeps the state's hash, the nonce and the PKCE verifier in the database for ten
//! minutes and hands the edge the provider's address and the state (which it keeps in a
//! short-lived cookie). [`finish`] spends the state (once), checks it against the cookie's
//! and the `iss` of the response (RFC 9207), exchanges the code with the verifier, verifies
//! the ID token (signature, issuer, audience, expiry, nonce) and maps its claims to a person:
//! linked before, matched by email, or created just in time. The provider is reached with a
//! client that never follows redirects (SSRF).

use std::time::Duration;

use kintsugi_core::{Email, PersonName};
use kintsugi_store::{ExternalSignIn, OidcLogin, Person, StoreError};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenVerifier, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;
pub use crate::settings::OidcSettings;
use crate::tokens::hash_token;

/// Where the provider sends the browser back.
pub const CALLBACK: &str = "/login/oidc/callback";
/// Long enough to type a password and answer a second factor at the provider.
pub const LOGIN_TTL: time::Duration = time::Duration::minutes(10);

/// The provider as this server sees it: settings, an HTTP client, and its discovered
/// metadata (fetched on first use and kept; a provider that is down at start-up does not stop
/// Kintsugi, only sign-ins through it).
pub struct Oidc {
    settings: OidcSettings,
    http: Http,
    metadata: tokio::sync::OnceCell<CoreProviderMetadata>,
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> Self {
        Self {
            settings,
            http: Http(
                reqwest::Client::builder()
                    // Following redirects would let a provider's answer steer requests (SSRF).
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(15))
                    .build()
                    .unwrap_or_default(),
            ),
            metadata: tokio::sync::OnceCell::new(),
        }
    }

    pub fn display_name(&self) -> &str {
        &self.settings.display_name
    }

    async fn client(
        &self,
        redirect: String,
    ) -> Result<
        openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        Error,
    > {
        let metadata = self
            .metadata
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.settings.issuer.clone())
                    .map_err(|e| format!("issuer is not a URL: {e}"))?;
                CoreProviderMetadata::discover_async(issuer, &self.http)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|why: String| {
                tracing::warn!(error = %why, "OpenID provider discovery failed");
                Error::BadGateway(
                    "the identity provider cannot be reached; try again shortly".into(),
                )
            })?;
        let redirect = RedirectUrl::new(redirect).map_err(|_| Error::Internal)?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }
}

/// The HTTP client handed to `openidconnect`: reqwest 0.13, redirects refused.
struct Http(reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = reqwest::Error;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<openidconnect::HttpResponse, reqwest::Error>> + Send + 'c>,
    >;

    fn call(&'c self, req: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(send(self.0.clone(), req))
    }
}

async fn send(
    http: reqwest::Client,
    req: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let (parts, body) = req.into_parts();
    let resp = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut out = openidconnect::http::Response::builder().status(resp.status());
    if let Some(headers) = out.headers_mut() {
        *headers = resp.headers().clone();
    }
    let body = resp.bytes().await?.to_vec();
    Ok(out.body(body).unwrap_or_default())
}

/// Starts a sign-in: the provider's address to send the browser to, and the state the
/// browser must bring back (the edge keeps it in a cookie).
pub async fn begin(ctx: &Ctx, oidc: &Oidc) -> Result<(String, String), Error> {
    let client = oidc.client(ctx.url(CALLBACK)).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &oidc.settings.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = request.url();
    let now = ctx.now();
    ctx.store()
        .put_oidc_login(&OidcLogin {
            state_hash: hash_token(csrf.secret()),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            created_at: now,
            expires_at: now + LOGIN_TTL,
        })
        .await?;
    Ok((url.to_string(), csrf.secret().clone()))
}

/// What the provider sent the browser back with.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Finishes a sign-in: the person it signs in. `kept` is the state the browser kept.
pub async fn finish(
    ctx: &Ctx,
    oidc: &Oidc,
    kept: Option<&str>,
    q: Callback,
) -> Result<Person, Error> {
    if let Some(error) = &q.error {
        return Err(refused(format!(
            "the identity provider answered {error:?}{}",
            q.error_description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        )));
    }
    let (Some(code), Some(returned)) = (q.code, q.state) else {
        return Err(refused("the answer has no code or no state"));
    };
    // The state must be the one this browser was given; compared by hash so that the
    // comparison takes the same time whatever the difference.
    if kept.map(sha) != Some(sha(&returned)) {
        return Err(refused(
            "the state does not match the sign-in this browser started",
        ));
    }
    let Some(login) = ctx
        .store()
        .take_oidc_login(&hash_token(&returned), ctx.now())
        .await?
    else {
        return Err(refused("this sign-in is unknown, already used or expired"));
    };
    // RFC 9207: the answer names who sent it; a different issuer is a mix-up attack.
    if let Some(iss) = &q.iss
        && iss.trim_end_matches('/') != oidc.settings.issuer.trim_end_matches('/')
    {
        return Err(refused(format!(
            "the answer came from another issuer ({iss})"
        )));
    }
    let claims = verified_claims(ctx, oidc, code, login).await?;
    let org_id = match oidc.settings.organisation {
        Some(id) => Some(id),
        None => only_organisation(ctx).await?,
    };
    let sign_in = map_claims(ctx, oidc, &claims, org_id)?;
    let person = match ctx.store().sign_in_external(&sign_in).await {
        Ok(p) => p,
        Err(StoreError::NotFound(what)) => {
            return Err(Error::Forbidden(format!(
                "Nobody here has invited {} yet (no {what}). Ask an admin for an invitation.",
                sign_in.email.as_str()
            )));
        }
        Err(StoreError::Conflict(why)) => {
            return Err(Error::Conflict(format!("Sign-in refused: {why}.")));
        }
        Err(e) => return Err(e.into()),
    };
    if !person.active {
        return Err(Error::Forbidden(
            "This account has been deactivated.".into(),
        ));
    }
    Ok(person)
}

/// Exchanges the code (with the PKCE verifier) and verifies the ID token: signature, issuer,
/// audience, expiry, nonce. Its claims, whatever their shape.
async fn verified_claims(
    ctx: &Ctx,
    oidc: &Oidc,
    code: String,
    login: OidcLogin,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let client = oidc.client(ctx.url(CALLBACK)).await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| Error::BadGateway("the identity provider has no token endpoint".into()))?
        .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier))
        .request_async(&oidc.http)
        .await
        .map_err(|e| {
            tracing::info!(error = %e, "OpenID token exchange refused");
            refused("the identity provider did not accept the sign-in code")
        })?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| refused("the identity provider sent no ID token"))?;
    let verifier: CoreIdTokenVerifier = client.id_token_verifier();
    id_token
        .claims(&verifier, &Nonce::new(login.nonce))
        .map_err(|e| refused(describe(&e)))?;
    // Verified; now read the claims the settings name, whatever their shape.
    payload(&id_token.to_string()).ok_or_else(|| refused("the ID token is unreadable"))
}

fn refused(why: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!(
        "Sign-in refused: {why}. Start again from the login page."
    ))
}

fn sha(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// A verification failure in words a person (or their admin) can act on.
fn describe(e: &ClaimsVerificationError) -> String {
    match e {
        ClaimsVerificationError::InvalidIssuer(_) => {
            "the ID token was issued by someone else (wrong issuer)".into()
        }
        ClaimsVerificationError::InvalidNonce(_) => {
            "the ID token does not belong to this sign-in (wrong nonce)".into()
        }
        ClaimsVerificationError::Expired(_) => "the ID token has expired".into(),
        ClaimsVerificationError::InvalidAudience(_) => {
            "the ID token was issued for another application (wrong audience)".into()
        }
        ClaimsVerificationError::SignatureVerification(_) => {
            "the ID token's signature does not verify".into()
        }
        other => format!("the ID token is not valid ({other})"),
    }
}

/// The JSON claims of a JWT that has already been verified.
fn payload(jwt: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine;
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Without a configured organisation, new people join the one organisation there is (the
/// demo aside); with several, only invited people sign in.
async fn only_organisation(ctx: &Ctx) -> Result<Option<Uuid>, Error> {
    let orgs: Vec<_> = ctx
        .store()
        .list_organisations()
        .await?
        .into_iter()
        .filter(|o| !o.is_demo)
        .collect();
    Ok(match orgs.as_slice() {
        [only] => Some(only.id),
        _ => None,
    })
}

fn map_claims(
    ctx: &Ctx,
    oidc: &Oidc,
    claims: &serde_json::Map<String, serde_json::Value>,
    org_id: Option<Uuid>,
) -> Result<ExternalSignIn, Error> {
    let s = &oidc.settings;
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let subject = text("sub").ok_or_else(|| refused("the ID token has no subject"))?;
    let raw_email = text(&s.email_claim)
        .ok_or_else(|| refused(format!("the ID token has no {:?} claim", s.email_claim)))?;
    // An unverified address could be anyone's: matching it would hand over an account.
    if claims.get("email_verified").and_then(|v| v.as_bool()) != Some(true) {
        return Err(refused(
            "the identity provider has not verified this email address",
        ));
    }
    let email = Email::parse(&raw_email).map_err(|_| {
        refused(format!(
            "the {:?} claim is not an email address",
            s.email_claim
        ))
    })?;
    let name = text(&s.name_claim)
        .and_then(|n| PersonName::parse(&n).ok())
        .or_else(|| PersonName::parse(email.as_str().split('@').next().unwrap_or("")).ok())
        .ok_or_else(|| refused(format!("the {:?} claim is not a usable name", s.name_claim)))?;
    let groups = s
        .groups_claim
        .as_deref()
        .and_then(|g| claims.get(g))
        .and_then(|v| v.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|g| g.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(ExternalSignIn {
        issuer: s.issuer.clone(),
        subject,
        email,
        name,
        groups,
        org_id,
        new_id: ctx.new_id(),
        audit_id: ctx.new_id(),
        at: ctx.now(),
    })
}
