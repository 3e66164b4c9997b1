//! Trust pulses (practice 5) and the recovery gate: the affected side's pulse every N days in
//! *rebuild*, each pulse's mean under the same rules as any result, and the gate evaluated
//! from them, follow-through and time (`kintsugi_core::gate`).

use kintsugi_core::anonymity::{Audience, RatingResults, Shown, group_mean};
use kintsugi_store::Round;

use crate::context::Ctx;
use crate::error::Error;
use crate::repairs::access::Access;
use crate::repairs::reads::RoundsRead;
use crate::repairs::{commitments, rounds};
use crate::rounds::{PULSE_ITEMS, RoundKind};

/// Opens the next pulse when the repair is rebuilding and the last one is N days old. Each
/// pulse stays open for a week (or N days, if shorter) and closes on its own.
/// Returns whether it opened one.
pub async fn open_pulse_if_due(
    ctx: &Ctx,
    repair: &kintsugi_store::Repair,
    rounds: &[Round],
) -> Result<bool, Error> {
    if repair.stage != kintsugi_core::repair::Stage::Rebuild {
        return Ok(false);
    }
    let pulses: Vec<&Round> = rounds
        .iter()
        .filter(|r| r.kind == RoundKind::Pulse)
        .collect();
    let every = time::Duration::days(i64::from(repair.pulse_every_days.max(1)));
    let due = match pulses.iter().map(|p| p.opened_at).max() {
        None => true,
        Some(last) => last + every <= ctx.now(),
    };
    if !due || pulses.iter().any(|p| p.open) {
        return Ok(false);
    }
    let open_for = every.min(time::Duration::days(7));
    let entry = crate::actor::system_audit(
        ctx,
        repair.org_id,
        "round.open",
        &repair.title,
        "trust pulse",
    );
    match rounds::create(
        ctx,
        repair.id,
        RoundKind::Pulse,
        None,
        Some(ctx.now() + open_for),
        &entry,
    )
    .await
    {
        Ok(_) => Ok(true),
        // Another request opened it first.
        Err(Error::Conflict(_)) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Each pulse answer's rated values: every item, or only `item`.
pub(crate) fn item_values(answers: &[kintsugi_store::Answer], item: Option<&str>) -> Vec<Vec<i64>> {
    answers
        .iter()
        .map(|a| {
            a.items
                .iter()
                .filter(|(k, _)| item.is_none_or(|i| i == k))
                .map(|(_, v)| *v)
                .collect()
        })
        .collect()
}

/// The mean of every item of every answer of a closed pulse, in tenths; `None` when it is
/// not to be counted (below k, or nobody answered in a pair).
fn pulse_mean(
    answers: &[kintsugi_store::Answer],
    k: kintsugi_core::KThreshold,
    pair: bool,
) -> Option<u32> {
    let audience = if pair {
        Audience::PairInsider
    } else {
        Audience::Group
    };
    group_mean(&item_values(answers, None), k, audience)
        .shown()
        .map(|r| r.mean_tenths)
}

/// The recovery gate for a repair, from its closed pulses, follow-through and time in rebuild.
pub fn gate_report(
    now: time::OffsetDateTime,
    org: &kintsugi_store::Organisation,
    repair: &kintsugi_store::Repair,
    rounds: &RoundsRead,
    commitments: &[kintsugi_store::Commitment],
) -> kintsugi_core::gate::GateReport {
    let pair = repair.scope == kintsugi_core::repair::Scope::PersonPerson;
    let pulses = rounds
        .list
        .iter()
        .filter(|round| round.kind == RoundKind::Pulse && !round.open)
        .map(|round| pulse_mean(rounds.answers(round.id), round.k, pair))
        .collect();
    let input = kintsugi_core::gate::GateInput {
        pulses,
        follow_through: commitments::follow_through(commitments, now.date()),
        days_in_rebuild: repair
            .rebuild_started_at
            .map(|t| (now - t).whole_days())
            .unwrap_or(0),
        deception: repair.deception,
    };
    kintsugi_core::gate::evaluate(&org.gate, &input)
}

/// The gate as it stands, for a change that needs only the gate (moving the stage, a lesson).
pub async fn gate_now(
    ctx: &Ctx,
    org: &kintsugi_store::Organisation,
    repair: &kintsugi_store::Repair,
) -> Result<kintsugi_core::gate::GateReport, Error> {
    let rounds = RoundsRead::read(ctx, repair.id).await?;
    let commitments = ctx.store().commitments(repair.id).await?;
    Ok(gate_report(ctx.now(), org, repair, &rounds, &commitments))
}

/// One closed pulse in a trend: its number, when it closed, and each item's result in
/// `PULSE_ITEMS` order.
pub struct PulsePoint {
    pub number: usize,
    pub closed_on: Option<time::Date>,
    pub items: Vec<Shown<RatingResults>>,
}

/// Every closed pulse, oldest first (the first is the baseline), under the same rules as the
/// results: k counts people, a pair's insiders see their own. `None` for the accountable person
/// of a pair, who sees only a coarse direction.
pub fn pulse_trend(access: &Access, rounds: &RoundsRead) -> Option<Vec<PulsePoint>> {
    let pair = access.repair.scope == kintsugi_core::repair::Scope::PersonPerson;
    if pair && access.side() == Some(kintsugi_core::repair::Side::Accountable) {
        return None;
    }
    let audience = if pair {
        Audience::PairInsider
    } else {
        Audience::Group
    };
    let mut pulses: Vec<&Round> = rounds
        .list
        .iter()
        .filter(|r| r.kind == RoundKind::Pulse && !r.open)
        .collect();
    pulses.sort_by_key(|r| r.opened_at);
    let mut out = Vec::new();
    for (i, round) in pulses.iter().enumerate() {
        let answers = rounds.answers(round.id);
        out.push(PulsePoint {
            number: i + 1,
            closed_on: round.closed_at.map(|t| t.date()),
            items: PULSE_ITEMS
                .iter()
                .map(|(key, _)| group_mean(&item_values(answers, Some(key)), round.k, audience))
                .collect(),
        });
    }
    Some(out)
}
