//! The repair page: every stage's state and forms on one page, for each person as they stand
//! in the repair, and the page again with what was wrong after a refused change. The page is
//! a layout over one view-model per section (`sections`).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kintsugi_app::Error;
use kintsugi_app::repairs::{Access, detail, views};
use kintsugi_core::Invalid;
use kintsugi_store::Repair;
use serde::Deserialize;
use uuid::Uuid;

use crate::kernel::error::extract::{Path, Query};
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::CurrentUser;
use crate::kernel::{AppState, Reply};
use crate::repairs::sections::{
    Acknowledgments, Causes, CommitmentDraft, Commitments, Header, Progress, Rounds, Updates,
    Viewer,
};
use crate::rounds::view::pulse_trend_section;

/// `repair.html` includes one template per section from `templates/repair/`.
#[derive(Template)]
#[template(path = "repair.html")]
struct RepairPage<'a> {
    chrome: Chrome,
    errors: Vec<Invalid>,
    notice: Option<String>,
    r: &'a Repair,
    viewer: Viewer,
    header: Header,
    progress: Progress,
    /// The trust pulse trend charts, rendered by the rounds feature.
    trend: Option<String>,
    acks: Acknowledgments<'a>,
    rounds: Rounds<'a>,
    causes: Causes<'a>,
    updates: Updates<'a>,
    commitments: Commitments,
}

#[derive(Template)]
#[template(path = "overseer.html")]
struct OverseerPage {
    chrome: Chrome,
    title: String,
    stage: &'static str,
}

/// What a re-rendered repair page carries besides the repair.
#[derive(Default)]
pub(super) struct Extras {
    pub draft_ack: String,
    pub errors: Vec<Invalid>,
    pub notice: Option<String>,
    pub cdraft: CommitmentDraft,
    pub whole: Whole,
}

/// `?updates=all` shows the whole update log, `?occurrences=all` every occurrence; by default
/// the page shows the latest updates and a window of occurrences.
#[derive(Default, Deserialize)]
pub(super) struct Whole {
    updates: Option<String>,
    occurrences: Option<String>,
}

impl Whole {
    fn all_updates(&self) -> bool {
        self.updates.as_deref() == Some("all")
    }
    fn all_occurrences(&self) -> bool {
        self.occurrences.as_deref() == Some("all")
    }
    /// The repair's own address, keeping the query that asks for everything, so a reload
    /// shows the same.
    fn address(&self, id: Uuid) -> String {
        let query = [
            ("updates", self.all_updates()),
            ("occurrences", self.all_occurrences()),
        ]
        .iter()
        .filter(|(_, all)| *all)
        .map(|(k, _)| format!("{k}=all"))
        .collect::<Vec<_>>()
        .join("&");
        if query.is_empty() {
            format!("/repairs/{id}")
        } else {
            format!("/repairs/{id}?{query}")
        }
    }
}

pub(super) async fn repair_page(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    access: Access,
    extras: Extras,
) -> Reply<Response> {
    let r = &access.repair;
    if !access.is_participant() {
        let overseer = OverseerPage {
            chrome: page.chrome(&r.title),
            title: r.title.clone(),
            stage: r.stage.label(),
        };
        return Ok(render(StatusCode::OK, &overseer));
    }
    let Extras {
        draft_ack,
        errors,
        notice,
        cdraft,
        whole,
    } = extras;
    let detail::Detail {
        reads,
        missing,
        overdue,
        gate,
    } = detail::detail(&state.ctx, &state.snapshots, &user.org, r).await?;
    let round_views = views::views(&access, &reads.rounds, &reads.commitments);
    let viewer = Viewer::new(&user.org, user.person.id, &access);
    let k = user.org.k_threshold.get();
    let (has_causes, has_acks) = (!reads.causes.is_empty(), !reads.acks.is_empty());
    let view = RepairPage {
        chrome: page.chrome(&r.title),
        header: Header::new(r, overdue),
        progress: Progress::new(r, &viewer, missing, gate),
        trend: pulse_trend_section(user, &access, &reads.rounds)?,
        acks: Acknowledgments::new(&access, &viewer, &reads.acks, draft_ack),
        rounds: Rounds::new(r, &viewer, k, &round_views, has_causes, has_acks),
        causes: Causes::new(r, &viewer, &reads.causes, &round_views),
        updates: Updates::new(&viewer, &reads.updates, whole.all_updates()),
        commitments: Commitments::new(
            &viewer,
            r.stage.is_open(),
            &reads.commitments,
            state.ctx.today(),
            whole.all_occurrences(),
            cdraft,
        ),
        errors,
        notice,
        r,
        viewer,
    };
    let status = if view.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut response = render(status, &view);
    // A form posted through htmx lands back on the repair's own address, not the POST's.
    if let Ok(url) = HeaderValue::from_str(&whole.address(r.id)) {
        response.headers_mut().insert("hx-replace-url", url);
    }
    Ok(response)
}

pub(super) async fn show(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(whole): Query<Whole>,
) -> Reply<Response> {
    let access = state.snapshots.access(&state.ctx, &user, id).await?;
    let extras = Extras {
        whole,
        ..Extras::default()
    };
    repair_page(&state, &page, &user, access, extras).await
}

/// After a change: back to the repair on success; the page again, with what was wrong, when
/// the input was the user's to fix (or a guardrail refused).
pub(super) async fn after(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    id: Uuid,
    result: Result<Option<String>, Error>,
    anchor: &str,
) -> Reply<Response> {
    let (extras, status) = match result {
        Ok(None) => return Ok(Redirect::to(&format!("/repairs/{id}#{anchor}")).into_response()),
        Ok(Some(notice)) => (
            Extras {
                notice: Some(notice),
                ..Extras::default()
            },
            None,
        ),
        Err(Error::Invalid(errors)) => (
            Extras {
                errors,
                ..Extras::default()
            },
            None,
        ),
        Err(Error::Conflict(msg)) => (
            Extras {
                errors: vec![Invalid::new(Invalid::FORM, msg)],
                ..Extras::default()
            },
            Some(StatusCode::CONFLICT),
        ),
        Err(e) => return Err(e.into()),
    };
    let mut response = again(state, page, user, id, extras).await?;
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    Ok(response)
}

/// The page again after a change was tried, with the person's access read afresh: the
/// change may have moved the repair on.
pub(super) async fn again(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    id: Uuid,
    extras: Extras,
) -> Reply<Response> {
    let access = state.snapshots.participant(&state.ctx, user, id).await?;
    repair_page(state, page, user, access, extras).await
}
