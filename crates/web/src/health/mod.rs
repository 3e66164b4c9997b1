//! Team health at the edge: members answer their team's checks; admins and facilitators see
//! the overview; admins set it up. The checks themselves are `kintsugi_app::health`.

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
