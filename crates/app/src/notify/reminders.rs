//! A repair's reminders by email: an occurrence due tomorrow or just missed (to its owner),
//! and updates behind their promised cadence (to the facilitator). Each keyed so the scan
//! queues it once.

use kintsugi_core::commitments;
use kintsugi_core::notify::EmailKind;
use kintsugi_store::{Commitment, Repair, RepairSummary};
use time::Duration;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;
use crate::reach::email::{self, Action, Mail};
use crate::repairs;
use crate::repairs::commitments::occurrences;

/// Missed occurrences older than this are not reminded of (their jobs may have been purged).
const MISSED_WINDOW_DAYS: i64 = 9;

/// Queues a repair's reminders that are due now.
pub(super) async fn remind(
    ctx: &Ctx,
    summary: &RepairSummary,
    repair: &Repair,
) -> Result<(), Error> {
    for c in ctx.store().commitments(repair.id).await? {
        commitment(ctx, repair, &c).await?;
    }
    if let Some(late) = repairs::overdue(ctx, summary) {
        let since = summary.last_update_at.unwrap_or(summary.created_at);
        let mail = Mail {
            subject: format!("Update due: {}", repair.title),
            paragraphs: vec![format!(
                "“{}” is behind on its promised updates: {}.",
                repair.title,
                late.describe()
            )],
            action: Some(open_link(ctx, repair)),
            ..Mail::default()
        };
        let key = format!("update_overdue:{}:{}", repair.id, since.unix_timestamp());
        send(
            ctx,
            repair,
            repair.facilitator_id,
            EmailKind::UpdateOverdue,
            mail,
            &key,
        )
        .await?;
    }
    Ok(())
}

fn open_link(ctx: &Ctx, repair: &Repair) -> Action {
    Action {
        label: "Open the repair".into(),
        url: ctx.url(&format!("/repairs/{}", repair.id)),
    }
}

async fn send(
    ctx: &Ctx,
    repair: &Repair,
    person: Uuid,
    kind: EmailKind,
    mail: Mail,
    key: &str,
) -> Result<bool, Error> {
    email::queue(ctx, repair.org_id, person, kind, mail, key, ctx.now()).await
}

/// An occurrence due tomorrow and not done yet, and those missed lately, to the owner.
async fn commitment(ctx: &Ctx, repair: &Repair, c: &Commitment) -> Result<(), Error> {
    let today = ctx.today();
    let tomorrow = today + Duration::days(1);
    if c.occurrences
        .iter()
        .any(|o| o.due == tomorrow && o.done_on.is_none())
    {
        let mail = Mail {
            subject: format!("Due tomorrow: {}", c.statement),
            paragraphs: vec![format!(
                "Your commitment in “{}” is due tomorrow, {tomorrow}: {}",
                repair.title, c.statement
            )],
            action: Some(open_link(ctx, repair)),
            ..Mail::default()
        };
        let key = format!("commitment_due:{}:{tomorrow}", c.id);
        send(
            ctx,
            repair,
            c.owner_id,
            EmailKind::CommitmentDue,
            mail,
            &key,
        )
        .await?;
    }
    for due in commitments::missed(&occurrences(&c.occurrences), today) {
        if (today - due).whole_days() > MISSED_WINDOW_DAYS {
            continue;
        }
        let mail = Mail {
            subject: format!("Missed: {}", c.statement),
            paragraphs: vec![
                format!(
                    "Your commitment in “{}”, due {due}, was not confirmed as kept: {}",
                    repair.title, c.statement
                ),
                "The repair's update log says so. Saying what happened, and what you will do instead, rebuilds more trust than silence.".into(),
            ],
            action: Some(open_link(ctx, repair)),
            ..Mail::default()
        };
        let key = format!("commitment_missed:{}:{due}", c.id);
        send(
            ctx,
            repair,
            c.owner_id,
            EmailKind::CommitmentMissed,
            mail,
            &key,
        )
        .await?;
    }
    Ok(())
}
