//! A repair's rounds in the JSON API: open, close, list (results only after close and only
//! when at least k answered), and the blind signature on a member's token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kintsugi_app::Ctx;
use kintsugi_app::repairs::{rounds, views};
use kintsugi_app::rounds::{TokenRequest, TokenResponse};
use kintsugi_core::rounds::RoundKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::kernel::error::Problem;
use crate::kernel::error::extract::{Json, Path};
use crate::kernel::session::InRepair;
use crate::kernel::{AppState, Reply};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_open, api_list))
        .routes(routes!(api_close))
        .routes(routes!(api_token))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct OpenRoundBody {
    /// "listening" (everyone, the default) or "genuineness" (the affected side rates the acknowledgment 1 to 7).
    #[serde(default)]
    pub kind: Option<String>,
    /// Close automatically after this many days (1 to 60); otherwise the facilitator closes it.
    pub closes_in_days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct OpenedRound {
    pub id: Uuid,
    pub public_key: String,
    pub fingerprint: String,
}

/// Open a listening round. The repair's facilitator only.
#[utoipa::path(post, path = "/repairs/{id}/rounds", tag = "rounds", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = OpenRoundBody, responses((status = 201, body = OpenedRound), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn api_open(
    State(ctx): State<Ctx>,
    InRepair { user, access }: InRepair,
    Json(b): Json<OpenRoundBody>,
) -> Reply<Response> {
    let kind = RoundKind::parse_openable(b.kind.as_deref())?;
    let r = rounds::open(&ctx, &user, &access, kind, b.closes_in_days).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(OpenedRound {
            id: r.id,
            public_key: r.public_key,
            fingerprint: r.fingerprint,
        }),
    )
        .into_response())
}

/// Close a round now and destroy its key. The repair's facilitator only.
#[utoipa::path(post, path = "/repairs/{id}/rounds/{round}/close", tag = "rounds", security(("session" = [])),
    params(("id" = Uuid, Path), ("round" = Uuid, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn api_close(
    State(ctx): State<Ctx>,
    InRepair { user, access }: InRepair,
    Path((_repair, round)): Path<(Uuid, Uuid)>,
) -> Reply<StatusCode> {
    rounds::close_by_facilitator(&ctx, &user, &access, round).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The repair's rounds; results only after close and only when at least k answered.
#[utoipa::path(get, path = "/repairs/{id}/rounds", tag = "rounds", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = [views::RoundView]), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    InRepair { access, .. }: InRepair,
) -> Reply<axum::Json<Vec<views::RoundView>>> {
    let reads = state.snapshots.reads(&state.ctx, &access.repair).await?;
    Ok(axum::Json(views::views(
        &access,
        &reads.rounds,
        &reads.commitments,
    )))
}

/// Get a blind signature on a blinded token message, once per member and round.
#[utoipa::path(post, path = "/repairs/{id}/rounds/{round}/token", tag = "rounds", security(("session" = [])),
    params(("id" = Uuid, Path), ("round" = Uuid, Path)), request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn api_token(
    State(ctx): State<Ctx>,
    InRepair { user, access }: InRepair,
    Path((_repair, round)): Path<(Uuid, Uuid)>,
    Json(b): Json<TokenRequest>,
) -> Reply<axum::Json<TokenResponse>> {
    Ok(axum::Json(
        rounds::issue(&ctx, &user, &access, round, &b).await?,
    ))
}
