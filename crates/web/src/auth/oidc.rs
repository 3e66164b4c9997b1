//! Single sign-on at the edge: `GET /login/oidc` keeps the state in a short-lived cookie
//! bound to `/login/oidc` and sends the browser to the provider; the callback checks it
//! (`kintsugi_app::signin::oidc::finish` does the rest) and starts a session.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use kintsugi_app::Error;
use kintsugi_app::signin::oidc::{self, CALLBACK, Callback, LOGIN_TTL, Oidc};

use crate::kernel::error::extract::Query;
use crate::kernel::session::start_session;
use crate::kernel::{AppState, Reply};

const STATE_COOKIE: &str = "kintsugi_oidc_state";

pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/login/oidc", get(start))
        .route(CALLBACK, get(callback))
}

fn provider(state: &AppState) -> Result<&Oidc, Error> {
    state
        .signin
        .oidc()
        .ok_or_else(|| Error::NotFound("single sign-on is not set up here".into()))
}

async fn start(State(state): State<AppState>, jar: CookieJar) -> Reply {
    let (url, kept) = oidc::begin(&state.ctx, provider(&state)?).await?;
    let cookie = Cookie::build((STATE_COOKIE, kept))
        .path("/login/oidc")
        .http_only(true)
        // Lax: the provider sends the browser back with a top-level GET.
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies())
        .max_age(LOGIN_TTL)
        .build();
    Ok((jar.add(cookie), Redirect::to(&url)).into_response())
}

async fn callback(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<Callback>,
) -> Reply {
    let oidc = provider(&state)?;
    let kept = jar.get(STATE_COOKIE).map(|c| c.value().to_owned());
    let person = oidc::finish(&state.ctx, oidc, kept.as_deref(), q).await?;
    let jar = jar.remove(Cookie::build(STATE_COOKIE).path("/login/oidc").build());
    let jar = start_session(&state, jar, person.id).await?;
    Ok((jar, Redirect::to("/")).into_response())
}
