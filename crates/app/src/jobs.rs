//! The one list of job kinds, where the features are composed: each kind and its handler,
//! and the periodic ones with their period. A new kind is one more line here.

use time::Duration;

use kintsugi_store::Job;

use crate::context::Ctx;
use crate::reach::jobs::{Failure, Registry};
use crate::reach::{email, webhooks};
use crate::settings::JobSettings;
use crate::{events, health, notify, repairs};

/// The periodic job that keeps the database tidy (expired sessions and links, missed
/// occurrences announced, rounds closed and checks opened when their time comes).
pub const HOUSEKEEPING: &str = "housekeeping";
const HOUSEKEEPING_EVERY: Duration = Duration::minutes(10);
/// How long finished jobs stay, so their keys still stop a second copy.
const KEEP_FINISHED: Duration = Duration::days(30);

/// Every kind of job this server runs.
pub fn registry(settings: &JobSettings) -> Registry {
    Registry::default()
        .on(email::KIND, email::deliver)
        .every(HOUSEKEEPING, HOUSEKEEPING_EVERY, housekeeping)
        .every(notify::SCAN, settings.scan_every, notify::scan)
        .on(notify::ROUND_NOTICE, notify::round_notice)
        .on(events::KIND, notify::fan_out)
        .on(webhooks::KIND, webhooks::deliver)
}

async fn housekeeping(ctx: Ctx, _job: Job) -> Result<(), Failure> {
    ctx.store().delete_expired(ctx.now()).await?;
    ctx.store().purge_jobs(ctx.now() - KEEP_FINISHED).await?;
    repairs::commitments::announce_missed_everywhere(&ctx).await?;
    repairs::schedule::close_due(&ctx).await?;
    health::schedule::sweep(&ctx).await?;
    Ok(())
}
