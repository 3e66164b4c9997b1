//! Organisations in the storage interface: first-run setup, an organisation's settings and
//! its audit log. A part of [`crate::Store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Audit, AuditEntry, NewOrganisation, NewPerson, Organisation, Result};

/// Organisations and first-run setup.
#[async_trait]
pub trait OrganisationStore: Send + Sync {
    /// Succeeds when the database answers a query.
    async fn ping(&self) -> Result<()>;
    async fn put_setup_token(&self, token_hash: &str, expires_at: OffsetDateTime) -> Result<()>;
    /// Consumes a setup token and creates the organisation with its first admin, all at once.
    /// Fails with `NotFound` when the token is unknown, used or expired.
    async fn setup_organisation(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        org: &NewOrganisation,
        admin: &NewPerson,
    ) -> Result<()>;
    /// Creates an organisation with its first admin, without a setup token (demo, CLI).
    async fn create_organisation(&self, org: &NewOrganisation, admin: &NewPerson) -> Result<()>;
    async fn organisation(&self, id: Uuid) -> Result<Option<Organisation>>;
    async fn list_organisations(&self) -> Result<Vec<Organisation>>;
    /// Sets the organisation's minimum group size (already checked: 3 or more).
    async fn set_k_threshold(
        &self,
        org_id: Uuid,
        k: kintsugi_core::KThreshold,
        audit: &Audit,
    ) -> Result<()>;
    /// Sets the recovery gate's settings (already checked against their bounds).
    async fn set_gate_settings(
        &self,
        org_id: Uuid,
        gate: &kintsugi_core::gate::GateSettings,
        audit: &Audit,
    ) -> Result<()>;

    // Audit log.
    async fn audit_log(&self, org_id: Uuid, limit: u32) -> Result<Vec<AuditEntry>>;
}
