//! The records that cross the storage interface.

use kintsugi_core::{Email, KThreshold, OrganisationName, PersonName, Roles, TeamName};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub id: Uuid,
    pub name: OrganisationName,
    pub is_demo: bool,
    pub k_threshold: KThreshold,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub id: Uuid,
    pub name: String,
    pub is_demo: bool,
    pub k_threshold: KThreshold,
    /// The recovery gate's settings for every repair of the organisation.
    pub gate: kintsugi_core::gate::GateSettings,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewTeam {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: TeamName,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub member_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewPerson {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: PersonName,
    pub email: Email,
    pub roles: Roles,
    pub team_ids: Vec<Uuid>,
    /// An Argon2id PHC string, or none for someone who signs in through invitations.
    pub password_hash: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub email: String,
    pub roles: Roles,
    pub active: bool,
    pub has_password: bool,
    /// Sorted, so two reads of the same person compare equal.
    pub team_ids: Vec<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deactivated_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub person: Person,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub token_hash: String,
    pub person_id: Uuid,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub person_id: Uuid,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub person_id: Uuid,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

// ---- Repairs ----

pub use kintsugi_core::repair::{Breach, CauseCategory, Scope, Side, Stage, UpdateKind};
pub use time::Date;

/// Who did something, for the audit log, written in the same transaction as the change.
#[derive(Debug, Clone)]
pub struct Audit {
    pub id: Uuid,
    pub org_id: Uuid,
    pub actor_id: Option<Uuid>,
    /// What happened, e.g. `repair.stage`, `person.roles`.
    pub action: String,
    /// What it happened to, e.g. a repair's title or a person's email.
    pub subject: String,
    pub detail: String,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: Uuid,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub action: String,
    pub subject: String,
    pub detail: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewRepair {
    pub id: Uuid,
    pub org_id: Uuid,
    pub title: String,
    pub summary: String,
    pub breach: Breach,
    pub scope: Scope,
    pub facilitator_id: Uuid,
    pub update_cadence_days: u32,
    pub deception: bool,
    /// Each person once, with their side (teams already expanded).
    pub participants: Vec<(Uuid, Side)>,
    /// The id of the notice each participant is sent, in the order of `participants`.
    pub notification_ids: Vec<Uuid>,
    pub teams: Vec<(Uuid, Side)>,
    pub created_at: OffsetDateTime,
}

/// What a list of repairs shows, and all an admin outside the repair may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairSummary {
    pub id: Uuid,
    pub title: String,
    pub stage: Stage,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub update_cadence_days: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_update_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub person_id: Uuid,
    pub name: String,
    pub side: Side,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repair {
    pub id: Uuid,
    pub org_id: Uuid,
    pub title: String,
    pub summary: String,
    pub breach: Breach,
    pub scope: Scope,
    pub stage: Stage,
    pub facilitator_id: Uuid,
    pub facilitator_name: String,
    pub update_cadence_days: u32,
    pub deception: bool,
    pub no_round_reason: Option<String>,
    pub closed_reason: Option<String>,
    pub override_reason: Option<String>,
    /// Person↔person only: the affected person shares a coarse direction with the accountable one.
    pub pair_consent: bool,
    /// When the repair entered *rebuild*; the gate's clock.
    #[serde(with = "time::serde::rfc3339::option")]
    pub rebuild_started_at: Option<OffsetDateTime>,
    pub pulse_every_days: u32,
    pub participants: Vec<Participant>,
    /// (team id, team name, side)
    pub teams: Vec<(Uuid, String, Side)>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Bumped by the database on every write that changes what the repair's page shows
    /// (migration 0021's triggers); `Store::repair_version` reads it alone.
    #[serde(skip)]
    pub version: i64,
}

impl Repair {
    pub fn side_of(&self, person: Uuid) -> Option<Side> {
        self.participants
            .iter()
            .find(|p| p.person_id == person)
            .map(|p| p.side)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledgment {
    pub id: Uuid,
    pub author_id: Uuid,
    pub author_name: String,
    pub body: String,
    pub score: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    pub id: Uuid,
    pub category: CauseCategory,
    pub description: String,
    /// The anonymous comments the facilitator linked as support (their ids, then texts).
    pub support: Vec<Uuid>,
    pub supporting_comments: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateVersion {
    pub version: u32,
    pub body: String,
    /// A decision's reasons.
    pub reason: Option<String>,
    pub editor_name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Update {
    pub id: Uuid,
    pub seq: u32,
    pub kind: UpdateKind,
    /// None for updates Kintsugi posts itself.
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Oldest first; the last is current.
    pub versions: Vec<UpdateVersion>,
}

impl Update {
    #[allow(
        clippy::expect_used,
        reason = "an update is stored with its first version in the same transaction, and \
                  the adapters refuse to read one without any (store-sql's `into_update`): \
                  every `Update` has a version, and each page and feed that shows one would \
                  otherwise handle an error that never happens"
    )]
    pub fn current(&self) -> &UpdateVersion {
        self.versions
            .last()
            .expect("an update has at least one version")
    }
}

#[derive(Debug, Clone)]
pub struct NewUpdate {
    pub id: Uuid,
    pub kind: UpdateKind,
    pub author_id: Option<Uuid>,
    pub body: String,
    pub reason: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A new version of an update.
#[derive(Debug, Clone)]
pub struct UpdateEdit {
    pub update_id: Uuid,
    pub editor_id: Uuid,
    pub body: String,
    pub reason: Option<String>,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewCommitment {
    pub id: Uuid,
    pub repair_id: Uuid,
    pub owner_id: Uuid,
    pub statement: String,
    /// The cadence's stored name, none for a single due date.
    pub cadence: Option<String>,
    pub due_dates: Vec<Date>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OccurrenceRecord {
    pub due: Date,
    pub done_on: Option<Date>,
    /// Confirmations that it happened, and that it did not.
    pub yes: u32,
    pub no: u32,
    pub last_confirmed_on: Option<Date>,
    pub missed_announced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commitment {
    pub id: Uuid,
    pub repair_id: Uuid,
    pub repair_title: String,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub statement: String,
    pub cadence: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub occurrences: Vec<OccurrenceRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub id: Uuid,
    pub repair_id: Option<Uuid>,
    pub body: String,
    pub seen: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

// ---- Anonymous rounds ----

pub use kintsugi_core::rounds::RoundKind;

#[derive(Debug, Clone)]
pub struct NewRound {
    pub id: Uuid,
    /// `None` for a team health round (its team is the subject).
    pub repair_id: Option<Uuid>,
    pub kind: RoundKind,
    /// Base64 DER of the round's public key; the secret key is in the key store.
    pub public_key: String,
    pub fingerprint: String,
    pub closes_at: Option<OffsetDateTime>,
    pub opened_at: OffsetDateTime,
    /// What the round asks about, when it is about one thing (a commitment occurrence).
    pub subject: Option<String>,
    /// The organisation's k when the round opened: its results use this k, whatever the
    /// organisation's k becomes later.
    pub k: kintsugi_core::KThreshold,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Round {
    pub id: Uuid,
    /// `None` for a team health round (its team is the subject).
    pub repair_id: Option<Uuid>,
    pub kind: RoundKind,
    pub public_key: String,
    pub fingerprint: String,
    pub subject: Option<String>,
    pub open: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closes_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    /// k, fixed when the round opened.
    pub k: kintsugi_core::KThreshold,
    /// How many members got a replacement key (one each at most): at most that many answers
    /// may come from someone who answered twice.
    pub replaced_keys: u32,
}

/// One anonymous answer: what was said, with nothing about who or when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub id: Uuid,
    pub category: Option<String>,
    pub comment: Option<String>,
    /// 1 to 7, in rating rounds.
    pub rating: Option<i64>,
    /// Rated items (item, 1 to 7), in trust pulses.
    pub items: Vec<(String, i64)>,
    /// SHA-256 of the author's reply capability, so only they can answer a reply.
    #[serde(skip)]
    pub reply_check: Option<String>,
}

/// A verified token's answer, waiting for its batch.
#[derive(Debug, Clone)]
pub struct Redemption {
    pub round_id: Uuid,
    /// SHA-256 of the token: stored as spent in the same transaction as the answer.
    pub mark: String,
    pub answer: Answer,
}

/// How one redemption of a batch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    Stored,
    AlreadySpent,
    RoundClosed,
}

/// One message in the thread under an anonymous answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub answer_id: Uuid,
    /// True when the answer's author wrote it (through their capability), false for the facilitator.
    pub from_author: bool,
    pub body: String,
    pub seq: u32,
}

// ---- The lessons library ----

/// A lesson as it goes in: its text already anonymised (see `kintsugi_core::lessons`).
#[derive(Debug, Clone)]
pub struct NewLesson {
    pub id: Uuid,
    pub org_id: Uuid,
    /// Only to refuse a second lesson from the same repair; never shown.
    pub repair_id: Uuid,
    pub breach: Breach,
    pub text: kintsugi_core::lessons::LessonText,
    pub published_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    pub id: Uuid,
    pub breach: Breach,
    pub text: kintsugi_core::lessons::LessonText,
    pub published_at: OffsetDateTime,
}

/// An anonymous story as it arrives: no author, no time but its week.
#[derive(Debug, Clone)]
pub struct NewStory {
    pub id: Uuid,
    pub org_id: Uuid,
    pub title: String,
    pub body: String,
    /// Weeks since 1970-01-01 (a Thursday): coarse enough to say nothing about the moment.
    pub week: i64,
    /// hex(SHA-256(capability)); the author's capability opens the story's answers.
    pub reply_check: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub week: i64,
    pub hidden: bool,
    pub answers: Vec<StoryAnswer>,
}

/// A facilitator's answer to a story, signed with their name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryAnswer {
    pub id: Uuid,
    pub author_id: Uuid,
    pub author_name: String,
    pub body: String,
    pub created_at: OffsetDateTime,
}
// ---- Single sign-on ----

/// A sign-in under way at the identity provider. Only the state's hash is the key.
#[derive(Debug, Clone)]
pub struct OidcLogin {
    pub state_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Who the identity provider says signed in, after the ID token was verified.
#[derive(Debug, Clone)]
pub struct ExternalSignIn {
    pub issuer: String,
    pub subject: String,
    pub email: Email,
    pub name: PersonName,
    /// Group names from the provider; those that name a team add the person to it.
    pub groups: Vec<String>,
    /// Where someone nobody invited is created; without it, only known people sign in.
    pub org_id: Option<Uuid>,
    /// The id for a person created now, and for the audit entry.
    pub new_id: Uuid,
    pub audit_id: Uuid,
    pub at: OffsetDateTime,
}

// ---- Outgoing webhooks ----

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub id: Uuid,
    pub org_id: Uuid,
    /// Only this repair's events; none for every repair of the organisation.
    pub repair_id: Option<Uuid>,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    pub id: Uuid,
    pub org_id: Uuid,
    pub repair_id: Option<Uuid>,
    pub url: String,
    /// Never shown again after it is set.
    #[serde(skip)]
    pub secret: String,
    pub events: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub org_id: Uuid,
    pub event: String,
    pub body: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event: String,
    #[serde(skip)]
    pub body: String,
    /// `queued`, `delivered`, `retrying` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_http_status: Option<u16>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct DeliveryAttempt {
    pub status: String,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub at: OffsetDateTime,
}
