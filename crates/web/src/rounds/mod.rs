//! A repair's anonymous rounds at the edge: the page's forms, the JSON API, and the trust
//! pulse charts (`view`). The answers themselves arrive on the anonymous path (`crate::anon`).

mod api;
mod pages;
pub mod view;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::kernel::AppState;

pub fn pages() -> Router<AppState> {
    pages::routes()
}

pub fn api() -> OpenApiRouter<AppState> {
    api::routes()
}
