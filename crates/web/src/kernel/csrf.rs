//! Cross-site request forgery protection, in one middleware.
//!
//! Double-submit token: a random `kintsugi_csrf` cookie (HttpOnly, SameSite=Strict) whose
//! value every form carries as `csrf_token`, or htmx sends as `X-CSRF-Token`. JSON
//! requests pass without it: a browser cannot send `application/json` to another origin
//! without a CORS preflight, which Kintsugi never grants. Any `Origin` header must match.
//!
//! Pages are compressed, so the token a page embeds is masked afresh for every response
//! ([`CsrfToken::masked`]: a random pad, then the token XOR the pad): its bytes differ each
//! time, and compression-size attacks (BREACH) have no fixed secret to guess at.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use kintsugi_app::Error;
use kintsugi_app::tokens::new_token;

use crate::kernel::BODY_LIMIT;
use crate::kernel::error::HttpError;
use crate::kernel::state::AppState;

pub const CSRF_COOKIE: &str = "kintsugi_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The token that this request's pages must embed in their forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl CsrfToken {
    /// The token as a page embeds it: base64url(pad || token XOR pad), a new pad each time.
    pub fn masked(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let token = self.0.as_bytes();
        let pad: Vec<u8> = (0..token.len()).map(|_| rand::random::<u8>()).collect();
        let mut out = pad.clone();
        out.extend(token.iter().zip(&pad).map(|(t, p)| t ^ p));
        URL_SAFE_NO_PAD.encode(out)
    }
}

/// Whether `submitted` (masked by a page, or the token itself) carries `token`, compared in
/// constant time.
fn carries(submitted: &str, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let unmasked = URL_SAFE_NO_PAD
        .decode(submitted)
        .ok()
        .filter(|raw| raw.len() == 2 * token.len())
        .map(|raw| {
            let (pad, masked) = raw.split_at(token.len());
            masked
                .iter()
                .zip(pad)
                .map(|(m, p)| m ^ p)
                .collect::<Vec<u8>>()
        });
    let plain: bool = submitted.as_bytes().ct_eq(token.as_bytes()).into();
    plain || unmasked.is_some_and(|u| bool::from(u.as_slice().ct_eq(token.as_bytes())))
}

fn refused() -> HttpError {
    Error::Forbidden(
        "this form is out of date or came from another site; reload the page and try again".into(),
    )
    .into()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn origin_ok(headers: &HeaderMap, state: &AppState) -> bool {
    // Fetch metadata, where the browser sends it: anything but our own origin (or a request
    // the person typed themselves, `none`) is refused, JSON included.
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    // `null` says nothing about where a request came from (privacy settings, some redirects);
    // the token still decides.
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
    else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // The same host under another scheme is another origin (OWASP): `http://` posting to a
    // site people reach over `https://` is refused. The scheme is the public URL's, since
    // behind a proxy that ends TLS the server itself is reached over plain HTTP.
    let public_url = &state.ctx.settings().public_url;
    let scheme = public_url.split_once("://").map_or("http", |(s, _)| s);
    let same_host = origin
        .split_once("://")
        .is_some_and(|(s, rest)| s.eq_ignore_ascii_case(scheme) && rest == host);
    same_host || origin == public_url
}

pub async fn protect(
    State(state): State<AppState>,
    jar: CookieJar,
    mut req: Request,
    next: Next,
) -> Response {
    let existing = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32);
    let token = existing.clone().unwrap_or_else(new_token);

    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if !origin_ok(req.headers(), &state) {
            return refused().into_response();
        }
        if !is_json(req.headers()) {
            let from_header = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let submitted = match from_header {
                Some(t) => Some(t),
                None => {
                    let (parts, body) = req.into_parts();
                    let bytes = match to_bytes(body, BODY_LIMIT).await {
                        Ok(b) => b,
                        Err(_) => {
                            return HttpError::PayloadTooLarge(format!(
                                "the request body is larger than {BODY_LIMIT} bytes"
                            ))
                            .into_response();
                        }
                    };
                    let field = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                        .ok()
                        .and_then(|pairs| {
                            pairs
                                .into_iter()
                                .find(|(k, _)| k == "csrf_token")
                                .map(|(_, v)| v)
                        });
                    req = Request::from_parts(parts, Body::from(bytes));
                    field
                }
            };
            let carried = match (submitted.as_deref(), existing.as_deref()) {
                (Some(submitted), Some(token)) => carries(submitted, token),
                _ => false,
            };
            if !carried {
                return refused().into_response();
            }
        }
    }

    req.extensions_mut().insert(CsrfToken(token.clone()));
    let response = next.run(req).await;
    if existing.is_some() {
        return response;
    }
    let cookie = Cookie::build((CSRF_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies())
        .build();
    (jar.add(cookie), response).into_response()
}
