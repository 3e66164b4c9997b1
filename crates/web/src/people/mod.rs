//! People, teams and the organisation's settings: the admin's pages and API. The actions are
//! `kintsugi_app::people`.

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
