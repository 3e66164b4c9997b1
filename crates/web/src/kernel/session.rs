//! Who is asking: the session cookie and the extractors that require a login, a role, or a
//! place in a repair. The session itself (hashes, rotation, expiry) is `kintsugi_app::signin`.

use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use kintsugi_app::repairs::Access;
use kintsugi_app::signin::{self, SESSION_TTL};
use kintsugi_app::{Actor, Error};
use uuid::Uuid;

use crate::kernel::error::HttpError;
use crate::kernel::state::AppState;

pub const SESSION_COOKIE: &str = "kintsugi_session";

/// A logged-in, active person and their organisation.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Actor);

impl Deref for CurrentUser {
    type Target = Actor;
    fn deref(&self) -> &Actor {
        &self.0
    }
}

/// A logged-in person who holds the admin role.
pub struct AdminUser(pub CurrentUser);

/// A logged-in admin or facilitator: the people the dashboard and team health overview are for.
pub struct Overseer(pub CurrentUser);

/// The logged-in person, if any: for pages that anyone may open.
pub struct MaybeUser(pub Option<CurrentUser>);

async fn lookup(parts: &mut Parts, state: &AppState) -> Result<Option<CurrentUser>, HttpError> {
    if let Some(user) = parts.extensions.get::<CurrentUser>() {
        return Ok(Some(user.clone()));
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(actor) = signin::session(&state.ctx, cookie.value()).await? else {
        return Ok(None);
    };
    let user = CurrentUser(actor);
    parts.extensions.insert(user.clone());
    Ok(Some(user))
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = HttpError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        lookup(parts, state).await.map(MaybeUser)
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = HttpError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        Ok(lookup(parts, state).await?.ok_or(Error::Unauthenticated)?)
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = HttpError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        user.person.roles.require_admin()?;
        Ok(AdminUser(user))
    }
}

impl FromRequestParts<AppState> for Overseer {
    type Rejection = HttpError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        user.person.roles.require_dashboard()?;
        Ok(Overseer(user))
    }
}

/// A participant's request to one repair, checked before any body is read: for anyone
/// outside the repair, everything under `/repairs/{id}` is a 404, whatever they send.
pub struct InRepair {
    pub user: CurrentUser,
    pub access: Access,
}

impl FromRequestParts<AppState> for InRepair {
    type Rejection = HttpError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        let axum::extract::Path(params) = axum::extract::Path::<
            std::collections::HashMap<String, String>,
        >::from_request_parts(parts, state)
        .await?;
        let id = params
            .get("id")
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| Error::not_found("repair"))?;
        let access = state.snapshots.participant(&state.ctx, &user, id).await?;
        Ok(InRepair { user, access })
    }
}

/// The client's address, as the login back-off's key: the TCP peer, or what a trusted proxy
/// says in `X-Forwarded-For` ([`kintsugi_app::settings::client_address`]). Used for nothing
/// else, and never logged.
pub struct Client(pub String);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        else {
            return Ok(Client("unknown".into()));
        };
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let trusted = &state.ctx.settings().trusted_proxies;
        Ok(Client(
            kintsugi_app::settings::client_address(peer.0.ip(), &forwarded, trusted).to_string(),
        ))
    }
}

/// Starts a session for `person_id`, ending the one the request came with (rotation against
/// fixation), and sets its cookie.
pub async fn start_session(
    state: &AppState,
    jar: CookieJar,
    person_id: Uuid,
) -> Result<CookieJar, HttpError> {
    let previous = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned());
    let token = signin::start_session(&state.ctx, previous.as_deref(), person_id).await?;
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies())
        .max_age(SESSION_TTL)
        .build();
    Ok(jar.add(cookie))
}

/// Ends the request's session and removes its cookie.
pub async fn end_session(state: &AppState, jar: CookieJar) -> Result<CookieJar, HttpError> {
    let token = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned());
    signin::end_session(&state.ctx, token.as_deref()).await?;
    Ok(jar.remove(Cookie::build(SESSION_COOKIE).path("/").build()))
}
