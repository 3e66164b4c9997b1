//! The home page: what a person has in Kintsugi (their repairs, news, their follow-through).
//! An aggregator, like the dashboard: it reads other features' views.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use kintsugi_app::Ctx;
use kintsugi_app::repairs::commitments::follow_through;

use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::{AppState, Reply};
use crate::repairs::view::{FollowThroughView, ListedRepair, listed};

pub fn pages() -> Router<AppState> {
    Router::new().route("/", get(home))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    name: String,
    org_name: String,
    roles: String,
    is_admin: bool,
    team_count: usize,
    people_count: usize,
    repairs: Vec<ListedRepair>,
    notifications: Vec<kintsugi_store::Notification>,
    has_news: bool,
    ft: FollowThroughView,
    commitments: usize,
}

async fn home(State(ctx): State<Ctx>, page: Page) -> Reply {
    let Some(user) = page.user() else {
        return Ok(Redirect::to("/login").into_response());
    };
    let notifications = ctx.store().notifications(user.person.id, 10).await?;
    if notifications.iter().any(|n| !n.seen) {
        ctx.store().mark_notifications_seen(user.person.id).await?;
    }
    let mine = ctx.store().commitments_owned_by(user.person.id).await?;
    let (team_count, people_count) = if user.person.roles.admin {
        (
            ctx.store().list_teams(user.org.id).await?.len(),
            ctx.store().list_people(user.org.id).await?.len(),
        )
    } else {
        (0, 0)
    };
    Ok(render(
        StatusCode::OK,
        &HomePage {
            chrome: page.chrome("Home"),
            name: user.person.name.clone(),
            org_name: user.org.name.clone(),
            roles: user.person.roles.labels().join(" and "),
            is_admin: user.person.roles.admin,
            team_count,
            people_count,
            repairs: listed(&ctx, user).await?,
            has_news: notifications.iter().any(|n| !n.seen),
            notifications,
            ft: follow_through(&mine, ctx.today()).into(),
            commitments: mine.len(),
        },
    ))
}
