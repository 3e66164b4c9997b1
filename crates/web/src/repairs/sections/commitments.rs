//! The commitments section: each commitment with a window of its occurrences and what the
//! viewer may do with each, the follow-through, and the form to add one.

use kintsugi_app::repairs::commitments::{follow_through, status_of};
use kintsugi_core::commitments::{Cadence, GRACE_DAYS, Status};
use kintsugi_store::{Commitment, OccurrenceRecord};
use time::Date;
use uuid::Uuid;

use super::Viewer;
use crate::repairs::view::FollowThroughView;

/// A commitment with more occurrences than this shows a window of them unless asked for all.
const OCCURRENCES_SHOWN_WHOLE: usize = 6;

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

pub struct Commitments {
    /// Over every commitment and occurrence, whatever the window shows.
    pub ft: FollowThroughView,
    pub list: Vec<CommitmentView>,
    pub may_add: bool,
    /// The add form starts open when there is nothing yet, or when it comes back refused.
    pub form_open: bool,
    pub draft: CommitmentDraft,
    pub cadences: [Cadence; 4],
}

impl Commitments {
    pub fn new(
        viewer: &Viewer,
        open_stage: bool,
        commitments: &[Commitment],
        today: Date,
        all_occurrences: bool,
        draft: CommitmentDraft,
    ) -> Self {
        let list: Vec<CommitmentView> = commitments
            .iter()
            .map(|c| commitment_view(viewer, c, today, all_occurrences))
            .collect();
        Self {
            ft: follow_through(commitments, today).into(),
            may_add: viewer.can_post && open_stage,
            form_open: list.is_empty() || draft.open,
            list,
            draft,
            cadences: Cadence::ALL,
        }
    }
}

fn commitment_view(viewer: &Viewer, c: &Commitment, today: Date, all: bool) -> CommitmentView {
    // Each occurrence's status and what this viewer may do with it; views are made only for
    // the rows the window shows.
    let rows: Vec<(Status, bool, bool)> = c
        .occurrences
        .iter()
        .map(|o| {
            let status = status_of(o, today);
            (
                status,
                can_mark_done(viewer, c, o, status, today),
                can_confirm(viewer, o, today),
            )
        })
        .collect();
    let shown = if all {
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
            let (label, class) = status_label(status);
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
        schedule: schedule(c),
        rate: FollowThroughView::from(follow_through(std::slice::from_ref(c), today)).rate,
        hidden,
        occurrences,
    }
}

/// The owner marks an occurrence done once it is due, or up to the grace period early.
fn can_mark_done(
    viewer: &Viewer,
    c: &Commitment,
    o: &OccurrenceRecord,
    s: Status,
    today: Date,
) -> bool {
    c.owner_id == viewer.me
        && o.done_on.is_none()
        && matches!(s, Status::AwaitingOwner | Status::Upcoming)
        && o.due <= today + time::Duration::days(GRACE_DAYS)
}

/// The affected side answers once, when the occurrence is due or marked done.
fn can_confirm(viewer: &Viewer, o: &OccurrenceRecord, today: Date) -> bool {
    viewer.confirms_by_form && o.yes + o.no == 0 && (o.due <= today || o.done_on.is_some())
}

fn status_label(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Upcoming => ("Upcoming", "upcoming"),
        Status::AwaitingOwner => ("Due: waiting for the owner", "due"),
        Status::AwaitingConfirmation => {
            ("Done: waiting for the affected side to confirm", "awaiting")
        }
        Status::Kept => ("Kept: confirmed", "kept"),
        Status::Missed => ("Missed", "missed"),
    }
}

/// "weekly, 8 times" or "due 2026-03-02".
fn schedule(c: &Commitment) -> String {
    match (&c.cadence, c.occurrences.len()) {
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
    }
}

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
