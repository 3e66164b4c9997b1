//! The repair page's forms: each posts, then redirects back to the repair, or shows the page
//! again with what was wrong. The coach also answers htmx with its partial alone.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kintsugi_app::Error;
use kintsugi_app::repairs::commitments::{self, CommitmentInput};
use kintsugi_app::repairs::{self};
use kintsugi_core::Invalid;
use kintsugi_store::Update;
use serde::Deserialize;
use uuid::Uuid;

use crate::kernel::error::extract::{Form, Path};
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::InRepair;
use crate::kernel::{AppState, Reply};
use crate::repairs::coach::coach_partial;
use crate::repairs::page::{Extras, after, repair_page};
use crate::repairs::sections::CommitmentDraft;

#[derive(Deserialize)]
pub(super) struct DraftForm {
    #[serde(default)]
    body: String,
}

pub(super) async fn coach(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    headers: HeaderMap,
    Form(form): Form<DraftForm>,
) -> Reply<Response> {
    access.require_accountable()?;
    // htmx asks while someone types (its target is the coach panel): the panel alone.
    // A boosted "Ask the coach" click targets the page and gets the whole page.
    if headers.get("hx-target").is_some_and(|t| t == "coach") {
        return Ok(Html(coach_partial(&access, &form.body)).into_response());
    }
    repair_page(
        &state,
        &page,
        &user,
        access,
        Extras {
            draft_ack: form.body,
            ..Extras::default()
        },
    )
    .await
}

pub(super) async fn acknowledge(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<DraftForm>,
) -> Reply<Response> {
    let id = access.repair.id;
    match repairs::acknowledge(&state.ctx, &user, &access, &form.body).await {
        Ok(()) => Ok(Redirect::to(&format!("/repairs/{id}#ack-heading")).into_response()),
        Err(Error::Invalid(errors)) => {
            repair_page(
                &state,
                &page,
                &user,
                access,
                Extras {
                    draft_ack: form.body,
                    errors,
                    ..Extras::default()
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct CauseForm {
    #[serde(default)]
    category: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    support: Vec<Uuid>,
}

pub(super) async fn add_cause(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<CauseForm>,
) -> Reply<Response> {
    let id = access.repair.id;
    let result = repairs::add_cause(
        &state.ctx,
        &user,
        &access,
        &form.category,
        &form.description,
        &form.support,
    )
    .await
    .map(|_| None);
    after(&state, &page, &user, id, result, "causes-heading").await
}

#[derive(Deserialize)]
pub(super) struct ReasonForm {
    #[serde(default)]
    reason: String,
}

pub(super) async fn no_round(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<ReasonForm>,
) -> Reply<Response> {
    let id = access.repair.id;
    let result = repairs::record_no_round_reason(&state.ctx, &user, &access, &form.reason)
        .await
        .map(|_| None);
    after(&state, &page, &user, id, result, "causes-heading").await
}

#[derive(Deserialize)]
pub(super) struct StageForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn move_stage(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<StageForm>,
) -> Reply<Response> {
    let id = access.repair.id;
    let result = repairs::move_stage(
        &state.ctx,
        &user,
        &access,
        &form.from,
        &form.action,
        &form.reason,
    )
    .await
    .map(|_| None);
    after(&state, &page, &user, id, result, "stage-heading").await
}

#[derive(Deserialize)]
pub(super) struct UpdateForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn post_update(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<UpdateForm>,
) -> Reply<Response> {
    let id = access.repair.id;
    let result = repairs::post_update(
        &state.ctx,
        &user,
        &access,
        &form.kind,
        &form.body,
        &form.reason,
    )
    .await
    .map(|_| None);
    after(&state, &page, &user, id, result, "updates-heading").await
}

#[derive(Template)]
#[template(path = "update_edit.html")]
struct EditPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    repair_id: Uuid,
    repair_title: String,
    update: Update,
    body: String,
    reason: String,
}

pub(super) async fn edit_page(
    State(state): State<AppState>,
    page: Page,
    InRepair { access, .. }: InRepair,
    Path((_, update_id)): Path<(Uuid, Uuid)>,
) -> Reply<Response> {
    let id = access.repair.id;
    let update = repairs::find_update(&state.ctx, &access, update_id).await?;
    let current = update.current().clone();
    Ok(render(
        StatusCode::OK,
        &EditPage {
            chrome: page.chrome("Edit update"),
            errors: vec![],
            repair_id: id,
            repair_title: access.repair.title.clone(),
            body: current.body,
            reason: current.reason.unwrap_or_default(),
            update,
        },
    ))
}

pub(super) async fn edit_update(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Path((_, update_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<UpdateForm>,
) -> Reply<Response> {
    let id = access.repair.id;
    match repairs::edit_update(
        &state.ctx,
        &user,
        &access,
        update_id,
        &form.body,
        &form.reason,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/repairs/{id}#updates-heading")).into_response()),
        Err(Error::Invalid(errors)) => {
            let update = repairs::find_update(&state.ctx, &access, update_id).await?;
            let view = EditPage {
                chrome: page.chrome("Edit update"),
                errors,
                repair_id: id,
                repair_title: access.repair.title.clone(),
                update,
                body: form.body,
                reason: form.reason,
            };
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct CommitmentForm {
    #[serde(default)]
    owner: String,
    #[serde(default)]
    statement: String,
    due: Option<String>,
    cadence: Option<String>,
    count: Option<String>,
    first_due: Option<String>,
}

pub(super) async fn add_commitment(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<CommitmentForm>,
) -> Reply<Response> {
    let id = access.repair.id;
    let count = match form
        .count
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => Ok(None),
        Some(c) => c
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Error::invalid("count", "must be a whole number")),
    };
    let result = match count {
        Ok(count) => {
            let input = CommitmentInput {
                owner: Uuid::parse_str(form.owner.trim()).ok(),
                statement: &form.statement,
                due: form.due.as_deref(),
                cadence: form.cadence.as_deref(),
                count,
                first_due: form.first_due.as_deref(),
            };
            commitments::add_commitment(&state.ctx, &user, &access, input).await
        }
        Err(e) => Err(e),
    };
    let errors = match result {
        Ok((_, None)) => {
            return Ok(Redirect::to(&format!("/repairs/{id}#commitments-heading")).into_response());
        }
        Ok((_, Some(advice))) => {
            let access = state.snapshots.participant(&state.ctx, &user, id).await?;
            return repair_page(
                &state,
                &page,
                &user,
                access,
                Extras {
                    notice: Some(advice),
                    ..Extras::default()
                },
            )
            .await;
        }
        Err(Error::Invalid(errors)) => errors,
        Err(Error::Conflict(msg)) => vec![Invalid::new(Invalid::FORM, msg)],
        Err(e) => return Err(e.into()),
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let cdraft = CommitmentDraft {
        statement: form.statement.clone(),
        owner: form.owner.clone(),
        due: text(&form.due),
        cadence: text(&form.cadence),
        count: text(&form.count),
        first_due: text(&form.first_due),
        open: true,
    };
    repair_page(
        &state,
        &page,
        &user,
        access,
        Extras {
            errors,
            cdraft,
            ..Extras::default()
        },
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct OfferForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    offer: String,
}

/// "Add as a commitment" beside an offer of repair the coach found: a commitment owned by
/// the writer, due in a week, and the draft apology kept as it was.
pub(super) async fn accept_offer(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<OfferForm>,
) -> Reply<Response> {
    let due = (state.ctx.today() + time::Duration::days(7)).to_string();
    let input = CommitmentInput {
        owner: Some(user.person.id),
        statement: &form.offer,
        due: Some(&due),
        cadence: None,
        count: None,
        first_due: None,
    };
    let id = access.repair.id;
    let extras = match commitments::add_commitment(&state.ctx, &user, &access, input).await {
        Ok((_, advice)) => {
            let mut notice = format!(
                "“{}” is now a commitment of yours, due {due}.",
                form.offer.trim()
            );
            if let Some(advice) = advice {
                notice = format!("{notice} {advice}");
            }
            Extras {
                draft_ack: form.body,
                notice: Some(notice),
                ..Extras::default()
            }
        }
        Err(Error::Invalid(errors)) => Extras {
            draft_ack: form.body,
            errors,
            ..Extras::default()
        },
        Err(e) => return Err(e.into()),
    };
    let access = state.snapshots.participant(&state.ctx, &user, id).await?;
    repair_page(&state, &page, &user, access, extras).await
}

#[derive(Deserialize)]
pub(super) struct OccurrenceForm {
    #[serde(default)]
    due: String,
    #[serde(default)]
    happened: String,
}

pub(super) async fn mark_done(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Path((_, commitment)): Path<(Uuid, Uuid)>,
    Form(form): Form<OccurrenceForm>,
) -> Reply<Response> {
    let id = access.repair.id;
    let result = commitments::mark_done(&state.ctx, &user, &access, commitment, &form.due)
        .await
        .map(|_| None);
    after(&state, &page, &user, id, result, "commitments-heading").await
}

pub(super) async fn confirm(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Path((_, commitment)): Path<(Uuid, Uuid)>,
    Form(form): Form<OccurrenceForm>,
) -> Reply<Response> {
    let id = access.repair.id;
    let result = commitments::confirm(
        &state.ctx,
        &user,
        &access,
        commitment,
        &form.due,
        &form.happened,
    )
    .await
    .map(|_| None);
    after(&state, &page, &user, id, result, "commitments-heading").await
}
