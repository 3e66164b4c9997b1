//! One view of a repair (its page, its API document): what was read, after the time-driven
//! steps (rounds due to close, confirmation rounds and pulses due to open, occurrences just
//! missed), with what still keeps the stage from ending and, in rebuild, the recovery gate.

use std::sync::Arc;

use kintsugi_core::repair::{self, Stage, UpdateKind};
use kintsugi_store::{Organisation, Repair, RepairSummary};

use crate::context::Ctx;
use crate::error::Error;
use crate::repairs::reads::{Reads, Snapshots};
use crate::repairs::{commitments, pulses, rounds};
use crate::rounds::RoundKind;

/// Everything a repair's page or API document shows beyond the repair itself, read once,
/// after announcing any occurrence that has just been missed.
pub struct Detail {
    /// What the view read (shared with the server's snapshot of the repair).
    pub reads: Arc<Reads>,
    /// What still keeps the current stage from ending.
    pub missing: Vec<String>,
    pub overdue: Option<String>,
    /// In rebuild: the recovery gate's checklist.
    pub gate: Option<kintsugi_core::gate::GateReport>,
}

pub async fn detail(
    ctx: &Ctx,
    snapshots: &Snapshots,
    org: &Organisation,
    r: &Repair,
) -> Result<Detail, Error> {
    let mut reads = snapshots.reads(ctx, r).await?;
    // Time-driven changes next, so the view shows them: rounds that are due close (and
    // settle their confirmations, which changes occurrences); then due occurrences get their
    // confirmation round, a pulse opens if due, and missed occurrences are announced. Each
    // step only writes when something is due, and then the view reads again (not kept: the
    // write moved the version, and the next view keeps what it reads).
    if rounds::close_due_rounds(ctx, r.org_id, &r.title, &reads.rounds.list).await? {
        reads = Arc::new(Reads::read(ctx, r.id).await?);
    }
    let opened =
        rounds::open_confirmation_rounds(ctx, org, r, &reads.rounds.list, &reads.commitments)
            .await?;
    let pulsed = pulses::open_pulse_if_due(ctx, r, &reads.rounds.list).await?;
    let missed = commitments::announce_missed_in(ctx, r.org_id, r.id, &reads.commitments).await?;
    if opened || pulsed || missed {
        reads = Arc::new(Reads::read(ctx, r.id).await?);
    }
    let Reads {
        acks,
        causes,
        updates,
        commitments,
        rounds,
    } = reads.as_ref();
    let gate = (r.stage == Stage::Rebuild)
        .then(|| pulses::gate_report(ctx.now(), org, r, rounds, commitments));
    let facts = repair::Facts {
        stage: Some(r.stage),
        acknowledgments: acks.len(),
        closed_listening_rounds: rounds
            .list
            .iter()
            .filter(|round| !round.open && round.kind == RoundKind::Listening)
            .count(),
        no_round_reason: r.no_round_reason.is_some(),
        causes: causes.len(),
        scheduled_commitments: commitments.len(),
        gate_passes: gate.as_ref().map(|g| g.passes),
    };
    let missing = if r.stage.is_open() {
        repair::missing_to_leave(r.stage, &facts)
    } else {
        vec![]
    };
    let summary = RepairSummary {
        id: r.id,
        title: r.title.clone(),
        stage: r.stage,
        created_at: r.created_at,
        update_cadence_days: r.update_cadence_days,
        last_update_at: updates
            .iter()
            .filter(|u| u.kind != UpdateKind::Missed)
            .map(|u| u.created_at)
            .max(),
    };
    let overdue = super::overdue(ctx, &summary).map(|o| o.describe());
    Ok(Detail {
        reads,
        missing,
        overdue,
        gate,
    })
}
