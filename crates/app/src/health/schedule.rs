//! When checks open and close: every staffed team gets a check when the organisation's cycle
//! is due; a check closes at its set time, writes its rollups in the same transaction, and its
//! key is destroyed. The background sweep runs this, and so do the pages, so nothing waits.

use kintsugi_store::{HealthRound, Round};
use uuid::Uuid;

use crate::actor::{Actor, audit};
use crate::context::Ctx;
use crate::error::Error;
use crate::instruments::instrument_by_id;
use crate::rounds::RoundKind;

fn epoch_day(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(86_400)
}

pub(crate) fn day_date(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// Opens every team's check when the organisation's cycle is due, and closes checks whose
/// time has passed. Called by the server's background sweep.
pub async fn sweep(ctx: &Ctx) -> Result<(), Error> {
    for org in ctx.store().list_organisations().await? {
        catch_up(ctx, org.id).await?;
    }
    Ok(())
}

/// Brings one organisation's checks up to date; pages run it too, so nothing waits for
/// the next sweep.
pub async fn catch_up(ctx: &Ctx, org_id: Uuid) -> Result<(), Error> {
    close_due_in(ctx, org_id).await?;
    // Periods whose checks closed before releases were stored are released now, once.
    ctx.store()
        .release_health_periods(org_id, ctx.now())
        .await?;
    open_due_in(ctx, org_id).await
}

async fn open_due_in(ctx: &Ctx, org_id: Uuid) -> Result<(), Error> {
    let settings = ctx.store().health_settings(org_id).await?;
    let today = epoch_day(ctx.now());
    let last = ctx.store().last_health_period(org_id).await?;
    if !kintsugi_core::health::round_due(last, today, settings.every) {
        return Ok(());
    }
    let closes_at = ctx.now() + time::Duration::days(i64::from(settings.every.open_for_days()));
    // Every check of the period keeps the organisation's k as it is now.
    let k = ctx
        .store()
        .organisation(org_id)
        .await?
        .ok_or(Error::not_found("organisation"))?
        .k_threshold;
    for team in ctx.store().list_teams(org_id).await? {
        if team.member_count == 0 {
            continue;
        }
        let round = crate::rounds::new_keyed_round(
            ctx,
            RoundKind::TeamHealth,
            Some(team.id.to_string()),
            Some(closes_at),
            k,
        )
        .await?;
        let health = HealthRound {
            round_id: round.id,
            org_id,
            team_id: team.id,
            instrument_id: settings.instrument.as_ref().map(|i| i.id),
            period: today,
        };
        let entry =
            crate::actor::system_audit(ctx, org_id, "round.open", &team.name, "team health check");
        if let Err(e) = ctx.store().open_health_round(&round, &health, &entry).await {
            let _ = ctx.keys().destroy(round.id).await;
            match e {
                // The team's previous check is still open; it gets the next cycle.
                kintsugi_store::StoreError::Conflict(_) => {}
                e => return Err(e.into()),
            }
        }
    }
    Ok(())
}

async fn close_due_in(ctx: &Ctx, org_id: Uuid) -> Result<(), Error> {
    for (round, health) in ctx.store().open_health_rounds(org_id).await? {
        if round.closes_at.is_some_and(|t| t <= ctx.now()) {
            close(ctx, &round, &health, None).await?;
        }
    }
    Ok(())
}

/// Closes a check, writes its rollups in the same transaction, and destroys its key.
pub async fn close(
    ctx: &Ctx,
    round: &Round,
    health: &HealthRound,
    actor: Option<&Actor>,
) -> Result<(), Error> {
    let instrument = instrument_by_id(ctx, health.instrument_id).await?;
    let team = ctx
        .store()
        .team(health.org_id, health.team_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let entry = match actor {
        Some(user) => audit(ctx, user, "round.close", &team, "team health check closed"),
        None => crate::actor::system_audit(
            ctx,
            health.org_id,
            "round.close",
            &team,
            "team health check closed at its set time",
        ),
    };
    crate::rounds::mixer::drain_before_close(ctx, round).await?;
    match ctx
        .store()
        .close_health_round(round.id, ctx.now(), &instrument, &entry)
        .await
    {
        Ok(()) | Err(kintsugi_store::StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    crate::rounds::destroy_key(ctx, round.id).await
}
