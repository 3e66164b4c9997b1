//! Repairs in the storage interface: a repair and what hangs off it (acknowledgments,
//! causes, its stage, updates, commitments and their occurrences). A part of [`crate::Store`].

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    Acknowledgment, Audit, Cause, Commitment, Date, NewCommitment, NewEvent, NewRepair, NewUpdate,
    Repair, RepairSummary, Result, Stage, Update, UpdateEdit,
};

/// Repairs. Every change writes its audit entry in the same transaction. The changes that
/// take a [`NewEvent`] store it and enqueue its fan-out job in that transaction too, only when
/// the change happens (see [`crate::EventStore`]).
#[async_trait]
pub trait RepairStore: Send + Sync {
    /// Creates the repair, its sides and a notification for each participant (under the ids
    /// in `notification_ids`; `Internal` when there is not one per participant).
    async fn create_repair(&self, repair: &NewRepair, notice: &str, audit: &Audit) -> Result<()>;
    async fn repair(&self, org_id: Uuid, id: Uuid) -> Result<Option<Repair>>;
    /// The repair's `version` alone: one indexed row, so a reader that kept what it read
    /// for this version can check it is still current.
    async fn repair_version(&self, org_id: Uuid, id: Uuid) -> Result<Option<i64>>;
    /// Repairs where the person takes part or facilitates.
    async fn repairs_of(&self, org_id: Uuid, person_id: Uuid) -> Result<Vec<RepairSummary>>;
    /// Every repair of the organisation: what an admin may see of those they are not in.
    async fn all_repairs(&self, org_id: Uuid) -> Result<Vec<RepairSummary>>;
    async fn post_acknowledgment(
        &self,
        repair_id: Uuid,
        ack: &Acknowledgment,
        audit: &Audit,
    ) -> Result<()>;
    async fn acknowledgments(&self, repair_id: Uuid) -> Result<Vec<Acknowledgment>>;
    /// Names a cause, with the anonymous comments (answer ids) that support it.
    async fn add_cause(&self, repair_id: Uuid, cause: &Cause, audit: &Audit) -> Result<()>;
    async fn causes(&self, repair_id: Uuid) -> Result<Vec<Cause>>;
    async fn record_no_round_reason(
        &self,
        repair_id: Uuid,
        reason: &str,
        audit: &Audit,
    ) -> Result<()>;
    async fn set_pair_consent(&self, repair_id: Uuid, consent: bool, audit: &Audit) -> Result<()>;
    /// Moves the stage if the repair is still at `from` and the guardrail (checked in this
    /// transaction, against what is stored) allows it. `Refused` says what is missing;
    /// `Conflict` means the repair moved on meanwhile. The event carries the new stage.
    async fn move_stage(
        &self,
        repair_id: Uuid,
        from: Stage,
        transition: &kintsugi_core::repair::Transition,
        gate_passes: Option<bool>,
        audit: &Audit,
        event: &NewEvent,
    ) -> Result<Stage>;
    async fn post_update(
        &self,
        repair_id: Uuid,
        update: &NewUpdate,
        audit: &Audit,
        event: &NewEvent,
    ) -> Result<()>;
    /// Adds a version to an update; the earlier versions stay.
    async fn edit_update(&self, repair_id: Uuid, edit: &UpdateEdit, audit: &Audit) -> Result<()>;
    async fn updates(&self, repair_id: Uuid) -> Result<Vec<Update>>;
    async fn add_commitment(&self, commitment: &NewCommitment, audit: &Audit) -> Result<()>;
    async fn commitments(&self, repair_id: Uuid) -> Result<Vec<Commitment>>;
    async fn commitments_owned_by(&self, person_id: Uuid) -> Result<Vec<Commitment>>;
    /// Every commitment of every repair of an organisation (the dashboard's follow-through).
    async fn commitments_in_org(&self, org_id: Uuid) -> Result<Vec<Commitment>>;
    async fn mark_done(
        &self,
        commitment_id: Uuid,
        due: Date,
        on: Date,
        audit: &Audit,
    ) -> Result<()>;
    /// One person's word on whether an occurrence happened; stored apart from who said it,
    /// under the id `id`.
    async fn confirm(
        &self,
        id: Uuid,
        commitment_id: Uuid,
        due: Date,
        person_id: Uuid,
        happened: bool,
        on: Date,
    ) -> Result<()>;
    /// Posts the automatic update for a missed occurrence, once; false when already posted
    /// (and then no event is stored either).
    async fn announce_missed(
        &self,
        repair_id: Uuid,
        commitment_id: Uuid,
        due: Date,
        update: &NewUpdate,
        event: &NewEvent,
    ) -> Result<bool>;
}
