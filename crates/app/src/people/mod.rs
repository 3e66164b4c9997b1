//! People and teams of an organisation, written once for the pages, the API and the CLI.
//! Each action parses its input into core values, checks the rule, then stores.

pub mod invitations;
pub mod organisation;
pub mod passwords;

use kintsugi_core::{Email, Invalid, PersonName, Roles, TeamName};
use kintsugi_store::{NewPerson, NewTeam, Person, Team};
use uuid::Uuid;

use crate::actor::{Actor, audit};
use crate::context::Ctx;
use crate::error::Error;

pub async fn create_team(ctx: &Ctx, admin: &Actor, name: &str) -> Result<Team, Error> {
    let name = TeamName::parse(name).map_err(|e| Invalid::new("team_name", e.message))?;
    let id = ctx.new_id();
    ctx.store()
        .create_team(&NewTeam {
            id,
            org_id: admin.org.id,
            name,
            created_at: ctx.now(),
        })
        .await?;
    ctx.store()
        .team(admin.org.id, id)
        .await?
        .ok_or(Error::Internal)
}

pub struct PersonInput<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub team_ids: Vec<Uuid>,
    pub roles: Roles,
}

pub async fn create_person(
    ctx: &Ctx,
    admin: &Actor,
    input: PersonInput<'_>,
) -> Result<Person, Error> {
    let name = PersonName::parse(input.name);
    let email = Email::parse(input.email).and_then(crate::reach::email::deliverable);
    let (name, email) = match (name, email) {
        (Ok(n), Ok(e)) => (n, e),
        (n, e) => {
            return Err(Error::Invalid(n.err().into_iter().chain(e.err()).collect()));
        }
    };
    let id = ctx.new_id();
    let person = NewPerson {
        id,
        org_id: admin.org.id,
        name,
        email,
        roles: input.roles,
        team_ids: input.team_ids,
        password_hash: None,
        created_at: ctx.now(),
    };
    ctx.store()
        .create_person(&person)
        .await
        .map_err(|e| match e {
            kintsugi_store::StoreError::NotFound(_) => {
                Error::invalid("team", "is not a team of this organisation")
            }
            other => other.into(),
        })?;
    person_in_org(ctx, admin, id).await
}

pub async fn person_in_org(ctx: &Ctx, admin: &Actor, id: Uuid) -> Result<Person, Error> {
    ctx.store()
        .person(admin.org.id, id)
        .await?
        .ok_or_else(|| Error::not_found("person"))
}

/// Admins cannot take away their own admin role: an organisation must not lock itself out.
pub async fn set_roles(ctx: &Ctx, admin: &Actor, id: Uuid, roles: Roles) -> Result<Person, Error> {
    if id == admin.person.id && !roles.admin {
        return Err(Error::Conflict(
            "you cannot remove your own admin role; ask another admin".into(),
        ));
    }
    let person = person_in_org(ctx, admin, id).await?;
    let detail = format!("roles set to {}", roles.labels().join(", "));
    ctx.store()
        .set_roles(
            admin.org.id,
            id,
            roles,
            &audit(ctx, admin, "person.roles", &person.email, detail),
        )
        .await?;
    person_in_org(ctx, admin, id).await
}

pub async fn deactivate(ctx: &Ctx, admin: &Actor, id: Uuid) -> Result<Person, Error> {
    if id == admin.person.id {
        return Err(Error::Conflict(
            "you cannot deactivate yourself; ask another admin".into(),
        ));
    }
    let person = person_in_org(ctx, admin, id).await?;
    let entry = audit(
        ctx,
        admin,
        "person.deactivate",
        &person.email,
        "sessions and invitations ended",
    );
    ctx.store()
        .deactivate_person(admin.org.id, id, ctx.now(), &entry)
        .await?;
    person_in_org(ctx, admin, id).await
}

/// Puts a person in exactly these teams. Repairs already opened keep their sides as they were.
pub async fn set_teams(
    ctx: &Ctx,
    admin: &Actor,
    id: Uuid,
    team_ids: &[Uuid],
) -> Result<Person, Error> {
    let person = person_in_org(ctx, admin, id).await?;
    let entry = audit(
        ctx,
        admin,
        "person.teams",
        &person.email,
        format!("{} teams", team_ids.len()),
    );
    ctx.store()
        .set_teams(admin.org.id, id, team_ids, &entry)
        .await
        .map_err(|e| match e {
            kintsugi_store::StoreError::NotFound("team") => {
                Error::invalid("team", "is not a team of this organisation")
            }
            other => other.into(),
        })?;
    person_in_org(ctx, admin, id).await
}
