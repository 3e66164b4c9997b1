//! The storage interface. Every backend implements [`Store`]; nothing above this crate
//! knows which database it talks to. [`conformance::story`] is the one scripted story
//! that every backend must pass.

pub mod conformance;
mod health;
mod model;

pub use health::*;
mod jobs;

pub use jobs::*;
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
    /// A domain rule refused the change (a guardrail); the message says what is missing.
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Internal(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything Kintsugi keeps. Each method is one transaction: it happens whole or not at all.
#[async_trait]
pub trait Store: HealthStore + JobStore + Send + Sync + 'static {
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

    // Audit log.
    async fn audit_log(&self, org_id: Uuid, limit: u32) -> Result<Vec<AuditEntry>>;

    // Repairs. Every change writes its audit entry in the same transaction.
    /// Creates the repair, its sides and a notification for each participant.
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
    /// `Conflict` means the repair moved on meanwhile.
    async fn move_stage(
        &self,
        repair_id: Uuid,
        from: Stage,
        transition: &kintsugi_core::repair::Transition,
        gate_passes: Option<bool>,
        audit: &Audit,
    ) -> Result<Stage>;
    async fn post_update(&self, repair_id: Uuid, update: &NewUpdate, audit: &Audit) -> Result<()>;
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
    /// One person's word on whether an occurrence happened; stored apart from who said it.
    async fn confirm(
        &self,
        commitment_id: Uuid,
        due: Date,
        person_id: Uuid,
        happened: bool,
        on: Date,
    ) -> Result<()>;
    /// Posts the automatic update for a missed occurrence, once; false when already posted.
    async fn announce_missed(
        &self,
        repair_id: Uuid,
        commitment_id: Uuid,
        due: Date,
        update: &NewUpdate,
    ) -> Result<bool>;

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

    // Anonymous rounds.
    /// Opens a round; refused while another round of the same kind (and subject) is open in the repair.
    async fn open_round(&self, round: &NewRound, audit: &Audit) -> Result<()>;
    async fn round(&self, id: Uuid) -> Result<Option<Round>>;
    async fn rounds_of(&self, repair_id: Uuid) -> Result<Vec<Round>>;
    /// Closes an open round; `Conflict` when it was already closed.
    async fn close_round(&self, id: Uuid, at: OffsetDateTime, audit: &Audit) -> Result<()>;
    /// Records that `person_id` received a token for `round_id`, once; `Conflict` the second time.
    /// No time is kept: when someone fetched a token says nothing about their answer.
    async fn record_issue(&self, round_id: Uuid, person_id: Uuid) -> Result<()>;
    /// Stores a batch of answers in one transaction, each with its token marked spent, in
    /// the order given (the caller shuffles). The answers are durable when this returns.
    async fn redeem(&self, batch: &[Redemption]) -> Result<Vec<Redeemed>>;
    /// Whether a token (by its mark) was spent in a round.
    async fn spent(&self, round_id: Uuid, mark: &str) -> Result<bool>;
    /// The answers of a round, in random id order.
    async fn answers(&self, round_id: Uuid) -> Result<Vec<Answer>>;
    /// Records the outcome of an anonymous confirmation round as unattributed confirmations.
    async fn record_confirmations(
        &self,
        commitment_id: Uuid,
        due: Date,
        yes: u32,
        no: u32,
        on: Date,
    ) -> Result<()>;
    /// The answer whose reply check is `check`, with its round: how an author's capability finds their answer.
    async fn answer_by_reply_check(&self, check: &str) -> Result<Option<(Uuid, Answer)>>;
    /// Adds a message to an answer's thread.
    async fn add_reply(&self, answer_id: Uuid, from_author: bool, body: &str) -> Result<()>;
    /// The threads of a round's answers, in order.
    async fn replies(&self, round_id: Uuid) -> Result<Vec<Reply>>;

    // The lessons library (practice 6).
    /// Adds an anonymised lesson; `Conflict` when the repair already has one.
    async fn publish_lesson(&self, lesson: &NewLesson, audit: &Audit) -> Result<()>;
    /// The organisation's lessons, newest first; `pattern` is a LIKE pattern (already
    /// lower-cased and escaped with `\`) matched against the title and every text field.
    async fn lessons(&self, org_id: Uuid, pattern: Option<&str>) -> Result<Vec<Lesson>>;
    async fn lesson(&self, org_id: Uuid, id: Uuid) -> Result<Option<Lesson>>;
    /// The lesson published from a repair, if any.
    async fn lesson_of_repair(&self, repair_id: Uuid) -> Result<Option<Uuid>>;
    /// Stores an anonymous story; nothing about who sent it is written anywhere.
    async fn submit_story(&self, story: &NewStory) -> Result<()>;
    /// Stories with their answers, newest week first; hidden ones only when asked.
    async fn stories(
        &self,
        org_id: Uuid,
        pattern: Option<&str>,
        with_hidden: bool,
    ) -> Result<Vec<Story>>;
    async fn story(&self, org_id: Uuid, id: Uuid) -> Result<Option<Story>>;
    /// The story whose reply check is `check`: how its author's capability finds it.
    async fn story_by_check(&self, check: &str) -> Result<Option<Story>>;
    async fn answer_story(
        &self,
        org_id: Uuid,
        story_id: Uuid,
        answer: &StoryAnswer,
        audit: &Audit,
    ) -> Result<()>;
    async fn set_story_hidden(
        &self,
        org_id: Uuid,
        story_id: Uuid,
        hidden: bool,
        audit: &Audit,
    ) -> Result<()>;
    // ---- Single sign-on (OpenID Connect) ----

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

    // ---- Outgoing webhooks ----

    async fn add_webhook(&self, hook: &NewWebhook, audit: &Audit) -> Result<()>;
    /// An organisation's webhooks, oldest first.
    async fn webhooks(&self, org_id: Uuid) -> Result<Vec<Webhook>>;
    /// Removes a webhook and its delivery history.
    async fn delete_webhook(&self, org_id: Uuid, id: Uuid, audit: &Audit) -> Result<()>;
    async fn webhooks_allow_private(&self, org_id: Uuid) -> Result<bool>;
    async fn set_webhooks_allow_private(
        &self,
        org_id: Uuid,
        allow: bool,
        audit: &Audit,
    ) -> Result<()>;
    /// Records deliveries to be made (status `queued`).
    async fn add_webhook_deliveries(&self, deliveries: &[NewDelivery]) -> Result<()>;
    /// A delivery with its webhook, for the worker that sends it.
    async fn webhook_delivery(&self, id: Uuid) -> Result<Option<(Webhook, Delivery)>>;
    /// Counts an attempt and what came of it.
    async fn record_webhook_attempt(&self, id: Uuid, attempt: &DeliveryAttempt) -> Result<()>;
    /// An organisation's most recent deliveries, newest first.
    async fn webhook_deliveries(&self, org_id: Uuid, limit: u32) -> Result<Vec<Delivery>>;
}
