//! The repair page: every stage's state and forms on one page, for each person as they stand
//! in the repair, and the page again with what was wrong after a refused change.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kintsugi_app::Error;
use kintsugi_app::repairs::{self, Access, commitments, detail, rounds as repair_rounds, views};
use kintsugi_core::Invalid;
use kintsugi_core::coach::Review;
use kintsugi_core::commitments::{Cadence, Status};
use kintsugi_core::repair::{CauseCategory, Side, Stage, UpdateKind};
use kintsugi_core::rounds::{PULSE_ITEMS, RoundKind};
use kintsugi_store::{Acknowledgment, Cause, Repair, Update};
use serde::Deserialize;
use uuid::Uuid;

use crate::kernel::error::extract::{Path, Query};
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::CurrentUser;
use crate::kernel::{AppState, Reply};
use crate::repairs::view::FollowThroughView;
use crate::rounds::view::pulse_trend_section;

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
    rounds: Vec<views::RoundView>,
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

pub(super) fn coach_partial(access: &Access, draft: &str) -> String {
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

pub(super) async fn repair_page(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    access: Access,
    extras: Extras,
) -> Reply<Response> {
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
    let detail::Detail {
        reads,
        missing,
        overdue,
        gate,
    } = detail::detail(&state.ctx, &state.snapshots, &user.org, &access.repair).await?;
    let repairs::Reads {
        acks,
        causes,
        updates,
        commitments,
        rounds: read,
    } = reads.as_ref();
    let rounds = views::views(&user.org, &access, read, commitments);
    let anon_confirm = repair_rounds::anonymous_confirmations(&user.org, &access.repair);
    let has_acks = !acks.is_empty();
    let today = state.ctx.today();
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
                    let status = commitments::status_of(o, today);
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
                rate: FollowThroughView::from(commitments::follow_through(
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
    let trend = pulse_trend_section(user, &access, read)?;
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
        ft: commitments::follow_through(commitments, today).into(),
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
            .any(|round| round.open && round.kind == RoundKind::Listening),
        has_acks,
        pair_affected: side == Some(Side::Affected)
            && access.repair.scope == kintsugi_core::repair::Scope::PersonPerson,
        gate,
        pulse_items: PULSE_ITEMS,
        has_open_agreement: rounds
            .iter()
            .any(|round| round.open && round.kind == RoundKind::Causes),
        has_open_genuineness: rounds
            .iter()
            .any(|round| round.open && round.kind == RoundKind::Genuineness),
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
    match result {
        Ok(None) => Ok(Redirect::to(&format!("/repairs/{id}#{anchor}")).into_response()),
        Ok(Some(notice)) => {
            let access = state.snapshots.participant(&state.ctx, user, id).await?;
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
        Err(Error::Invalid(errors)) => {
            let access = state.snapshots.participant(&state.ctx, user, id).await?;
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
        Err(Error::Conflict(msg)) => {
            let access = state.snapshots.participant(&state.ctx, user, id).await?;
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
        Err(e) => Err(e.into()),
    }
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
