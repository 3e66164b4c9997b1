//! Who is asking: sessions, password hashing, and the extractors that require a login or a role.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use kintsugi_core::NewPassword;
use kintsugi_store::{NewSession, Organisation, Person};
use time::Duration;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use crate::tokens::{hash_token, new_token};

pub const SESSION_COOKIE: &str = "kintsugi_session";
/// A session lasts a working week; after that, log in again.
pub const SESSION_TTL: Duration = Duration::days(7);

/// A logged-in, active person and their organisation.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub person: Person,
    pub org: Organisation,
}

/// A logged-in person who holds the admin role.
pub struct AdminUser(pub CurrentUser);

/// The logged-in person, if any: for pages that anyone may open.
pub struct MaybeUser(pub Option<CurrentUser>);

async fn lookup(parts: &mut Parts, state: &AppState) -> Result<Option<CurrentUser>, AppError> {
    if let Some(user) = parts.extensions.get::<CurrentUser>() {
        return Ok(Some(user.clone()));
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = hash_token(cookie.value());
    let Some((_, person, org)) = state.store().session(&hash, state.now()).await? else {
        return Ok(None);
    };
    let user = CurrentUser { person, org };
    parts.extensions.insert(user.clone());
    Ok(Some(user))
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        lookup(parts, state).await.map(MaybeUser)
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        lookup(parts, state).await?.ok_or(AppError::Unauthenticated)
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        user.person.roles.require_admin()?;
        Ok(AdminUser(user))
    }
}

/// Starts a new session for `person_id`, ending the one the request came with, so a
/// session id known before login is worthless after it (rotation against fixation).
pub async fn start_session(
    state: &AppState,
    jar: CookieJar,
    person_id: Uuid,
) -> Result<CookieJar, AppError> {
    if let Some(old) = jar.get(SESSION_COOKIE) {
        state
            .store()
            .delete_session(&hash_token(old.value()))
            .await?;
    }
    let token = new_token();
    let now = state.now();
    state
        .store()
        .create_session(&NewSession {
            id_hash: hash_token(&token),
            person_id,
            created_at: now,
            expires_at: now + SESSION_TTL,
        })
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config().secure_cookies)
        .max_age(SESSION_TTL)
        .build();
    Ok(jar.add(cookie))
}

pub async fn end_session(state: &AppState, jar: CookieJar) -> Result<CookieJar, AppError> {
    if let Some(old) = jar.get(SESSION_COOKIE) {
        state
            .store()
            .delete_session(&hash_token(old.value()))
            .await?;
    }
    Ok(jar.remove(Cookie::build(SESSION_COOKIE).path("/").build()))
}

/// Argon2id with the crate's recommended parameters, off the async runtime.
pub async fn hash_password(password: NewPassword) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                AppError::Internal
            })
    })
    .await
    .map_err(|_| AppError::Internal)?
}

/// Checks a password against a stored hash. Without a hash it still does the work of a
/// check, so the time taken does not tell whether the email exists.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let decoy = DECOY.get_or_init(|| {
            Argon2::default()
                .hash_password(b"decoy password")
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        let Ok(hash) = PasswordHash::new(stored.as_deref().unwrap_or(decoy)) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok();
        ok && stored.is_some()
    })
    .await
    .unwrap_or(false)
}
