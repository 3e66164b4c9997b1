//! Rows as the database returns them, and their checked conversion into store records.

use kintsugi_core::{KThreshold, Roles};
use kintsugi_store::{Organisation, Person, Session, StoreError, Team};

use crate::{from_ts, uuid};

/// Teams of one organisation, optionally one team, with their count of active members.
pub const TEAMS_SQL: &str = "SELECT t.id, t.org_id, t.name, t.created_at, \
    (SELECT COUNT(*) FROM team_members m JOIN people p ON p.id = m.person_id WHERE m.team_id = t.id AND p.active) AS member_count \
    FROM teams t WHERE t.org_id = $1 AND ($2 IS NULL OR t.id = $2) ORDER BY t.name, t.id";

#[derive(sqlx::FromRow)]
pub struct OrganisationRow {
    pub id: String,
    pub name: String,
    pub is_demo: bool,
    pub k_threshold: i64,
    pub created_at: i64,
}

impl TryFrom<OrganisationRow> for Organisation {
    type Error = StoreError;
    fn try_from(r: OrganisationRow) -> Result<Self, StoreError> {
        Ok(Organisation {
            id: uuid(&r.id)?,
            name: r.name,
            is_demo: r.is_demo,
            k_threshold: KThreshold::new(r.k_threshold)
                .map_err(|e| StoreError::Internal(e.to_string()))?,
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct TeamRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub created_at: i64,
    pub member_count: i64,
}

impl TryFrom<TeamRow> for Team {
    type Error = StoreError;
    fn try_from(r: TeamRow) -> Result<Self, StoreError> {
        Ok(Team {
            id: uuid(&r.id)?,
            org_id: uuid(&r.org_id)?,
            name: r.name,
            member_count: r.member_count,
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PersonRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub email: String,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub is_facilitator: bool,
    pub active: bool,
    pub created_at: i64,
    pub deactivated_at: Option<i64>,
}

impl PersonRow {
    /// The person with their teams picked out of `(person_id, team_id)` links, and their password hash.
    pub fn into_person(
        self,
        links: &[(String, String)],
    ) -> Result<(Person, Option<String>), StoreError> {
        let mut team_ids = links
            .iter()
            .filter(|(person, _)| *person == self.id)
            .map(|(_, team)| uuid(team))
            .collect::<Result<Vec<_>, _>>()?;
        team_ids.sort();
        let person = Person {
            id: uuid(&self.id)?,
            org_id: uuid(&self.org_id)?,
            name: self.name,
            email: self.email,
            roles: Roles {
                admin: self.is_admin,
                facilitator: self.is_facilitator,
            },
            active: self.active,
            has_password: self.password_hash.is_some(),
            team_ids,
            created_at: from_ts(self.created_at)?,
            deactivated_at: self.deactivated_at.map(from_ts).transpose()?,
        };
        Ok((person, self.password_hash))
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub person_id: String,
    pub org_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(Session {
            id_hash: r.id_hash,
            person_id: uuid(&r.person_id)?,
            created_at: from_ts(r.created_at)?,
            expires_at: from_ts(r.expires_at)?,
        })
    }
}
