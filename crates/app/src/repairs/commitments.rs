//! Commitments (practice 4): adding them, the owner marking an occurrence done, the affected
//! side confirming it, missed occurrences announced in the update log, and follow-through.
//! The rules are `kintsugi_core::commitments`; this module gathers the facts and calls them.

use kintsugi_core::Invalid;
use kintsugi_core::commitments::{self, Confirmation, FollowThrough, Occurrence, Schedule, Status};
use kintsugi_core::repair::{self, UpdateKind};
use kintsugi_core::webhooks::Event;
use kintsugi_store::{Commitment, NewCommitment, NewUpdate, OccurrenceRecord};
use time::Date;
use uuid::Uuid;

use crate::actor::{Actor, audit};
use crate::context::Ctx;
use crate::error::Error;
use crate::events;
use crate::repairs::access::Access;
use crate::repairs::{collect, rounds};

pub struct CommitmentInput<'a> {
    pub owner: Option<Uuid>,
    pub statement: &'a str,
    pub due: Option<&'a str>,
    pub cadence: Option<&'a str>,
    pub count: Option<i64>,
    pub first_due: Option<&'a str>,
}

/// Adds a commitment; returns the "start small" advice when the owner already holds many.
pub async fn add_commitment(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    input: CommitmentInput<'_>,
) -> Result<(Uuid, Option<String>), Error> {
    access.require_poster()?;
    let today = ctx.today();
    let mut bad = Vec::new();
    let owner = match input.owner {
        None => {
            bad.push(Invalid::new(
                "owner",
                "is required: every commitment has someone who keeps it",
            ));
            None
        }
        Some(o) if access.repair.side_of(o).is_none() => {
            bad.push(Invalid::new("owner", "must be someone in this repair"));
            None
        }
        Some(o) => Some(o),
    };
    let statement = collect(&mut bad, repair::commitment_statement(input.statement));
    let schedule = collect(
        &mut bad,
        Schedule::parse(
            input.due,
            input.cadence,
            input.count,
            input.first_due,
            today,
        ),
    );
    let (Some(owner), Some(statement), Some(schedule)) = (owner, statement, schedule) else {
        return Err(Error::Invalid(bad));
    };
    let open_owned = ctx
        .store()
        .commitments_owned_by(owner)
        .await?
        .iter()
        .filter(|c| commitments::is_open(&occurrences(&c.occurrences), today))
        .count();
    let cadence = match &schedule {
        Schedule::Once { .. } => None,
        Schedule::Repeating { cadence, .. } => Some(cadence.as_str().to_owned()),
    };
    let id = ctx.new_id();
    let new = NewCommitment {
        id,
        repair_id: access.repair.id,
        owner_id: owner,
        statement: statement.clone(),
        cadence,
        due_dates: schedule.due_dates(),
        created_at: ctx.now(),
    };
    let entry = audit(
        ctx,
        user,
        "commitment.add",
        &access.repair.title,
        format!("{statement} ({})", schedule.describe()),
    );
    ctx.store().add_commitment(&new, &entry).await?;
    Ok((id, commitments::start_small(open_owned)))
}

pub fn occurrences(records: &[OccurrenceRecord]) -> Vec<Occurrence> {
    records.iter().map(occurrence).collect()
}

/// An occurrence counts as happened only when more of the affected side said so than not.
pub fn occurrence(r: &OccurrenceRecord) -> Occurrence {
    let confirmation = r
        .last_confirmed_on
        .filter(|_| r.yes + r.no > 0)
        .map(|on| Confirmation {
            happened: r.yes > r.no,
            on,
        });
    Occurrence {
        due: r.due,
        done_on: r.done_on,
        confirmation,
    }
}

pub fn find_commitment(list: &[Commitment], id: Uuid) -> Result<&Commitment, Error> {
    list.iter()
        .find(|c| c.id == id)
        .ok_or_else(|| Error::not_found("commitment"))
}

fn find_occurrence(c: &Commitment, due: &str) -> Result<Date, Error> {
    let due = commitments::parse_date("due", due).map_err(|_| Error::not_found("occurrence"))?;
    c.occurrences
        .iter()
        .find(|o| o.due == due)
        .map(|o| o.due)
        .ok_or_else(|| Error::not_found("occurrence"))
}

pub async fn mark_done(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    commitment_id: Uuid,
    due: &str,
) -> Result<(), Error> {
    let list = ctx.store().commitments(access.repair.id).await?;
    let c = find_commitment(&list, commitment_id)?;
    if c.owner_id != user.person.id {
        return Err(Error::Forbidden(
            "only the commitment's owner may mark it done".into(),
        ));
    }
    let due = find_occurrence(c, due)?;
    if due > ctx.today() + time::Duration::days(commitments::GRACE_DAYS) {
        return Err(Error::Conflict("this occurrence is not due yet".into()));
    }
    let entry = audit(
        ctx,
        user,
        "commitment.done",
        &access.repair.title,
        format!("{} (due {due})", c.statement),
    );
    ctx.store()
        .mark_done(commitment_id, due, ctx.today(), &entry)
        .await?;
    Ok(())
}

pub async fn confirm(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    commitment_id: Uuid,
    due: &str,
    happened: &str,
) -> Result<(), Error> {
    access.require_affected()?;
    if rounds::anonymous_confirmations(&user.org, &access.repair) {
        return Err(Error::Conflict(
            "confirmations are anonymous in this repair: answer in the occurrence's confirmation round".into(),
        ));
    }
    let happened = match happened {
        "yes" | "true" => true,
        "no" | "false" => false,
        _ => return Err(Error::invalid("happened", "must be yes or no")),
    };
    let list = ctx.store().commitments(access.repair.id).await?;
    let c = find_commitment(&list, commitment_id)?;
    let due = find_occurrence(c, due)?;
    if due > ctx.today()
        && c.occurrences
            .iter()
            .find(|o| o.due == due)
            .and_then(|o| o.done_on)
            .is_none()
    {
        return Err(Error::Conflict(
            "this occurrence is not due yet, and its owner has not marked it done".into(),
        ));
    }
    // No audit entry: who confirmed what is confidential input.
    ctx.store()
        .confirm(
            ctx.new_id(),
            commitment_id,
            due,
            user.person.id,
            happened,
            ctx.today(),
        )
        .await?;
    Ok(())
}

/// Posts the automatic update for each occurrence that has become missed. Idempotent.
pub async fn announce_missed(ctx: &Ctx, org_id: Uuid, repair_id: Uuid) -> Result<(), Error> {
    let commitments = ctx.store().commitments(repair_id).await?;
    announce_missed_in(ctx, org_id, repair_id, &commitments).await?;
    Ok(())
}

/// The same, over commitments already read; returns whether any was announced.
pub(crate) async fn announce_missed_in(
    ctx: &Ctx,
    org_id: Uuid,
    repair_id: Uuid,
    list: &[Commitment],
) -> Result<bool, Error> {
    let today = ctx.today();
    let mut announced = false;
    for c in list {
        for due in commitments::missed(&occurrences(&c.occurrences), today) {
            if c.occurrences
                .iter()
                .any(|o| o.due == due && o.missed_announced)
            {
                continue;
            }
            let update = NewUpdate {
                id: ctx.new_id(),
                kind: UpdateKind::Missed,
                author_id: None,
                body: format!(
                    "Missed: “{}” by {}, due {due}, was not confirmed as kept.",
                    c.statement, c.owner_name
                ),
                reason: None,
                created_at: ctx.now(),
            };
            announced = true;
            let event = events::new(ctx, org_id, repair_id, Event::CommitmentMissed, None);
            // False when another request announced it first.
            ctx.store()
                .announce_missed(repair_id, c.id, due, &update, &event)
                .await?;
        }
    }
    Ok(announced)
}

/// Every open repair of every organisation, for the background sweep.
pub async fn announce_missed_everywhere(ctx: &Ctx) -> Result<(), Error> {
    for org in ctx.store().list_organisations().await? {
        for r in ctx.store().all_repairs(org.id).await? {
            if r.stage.is_open() {
                announce_missed(ctx, org.id, r.id).await?;
            }
        }
    }
    Ok(())
}

/// Follow-through over a set of commitments.
pub fn follow_through(list: &[Commitment], today: Date) -> FollowThrough {
    list.iter()
        .map(|c| commitments::follow_through(&occurrences(&c.occurrences), today))
        .sum()
}

pub fn status_of(r: &OccurrenceRecord, today: Date) -> Status {
    commitments::status(&occurrence(r), today)
}
