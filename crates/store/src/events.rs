//! The outbox of repair events: an event is stored in the transaction of the change that
//! causes it, with the one job that fans it out, so a crash after the commit loses nothing.
//! The fan-out then writes the deliveries and jobs, once. A part of [`crate::Store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{NewDelivery, NewJob, Result, Stage};

/// An event to store in the same transaction as the change that causes it, with the job that fans it out.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: Uuid,
    /// The repair the change is to; it must be the one the method changes.
    pub repair_id: Uuid,
    /// What happened, e.g. `repair.update` (`kintsugi_core::webhooks::Event::as_str`).
    pub event: String,
    /// The round a `round.opened` event is about.
    pub round_id: Option<Uuid>,
    pub at: OffsetDateTime,
    /// Enqueued like [`crate::JobStore::enqueue_job`]: nothing when its key already has a job.
    pub fan_out: NewJob,
}

/// A stored event, with what its fan-out needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub repair_id: Uuid,
    pub repair_title: String,
    pub event: String,
    pub round_id: Option<Uuid>,
    /// The repair's stage right after the change.
    pub stage: Stage,
    pub created_at: OffsetDateTime,
    pub fanned_out: bool,
}

/// Stored events. The changes that write them are on [`crate::RepairStore`] and
/// [`crate::RoundStore`] (`post_update`, `move_stage`, `announce_missed`, `open_round`).
#[async_trait]
pub trait EventStore: Send + Sync {
    /// An event with its repair's title.
    async fn event(&self, id: Uuid) -> Result<Option<EventRecord>>;
    /// Marks the event fanned out and writes its deliveries and jobs (a job whose key exists
    /// is skipped), in one transaction; false, writing nothing, when it was already fanned
    /// out or does not exist. So a fan-out job that runs twice delivers once.
    async fn fan_out_event(
        &self,
        id: Uuid,
        deliveries: &[NewDelivery],
        jobs: &[NewJob],
        at: OffsetDateTime,
    ) -> Result<bool>;
}
