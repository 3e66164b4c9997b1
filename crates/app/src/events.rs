//! Events, through a transactional outbox: what happened to a repair (an update posted, a
//! stage changed, a commitment missed, a round opened) is written as an event row in the same
//! store transaction as the change, with the one job that fans it out. So a change and its
//! event are stored together or not at all, and a crash between the change and its fan-out
//! loses nothing: the job runs when a worker next claims it.
//!
//! The fan-out (`crate::notify::fan_out`) writes, in one transaction, a delivery row and a
//! `webhook` job for every webhook that wants the event, and for a round that opened, its "now
//! open" notice; it marks the event done in that transaction, so running it twice does nothing
//! the second time. Features make an event with [`new`] and hand it to the store method that
//! makes the change; they never call the webhooks themselves.

use kintsugi_core::webhooks::Event;
use kintsugi_store::NewEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::context::Ctx;
use crate::reach::jobs;

/// The job kind that fans one event out.
pub const KIND: &str = "event";

/// The fan-out job's payload.
#[derive(Serialize, Deserialize)]
pub struct Payload {
    pub event: Uuid,
}

/// An event to store with the change that causes it. `round` names the round a
/// [`Event::RoundOpened`] is about.
pub fn new(
    ctx: &Ctx,
    org_id: Uuid,
    repair_id: Uuid,
    event: Event,
    round: Option<Uuid>,
) -> NewEvent {
    let id = ctx.new_id();
    NewEvent {
        id,
        repair_id,
        event: event.as_str().to_owned(),
        round_id: round,
        at: ctx.now(),
        fan_out: jobs::new_job(
            ctx,
            Some(org_id),
            KIND,
            serde_json::json!(Payload { event: id }),
            &format!("event:{id}"),
            ctx.now(),
        ),
    }
}
