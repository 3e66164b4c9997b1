//! The background sweep's part in repairs: rounds close at their set time, and trust pulses
//! open on schedule, even when nobody opens the repair.

use crate::context::Ctx;
use crate::error::Error;
use crate::repairs::{pulses, rounds};

/// Closes every round whose set time has passed and opens the trust pulses that are due
/// (the background sweep), so pulses keep their schedule when nobody opens the repair.
pub async fn close_due(ctx: &Ctx) -> Result<(), Error> {
    for org in ctx.store().list_organisations().await? {
        for repair in ctx.store().all_repairs(org.id).await? {
            let mut rounds = ctx.store().rounds_of(repair.id).await?;
            if rounds::close_due_rounds(ctx, org.id, &repair.title, &rounds).await? {
                rounds = ctx.store().rounds_of(repair.id).await?;
            }
            if repair.stage == kintsugi_core::repair::Stage::Rebuild
                && let Some(full) = ctx.store().repair(org.id, repair.id).await?
            {
                pulses::open_pulse_if_due(ctx, &full, &rounds).await?;
            }
        }
    }
    Ok(())
}
