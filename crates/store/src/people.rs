//! People in the storage interface: teams, people and their roles, invitations, sessions,
//! notifications, secret feed URLs and single sign-on. A part of [`crate::Store`].

use async_trait::async_trait;
use kintsugi_core::Roles;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    Audit, Credentials, ExternalSignIn, NewInvitation, NewPerson, NewSession, NewTeam,
    Notification, OidcLogin, Organisation, Person, Result, Session, Team,
};

/// Who is in an organisation, and how they sign in.
#[async_trait]
pub trait PeopleStore: Send + Sync {
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
    async fn set_roles(&self, org_id: Uuid, id: Uuid, roles: Roles, audit: &Audit) -> Result<()>;
    async fn set_password(&self, id: Uuid, password_hash: &str) -> Result<()>;
    /// Replaces a person's team memberships; every team must be in their organisation.
    async fn set_teams(
        &self,
        org_id: Uuid,
        id: Uuid,
        team_ids: &[Uuid],
        audit: &Audit,
    ) -> Result<()>;
    /// Marks the person inactive and ends all their sessions and invitations. Their history stays.
    async fn deactivate_person(
        &self,
        org_id: Uuid,
        id: Uuid,
        now: OffsetDateTime,
        audit: &Audit,
    ) -> Result<()>;

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
    /// The live session, its active person and their organisation.
    async fn session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(Session, Person, Organisation)>>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    async fn delete_expired(&self, now: OffsetDateTime) -> Result<u64>;

    // Notifications in the app.
    async fn notifications(&self, person_id: Uuid, limit: u32) -> Result<Vec<Notification>>;
    async fn mark_notifications_seen(&self, person_id: Uuid) -> Result<()>;

    // Secret feed URLs.
    async fn set_feed_token(
        &self,
        person_id: Uuid,
        token_hash: &str,
        at: OffsetDateTime,
    ) -> Result<()>;
    async fn revoke_feed_token(&self, person_id: Uuid) -> Result<()>;
    async fn feed_person(&self, token_hash: &str) -> Result<Option<Person>>;

    // Single sign-on (OpenID Connect).
    /// Keeps what the return from the identity provider must match, until it expires.
    async fn put_oidc_login(&self, login: &OidcLogin) -> Result<()>;
    /// Takes (and so spends) the sign-in started with this state, if it has not expired.
    async fn take_oidc_login(
        &self,
        state_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<OidcLogin>>;
    /// The person behind an account at an identity provider: the one linked before, else the
    /// person with this email (invited earlier, now linked), else a new member of
    /// `sign_in.org_id`. Groups that name a team of the person's organisation add them to it.
    /// Linking and creating are audited.
    async fn sign_in_external(&self, sign_in: &ExternalSignIn) -> Result<Person>;
}
