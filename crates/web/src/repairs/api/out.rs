//! What the repairs API answers with: repairs, their log and commitments, the coach's review.

use kintsugi_app::repairs::commitments;
use kintsugi_app::text::rfc3339;
use kintsugi_core::commitments::Status;
use kintsugi_store::{Commitment, Update};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, ToSchema)]
pub struct ParticipantOut {
    pub person_id: Uuid,
    pub name: String,
    pub side: String,
}

#[derive(Serialize, ToSchema)]
pub struct AckOut {
    pub id: Uuid,
    pub author_name: String,
    pub body: String,
    pub score: u8,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CauseOut {
    pub category: String,
    pub description: String,
    /// The comments (from closed listening rounds) the facilitator linked as support.
    pub supporting_comments: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionOut {
    pub version: u32,
    pub body: String,
    pub reason: Option<String>,
    pub editor_name: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct UpdateOut {
    pub id: Uuid,
    pub seq: u32,
    pub kind: String,
    /// None for updates Kintsugi posts itself.
    pub author_name: Option<String>,
    pub created_at: String,
    /// Oldest first; the last is current.
    pub versions: Vec<VersionOut>,
}

impl From<Update> for UpdateOut {
    fn from(u: Update) -> Self {
        Self {
            id: u.id,
            seq: u.seq,
            kind: u.kind.as_str().into(),
            author_name: u.author_name,
            created_at: rfc3339(u.created_at),
            versions: u
                .versions
                .into_iter()
                .map(|v| VersionOut {
                    version: v.version,
                    body: v.body,
                    reason: v.reason,
                    editor_name: v.editor_name,
                    created_at: rfc3339(v.created_at),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FollowThroughOut {
    /// Settled occurrences (kept or missed).
    pub due: u32,
    pub kept: u32,
    pub on_time: u32,
    /// kept ÷ due, as a whole percent; null when nothing is due yet.
    pub rate: Option<u8>,
    pub on_time_rate: Option<u8>,
    pub longest_run: u32,
    pub current_run: u32,
}

impl From<kintsugi_core::commitments::FollowThrough> for FollowThroughOut {
    fn from(f: kintsugi_core::commitments::FollowThrough) -> Self {
        Self {
            due: f.due,
            kept: f.kept,
            on_time: f.on_time,
            rate: f.rate(),
            on_time_rate: f.on_time_rate(),
            longest_run: f.longest_run,
            current_run: f.current_run,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OccurrenceOut {
    /// YYYY-MM-DD
    pub due: String,
    pub done_on: Option<String>,
    /// upcoming, awaiting_owner, awaiting_confirmation, kept or missed.
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct CommitmentOut {
    pub id: Uuid,
    pub repair_id: Uuid,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub statement: String,
    pub cadence: Option<String>,
    pub occurrences: Vec<OccurrenceOut>,
    pub follow_through: FollowThroughOut,
}

pub(super) fn commitment_out(c: Commitment, today: time::Date) -> CommitmentOut {
    let ft = commitments::follow_through(std::slice::from_ref(&c), today);
    let status = |s: Status| {
        serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    CommitmentOut {
        occurrences: c
            .occurrences
            .iter()
            .map(|o| OccurrenceOut {
                due: o.due.to_string(),
                done_on: o.done_on.map(|d| d.to_string()),
                status: status(commitments::status_of(o, today)),
            })
            .collect(),
        id: c.id,
        repair_id: c.repair_id,
        owner_id: c.owner_id,
        owner_name: c.owner_name,
        statement: c.statement,
        cadence: c.cadence,
        follow_through: ft.into(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct RepairOut {
    pub id: Uuid,
    pub title: String,
    pub summary: String,
    pub breach: String,
    pub scope: String,
    pub stage: String,
    pub facilitator_id: Uuid,
    pub facilitator_name: String,
    pub update_cadence_days: u32,
    pub overdue: Option<String>,
    /// What still keeps the current stage from ending.
    pub missing: Vec<String>,
    /// In rebuild: the recovery gate's conditions, each with whether it is met.
    #[schema(value_type = Option<Object>)]
    pub gate: Option<kintsugi_core::gate::GateReport>,
    pub no_round_reason: Option<String>,
    pub closed_reason: Option<String>,
    /// Shown to every participant when the recovery gate was overridden.
    pub override_reason: Option<String>,
    pub participants: Vec<ParticipantOut>,
    pub acknowledgments: Vec<AckOut>,
    pub causes: Vec<CauseOut>,
    pub updates: Vec<UpdateOut>,
    pub commitments: Vec<CommitmentOut>,
    pub follow_through: FollowThroughOut,
}

#[derive(Serialize, ToSchema)]
pub struct SpanOut {
    pub id: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Serialize, ToSchema)]
pub struct FlagOut {
    pub rule: String,
    pub start: usize,
    pub end: usize,
    pub message: String,
    pub suggestion: String,
}

#[derive(Serialize, ToSchema)]
pub struct CoachOut {
    /// Byte offsets into the draft.
    pub components: Vec<SpanOut>,
    pub flags: Vec<FlagOut>,
    pub score: u8,
    pub advice: Vec<String>,
    /// Offers of repair found in the draft, as draft commitment statements.
    pub offers_of_repair: Vec<String>,
}
