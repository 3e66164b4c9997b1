//! People, teams and organisations as the API shows them, to other features too (the session's
//! "who am I" is a person and their organisation).

use kintsugi_app::text::rfc3339;
use kintsugi_core::Roles;
use kintsugi_store::{Organisation, Person, Team};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, ToSchema)]
pub struct PersonOut {
    id: Uuid,
    name: String,
    email: String,
    roles: RolesBody,
    active: bool,
    has_password: bool,
    team_ids: Vec<Uuid>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339, when the person was deactivated.
    deactivated_at: Option<String>,
}

impl From<Person> for PersonOut {
    fn from(p: Person) -> Self {
        Self {
            id: p.id,
            name: p.name,
            email: p.email,
            roles: RolesBody {
                admin: p.roles.admin,
                facilitator: p.roles.facilitator,
            },
            active: p.active,
            has_password: p.has_password,
            team_ids: p.team_ids,
            created_at: rfc3339(p.created_at),
            deactivated_at: p.deactivated_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TeamOut {
    id: Uuid,
    name: String,
    /// Active people in the team.
    member_count: i64,
    created_at: String,
}

impl From<Team> for TeamOut {
    fn from(t: Team) -> Self {
        Self {
            id: t.id,
            name: t.name,
            member_count: t.member_count,
            created_at: rfc3339(t.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrganisationOut {
    id: Uuid,
    name: String,
    is_demo: bool,
    /// The minimum group size below which nothing confidential is shown.
    k_threshold: i64,
}

impl From<Organisation> for OrganisationOut {
    fn from(o: Organisation) -> Self {
        Self {
            id: o.id,
            name: o.name,
            is_demo: o.is_demo,
            k_threshold: o.k_threshold.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub person: PersonOut,
    pub organisation: OrganisationOut,
}

#[derive(Serialize, Deserialize, ToSchema, Default, Clone, Copy)]
pub struct RolesBody {
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    facilitator: bool,
}

impl From<RolesBody> for Roles {
    fn from(r: RolesBody) -> Self {
        Roles {
            admin: r.admin,
            facilitator: r.facilitator,
        }
    }
}
