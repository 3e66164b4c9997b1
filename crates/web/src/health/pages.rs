//! Team health pages: members answer their team's open checks; admins and facilitators see the
//! organisation's overview and each team's trend; admins set the cadence, the instrument and
//! the team tree.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use kintsugi_app::health::view::{self as health_view, HealthView, TrendPoint};
use kintsugi_app::health::{self, CheckOut, schedule};
use kintsugi_app::instruments::instrument_by_id;
use kintsugi_app::{Ctx, Error};
use kintsugi_core::Invalid;
use kintsugi_core::instrument::Instrument;
use kintsugi_store::Team;
use serde::Deserialize;
use uuid::Uuid;

use crate::health::view::{HealthCharts, csv as health_csv, trend_chart};
use crate::kernel::error::extract::{Form, Path, Query};
use crate::kernel::page::{Chrome, Page, form_error, render, whole_number};
use crate::kernel::session::{AdminUser, CurrentUser};
use crate::kernel::{AppState, Reply};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health_page))
        .route("/health/rounds/{round}/token", post(super::api::api_token))
        .route("/health/overview", get(overview_page))
        .route("/health/overview.csv", get(overview_csv))
        .route("/health/teams/{team}", get(team_page))
        .route("/admin/health", get(admin_page))
        .route("/admin/health/settings", post(save_settings))
        .route("/admin/health/instrument", post(save_instrument))
        .route("/admin/health/parents", post(save_parent))
}

#[derive(Template)]
#[template(path = "health.html")]
struct HealthPage {
    chrome: Chrome,
    checks: Vec<CheckOut>,
    k: u32,
}

async fn health_page(State(ctx): State<Ctx>, page: Page, user: CurrentUser) -> Reply {
    schedule::catch_up(&ctx, user.org.id).await?;
    let checks = health::my_checks(&ctx, &user).await?;
    Ok(render(
        StatusCode::OK,
        &HealthPage {
            chrome: page.chrome("Team health"),
            checks,
            k: user.org.k_threshold.get(),
        },
    ))
}

#[derive(Template)]
#[template(path = "health_overview.html")]
struct OverviewPage {
    chrome: Chrome,
    health: HealthView,
}

#[derive(Deserialize)]
struct GroupQuery {
    group: Option<Uuid>,
}

async fn overview_page(
    State(ctx): State<Ctx>,
    page: Page,
    user: CurrentUser,
    Query(q): Query<GroupQuery>,
) -> Reply {
    health_view::require_viewer(&user)?;
    schedule::catch_up(&ctx, user.org.id).await?;
    let mut health = health_view::view(&ctx, user.org.id, user.org.k_threshold).await?;
    health.page_to(q.group);
    Ok(render(
        StatusCode::OK,
        &OverviewPage {
            chrome: page.chrome("Team health overview"),
            health,
        },
    ))
}

async fn overview_csv(State(ctx): State<Ctx>, user: CurrentUser) -> Reply {
    health_view::require_viewer(&user)?;
    schedule::catch_up(&ctx, user.org.id).await?;
    let health = health_view::view(&ctx, user.org.id, user.org.k_threshold).await?;
    health_csv(&health)
}

#[derive(Template)]
#[template(path = "health_team.html")]
struct TeamPage {
    chrome: Chrome,
    team: Team,
    points: Vec<TrendPoint>,
    chart: String,
}

async fn team_page(
    State(ctx): State<Ctx>,
    page: Page,
    user: CurrentUser,
    Path(team): Path<Uuid>,
) -> Reply {
    health_view::require_viewer(&user)?;
    let t = ctx
        .store()
        .team(user.org.id, team)
        .await?
        .ok_or_else(|| Error::not_found("team"))?;
    let (dimensions, points) = health_view::team_trend(&ctx, user.org.id, team).await?;
    let chart = trend_chart(
        "team-trend",
        format!("Team health of {}", t.name),
        &dimensions,
        &points,
    )
    .render();
    Ok(render(
        StatusCode::OK,
        &TeamPage {
            chrome: page.chrome(&format!("Team health: {}", t.name)),
            team: t,
            points,
            chart,
        },
    ))
}

#[derive(Template)]
#[template(path = "health_admin.html")]
struct AdminPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    every: String,
    instrument: Instrument,
    custom: bool,
    draft: String,
    teams: Vec<(Team, Option<Uuid>)>,
}

impl AdminPage {
    fn is_parent(&self, parent: &Option<Uuid>, candidate: &Uuid) -> bool {
        parent.as_ref() == Some(candidate)
    }
}

async fn admin_view(
    ctx: &Ctx,
    page: &Page,
    admin: &CurrentUser,
    errors: Vec<Invalid>,
    every: Option<String>,
    draft: String,
) -> Reply<AdminPage> {
    let settings = ctx.store().health_settings(admin.org.id).await?;
    let instrument = instrument_by_id(ctx, settings.instrument.as_ref().map(|i| i.id)).await?;
    let parents: HashMap<Uuid, Uuid> = ctx
        .store()
        .team_parents(admin.org.id)
        .await?
        .into_iter()
        .collect();
    let teams = ctx
        .store()
        .list_teams(admin.org.id)
        .await?
        .into_iter()
        .map(|t| {
            let p = parents.get(&t.id).copied();
            (t, p)
        })
        .collect();
    Ok(AdminPage {
        chrome: page.chrome("Team health settings"),
        errors,
        every: every.unwrap_or_else(|| settings.every.days().to_string()),
        instrument,
        custom: settings.instrument.is_some(),
        draft,
        teams,
    })
}

async fn admin_page(State(ctx): State<Ctx>, page: Page, AdminUser(admin): AdminUser) -> Reply {
    let view = admin_view(&ctx, &page, &admin, vec![], None, String::new()).await?;
    Ok(render(StatusCode::OK, &view))
}

/// Shows the admin page again with the problems, keeping what was typed.
async fn admin_error(
    ctx: &Ctx,
    page: &Page,
    admin: &CurrentUser,
    err: Error,
    every: Option<String>,
    draft: String,
) -> Reply {
    let view = admin_view(ctx, page, admin, vec![], every, draft).await?;
    Ok(form_error(err, |errors| AdminPage { errors, ..view }))
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    health_every_days: String,
}

async fn save_settings(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(f): Form<SettingsForm>,
) -> Reply {
    let result = match whole_number("health_every_days", &f.health_every_days) {
        Ok(days) => health::set_every(&ctx, &admin, days).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/admin/health").into_response()),
        Err(e) => {
            admin_error(
                &ctx,
                &page,
                &admin,
                e,
                Some(f.health_every_days),
                String::new(),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct InstrumentForm {
    #[serde(default)]
    instrument: String,
}

async fn save_instrument(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(f): Form<InstrumentForm>,
) -> Reply {
    match health::load_instrument(&ctx, admin.org.id, Some(&admin), &f.instrument).await {
        Ok(_) => Ok(Redirect::to("/admin/health").into_response()),
        Err(e) => admin_error(&ctx, &page, &admin, e, None, f.instrument).await,
    }
}

#[derive(Deserialize)]
struct ParentForm {
    team: Uuid,
    /// Empty: no parent.
    #[serde(default)]
    parent: String,
}

async fn save_parent(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(f): Form<ParentForm>,
) -> Reply {
    let parent = match f.parent.trim() {
        "" => Ok(None),
        p => Uuid::parse_str(p)
            .map(Some)
            .map_err(|_| Error::invalid("parent", "is not a team")),
    };
    let result = match parent {
        Ok(parent) => health::set_parent(&ctx, &admin, f.team, parent).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/admin/health").into_response()),
        Err(e) => admin_error(&ctx, &page, &admin, e, None, String::new()).await,
    }
}
