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
