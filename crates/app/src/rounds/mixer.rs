//! The mixer's loop and what it needs of the context: each epoch's seal, the heartbeat that
//! says this server runs, the servers running now, and the drain before a close. What a
//! server holds, and how a seal takes it, is [`crate::held`].

use std::time::Duration;

use kintsugi_store::Round;
use rand::Rng;

use crate::context::Ctx;
use crate::error::Error;
pub use crate::held::{CLOSE_MARGIN, Mixer, TICK};

/// How often a server says it is running; a server unseen for three of these is gone.
pub const HEARTBEAT: time::Duration = time::Duration::seconds(30);

/// The fewest answers to `round` sealed together.
pub fn min_batch(ctx: &Ctx, round: &Round) -> usize {
    ctx.settings()
        .mixing
        .min_batch
        .unwrap_or(round.k.get() as usize)
}

/// The next epoch's length: uniform between half and one and a half times the mean, so an
/// observer cannot predict the seal.
fn next_epoch(mean: Duration) -> Duration {
    mean.mul_f64(rand::rng().random_range(0.5..1.5))
}

/// The mixer's loop, for a serving process: a tick every second, a heartbeat, and a seal at
/// each epoch's end. Errors are retried at the next tick; they never carry an answer.
pub async fn run(ctx: Ctx) {
    let mixer = ctx.mixer().clone();
    let mut epoch_ends = tokio::time::Instant::now() + next_epoch(ctx.settings().mixing.epoch);
    let mut heartbeat_due = ctx.now();
    // The first tick is at once: a server says it runs before it answers anyone.
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = ctx.now();
        if now >= heartbeat_due {
            match ctx.store().mixer_seen(mixer.id(), now).await {
                Ok(()) => heartbeat_due = now + HEARTBEAT,
                Err(e) => tracing::warn!(error = %e, "the mixer could not say it is running"),
            }
        }
        if let Err(e) = mixer.refresh(ctx.store(), now).await {
            tracing::warn!(error = %e, "the mixer could not re-read its rounds");
            continue;
        }
        let sealed = if tokio::time::Instant::now() >= epoch_ends {
            epoch_ends = tokio::time::Instant::now() + next_epoch(ctx.settings().mixing.epoch);
            mixer.seal_epoch(ctx.store(), now).await
        } else {
            mixer.seal_closing(ctx.store(), now).await
        };
        if let Err(e) = sealed {
            tracing::warn!(error = %e, "sealing a batch of answers failed; it is kept for the next epoch");
        }
    }
}

/// The servers running now (seen within three heartbeats): a client whose answer waits at a
/// server not among them sends it again.
pub async fn running(ctx: &Ctx) -> Result<Vec<String>, Error> {
    let mut ids = ctx.store().mixers_since(ctx.now() - HEARTBEAT * 3).await?;
    if !ids.iter().any(|id| id == ctx.mixer().id()) {
        ids.push(ctx.mixer().id().to_owned());
    }
    ids.sort();
    Ok(ids)
}

/// Before a round closes by hand: when other servers run, the round is set to close in a
/// few seconds, so each of them seals what it holds at its next tick; then this server seals
/// its own. Returns once nothing waits for the round anywhere that is running.
pub async fn drain_before_close(ctx: &Ctx, round: &Round) -> Result<(), Error> {
    // A round past its set time was sealed everywhere at the ticks before it.
    let past_due = round.closes_at.is_some_and(|t| t <= ctx.now());
    let others = running(ctx)
        .await?
        .into_iter()
        .any(|id| id != ctx.mixer().id());
    if others && !past_due {
        let soon = ctx.now() + time::Duration::seconds(3);
        ctx.store().close_soon(round.id, soon).await?;
        tokio::time::sleep(Duration::from_millis(3_500) + TICK).await;
    }
    ctx.mixer().flush(ctx.store(), round.id).await?;
    Ok(())
}
