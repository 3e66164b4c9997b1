//! Reminders, scheduled as jobs, and each person's choice of emails.
//!
//! A periodic `reminders.scan` job looks for what is due and queues one `email` job per
//! person and occasion, keyed so that it is queued once however often the scan runs:
//! - a commitment occurrence due tomorrow, or missed (to its owner);
//! - a repair behind on its promised updates (to its facilitator);
//! - a round, pulse or team health check that opened, or closes within a day: a `round.notice`
//!   job at the next batch slot ([`kintsugi_core::notify::batch_slot`]) sends to everyone
//!   eligible (opened) or to those who have not fetched a token (closing). Never derived from
//!   answers: only `round_issued`, which holds no time, says who fetched a token;
//! - a weekly digest per person (once per ISO week, at the first scan of the week).
//!
//! `preferences` turns kinds off; every non-essential email carries a one-click unsubscribe
//! link (RFC 8058) that works without logging in.

mod fan_out;
pub mod invitations;
pub mod preferences;
mod reminders;

pub use fan_out::fan_out;

use kintsugi_core::notify::{EmailKind, batch_slot, closing_notice_at, digest_week};
use kintsugi_store::{Job, Repair, Round};
use serde::{Deserialize, Serialize};
use time::Duration;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;
use crate::reach::email::{self, Action, Mail};
use crate::reach::jobs::{self, Failure};
use crate::rounds::RoundKind;

/// The periodic job that looks for reminders to send.
pub const SCAN: &str = "reminders.scan";

/// Sends a round's "opened" or "closing" notice to its people, at a batch slot.
pub const ROUND_NOTICE: &str = "round.notice";

/// Rounds opened longer ago than this get no "opened" notice (e.g. after an upgrade).
const OPENED_WINDOW: Duration = Duration::days(2);

/// Who may answer a round of this kind: everyone in the repair for listening rounds, the
/// affected side for the others (as `rounds::issue` enforces).
pub fn eligible(repair: &Repair, kind: RoundKind) -> Vec<Uuid> {
    repair
        .participants
        .iter()
        .filter(|p| kind.answered_by().admits(p.side))
        .map(|p| p.person_id)
        .collect()
}

/// The `reminders.scan` job: every open repair's reminders, every open round's notices, and
/// the weekly digests, each queued once whatever how often the scan runs.
pub async fn scan(ctx: Ctx, _job: Job) -> Result<(), Failure> {
    let ctx = &ctx;
    if ctx.settings().mail.is_none() {
        return Ok(());
    }
    for org in ctx.store().list_organisations().await? {
        // The demo organisation's people are made up: nothing is mailed to them.
        if org.is_demo {
            continue;
        }
        // Every open round's notices, most of them queued by an earlier sweep.
        let mut notices = Vec::new();
        for summary in ctx.store().all_repairs(org.id).await? {
            if !summary.stage.is_open() {
                continue;
            }
            let Some(repair) = ctx.store().repair(org.id, summary.id).await? else {
                continue;
            };
            reminders::remind(ctx, &summary, &repair).await?;
            for round in ctx.store().rounds_of(repair.id).await? {
                notices.extend(round_notices(ctx, org.id, &round)?);
            }
        }
        for (round, _) in ctx.store().open_health_rounds(org.id).await? {
            notices.extend(round_notices(ctx, org.id, &round)?);
        }
        enqueue_new(ctx, org.id, notices).await?;
        digests(ctx, org.id).await?;
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct RoundNotice {
    org_id: Uuid,
    round_id: Uuid,
    closing: bool,
}

/// A notice to queue: its idempotency key, its payload and when it goes.
type Notice = (String, serde_json::Value, time::OffsetDateTime);

/// A round's notice: its idempotency key and its job's payload. "Opened" and "closing" are
/// one notice each per round, whoever queues them.
fn notice(
    org_id: Uuid,
    round: &Round,
    closing: bool,
) -> Result<(String, serde_json::Value), Error> {
    let key = if closing {
        "round_closing"
    } else {
        "round_opened"
    };
    let payload = serde_json::to_value(RoundNotice {
        org_id,
        round_id: round.id,
        closing,
    })
    .map_err(|_| Error::Internal)?;
    Ok((format!("{key}:{}", round.id), payload))
}

/// The "now open" notice of a round, for the event that announces it.
pub fn opened_notice(org_id: Uuid, round: &Round) -> Result<(String, serde_json::Value), Error> {
    notice(org_id, round, false)
}

/// An open round's notices: "now open" while it is new, and "closing soon" if it closes.
fn round_notices(ctx: &Ctx, org_id: Uuid, round: &Round) -> Result<Vec<Notice>, Error> {
    let mut out = Vec::new();
    if !round.open {
        return Ok(out);
    }
    let slot = ctx.settings().jobs.notice_slot;
    if ctx.now() - round.opened_at <= OPENED_WINDOW {
        let (key, payload) = notice(org_id, round, false)?;
        out.push((key, payload, batch_slot(round.opened_at, slot)));
    }
    if let Some(closes_at) = round.closes_at
        && let Some(at) = closing_notice_at(round.opened_at, closes_at, slot)
    {
        let (key, payload) = notice(org_id, round, true)?;
        out.push((key, payload, at));
    }
    Ok(out)
}

/// Queues the notices that have no job yet. An organisation with 5,000 teams has 5,000 open
/// health checks: one read asks which are queued, instead of 10,000 refused inserts, each a
/// write transaction, every ten minutes.
async fn enqueue_new(ctx: &Ctx, org_id: Uuid, notices: Vec<Notice>) -> Result<(), Error> {
    let keys: Vec<String> = notices.iter().map(|(key, _, _)| key.clone()).collect();
    let known = ctx.store().known_job_keys(&keys).await?;
    for (key, payload, at) in notices {
        if !known.contains(&key) {
            jobs::enqueue(ctx, Some(org_id), ROUND_NOTICE, payload, &key, at).await?;
        }
    }
    Ok(())
}

/// Who a round's notices concern, and where they answer it.
struct Audience {
    /// "an anonymous round in Missed launch date", "the anonymous team health check for Alpha".
    about: String,
    people: Vec<Uuid>,
    action: Action,
}

/// A round's audience, from its subject: the repair's eligible participants, or the active
/// members of the team whose health check it is.
async fn audience(ctx: &Ctx, org_id: Uuid, round: &Round) -> Result<Audience, Failure> {
    let store = ctx.store();
    if let Some(repair_id) = round.repair_id {
        let Some(repair) = store.repair(org_id, repair_id).await? else {
            return Err(Failure::Permanent("the repair no longer exists".into()));
        };
        return Ok(Audience {
            about: format!("an anonymous round in {}", repair.title),
            people: eligible(&repair, round.kind),
            action: Action {
                label: "Open the repair".into(),
                url: ctx.url(&format!("/repairs/{}", repair.id)),
            },
        });
    }
    let Some(health) = store.health_round(round.id).await? else {
        return Err(Failure::Permanent("the round has no subject".into()));
    };
    let Some(team) = store.team(org_id, health.team_id).await? else {
        return Err(Failure::Permanent("the team no longer exists".into()));
    };
    Ok(Audience {
        about: format!("the anonymous team health check for {}", team.name),
        people: store.team_member_ids(team.id).await?,
        action: Action {
            label: "Open team health".into(),
            url: ctx.url("/health"),
        },
    })
}

/// Sends a round's notice, at its batch slot, to each person it concerns.
pub async fn round_notice(ctx: Ctx, job: Job) -> Result<(), Failure> {
    let ctx = &ctx;
    let notice: RoundNotice = serde_json::from_str(&job.payload)
        .map_err(|e| Failure::Permanent(format!("unreadable notice: {e}")))?;
    let Some(round) = ctx.store().round(notice.round_id).await? else {
        return Err(Failure::Permanent("the round no longer exists".into()));
    };
    if !round.open {
        return Ok(());
    }
    let Audience {
        about,
        mut people,
        action,
    } = audience(ctx, notice.org_id, &round).await?;
    let (kind, subject, line) = if notice.closing {
        // Only "has fetched a token", never anything about answers.
        let fetched = ctx.store().issued_to(round.id).await?;
        people.retain(|p| !fetched.contains(p));
        (
            EmailKind::RoundClosing,
            format!("Closing soon: {about}"),
            "An anonymous round you may answer closes within a day. Taking part is your choice; nobody sees who answered.",
        )
    } else {
        (
            EmailKind::RoundOpened,
            format!("Now open: {about}"),
            "An anonymous round you may answer has opened. Your answer cannot be traced to you; results appear only when enough people answer.",
        )
    };
    for person in people {
        let mail = Mail {
            subject: subject.clone(),
            paragraphs: vec![line.into()],
            action: Some(action.clone()),
            ..Mail::default()
        };
        let key = format!("{}:{}:{person}", job.idempotency_key, kind.as_str());
        email::queue(ctx, notice.org_id, person, kind, mail, &key, ctx.now()).await?;
    }
    Ok(())
}

/// Queues this week's digest for each active person of an organisation, once per week.
async fn digests(ctx: &Ctx, org_id: Uuid) -> Result<(), Error> {
    let today = ctx.today();
    let week = digest_week(today);
    let store = ctx.store();
    for person in store.list_people(org_id).await? {
        if !person.active {
            continue;
        }
        let mut items = Vec::new();
        for c in store.commitments_owned_by(person.id).await? {
            if let Some(next) = c
                .occurrences
                .iter()
                .find(|o| o.due >= today && o.done_on.is_none())
            {
                items.push(format!(
                    "Commitment, next due {}: {}",
                    next.due, c.statement
                ));
            }
        }
        for r in store.repairs_of(org_id, person.id).await? {
            if r.stage.is_open() {
                items.push(format!("Repair “{}”: {}", r.title, r.stage.label()));
            }
        }
        let paragraphs = if items.is_empty() {
            vec!["Nothing needs you this week: no open repairs and no commitments due.".into()]
        } else {
            vec!["Here is where things stand for you this week.".into()]
        };
        let mail = Mail {
            subject: format!("Your week in Kintsugi ({week})"),
            paragraphs,
            items,
            action: Some(Action {
                label: "Open Kintsugi".into(),
                url: ctx.url("/"),
            }),
        };
        let key = format!("digest:{}:{week}", person.id);
        email::queue(
            ctx,
            org_id,
            person.id,
            EmailKind::WeeklyDigest,
            mail,
            &key,
            ctx.now(),
        )
        .await?;
    }
    Ok(())
}
