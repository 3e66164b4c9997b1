//! The repair page's sections, one view-model each, built from what one view of the repair
//! read (`kintsugi_app::repairs::detail`). Each has its template under `templates/repair/`;
//! what the viewer may see and do is decided here, so the templates only show it.

mod commitments;

pub use commitments::{CommitmentDraft, Commitments};

use kintsugi_app::repairs::{Access, rounds as repair_rounds, views::RoundView};
use kintsugi_core::anonymity::Comment;
use kintsugi_core::gate::GateReport;
use kintsugi_core::repair::{CauseCategory, Scope, Side, Stage, UpdateKind};
use kintsugi_core::rounds::{PULSE_ITEMS, RoundKind};
use kintsugi_store::{Acknowledgment, Cause, Organisation, Repair, Update};
use uuid::Uuid;

use crate::repairs::coach::coach_partial;

/// The update log shows its latest this many updates unless asked for the whole log.
const UPDATES_SHOWN: usize = 20;

/// How the person viewing stands in the repair; every section reads it.
pub struct Viewer {
    pub me: Uuid,
    pub is_facilitator: bool,
    pub side: Option<Side>,
    /// Posts updates and adds commitments: the facilitator or the accountable side.
    pub can_post: bool,
    /// The affected side confirms occurrences with a form, unless the side is large enough
    /// (k) for the confirmations to go through anonymous rounds instead.
    pub confirms_by_form: bool,
}

impl Viewer {
    pub fn new(org: &Organisation, me: Uuid, access: &Access) -> Self {
        let side = access.side();
        Self {
            me,
            is_facilitator: access.is_facilitator(),
            side,
            can_post: access.require_poster().is_ok(),
            confirms_by_form: side == Some(Side::Affected)
                && !repair_rounds::anonymous_confirmations(org, &access.repair),
        }
    }
    pub fn is_accountable(&self) -> bool {
        self.side == Some(Side::Accountable)
    }
    pub fn is_affected(&self) -> bool {
        self.side == Some(Side::Affected)
    }
    pub fn has_side(&self) -> bool {
        self.side.is_some()
    }
    /// Its author edits an update, and the facilitator any that a person wrote.
    pub fn may_edit(&self, u: &Update) -> bool {
        u.author_id == Some(self.me) || (self.is_facilitator && u.author_id.is_some())
    }
}

/// What happened and who is on each side; the notices about the repair sit above it.
pub struct Header {
    pub overdue: Option<String>,
    pub accountable: Vec<String>,
    pub affected: Vec<String>,
}

impl Header {
    pub fn new(r: &Repair, overdue: Option<String>) -> Self {
        let names = |side: Side| {
            r.participants
                .iter()
                .filter(|p| p.side == side)
                .map(|p| p.name.clone())
                .collect()
        };
        Self {
            overdue,
            accountable: names(Side::Accountable),
            affected: names(Side::Affected),
        }
    }
}

/// One stage in the progress list, with its class: `done`, `current` or `todo`.
pub struct Step {
    pub label: &'static str,
    pub class: &'static str,
}

/// The stages, what keeps the current one from ending, the recovery gate, and the
/// facilitator's stage forms.
pub struct Progress {
    pub steps: Vec<Step>,
    pub missing: Vec<String>,
    pub gate: Option<GateReport>,
    pub may_move: bool,
    pub may_publish_lesson: bool,
}

impl Progress {
    pub fn new(
        r: &Repair,
        viewer: &Viewer,
        missing: Vec<String>,
        gate: Option<GateReport>,
    ) -> Self {
        let current = Stage::ALL.iter().position(|s| *s == r.stage).unwrap_or(0);
        // Closed is not a step on the way: a closed repair shows no step as reached.
        let steps = Stage::ALL[..5]
            .iter()
            .enumerate()
            .map(|(i, s)| Step {
                label: s.label(),
                class: if r.stage == Stage::Closed || i > current {
                    "todo"
                } else if i < current {
                    "done"
                } else {
                    "current"
                },
            })
            .collect();
        Self {
            steps,
            missing,
            gate,
            may_move: viewer.is_facilitator && r.stage.is_open(),
            may_publish_lesson: viewer.is_facilitator && r.stage == Stage::Rebuilt,
        }
    }
}

/// The acknowledgments, and for the accountable side the draft with the coach beside it.
pub struct Acknowledgments<'a> {
    pub list: &'a [Acknowledgment],
    pub may_write: bool,
    pub draft: String,
    /// The coach's panel, rendered (it is also served alone to htmx).
    pub coach_html: String,
}

impl<'a> Acknowledgments<'a> {
    pub fn new(
        access: &Access,
        viewer: &Viewer,
        list: &'a [Acknowledgment],
        draft: String,
    ) -> Self {
        let may_write = viewer.is_accountable() && access.repair.stage.is_open();
        let coach_html = if may_write {
            coach_partial(access, &draft)
        } else {
            String::new()
        };
        Self {
            list,
            may_write,
            draft,
            coach_html,
        }
    }
}

/// The anonymous rounds, open and closed, and the facilitator's forms to open more.
pub struct Rounds<'a> {
    pub list: &'a [RoundView],
    /// Below this many answers nothing is shown.
    pub k: u32,
    pub pulse_items: &'static [(&'static str, &'static str)],
    pub categories: &'static [CauseCategory],
    /// The affected person of a person↔person repair decides on sharing a coarse direction.
    pub pair_affected: bool,
    pub may_ask_causes: bool,
    pub may_ask_genuineness: bool,
    pub may_open_listening: bool,
}

impl<'a> Rounds<'a> {
    pub fn new(
        r: &Repair,
        viewer: &Viewer,
        k: u32,
        list: &'a [RoundView],
        has_causes: bool,
        has_acks: bool,
    ) -> Self {
        let open = |kind: RoundKind| list.iter().any(|round| round.open && round.kind == kind);
        let facilitates = viewer.is_facilitator && r.stage.is_open();
        Self {
            list,
            k,
            pulse_items: PULSE_ITEMS,
            categories: CauseCategory::ALL,
            pair_affected: viewer.is_affected() && r.scope == Scope::PersonPerson,
            may_ask_causes: facilitates && has_causes && !open(RoundKind::Causes),
            may_ask_genuineness: facilitates && has_acks && !open(RoundKind::Genuineness),
            may_open_listening: facilitates && !open(RoundKind::Listening),
        }
    }
}

/// The causes named so far, and the facilitator's forms to name one or to say why no
/// listening round is possible.
pub struct Causes<'a> {
    pub list: &'a [Cause],
    pub categories: &'static [CauseCategory],
    pub may_name: bool,
    /// The comments of each closed round that showed some, offered as support for a cause.
    pub support: Vec<&'a [Comment]>,
    pub may_record_no_round: bool,
}

impl<'a> Causes<'a> {
    pub fn new(r: &Repair, viewer: &Viewer, list: &'a [Cause], rounds: &'a [RoundView]) -> Self {
        let may_name = viewer.is_facilitator && r.stage.is_open();
        Self {
            list,
            categories: CauseCategory::ALL,
            may_name,
            support: rounds
                .iter()
                .filter_map(|round| round.results.as_ref())
                .map(|res| res.comments.as_slice())
                .filter(|comments| !comments.is_empty())
                .collect(),
            may_record_no_round: may_name && r.no_round_reason.is_none(),
        }
    }
}

/// The update log (its latest updates, or all of them) and the form to post one.
pub struct Updates<'a> {
    pub shown: &'a [Update],
    /// How many updates the log holds; more than `shown` when only the latest are shown.
    pub total: usize,
    pub kinds: &'static [UpdateKind],
    pub may_post: bool,
}

impl<'a> Updates<'a> {
    pub fn new(viewer: &Viewer, all: &'a [Update], whole: bool) -> Self {
        let shown = if whole {
            all
        } else {
            &all[all.len().saturating_sub(UPDATES_SHOWN)..]
        };
        Self {
            shown,
            total: all.len(),
            kinds: UpdateKind::POSTABLE,
            may_post: viewer.can_post,
        }
    }
}
