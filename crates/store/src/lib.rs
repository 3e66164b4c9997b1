//! The storage interface. Every backend implements [`Store`]; nothing above this crate
//! knows which database it talks to. [`conformance::story`] is the one scripted story
//! that every backend must pass.

pub mod conformance;
mod model;

pub use model::*;

use async_trait::async_trait;
use kintsugi_core::Roles;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row that the operation needs does not exist (or is not in this organisation).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A uniqueness rule was hit, for example a second person with the same email.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Internal(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything Kintsugi keeps. Each method is one transaction: it happens whole or not at all.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Succeeds when the database answers a query.
    async fn ping(&self) -> Result<()>;

    // Organisations and first-run setup.
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

    // Teams.
    async fn create_team(&self, team: &NewTeam) -> Result<()>;
    async fn list_teams(&self, org_id: Uuid) -> Result<Vec<Team>>;
    async fn team(&self, org_id: Uuid, id: Uuid) -> Result<Option<Team>>;

    // People.
    /// Creates a person with their team memberships. Every team must be in the person's organisation.
    async fn create_person(&self, person: &NewPerson) -> Result<()>;
    async fn list_people(&self, org_id: Uuid) -> Result<Vec<Person>>;
    async fn person(&self, org_id: Uuid, id: Uuid) -> Result<Option<Person>>;
    /// A person looked up by email across organisations, with their password hash, for login.
    async fn credentials(&self, email: &str) -> Result<Option<Credentials>>;
    async fn set_roles(&self, org_id: Uuid, id: Uuid, roles: Roles) -> Result<()>;
    async fn set_password(&self, id: Uuid, password_hash: &str) -> Result<()>;
    /// Marks the person inactive and ends all their sessions and invitations. Their history stays.
    async fn deactivate_person(&self, org_id: Uuid, id: Uuid, now: OffsetDateTime) -> Result<()>;

    // Invitations.
    /// Stores an invitation; it replaces any earlier invitation of the same person.
    async fn create_invitation(&self, invitation: &NewInvitation) -> Result<()>;
    /// The active person an unexpired invitation belongs to.
    async fn invitation(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<Person>>;
    /// Sets the password and consumes the invitation, in one transaction.
    async fn accept_invitation_with_password(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        password_hash: &str,
    ) -> Result<Person>;

    // Sessions. Only a hash of the session id is stored, so a database dump opens no session.
    async fn create_session(&self, session: &NewSession) -> Result<()>;
    /// The live session and its active person.
    async fn session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(Session, Person)>>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    async fn delete_expired(&self, now: OffsetDateTime) -> Result<u64>;
}
