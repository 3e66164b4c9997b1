//! Team health in the JSON API.

use axum::extract::State;
use axum::http::StatusCode;
use kintsugi_app::Ctx;
use kintsugi_app::health::view::{self as health_view, HealthView, TrendPoint};
use kintsugi_app::health::{self, CheckOut, schedule};
use kintsugi_app::rounds::{TokenRequest, TokenResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::kernel::error::Problem;
use crate::kernel::error::extract::{Json, Path};
use crate::kernel::session::{AdminUser, CurrentUser};
use crate::kernel::{AppState, Reply};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_checks))
        .routes(routes!(api_token))
        .routes(routes!(api_overview))
        .routes(routes!(api_team))
        .routes(routes!(api_instrument))
        .routes(routes!(api_settings))
        .routes(routes!(api_parent))
}

/// The open team health checks the person may answer (their teams'), with each instrument.
#[utoipa::path(get, path = "/health/checks", tag = "health", security(("session" = [])),
    responses((status = 200, body = [CheckOut]), (status = 401, body = Problem)))]
pub(super) async fn api_checks(
    State(ctx): State<Ctx>,
    user: CurrentUser,
) -> Reply<axum::Json<Vec<CheckOut>>> {
    schedule::catch_up(&ctx, user.org.id).await?;
    Ok(axum::Json(health::my_checks(&ctx, &user).await?))
}

/// Get a blind signature for a team health check, once per member and check.
#[utoipa::path(post, path = "/health/rounds/{round}/token", tag = "health", security(("session" = [])),
    params(("round" = Uuid, Path)), request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn api_token(
    State(ctx): State<Ctx>,
    user: CurrentUser,
    Path(round): Path<Uuid>,
    Json(b): Json<TokenRequest>,
) -> Reply<axum::Json<TokenResponse>> {
    let (round, _) = health::my_check(&ctx, &user, round).await?;
    Ok(axum::Json(
        kintsugi_app::rounds::sign_for(&ctx, &round, user.person.id, &b).await?,
    ))
}

/// The organisation's team health: its trend and the latest heat map, with small teams hidden.
#[utoipa::path(get, path = "/health/overview", tag = "health", security(("session" = [])),
    responses((status = 200, body = HealthView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn api_overview(
    State(ctx): State<Ctx>,
    user: CurrentUser,
) -> Reply<axum::Json<HealthView>> {
    health_view::require_viewer(&user)?;
    schedule::catch_up(&ctx, user.org.id).await?;
    Ok(axum::Json(
        health_view::view(&ctx, user.org.id, user.org.k_threshold).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TeamTrendOut {
    /// (id, name) of each dimension.
    dimensions: Vec<(String, String)>,
    points: Vec<TrendPoint>,
}

/// One team's trend, with gaps where the team is hidden.
#[utoipa::path(get, path = "/health/teams/{team}", tag = "health", security(("session" = [])),
    params(("team" = Uuid, Path)),
    responses((status = 200, body = TeamTrendOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn api_team(
    State(ctx): State<Ctx>,
    user: CurrentUser,
    Path(team): Path<Uuid>,
) -> Reply<axum::Json<TeamTrendOut>> {
    health_view::require_viewer(&user)?;
    let (dimensions, points) = health_view::team_trend(&ctx, user.org.id, team).await?;
    Ok(axum::Json(TeamTrendOut { dimensions, points }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentBody {
    /// The instrument file (TOML).
    pub toml: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoadedInstrument {
    id: Uuid,
    key: String,
    name: String,
}

/// Load the organisation's own instrument (TOML); a bad file is refused with its line.
#[utoipa::path(post, path = "/admin/health/instrument", tag = "health", security(("session" = [])),
    request_body = InstrumentBody,
    responses((status = 201, body = LoadedInstrument), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn api_instrument(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Json(b): Json<InstrumentBody>,
) -> Reply<(StatusCode, axum::Json<LoadedInstrument>)> {
    let (stored, _) = health::load_instrument(&ctx, admin.org.id, Some(&admin), &b.toml).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(LoadedInstrument {
            id: stored.id,
            key: stored.key,
            name: stored.name,
        }),
    ))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthSettingsBody {
    /// Days between a team's checks (7 to 90).
    pub every_days: i64,
}

/// Set how often every team gets a health check.
#[utoipa::path(put, path = "/admin/health/settings", tag = "health", security(("session" = [])),
    request_body = HealthSettingsBody,
    responses((status = 200, body = HealthSettingsBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn api_settings(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Json(b): Json<HealthSettingsBody>,
) -> Reply<axum::Json<HealthSettingsBody>> {
    health::set_every(&ctx, &admin, b.every_days).await?;
    Ok(axum::Json(b))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentBody {
    /// The parent team, or null for none.
    pub parent: Option<Uuid>,
}

/// Set or clear a team's parent team.
#[utoipa::path(put, path = "/teams/{team}/parent", tag = "health", security(("session" = [])),
    params(("team" = Uuid, Path)), request_body = ParentBody,
    responses((status = 200, body = ParentBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn api_parent(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Path(team): Path<Uuid>,
    Json(b): Json<ParentBody>,
) -> Reply<axum::Json<ParentBody>> {
    health::set_parent(&ctx, &admin, team, b.parent).await?;
    Ok(axum::Json(b))
}
