//! The repair pages. Each form posts and redirects back to the repair, so the pages work
//! without JavaScript; the coach also answers htmx requests with its partial alone.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kintsugi_core::Invalid;
use kintsugi_core::coach::Review;
use kintsugi_core::commitments::{Cadence, FollowThrough, Status};
use kintsugi_core::repair::{self, Breach, CauseCategory, Scope, Side, Stage, UpdateKind};
use kintsugi_store::{Acknowledgment, Cause, Person, Repair, Team, Update};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::error::extract::{Form, Path, Query};
use crate::pages::{Chrome, Page, html_errors, render};
use crate::repairs::{self, Access, CommitmentInput, InRepair, OpenInput};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/repairs", get(list).post(open))
        .route("/repairs/new", get(new_page))
        .route("/repairs/{id}", get(show))
        .route("/repairs/{id}/coach", post(coach))
        .route("/repairs/{id}/acknowledgment", post(acknowledge))
        .route("/repairs/{id}/causes", post(add_cause))
        .route("/repairs/{id}/no-round", post(no_round))
        .route("/repairs/{id}/stage", post(move_stage))
        .route("/repairs/{id}/updates", post(post_update))
        .route(
            "/repairs/{id}/updates/{update}/edit",
            get(edit_page).post(edit_update),
        )
        .route("/repairs/{id}/commitments", post(add_commitment))
        .route("/repairs/{id}/offers", post(accept_offer))
        .route("/repairs/{id}/rounds", post(crate::rounds::page_open))
        .route(
            "/repairs/{id}/rounds/{round}/close",
            post(crate::rounds::page_close),
        )
        .route(
            "/repairs/{id}/rounds/{round}/token",
            post(crate::rounds::api_token),
        )
        .route(
            "/repairs/{id}/pair-consent",
            post(crate::rounds::page_pair_consent),
        )
        .route(
            "/repairs/{id}/rounds/{round}/answers/{answer}/replies",
            post(crate::rounds::page_reply),
        )
        .route(
            "/repairs/{id}/commitments/{commitment}/done",
            post(mark_done),
        )
        .route(
            "/repairs/{id}/commitments/{commitment}/confirm",
            post(confirm),
        )
        .route(
            "/repairs/{id}/pulses.csv",
            get(crate::dashboard::pulses_csv),
        )
        .layer(axum::middleware::from_fn(html_errors))
        .with_state(state)
}

// ---- List and open ----

pub struct ListedRepair {
    pub id: Uuid,
    pub title: String,
    pub stage: Stage,
    pub overdue: Option<String>,
}

#[derive(Template)]
#[template(path = "repairs.html")]
struct ListPage {
    chrome: Chrome,
    can_open: bool,
    mine: Vec<ListedRepair>,
    others: Vec<ListedRepair>,
}

/// The person's repairs, with overdue updates marked.
pub async fn listed(state: &AppState, user: &CurrentUser) -> Result<Vec<ListedRepair>, AppError> {
    let mine = state
        .store()
        .repairs_of(user.org.id, user.person.id)
        .await?;
    Ok(mine
        .iter()
        .map(|r| ListedRepair {
            id: r.id,
            title: r.title.clone(),
            stage: r.stage,
            overdue: repairs::overdue(state, r).map(|o| o.describe()),
        })
        .collect())
}

async fn list(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let mine = listed(&state, &user).await?;
    let others = if user.person.roles.admin {
        let all = state.store().all_repairs(user.org.id).await?;
        all.into_iter()
            .filter(|r| !mine.iter().any(|m| m.id == r.id))
            .map(|r| ListedRepair {
                id: r.id,
                title: r.title,
                stage: r.stage,
                overdue: None,
            })
            .collect()
    } else {
        vec![]
    };
    let can_open = user.person.roles.facilitator || user.person.roles.admin;
    Ok(render(
        StatusCode::OK,
        &ListPage {
            chrome: page.chrome("Repairs"),
            can_open,
            mine,
            others,
        },
    ))
}

#[derive(Deserialize, Default, Clone)]
pub struct OpenForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    breach: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    accountable_people: Vec<Uuid>,
    #[serde(default)]
    accountable_teams: Vec<Uuid>,
    #[serde(default)]
    affected_people: Vec<Uuid>,
    #[serde(default)]
    affected_teams: Vec<Uuid>,
    #[serde(default = "default_cadence")]
    update_cadence_days: String,
    deception: Option<String>,
}

fn default_cadence() -> String {
    repair::DEFAULT_UPDATE_CADENCE.to_string()
}

#[derive(Template)]
#[template(path = "repair_new.html")]
struct NewPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    draft: OpenForm,
    breaches: &'static [Breach],
    scopes: &'static [Scope],
    people: Vec<Person>,
    teams: Vec<Team>,
}

async fn new_form(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    draft: OpenForm,
    errors: Vec<Invalid>,
) -> Result<Response, AppError> {
    if !(user.person.roles.facilitator || user.person.roles.admin) {
        return Err(AppError::Forbidden(
            "this needs the facilitator role".into(),
        ));
    }
    let people = state
        .store()
        .list_people(user.org.id)
        .await?
        .into_iter()
        .filter(|p| p.active)
        .collect();
    let teams = state.store().list_teams(user.org.id).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let draft = OpenForm {
        update_cadence_days: if draft.update_cadence_days.is_empty() {
            default_cadence()
        } else {
            draft.update_cadence_days
        },
        ..draft
    };
    Ok(render(
        status,
        &NewPage {
            chrome: page.chrome("Open a repair"),
            errors,
            draft,
            breaches: Breach::ALL,
            scopes: Scope::ALL,
            people,
            teams,
        },
    ))
}

async fn new_page(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
) -> Result<Response, AppError> {
    new_form(
        &state,
        &page,
        &user,
        OpenForm {
            update_cadence_days: default_cadence(),
            ..OpenForm::default()
        },
        vec![],
    )
    .await
}

async fn open(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Form(form): Form<OpenForm>,
) -> Result<Response, AppError> {
    let cadence = form.update_cadence_days.trim().parse::<i64>().ok();
    if cadence.is_none() {
        let e = Invalid::new("update_cadence_days", "must be a whole number of days");
        return new_form(&state, &page, &user, form, vec![e]).await;
    }
    let input = OpenInput {
        title: &form.title,
        summary: &form.summary,
        breach: &form.breach,
        scope: &form.scope,
        accountable_people: form.accountable_people.clone(),
        accountable_teams: form.accountable_teams.clone(),
        affected_people: form.affected_people.clone(),
        affected_teams: form.affected_teams.clone(),
        update_cadence_days: cadence,
        deception: form.deception.is_some(),
    };
    match repairs::open(&state, &user, input).await {
        Ok(id) => Ok(Redirect::to(&format!("/repairs/{id}")).into_response()),
        Err(AppError::Invalid(errors)) => new_form(&state, &page, &user, form, errors).await,
        Err(e) => Err(e),
    }
}

// ---- The repair page ----

pub struct OccurrenceView {
    pub due: String,
    pub label: &'static str,
    pub class: &'static str,
    pub can_mark_done: bool,
    pub can_confirm: bool,
}

pub struct CommitmentView {
    pub id: Uuid,
    pub statement: String,
    pub owner_name: String,
    pub schedule: String,
    pub rate: String,
    /// The occurrences shown: all of them, or the window around now ([`occurrence_window`]).
    pub occurrences: Vec<OccurrenceView>,
    /// How many more there are, behind the "show all" link.
    pub hidden: usize,
}

/// A commitment with more occurrences than this shows a window of them unless asked for all.
const OCCURRENCES_SHOWN_WHOLE: usize = 6;
/// The update log shows its latest this many updates unless asked for the whole log.
const UPDATES_SHOWN: usize = 20;

/// Which of a commitment's occurrences (in due order) the page shows by default: every one
/// that someone can act on or that waits for someone, the latest one settled (kept or missed),
/// and the next upcoming. A weekly commitment over a year stays a few rows; the follow-through
/// figures still count every occurrence, and the whole list is one link away.
fn occurrence_window(rows: &[(Status, bool)]) -> Vec<bool> {
    if rows.len() <= OCCURRENCES_SHOWN_WHOLE {
        return vec![true; rows.len()];
    }
    let settled = |s: &Status| matches!(s, Status::Kept | Status::Missed);
    let last_settled = rows.iter().rposition(|(s, _)| settled(s));
    let next_upcoming = rows
        .iter()
        .position(|(s, act)| matches!(s, Status::Upcoming) && !act);
    rows.iter()
        .enumerate()
        .map(|(i, (status, actionable))| {
            *actionable
                || matches!(status, Status::AwaitingOwner | Status::AwaitingConfirmation)
                || Some(i) == last_settled
                || Some(i) == next_upcoming
        })
        .collect()
}

pub struct FollowThroughView {
    pub rate: String,
    pub on_time: String,
    pub due: u32,
    pub kept: u32,
    pub longest: u32,
    pub current: u32,
}

impl From<FollowThrough> for FollowThroughView {
    fn from(f: FollowThrough) -> Self {
        let pct = |v: Option<u8>| {
            v.map(|p| format!("{p}%"))
                .unwrap_or_else(|| "nothing due yet".into())
        };
        Self {
            rate: pct(f.rate()),
            on_time: pct(f.on_time_rate()),
            due: f.due,
            kept: f.kept,
            longest: f.longest_run,
            current: f.current_run,
        }
    }
}

#[derive(Template)]
#[template(path = "repair.html")]
struct RepairPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    notice: Option<String>,
    r: std::sync::Arc<Repair>,
    me: Uuid,
    is_facilitator: bool,
    side_accountable: bool,
    can_post: bool,
    overdue: Option<String>,
    accountable: Vec<String>,
    affected: Vec<String>,
    stages: Vec<(&'static str, &'static str)>,
    missing: Vec<String>,
    acks: Vec<Acknowledgment>,
    draft_ack: String,
    coach_html: String,
    causes: Vec<Cause>,
    categories: &'static [CauseCategory],
    updates: Vec<Update>,
    /// How many updates the log holds; more than `updates` when only the latest are shown.
    updates_total: usize,
    update_kinds: &'static [UpdateKind],
    commitments: Vec<CommitmentView>,
    cadences: [Cadence; 4],
    ft: FollowThroughView,
    cdraft: CommitmentDraft,
    rounds: Vec<crate::rounds::RoundView>,
    has_open_round: bool,
    has_open_genuineness: bool,
    has_open_agreement: bool,
    pulse_items: &'static [(&'static str, &'static str)],
    gate: Option<kintsugi_core::gate::GateReport>,
    pair_affected: bool,
    has_acks: bool,
    has_side: bool,
    side_affected: bool,
    k: u32,
    /// The trust pulse trend charts (rendered by `dashboard::pulse_trend_section`).
    trend: Option<String>,
}

#[derive(Template)]
#[template(path = "overseer.html")]
struct OverseerPage {
    chrome: Chrome,
    title: String,
    stage: &'static str,
}

#[derive(Template)]
#[template(path = "coach.html")]
struct CoachPartial {
    review: Option<Review>,
    components: Vec<(&'static str, String)>,
    missing: Vec<&'static str>,
    flags: Vec<(String, String, String, String)>,
    repair_id: Uuid,
}

const COMPONENTS: &[(&str, &str)] = &[
    ("responsibility", "taking responsibility"),
    ("repair", "an offer to repair"),
    ("regret", "regret"),
    ("explanation", "an explanation of what went wrong"),
    ("repentance", "a promise not to repeat it"),
    ("impact", "the impact on others"),
    ("forgiveness", "asking for forgiveness"),
];

fn coach_partial(access: &Access, draft: &str) -> String {
    let review = (!draft.trim().is_empty()).then(|| repairs::coach_review(access, draft));
    let snippet = |start: usize, end: usize| draft.get(start..end).unwrap_or_default().to_owned();
    let (components, missing, flags) = match &review {
        Some(r) => (
            r.components
                .iter()
                .map(|c| {
                    (
                        COMPONENTS
                            .iter()
                            .find(|k| k.0 == c.id)
                            .map(|k| k.1)
                            .unwrap_or("component"),
                        snippet(c.start, c.end),
                    )
                })
                .collect(),
            COMPONENTS
                .iter()
                .filter(|(id, _)| *id != "forgiveness" && !r.components.iter().any(|c| c.id == *id))
                .map(|(_, label)| *label)
                .collect(),
            r.flags
                .iter()
                .map(|f| {
                    (
                        snippet(f.start, f.end),
                        f.rule.clone(),
                        f.message.clone(),
                        f.suggestion.clone(),
                    )
                })
                .collect(),
        ),
        None => (vec![], vec![], vec![]),
    };
    let partial = CoachPartial {
        review,
        components,
        missing,
        flags,
        repair_id: access.repair.id,
    };
    partial.render().unwrap_or_default()
}

/// The commitment form as it was submitted, to show again with its problems.
#[derive(Default, Clone)]
pub struct CommitmentDraft {
    pub statement: String,
    pub owner: String,
    pub due: String,
    pub cadence: String,
    pub count: String,
    pub first_due: String,
    pub open: bool,
}

/// What a re-rendered repair page carries besides the repair.
#[derive(Default)]
struct Extras {
    draft_ack: String,
    errors: Vec<Invalid>,
    notice: Option<String>,
    cdraft: CommitmentDraft,
    whole: Whole,
}

/// `?updates=all` shows the whole update log, `?occurrences=all` every occurrence; by default
/// the page shows the latest updates and a window of occurrences.
#[derive(Default, Deserialize)]
struct Whole {
    updates: Option<String>,
    occurrences: Option<String>,
}

async fn repair_page(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    access: Access,
    extras: Extras,
) -> Result<Response, AppError> {
    let Extras {
        draft_ack,
        errors,
        notice,
        cdraft,
        whole,
    } = extras;
    if !access.is_participant() {
        let r = &access.repair;
        return Ok(render(
            StatusCode::OK,
            &OverseerPage {
                chrome: page.chrome(&r.title),
                title: r.title.clone(),
                stage: r.stage.label(),
            },
        ));
    }
    let id = access.repair.id;
    let repairs::Detail {
        reads,
        missing,
        overdue,
        gate,
    } = repairs::detail(state, &user.org, &access.repair).await?;
    let repairs::Reads {
        acks,
        causes,
        updates,
        commitments,
        rounds: read,
    } = reads.as_ref();
    let rounds = crate::rounds::views(&user.org, &access, read, commitments);
    let anon_confirm = crate::rounds::anonymous_confirmations(&user.org, &access.repair);
    let has_acks = !acks.is_empty();
    let today = repairs::today(state);
    let me = user.person.id;
    let side = access.side();
    let all_occurrences = whole.occurrences.as_deref() == Some("all");
    let views = commitments
        .iter()
        .map(|c| {
            // Each occurrence's status and what this viewer may do with it; views are made
            // only for the rows the window shows.
            let rows: Vec<(Status, bool, bool)> = c
                .occurrences
                .iter()
                .map(|o| {
                    let status = repairs::status_of(o, today);
                    let can_mark_done = c.owner_id == me
                        && o.done_on.is_none()
                        && matches!(status, Status::AwaitingOwner | Status::Upcoming)
                        && o.due
                            <= today + time::Duration::days(kintsugi_core::commitments::GRACE_DAYS);
                    let can_confirm = !anon_confirm
                        && side == Some(Side::Affected)
                        && o.yes + o.no == 0
                        && (o.due <= today || o.done_on.is_some());
                    (status, can_mark_done, can_confirm)
                })
                .collect();
            let shown = if all_occurrences {
                vec![true; rows.len()]
            } else {
                occurrence_window(
                    &rows
                        .iter()
                        .map(|(s, done, confirm)| (*s, *done || *confirm))
                        .collect::<Vec<_>>(),
                )
            };
            let hidden = shown.iter().filter(|s| !**s).count();
            let occurrences = c
                .occurrences
                .iter()
                .zip(rows)
                .zip(shown)
                .filter(|(_, show)| *show)
                .map(|((o, (status, can_mark_done, can_confirm)), _)| {
                    let (label, class) = match status {
                        Status::Upcoming => ("Upcoming", "upcoming"),
                        Status::AwaitingOwner => ("Due: waiting for the owner", "due"),
                        Status::AwaitingConfirmation => {
                            ("Done: waiting for the affected side to confirm", "awaiting")
                        }
                        Status::Kept => ("Kept: confirmed", "kept"),
                        Status::Missed => ("Missed", "missed"),
                    };
                    OccurrenceView {
                        due: o.due.to_string(),
                        label,
                        class,
                        can_mark_done,
                        can_confirm,
                    }
                })
                .collect();
            CommitmentView {
                id: c.id,
                statement: c.statement.clone(),
                owner_name: c.owner_name.clone(),
                schedule: match (&c.cadence, c.occurrences.len()) {
                    (Some(k), n) => format!(
                        "{}, {n} times",
                        Cadence::parse(k).map(|c| c.label()).unwrap_or("repeating")
                    ),
                    (None, _) => format!(
                        "due {}",
                        c.occurrences
                            .first()
                            .map(|o| o.due.to_string())
                            .unwrap_or_default()
                    ),
                },
                rate: FollowThroughView::from(repairs::follow_through(
                    std::slice::from_ref(c),
                    today,
                ))
                .rate,
                hidden,
                occurrences,
            }
        })
        .collect();
    // The latest updates, unless the whole log is asked for; the follow-through, overdue and
    // stage figures above were computed from all of them.
    let updates_total = updates.len();
    let updates: Vec<Update> = if whole.updates.as_deref() == Some("all") {
        updates.clone()
    } else {
        updates[updates_total.saturating_sub(UPDATES_SHOWN)..].to_vec()
    };
    let r = &access.repair;
    let current = Stage::ALL.iter().position(|s| *s == r.stage).unwrap_or(0);
    let stages = Stage::ALL[..5]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                s.label(),
                if r.stage == Stage::Closed {
                    "todo"
                } else if i < current {
                    "done"
                } else if i == current {
                    "current"
                } else {
                    "todo"
                },
            )
        })
        .collect();
    let names = |side: Side| {
        r.participants
            .iter()
            .filter(|p| p.side == side)
            .map(|p| p.name.clone())
            .collect()
    };
    let coach_html = coach_partial(&access, &draft_ack);
    let trend = crate::dashboard::pulse_trend_section(user, &access, read)?;
    let view = RepairPage {
        trend,
        chrome: page.chrome(&r.title),
        errors,
        notice,
        overdue,
        accountable: names(Side::Accountable),
        affected: names(Side::Affected),
        me,
        is_facilitator: access.is_facilitator(),
        side_accountable: side == Some(Side::Accountable),
        can_post: access.require_poster().is_ok(),
        stages,
        missing,
        ft: repairs::follow_through(commitments, today).into(),
        acks: acks.to_vec(),
        draft_ack,
        coach_html,
        causes: causes.to_vec(),
        categories: CauseCategory::ALL,
        updates,
        updates_total,
        update_kinds: UpdateKind::POSTABLE,
        commitments: views,
        cadences: Cadence::ALL,
        cdraft,
        has_open_round: rounds
            .iter()
            .any(|round| round.open && round.kind == crate::rounds::LISTENING),
        has_acks,
        pair_affected: side == Some(Side::Affected)
            && access.repair.scope == kintsugi_core::repair::Scope::PersonPerson,
        gate,
        pulse_items: crate::rounds::PULSE_ITEMS,
        has_open_agreement: rounds
            .iter()
            .any(|round| round.open && round.kind == crate::rounds::CAUSES),
        has_open_genuineness: rounds
            .iter()
            .any(|round| round.open && round.kind == crate::rounds::GENUINENESS),
        side_affected: side == Some(Side::Affected),
        has_side: side.is_some(),
        k: user.org.k_threshold.get(),
        rounds,
        r: access.repair,
    };
    let status = if view.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut response = render(status, &view);
    // A form posted through htmx lands back on the repair's own address, not the POST's; a
    // view of the whole log keeps its query, so a reload shows the same.
    let query = [
        ("updates", whole.updates.as_deref()),
        ("occurrences", whole.occurrences.as_deref()),
    ]
    .iter()
    .filter(|(_, v)| *v == Some("all"))
    .map(|(k, _)| format!("{k}=all"))
    .collect::<Vec<_>>()
    .join("&");
    let address = if query.is_empty() {
        format!("/repairs/{id}")
    } else {
        format!("/repairs/{id}?{query}")
    };
    if let Ok(url) = axum::http::HeaderValue::from_str(&address) {
        response.headers_mut().insert("hx-replace-url", url);
    }
    Ok(response)
}

async fn show(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(whole): Query<Whole>,
) -> Result<Response, AppError> {
    let access = repairs::access(&state, &user, id).await?;
    let extras = Extras {
        whole,
        ..Extras::default()
    };
    repair_page(&state, &page, &user, access, extras).await
}

/// After a change: back to the repair on success; the page again, with what was wrong, when
/// the input was the user's to fix (or a guardrail refused).
async fn after(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    id: Uuid,
    result: Result<Option<String>, AppError>,
    anchor: &str,
) -> Result<Response, AppError> {
    match result {
        Ok(None) => Ok(Redirect::to(&format!("/repairs/{id}#{anchor}")).into_response()),
        Ok(Some(notice)) => {
            let access = repairs::participant(state, user, id).await?;
            repair_page(
                state,
                page,
                user,
                access,
                Extras {
                    notice: Some(notice),
                    ..Extras::default()
                },
            )
            .await
        }
        Err(AppError::Invalid(errors)) => {
            let access = repairs::participant(state, user, id).await?;
            repair_page(
                state,
                page,
                user,
                access,
                Extras {
                    errors,
                    ..Extras::default()
                },
            )
            .await
        }
        Err(AppError::Conflict(msg)) => {
            let access = repairs::participant(state, user, id).await?;
            let errors = vec![Invalid::new(Invalid::FORM, msg)];
            let mut response = repair_page(
                state,
                page,
                user,
                access,
                Extras {
                    errors,
                    ..Extras::default()
                },
            )
            .await?;
            *response.status_mut() = StatusCode::CONFLICT;
            Ok(response)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct DraftForm {
    #[serde(default)]
    body: String,
}

async fn coach(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    headers: HeaderMap,
    Form(form): Form<DraftForm>,
) -> Result<Response, AppError> {
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

async fn acknowledge(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<DraftForm>,
) -> Result<Response, AppError> {
    let id = access.repair.id;
    match repairs::acknowledge(&state, &user, &access, &form.body).await {
        Ok(()) => Ok(Redirect::to(&format!("/repairs/{id}#ack-heading")).into_response()),
        Err(AppError::Invalid(errors)) => {
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
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct CauseForm {
    #[serde(default)]
    category: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    support: Vec<Uuid>,
}

async fn add_cause(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<CauseForm>,
) -> Result<Response, AppError> {
    let id = access.repair.id;
    let result = repairs::add_cause(
        &state,
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
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

async fn no_round(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<ReasonForm>,
) -> Result<Response, AppError> {
    let id = access.repair.id;
    let result = repairs::record_no_round_reason(&state, &user, &access, &form.reason)
        .await
        .map(|_| None);
    after(&state, &page, &user, id, result, "causes-heading").await
}

#[derive(Deserialize)]
struct StageForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

async fn move_stage(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<StageForm>,
) -> Result<Response, AppError> {
    let id = access.repair.id;
    let result = repairs::move_stage(
        &state,
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
struct UpdateForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    reason: String,
}

async fn post_update(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<UpdateForm>,
) -> Result<Response, AppError> {
    let id = access.repair.id;
    let result = repairs::post_update(&state, &user, &access, &form.kind, &form.body, &form.reason)
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

async fn edit_page(
    State(state): State<AppState>,
    page: Page,
    InRepair { access, .. }: InRepair,
    Path((_, update_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, AppError> {
    let id = access.repair.id;
    let update = repairs::find_update(&state, &access, update_id).await?;
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

async fn edit_update(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Path((_, update_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<UpdateForm>,
) -> Result<Response, AppError> {
    let id = access.repair.id;
    match repairs::edit_update(&state, &user, &access, update_id, &form.body, &form.reason).await {
        Ok(()) => Ok(Redirect::to(&format!("/repairs/{id}#updates-heading")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let update = repairs::find_update(&state, &access, update_id).await?;
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
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct CommitmentForm {
    #[serde(default)]
    owner: String,
    #[serde(default)]
    statement: String,
    due: Option<String>,
    cadence: Option<String>,
    count: Option<String>,
    first_due: Option<String>,
}

async fn add_commitment(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<CommitmentForm>,
) -> Result<Response, AppError> {
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
            .map_err(|_| AppError::invalid("count", "must be a whole number")),
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
            repairs::add_commitment(&state, &user, &access, input).await
        }
        Err(e) => Err(e),
    };
    let errors = match result {
        Ok((_, None)) => {
            return Ok(Redirect::to(&format!("/repairs/{id}#commitments-heading")).into_response());
        }
        Ok((_, Some(advice))) => {
            let access = repairs::participant(&state, &user, id).await?;
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
        Err(AppError::Invalid(errors)) => errors,
        Err(AppError::Conflict(msg)) => vec![Invalid::new(Invalid::FORM, msg)],
        Err(e) => return Err(e),
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
struct OfferForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    offer: String,
}

/// "Add as a commitment" beside an offer of repair the coach found: a commitment owned by
/// the writer, due in a week, and the draft apology kept as it was.
async fn accept_offer(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Form(form): Form<OfferForm>,
) -> Result<Response, AppError> {
    let due = (repairs::today(&state) + time::Duration::days(7)).to_string();
    let input = CommitmentInput {
        owner: Some(user.person.id),
        statement: &form.offer,
        due: Some(&due),
        cadence: None,
        count: None,
        first_due: None,
    };
    let id = access.repair.id;
    let extras = match repairs::add_commitment(&state, &user, &access, input).await {
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
        Err(AppError::Invalid(errors)) => Extras {
            draft_ack: form.body,
            errors,
            ..Extras::default()
        },
        Err(e) => return Err(e),
    };
    let access = repairs::participant(&state, &user, id).await?;
    repair_page(&state, &page, &user, access, extras).await
}

#[derive(Deserialize)]
struct OccurrenceForm {
    #[serde(default)]
    due: String,
    #[serde(default)]
    happened: String,
}

async fn mark_done(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Path((_, commitment)): Path<(Uuid, Uuid)>,
    Form(form): Form<OccurrenceForm>,
) -> Result<Response, AppError> {
    let id = access.repair.id;
    let result = repairs::mark_done(&state, &user, &access, commitment, &form.due)
        .await
        .map(|_| None);
    after(&state, &page, &user, id, result, "commitments-heading").await
}

async fn confirm(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
    Path((_, commitment)): Path<(Uuid, Uuid)>,
    Form(form): Form<OccurrenceForm>,
) -> Result<Response, AppError> {
    let id = access.repair.id;
    let result = repairs::confirm(
        &state,
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

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn shown(rows: &[(Status, bool)]) -> Vec<usize> {
        occurrence_window(rows)
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.then_some(i))
            .collect()
    }

    #[test]
    fn short_lists_are_shown_whole() {
        let rows = [
            (Kept, false),
            (Kept, false),
            (Missed, false),
            (Upcoming, false),
        ];
        assert_eq!(shown(&rows), [0, 1, 2, 3]);
    }

    #[test]
    fn long_lists_show_what_needs_someone_the_latest_settled_and_the_next() {
        let rows = [
            (Kept, false),
            (Missed, false),
            (Kept, false),
            (AwaitingConfirmation, true),
            (AwaitingOwner, false),
            (Upcoming, true),
            (Upcoming, false),
            (Upcoming, false),
        ];
        // 2: the latest kept; 3, 4: waiting; 5: can be marked done early; 6: next upcoming.
        assert_eq!(shown(&rows), [2, 3, 4, 5, 6]);
        let all_ahead = [(Upcoming, false); 8];
        assert_eq!(shown(&all_ahead), [0]);
        let all_done = [(Kept, false); 8];
        assert_eq!(shown(&all_done), [7]);
    }
}
