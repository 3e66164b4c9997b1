//! The HTTP edge: server-rendered pages (askama + htmx), the JSON API under `/api/v1`, the
//! anonymous path under `/anon`, and the operations endpoints. What Kintsugi does is the
//! application layer (`kintsugi_app`); this crate translates between HTTP and it.
//!
//! `kernel` is what every feature uses and none owns; each other module is one feature with
//! its `pages()`, `api()` and, where it has some, `public()` routes. A feature imports the
//! kernel, the application crate, and only another feature's `view` module; `home` and
//! `dashboard` are the aggregators. The router below puts every route in the group its
//! security needs (a tidy test checks):
//! - **session**: pages and the API, under the CSRF check, with HTML error pages for pages;
//! - **anon**: `/anon`, with the cookie refusal applied once, for the whole group;
//! - **public**: what needs neither a session nor a form token (operations, assets, feeds
//!   and unsubscribe links, whose URL holds the secret).

pub mod kernel;

mod anon;
mod auth;
mod dashboard;
mod health;
mod home;
mod lessons;
mod ohttp;
mod people;
mod reach;
mod repairs;
mod rounds;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use kernel::AppState;
use kernel::{csrf, ops, page};

/// The pages: forms post and redirect, so every page works without JavaScript.
fn pages(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(home::pages())
        .merge(auth::pages())
        .merge(people::pages())
        .merge(repairs::pages())
        .merge(rounds::pages())
        .merge(health::pages())
        .merge(lessons::pages())
        .merge(dashboard::pages())
        .merge(reach::pages())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            page::html_errors,
        ))
}

/// The JSON API, as the OpenAPI document describes it.
fn api() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(auth::api())
        .merge(people::api())
        .merge(repairs::api())
        .merge(rounds::api())
        .merge(health::api())
        .merge(reach::api());
    OpenApiRouter::with_openapi(kernel::openapi::ApiDoc::openapi()).nest("/api/v1", v1)
}

/// The OpenAPI document, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = api().into_openapi();
        kernel::openapi::problems_as_problem_json(&mut doc);
        doc
    })
}

/// Routes that use the session cookie: everything a signed-in person does, under CSRF.
fn session_group(state: &AppState) -> Router<AppState> {
    let (api, _) = api().split_for_parts();
    Router::new()
        .merge(pages(state))
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(|| async { axum::Json(openapi()) }),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::protect,
        ))
}

/// The anonymous path: a request with a cookie is refused before any handler sees it. The
/// Oblivious HTTP gateway (`/ohttp/...`) sits here too and hands what it decrypts to the same
/// `/anon` routes, behind the same guards; with `require_ohttp` nothing else reaches them.
fn anon_group(state: &AppState) -> Router<AppState> {
    let anon = anon::routes()
        .layer(axum::middleware::from_fn_with_state(
            state.ctx.settings().require_ohttp,
            ohttp::require_gateway,
        ))
        .layer(axum::middleware::from_fn(kernel::anon::refuse_cookies));
    anon.clone().merge(
        ohttp::routes(anon.with_state(state.clone()))
            .layer(axum::middleware::from_fn(kernel::anon::refuse_cookies)),
    )
}

/// Routes that need neither a session nor a form token. The operations endpoints stay as
/// they are (uncompressed); assets, feeds and unsubscribe pages are compressed.
fn public_group() -> Router<AppState> {
    Router::new().merge(ops::routes()).merge(
        Router::new()
            .merge(kernel::assets::routes())
            .merge(repairs::public())
            .merge(reach::public())
            .layer(compression()),
    )
}

/// gzip or brotli, whichever the client accepts (brotli first), for pages, the API, assets and
/// feeds. Never for `/anon`: compressing a response that holds a secret (a blind signature, a
/// key, a sealed thread) beside anything an attacker can influence lets the compressed length
/// leak the secret (CRIME/BREACH), and the anonymous path must not leak by its sizes either.
fn compression() -> tower_http::compression::CompressionLayer {
    tower_http::compression::CompressionLayer::new()
        .gzip(true)
        .br(true)
}

/// The whole application, ready to serve.
pub fn router(state: AppState) -> Router {
    ops::metrics_handle();
    Router::new()
        .merge(session_group(&state).layer(compression()))
        // Not compressed: see `compression`.
        .merge(anon_group(&state))
        .merge(public_group())
        .fallback(page::not_found)
        .layer(DefaultBodyLimit::max(kernel::BODY_LIMIT))
        .layer(axum::middleware::from_fn(ops::refuse_oversized))
        .layer(axum::middleware::from_fn(ops::record_metrics))
        .layer(axum::middleware::from_fn(ops::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.secure_cookies(),
            ops::strict_transport,
        ))
        .with_state(state)
}
