//! What reaches people and systems outside, at the edge: the admin's job queue and webhooks,
//! each person's email preferences, and unsubscribing. The mechanisms are
//! `kintsugi_app::reach`.

mod jobs;
mod preferences;
mod webhooks;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::kernel::AppState;

pub fn pages() -> Router<AppState> {
    Router::new()
        .merge(jobs::pages())
        .merge(webhooks::pages())
        .merge(preferences::pages())
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(jobs::api())
        .merge(webhooks::api::routes())
        .merge(preferences::api())
}

pub fn public() -> Router<AppState> {
    preferences::public()
}
