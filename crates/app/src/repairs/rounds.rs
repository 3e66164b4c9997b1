//! A repair's anonymous rounds: listening, genuineness of the acknowledgment, agreement with
//! the causes, one confirmation round per due occurrence (once the affected side reaches k),
//! and the trust pulses (`pulses`). Opening, closing (which destroys the key), issuing a
//! token to the people who answer the kind, the facilitator's replies and the pair consent.

use kintsugi_core::anonymity::Shown;
use kintsugi_core::webhooks::Event;
use kintsugi_store::{NewRound, Round};
use uuid::Uuid;

use crate::actor::{Actor, audit};
use crate::context::Ctx;
use crate::error::Error;
use crate::events;
use crate::repairs::access::Access;
use crate::rounds::{RoundKind, TokenRequest, TokenResponse};

/// Opens a listening round with a fresh key pair; the secret key goes to the key store.
pub async fn open(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    kind: RoundKind,
    closes_in_days: Option<i64>,
) -> Result<Round, Error> {
    access.require_facilitator()?;
    if !access.repair.stage.is_open() {
        return Err(Error::Conflict(
            "this repair is finished; it takes no new rounds".into(),
        ));
    }
    if kind == RoundKind::Genuineness
        && ctx
            .store()
            .acknowledgments(access.repair.id)
            .await?
            .is_empty()
    {
        return Err(Error::Conflict(
            "there is no acknowledgment to rate yet".into(),
        ));
    }
    if kind == RoundKind::Causes && ctx.store().causes(access.repair.id).await?.is_empty() {
        return Err(Error::Conflict("no cause has been named yet".into()));
    }
    let closes_at = match closes_in_days {
        None => None,
        Some(d) if (1..=60).contains(&d) => Some(ctx.now() + time::Duration::days(d)),
        Some(_) => {
            return Err(Error::invalid(
                "closes_in_days",
                "must be between 1 and 60 days",
            ));
        }
    };
    let entry = audit(
        ctx,
        user,
        "round.open",
        &access.repair.title,
        format!("{kind} round"),
    );
    create(ctx, access.repair.id, kind, None, closes_at, &entry).await
}

/// Generates the round's key pair, puts the secret half in the key store and the round in
/// the database. The secret key is removed again if the round cannot be stored.
pub(crate) async fn create(
    ctx: &Ctx,
    repair_id: Uuid,
    kind: RoundKind,
    subject: Option<String>,
    closes_at: Option<time::OffsetDateTime>,
    entry: &kintsugi_store::Audit,
) -> Result<Round, Error> {
    // The round keeps the organisation's k as it is now (issue 14): a later change of k
    // applies to rounds opened after it.
    let k = ctx
        .store()
        .organisation(entry.org_id)
        .await?
        .ok_or(Error::Internal)?
        .k_threshold;
    let round = crate::rounds::new_keyed_round(ctx, kind, subject, closes_at, k).await?;
    let round = NewRound {
        repair_id: Some(repair_id),
        ..round
    };
    let event = events::new(
        ctx,
        entry.org_id,
        repair_id,
        Event::RoundOpened,
        Some(round.id),
    );
    if let Err(e) = ctx.store().open_round(&round, entry, &event).await {
        let _ = ctx.keys().destroy(round.id).await;
        return Err(e.into());
    }
    ctx.store().round(round.id).await?.ok_or(Error::Internal)
}

pub fn subject_of(commitment: Uuid, due: time::Date) -> String {
    format!("{commitment}:{due}")
}

pub async fn round_in(ctx: &Ctx, access: &Access, round_id: Uuid) -> Result<Round, Error> {
    match ctx.store().round(round_id).await? {
        Some(r) if r.repair_id == Some(access.repair.id) => Ok(r),
        _ => Err(Error::not_found("round")),
    }
}

/// Closes a round and destroys its key: no token can be signed for it again.
pub async fn close(
    ctx: &Ctx,
    org_id: Uuid,
    actor: Option<&Actor>,
    round: &Round,
    title: &str,
) -> Result<(), Error> {
    let entry = match actor {
        Some(user) => audit(ctx, user, "round.close", title, "closed by the facilitator"),
        None => {
            crate::actor::system_audit(ctx, org_id, "round.close", title, "closed at its set time")
        }
    };
    crate::rounds::mixer::drain_before_close(ctx, round).await?;
    ctx.store().close_round(round.id, ctx.now(), &entry).await?;
    if round.kind.settles_occurrence() {
        // The round's own k, fixed when it opened.
        settle_confirmation(ctx, round, round.k).await?;
    }
    crate::rounds::destroy_key(ctx, round.id).await
}

/// The facilitator closes one of the repair's rounds now.
pub async fn close_by_facilitator(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    round: Uuid,
) -> Result<(), Error> {
    access.require_facilitator()?;
    let round = round_in(ctx, access, round).await?;
    // Closing a pulse early would let someone pick the moment its mean looks best for the gate.
    if round.kind == RoundKind::Pulse {
        return Err(Error::Conflict(
            "a trust pulse closes on its schedule; nobody closes it early".into(),
        ));
    }
    close(
        ctx,
        access.repair.org_id,
        Some(user),
        &round,
        &access.repair.title,
    )
    .await
}

/// Closes those of one repair's rounds whose set time has passed; returns whether any was due.
pub async fn close_due_rounds(
    ctx: &Ctx,
    org_id: Uuid,
    title: &str,
    rounds: &[Round],
) -> Result<bool, Error> {
    let mut closed = false;
    for round in rounds {
        if round.open && round.closes_at.is_some_and(|t| t <= ctx.now()) {
            closed = true;
            match close(ctx, org_id, None, round, title).await {
                // Another request closed it first.
                Ok(()) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(closed)
}

/// Signs a member's blinded message, once per member and round. The server records that
/// the member got a token, with no time, and never sees the token itself.
pub async fn issue(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    round_id: Uuid,
    request: &TokenRequest,
) -> Result<TokenResponse, Error> {
    let round = round_in(ctx, access, round_id).await?;
    let Some(side) = access.side() else {
        return Err(Error::Forbidden(
            "only the people in the repair answer its rounds".into(),
        ));
    };
    if !round.kind.answered_by().admits(side) {
        return Err(Error::Forbidden(
            "only the affected side answers this round".into(),
        ));
    }
    crate::rounds::sign_for(ctx, &round, user.person.id, request).await
}

/// The facilitator replies to an anonymous comment of a closed round that showed its results.
pub async fn reply(
    ctx: &Ctx,
    access: &Access,
    round_id: Uuid,
    answer_id: Uuid,
    body: &str,
) -> Result<(), Error> {
    access.require_facilitator()?;
    let round = round_in(ctx, access, round_id).await?;
    if round.open {
        return Err(Error::Conflict(
            "replies open when the round has closed".into(),
        ));
    }
    let answers = ctx.store().answers(round.id).await?;
    if answers.len() < round.k.get() as usize {
        return Err(Error::not_found("comment"));
    }
    if !answers
        .iter()
        .any(|a| a.id == answer_id && a.comment.is_some())
    {
        return Err(Error::not_found("comment"));
    }
    let body = kintsugi_core::repair::reason_text(body)
        .map_err(|e| kintsugi_core::Invalid::new("body", e.message))?;
    ctx.store()
        .add_reply(ctx.new_id(), answer_id, false, &body)
        .await?;
    Ok(())
}

/// Comments that anyone in the repair can already see: those of closed listening rounds
/// that reached k. Only these may be linked to a cause.
pub async fn visible_comment_ids(ctx: &Ctx, access: &Access) -> Result<Vec<Uuid>, Error> {
    let mut ids = Vec::new();
    for round in ctx.store().rounds_of(access.repair.id).await? {
        if round.open || round.kind != RoundKind::Listening {
            continue;
        }
        let answers = ctx.store().answers(round.id).await?;
        if answers.len() >= round.k.get() as usize {
            ids.extend(answers.iter().filter(|a| a.comment.is_some()).map(|a| a.id));
        }
    }
    Ok(ids)
}

/// In a person↔person repair, the affected person lets the accountable person see a coarse
/// direction of their ratings, or stops it.
pub async fn set_pair_consent(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    consent: bool,
) -> Result<(), Error> {
    if access.repair.scope != kintsugi_core::repair::Scope::PersonPerson {
        return Err(Error::Conflict(
            "only a person-to-person repair has this choice".into(),
        ));
    }
    if access.side() != Some(kintsugi_core::repair::Side::Affected) {
        return Err(Error::Forbidden(
            "only the affected person decides what the accountable person sees".into(),
        ));
    }
    let detail = if consent {
        "shares a coarse direction"
    } else {
        "shares nothing"
    };
    let entry = audit(
        ctx,
        user,
        "repair.pair_consent",
        &access.repair.title,
        detail,
    );
    ctx.store()
        .set_pair_consent(access.repair.id, consent, &entry)
        .await?;
    Ok(())
}

/// Whether this repair's confirmations go through anonymous rounds.
pub fn anonymous_confirmations(
    org: &kintsugi_store::Organisation,
    repair: &kintsugi_store::Repair,
) -> bool {
    let affected = repair
        .participants
        .iter()
        .filter(|p| p.side == kintsugi_core::repair::Side::Affected)
        .count();
    kintsugi_core::anonymity::at_least_k(affected, org.k_threshold, || ())
        .shown()
        .is_some()
}

/// Opens a confirmation round for every occurrence that is due (or done early) and has
/// none yet; each closes when the occurrence's grace ends. Idempotent; returns whether it
/// opened any.
pub async fn open_confirmation_rounds(
    ctx: &Ctx,
    org: &kintsugi_store::Organisation,
    repair: &kintsugi_store::Repair,
    rounds: &[Round],
    commitments: &[kintsugi_store::Commitment],
) -> Result<bool, Error> {
    if !repair.stage.is_open() || !anonymous_confirmations(org, repair) {
        return Ok(false);
    }
    let today = ctx.now().date();
    let existing: std::collections::HashSet<&str> =
        rounds.iter().filter_map(|r| r.subject.as_deref()).collect();
    let mut opened = false;
    for c in commitments {
        for o in &c.occurrences {
            let settled = o.yes + o.no > 0;
            if settled || (o.due > today && o.done_on.is_none()) {
                continue;
            }
            let subject = subject_of(c.id, o.due);
            if existing.contains(subject.as_str()) {
                continue;
            }
            opened = true;
            let grace_ends =
                o.due + time::Duration::days(kintsugi_core::commitments::GRACE_DAYS + 1);
            let closes_at = grace_ends.midnight().assume_utc();
            let entry = crate::actor::system_audit(
                ctx,
                repair.org_id,
                "round.open",
                &repair.title,
                format!("anonymous confirmation of “{}”, due {}", c.statement, o.due),
            );
            match create(
                ctx,
                repair.id,
                RoundKind::Confirmation,
                Some(subject),
                Some(closes_at),
                &entry,
            )
            .await
            {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(opened)
}

/// At close, a confirmation round's outcome becomes the occurrence's confirmations, without
/// any person attached, and only if at least k answered.
async fn settle_confirmation(
    ctx: &Ctx,
    round: &Round,
    k: kintsugi_core::KThreshold,
) -> Result<(), Error> {
    let Some((commitment, due)) = round.subject.as_deref().and_then(|s| s.split_once(':')) else {
        return Ok(());
    };
    let (Ok(commitment), Ok(due)) = (
        Uuid::parse_str(commitment),
        kintsugi_core::commitments::parse_date("due", due),
    ) else {
        return Ok(());
    };
    let answers = ctx.store().answers(round.id).await?;
    if let Shown::Shown((yes, no)) = kintsugi_core::anonymity::at_least_k(answers.len(), k, || {
        let yes = answers
            .iter()
            .filter(|a| a.category.as_deref() == Some("happened"))
            .count() as u32;
        (yes, answers.len() as u32 - yes)
    }) {
        let confirmations: Vec<(Uuid, bool)> = std::iter::repeat_n(true, yes as usize)
            .chain(std::iter::repeat_n(false, no as usize))
            .map(|happened| (ctx.new_id(), happened))
            .collect();
        ctx.store()
            .record_confirmations(commitment, due, &confirmations, ctx.now().date())
            .await?;
    }
    Ok(())
}
