//! A repair's rounds on its page: the facilitator opens and closes them and replies to
//! comments, the affected person of a pair decides what the other sees, and anyone in the
//! repair downloads the trust pulses as CSV.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kintsugi_app::repairs::{pulses, rounds};
use kintsugi_app::{Ctx, Error};
use kintsugi_core::rounds::{PULSE_ITEMS, RoundKind};
use serde::Deserialize;
use uuid::Uuid;

use crate::kernel::csv::{Csv, datum};
use crate::kernel::error::extract::{Form, Path};
use crate::kernel::session::InRepair;
use crate::kernel::{AppState, Reply};
use crate::rounds::view::{pulse_datum, pulse_label};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/repairs/{id}/rounds", post(page_open))
        .route("/repairs/{id}/rounds/{round}/close", post(page_close))
        .route(
            "/repairs/{id}/rounds/{round}/token",
            post(super::api::api_token),
        )
        .route("/repairs/{id}/pair-consent", post(page_pair_consent))
        .route(
            "/repairs/{id}/rounds/{round}/answers/{answer}/replies",
            post(page_reply),
        )
        .route("/repairs/{id}/pulses.csv", get(pulses_csv))
}

#[derive(Deserialize, Default)]
pub struct OpenRoundForm {
    #[serde(default)]
    pub closes_in_days: String,
    #[serde(default)]
    pub kind: String,
}

pub async fn page_open(
    State(ctx): State<Ctx>,
    InRepair { user, access }: InRepair,
    Form(form): Form<OpenRoundForm>,
) -> Reply<Response> {
    let days = match form.closes_in_days.trim() {
        "" => None,
        d => Some(
            d.parse::<i64>()
                .map_err(|_| Error::invalid("closes_in_days", "must be a whole number of days"))?,
        ),
    };
    rounds::open(
        &ctx,
        &user,
        &access,
        RoundKind::parse_openable(Some(&form.kind))?,
        days,
    )
    .await?;
    Ok(Redirect::to(&format!("/repairs/{}#rounds-heading", access.repair.id)).into_response())
}

pub async fn page_close(
    State(ctx): State<Ctx>,
    InRepair { user, access }: InRepair,
    Path((_repair, round)): Path<(Uuid, Uuid)>,
) -> Reply<Response> {
    rounds::close_by_facilitator(&ctx, &user, &access, round).await?;
    Ok(Redirect::to(&format!("/repairs/{}#rounds-heading", access.repair.id)).into_response())
}

#[derive(Deserialize, Default)]
pub struct ReplyForm {
    #[serde(default)]
    pub body: String,
}

pub async fn page_reply(
    State(ctx): State<Ctx>,
    InRepair { access, .. }: InRepair,
    Path((_repair, round, answer)): Path<(Uuid, Uuid, Uuid)>,
    Form(form): Form<ReplyForm>,
) -> Reply<Response> {
    rounds::reply(&ctx, &access, round, answer, &form.body).await?;
    Ok(Redirect::to(&format!("/repairs/{}#rounds-heading", access.repair.id)).into_response())
}

#[derive(Deserialize, Default)]
pub struct ConsentForm {
    pub share: Option<String>,
}

pub async fn page_pair_consent(
    State(ctx): State<Ctx>,
    InRepair { user, access }: InRepair,
    Form(form): Form<ConsentForm>,
) -> Reply<Response> {
    rounds::set_pair_consent(&ctx, &user, &access, form.share.as_deref() == Some("yes")).await?;
    Ok(Redirect::to(&format!("/repairs/{}#rounds-heading", access.repair.id)).into_response())
}

/// `/repairs/{id}/pulses.csv`: each closed pulse's mean per dimension, "suppressed" below k.
pub async fn pulses_csv(
    State(state): State<AppState>,
    InRepair { access, .. }: InRepair,
) -> Reply<Response> {
    let reads = state.snapshots.reads(&state.ctx, &access.repair).await?;
    let points = pulses::pulse_trend(&access, &reads.rounds).ok_or_else(|| {
        Error::Forbidden(
            "the affected person's pulse answers are theirs and the facilitator's".into(),
        )
    })?;
    let mut header = vec!["repair", "pulse", "closed on"];
    header.extend(PULSE_ITEMS.iter().map(|(k, _)| *k));
    let mut csv = Csv::new("trust-pulses.csv", &header);
    for p in &points {
        let mut cells = vec![
            access.repair.title.clone(),
            pulse_label(p),
            p.closed_on.map(|d| d.to_string()).unwrap_or_default(),
        ];
        cells.extend(p.items.iter().map(|s| datum(&pulse_datum(s))));
        csv.row(cells);
    }
    csv.into_response()
}
