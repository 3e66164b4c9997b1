//! The HTTP edge: server-rendered pages (askama + htmx), the JSON API under `/api/v1`,
//! and the operations endpoints. Domain rules live in `kintsugi-core`; storage behind
//! `kintsugi_store::Store`. This crate translates between HTTP and those two.

mod actions;
pub mod anon;
mod api;
mod assets;
pub mod auth;
pub mod charts;
mod csrf;
mod dashboard;
pub mod email;
mod error;
pub mod export;
mod feeds;
pub mod health;
pub mod jobs;
mod lessons;
pub mod notify;
mod oidc;
mod ops;
mod pages;
mod repair_api;
mod repair_pages;
pub mod repairs;
pub mod rounds;
mod ssrf;
mod state;
mod tokens;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use api::openapi;
pub use auth::hash_password;
pub use error::AppError;
pub use oidc::OidcSettings;
pub use state::{AppState, DevClock, WebConfig};
pub use tokens::{hash_token, new_token};

/// Largest request body accepted anywhere. Forms and JSON here are small.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The whole application, ready to serve.
pub fn router(state: AppState) -> Router {
    state::metrics_handle();
    let ops = ops::router(state.clone());
    Router::new()
        .merge(pages::router(state.clone()))
        .merge(repair_pages::router(state.clone()))
        .merge(feeds::router(state.clone()))
        .merge(health::router(state.clone()))
        .merge(dashboard::router(state.clone()))
        .merge(api::router(state.clone()))
        .merge(oidc::router(state.clone()))
        .merge(webhooks::router(state.clone()))
        // Jobs, reminders and email preferences (issue 6).
        .merge(jobs::router(state.clone()))
        .merge(notify::router(state.clone()))
        .merge(lessons::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::protect,
        ))
        .merge(ops)
        .merge(anon::router(state.clone()))
        .merge(lessons::anon_router(state.clone()))
        .merge(assets::router())
        // One-click unsubscribe (RFC 8058): no session, no CSRF token; the link is the key.
        .merge(notify::unsubscribe_router(state.clone()))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(ops::refuse_oversized))
        .layer(axum::middleware::from_fn(ops::record_metrics))
        .layer(axum::middleware::from_fn(ops::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.config().secure_cookies,
            ops::strict_transport,
        ))
}
