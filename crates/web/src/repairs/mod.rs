//! Repairs at the edge: the list and opening one, the repair page and its forms, the JSON
//! API, and the feeds. The actions are `kintsugi_app::repairs`.

mod api;
mod coach;
mod feeds;
mod forms;
mod page;
mod pages;
mod sections;
pub mod view;

use axum::Router;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;

use crate::kernel::AppState;

pub fn pages() -> Router<AppState> {
    use forms::*;
    Router::new()
        .route("/repairs", get(pages::list).post(pages::open))
        .route("/repairs/new", get(pages::new_page))
        .route("/repairs/{id}", get(page::show))
        .route("/repairs/{id}/coach", post(coach))
        .route("/repairs/{id}/acknowledgment", post(acknowledge))
        .route("/repairs/{id}/causes", post(add_cause))
        .route("/repairs/{id}/no-round", post(no_round))
        .route("/repairs/{id}/stage", post(move_stage))
        .route("/repairs/{id}/updates", post(post_update))
        .route(
            "/repairs/{id}/updates/{update}/edit",
            get(edit_page).post(edit_update),
        )
        .route("/repairs/{id}/commitments", post(add_commitment))
        .route("/repairs/{id}/offers", post(accept_offer))
        .route(
            "/repairs/{id}/commitments/{commitment}/done",
            post(mark_done),
        )
        .route(
            "/repairs/{id}/commitments/{commitment}/confirm",
            post(confirm),
        )
        .merge(feeds::pages())
}

pub fn api() -> OpenApiRouter<AppState> {
    api::routes()
}

/// The feeds: the URL's secret is the credential, so no session and no CSRF.
pub fn public() -> Router<AppState> {
    feeds::public()
}
