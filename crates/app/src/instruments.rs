//! Which instrument a team health check asks: the organisation's own (TOML, stored when an
//! admin loaded it) or the built-in one. Read by the checks and by the anonymous path.

use kintsugi_core::instrument::Instrument;
use kintsugi_store::Round;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;

/// The instrument a round (or, for `None`, the built-in one) uses.
pub async fn instrument_by_id(ctx: &Ctx, id: Option<Uuid>) -> Result<Instrument, Error> {
    match id {
        None => Ok(kintsugi_core::instrument::default_instrument()),
        Some(id) => {
            let stored = ctx.store().instrument(id).await?.ok_or(Error::Internal)?;
            Instrument::parse(&stored.source).map_err(|e| {
                tracing::error!(error = %e, "a stored instrument no longer parses");
                Error::Internal
            })
        }
    }
}

/// The instrument a team health round asks.
pub async fn of_round(ctx: &Ctx, round: &Round) -> Result<Instrument, Error> {
    let health = ctx
        .store()
        .health_round(round.id)
        .await?
        .ok_or_else(|| Error::not_found("health check"))?;
    instrument_by_id(ctx, health.instrument_id).await
}
