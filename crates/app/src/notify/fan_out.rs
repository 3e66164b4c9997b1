//! The outbox's fan-out (`crate::events`): one job per event writes, in one transaction, a
//! delivery and a `webhook` job for every webhook that wants it, and for a round that opened
//! its "now open" notice, and marks the event done.

use kintsugi_core::notify::batch_slot;
use kintsugi_core::webhooks::{self as rules, Event, Happening};
use kintsugi_store::{EventRecord, Job, NewDelivery, NewJob};

use crate::context::Ctx;
use crate::events::Payload;
use crate::reach::jobs::{self, Failure};
use crate::reach::webhooks;

/// The `event` job's handler.
pub async fn fan_out(ctx: Ctx, job: Job) -> Result<(), Failure> {
    let Payload { event } = serde_json::from_str(&job.payload)
        .map_err(|e| Failure::Permanent(format!("bad event job: {e}")))?;
    let Some(record) = ctx.store().event(event).await? else {
        return Err(Failure::Permanent("the event no longer exists".into()));
    };
    if record.fanned_out {
        return Ok(());
    }
    let Some(kind) = Event::parse(&record.event) else {
        return Err(Failure::Permanent(format!(
            "unknown event {:?}",
            record.event
        )));
    };
    let (deliveries, mut jobs) = deliveries(&ctx, &record, kind).await?;
    jobs.extend(opened_notice(&ctx, &record, kind).await?);
    ctx.store()
        .fan_out_event(record.id, &deliveries, &jobs, ctx.now())
        .await?;
    Ok(())
}

/// A delivery and its job for every webhook of the organisation that wants the event.
async fn deliveries(
    ctx: &Ctx,
    record: &EventRecord,
    event: Event,
) -> Result<(Vec<NewDelivery>, Vec<NewJob>), Failure> {
    let hooks: Vec<_> = ctx
        .store()
        .webhooks(record.org_id)
        .await?
        .into_iter()
        .filter(|h| h.repair_id.is_none_or(|r| r == record.repair_id))
        .filter(|h| h.events.iter().any(|e| e == event.as_str()))
        .collect();
    if hooks.is_empty() {
        return Ok((vec![], vec![]));
    }
    let message = rules::message(&Happening {
        event,
        repair_title: record.repair_title.clone(),
        stage: record.stage.label().to_owned(),
        link: ctx.url(&format!("/repairs/{}", record.repair_id)),
    });
    let body = serde_json::to_string(&message)
        .map_err(|e| Failure::Permanent(format!("cannot write the message: {e}")))?;
    let now = ctx.now();
    let deliveries: Vec<NewDelivery> = hooks
        .iter()
        .map(|h| NewDelivery {
            id: ctx.new_id(),
            webhook_id: h.id,
            org_id: record.org_id,
            event: event.as_str().to_owned(),
            body: body.clone(),
            created_at: now,
        })
        .collect();
    let jobs = deliveries
        .iter()
        .map(|d| {
            jobs::new_job(
                ctx,
                Some(record.org_id),
                webhooks::KIND,
                serde_json::json!({ "delivery": d.id }),
                &format!("webhook:{}", d.id),
                now,
            )
        })
        .collect();
    Ok((deliveries, jobs))
}

/// A round that opened gets its "now open" notice at its batch slot, under the same key the
/// reminder scan uses, so whichever comes first queues it and the other does nothing.
async fn opened_notice(
    ctx: &Ctx,
    record: &EventRecord,
    event: Event,
) -> Result<Option<NewJob>, Failure> {
    let (Event::RoundOpened, Some(round_id)) = (event, record.round_id) else {
        return Ok(None);
    };
    if ctx.settings().mail.is_none() {
        return Ok(None);
    }
    let Some(round) = ctx.store().round(round_id).await? else {
        return Ok(None);
    };
    let (key, payload) = super::opened_notice(record.org_id, &round)?;
    Ok(Some(jobs::new_job(
        ctx,
        Some(record.org_id),
        super::ROUND_NOTICE,
        payload,
        &key,
        batch_slot(round.opened_at, ctx.settings().jobs.notice_slot),
    )))
}
