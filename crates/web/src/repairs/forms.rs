//! The repair page's forms: each posts, then redirects back to the repair, or shows the page
//! again with what was wrong. The coach also answers htmx with its partial alone.

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kintsugi_app::repairs::commitments::{self, CommitmentInput};
use kintsugi_app::repairs::{self, Access};
use kintsugi_app::{Actor, Ctx, Error};
use kintsugi_core::Invalid;
use kintsugi_store::Update;
use serde::Deserialize;
use uuid::Uuid;

use crate::kernel::error::extract::{Form, Path};
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::InRepair;
use crate::kernel::{AppState, HttpError, Reply};
use crate::repairs::coach::coach_partial;
use crate::repairs::page::{Extras, after, again, repair_page};
use crate::repairs::sections::CommitmentDraft;

/// Most forms here make one change as the person and go back to the repair at an anchor, or
/// show the page again with what was wrong ([`after`]). Extracted in the order the other
/// handlers take them: the person's place in the repair is checked before the body is read.
pub(super) struct Change {
    state: AppState,
    page: Page,
    repair: InRepair,
}

impl FromRequestParts<AppState> for Change {
    type Rejection = HttpError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let page = Page::from_request_parts(parts, state).await?;
        let repair = InRepair::from_request_parts(parts, state).await?;
        Ok(Self {
            state: state.clone(),
            page,
            repair,
        })
    }
}

impl Change {
    async fn apply<T>(
        self,
        anchor: &str,
        run: impl AsyncFnOnce(&Ctx, &Actor, &Access) -> Result<T, Error>,
    ) -> Reply<Response> {
        let Self {
            state,
            page,
            repair: InRepair { user, access },
        } = self;
        let result = run(&state.ctx, &user, &access).await.map(|_| None);
        after(&state, &page, &user, access.repair.id, result, anchor).await
    }
}

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

pub(super) async fn add_cause(change: Change, Form(form): Form<CauseForm>) -> Reply<Response> {
    change
        .apply("causes-heading", async |ctx, user, access| {
            let f = &form;
            repairs::add_cause(ctx, user, access, &f.category, &f.description, &f.support).await
        })
        .await
}

#[derive(Deserialize)]
pub(super) struct ReasonForm {
    #[serde(default)]
    reason: String,
}

pub(super) async fn no_round(change: Change, Form(form): Form<ReasonForm>) -> Reply<Response> {
    change
        .apply("causes-heading", async |ctx, user, access| {
            repairs::record_no_round_reason(ctx, user, access, &form.reason).await
        })
        .await
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

pub(super) async fn move_stage(change: Change, Form(form): Form<StageForm>) -> Reply<Response> {
    change
        .apply("stage-heading", async |ctx, user, access| {
            let f = &form;
            repairs::move_stage(ctx, user, access, &f.from, &f.action, &f.reason).await
        })
        .await
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

pub(super) async fn post_update(change: Change, Form(form): Form<UpdateForm>) -> Reply<Response> {
    change
        .apply("updates-heading", async |ctx, user, access| {
            let f = &form;
            repairs::post_update(ctx, user, access, &f.kind, &f.body, &f.reason).await
        })
        .await
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

impl CommitmentForm {
    fn count(&self) -> Result<Option<i64>, Error> {
        match self
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
        }
    }

    fn input(&self, count: Option<i64>) -> CommitmentInput<'_> {
        CommitmentInput {
            owner: Uuid::parse_str(self.owner.trim()).ok(),
            statement: &self.statement,
            due: self.due.as_deref(),
            cadence: self.cadence.as_deref(),
            count,
            first_due: self.first_due.as_deref(),
        }
    }

    /// The form as sent, to show again open with its problems.
    fn draft(&self) -> CommitmentDraft {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        CommitmentDraft {
            statement: self.statement.clone(),
            owner: self.owner.clone(),
            due: text(&self.due),
            cadence: text(&self.cadence),
            count: text(&self.count),
            first_due: text(&self.first_due),
            open: true,
        }
    }
}

/// Like the other forms, except that a refused commitment (a conflict too) comes back with
/// the form as it was sent.
pub(super) async fn add_commitment(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<CommitmentForm>,
) -> Reply<Response> {
    let result = match form.count() {
        Ok(count) => {
            commitments::add_commitment(&state.ctx, &user, &access, form.input(count)).await
        }
        Err(e) => Err(e),
    };
    let errors = match result {
        // Advice on the commitment ("start small") comes back as a notice.
        Ok((_, advice)) => {
            let id = access.repair.id;
            return after(&state, &page, &user, id, Ok(advice), "commitments-heading").await;
        }
        Err(Error::Invalid(errors)) => errors,
        Err(Error::Conflict(msg)) => vec![Invalid::new(Invalid::FORM, msg)],
        Err(e) => return Err(e.into()),
    };
    let extras = Extras {
        errors,
        cdraft: form.draft(),
        ..Extras::default()
    };
    repair_page(&state, &page, &user, access, extras).await
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
    again(&state, &page, &user, id, extras).await
}

#[derive(Deserialize)]
pub(super) struct OccurrenceForm {
    #[serde(default)]
    due: String,
    #[serde(default)]
    happened: String,
}

pub(super) async fn mark_done(
    change: Change,
    Path((_, commitment)): Path<(Uuid, Uuid)>,
    Form(form): Form<OccurrenceForm>,
) -> Reply<Response> {
    change
        .apply("commitments-heading", async |ctx, user, access| {
            commitments::mark_done(ctx, user, access, commitment, &form.due).await
        })
        .await
}

pub(super) async fn confirm(
    change: Change,
    Path((_, commitment)): Path<(Uuid, Uuid)>,
    Form(form): Form<OccurrenceForm>,
) -> Reply<Response> {
    change
        .apply("commitments-heading", async |ctx, user, access| {
            let (due, happened) = (&form.due, &form.happened);
            commitments::confirm(ctx, user, access, commitment, due, happened).await
        })
        .await
}
