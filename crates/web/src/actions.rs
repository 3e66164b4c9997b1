//! What admins do, written once and called by both the pages and the JSON API.
//! Each action parses its input into core values, checks the rule, then stores.

use kintsugi_core::{Email, Invalid, PersonName, Roles, TeamName};
use kintsugi_store::{Audit, NewInvitation, NewPerson, NewTeam, Person, Team};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::tokens::{hash_token, new_token};

/// How long an invitation link works.
pub const INVITATION_TTL: Duration = Duration::days(7);

/// An audit entry for a change `actor` makes now.
pub fn audit(
    state: &AppState,
    actor: &CurrentUser,
    action: &str,
    subject: &str,
    detail: impl Into<String>,
) -> Audit {
    Audit {
        id: state.new_id(),
        org_id: actor.org.id,
        actor_id: Some(actor.person.id),
        action: action.into(),
        subject: subject.into(),
        detail: detail.into(),
        at: state.now(),
    }
}

/// Collects every field's problem, so a form shows them all at once.
pub fn all_valid<T>(results: Vec<Result<T, Invalid>>) -> Result<Vec<T>, AppError> {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() {
        Ok(ok)
    } else {
        Err(AppError::Invalid(bad))
    }
}

pub async fn create_team(
    state: &AppState,
    admin: &CurrentUser,
    name: &str,
) -> Result<Team, AppError> {
    let name = TeamName::parse(name).map_err(|e| Invalid::new("team_name", e.message))?;
    let id = state.new_id();
    state
        .store()
        .create_team(&NewTeam {
            id,
            org_id: admin.org.id,
            name,
            created_at: state.now(),
        })
        .await?;
    state
        .store()
        .team(admin.org.id, id)
        .await?
        .ok_or(AppError::Internal)
}

pub struct PersonInput<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub team_ids: Vec<Uuid>,
    pub roles: Roles,
}

pub async fn create_person(
    state: &AppState,
    admin: &CurrentUser,
    input: PersonInput<'_>,
) -> Result<Person, AppError> {
    let name = PersonName::parse(input.name);
    let email = Email::parse(input.email);
    let (name, email) = match (name, email) {
        (Ok(n), Ok(e)) => (n, e),
        (n, e) => {
            return Err(AppError::Invalid(
                n.err().into_iter().chain(e.err()).collect(),
            ));
        }
    };
    let id = state.new_id();
    let person = NewPerson {
        id,
        org_id: admin.org.id,
        name,
        email,
        roles: input.roles,
        team_ids: input.team_ids,
        password_hash: None,
        created_at: state.now(),
    };
    state
        .store()
        .create_person(&person)
        .await
        .map_err(|e| match e {
            kintsugi_store::StoreError::NotFound(_) => {
                AppError::invalid("team", "is not a team of this organisation")
            }
            other => other.into(),
        })?;
    person_in_org(state, admin, id).await
}

pub async fn person_in_org(
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
) -> Result<Person, AppError> {
    state
        .store()
        .person(admin.org.id, id)
        .await?
        .ok_or_else(|| AppError::not_found("person"))
}

/// Admins cannot take away their own admin role: an organisation must not lock itself out.
pub async fn set_roles(
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
    roles: Roles,
) -> Result<Person, AppError> {
    if id == admin.person.id && !roles.admin {
        return Err(AppError::Conflict(
            "you cannot remove your own admin role; ask another admin".into(),
        ));
    }
    let person = person_in_org(state, admin, id).await?;
    let detail = format!("roles set to {}", roles.labels().join(", "));
    state
        .store()
        .set_roles(
            admin.org.id,
            id,
            roles,
            &audit(state, admin, "person.roles", &person.email, detail),
        )
        .await?;
    person_in_org(state, admin, id).await
}

pub async fn deactivate(
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
) -> Result<Person, AppError> {
    if id == admin.person.id {
        return Err(AppError::Conflict(
            "you cannot deactivate yourself; ask another admin".into(),
        ));
    }
    let person = person_in_org(state, admin, id).await?;
    let entry = audit(
        state,
        admin,
        "person.deactivate",
        &person.email,
        "sessions and invitations ended",
    );
    state
        .store()
        .deactivate_person(admin.org.id, id, state.now(), &entry)
        .await?;
    person_in_org(state, admin, id).await
}

pub struct Invitation {
    pub link: String,
    pub expires_at: OffsetDateTime,
}

pub async fn invite(
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
) -> Result<Invitation, AppError> {
    let person = person_in_org(state, admin, id).await?;
    if !person.active {
        return Err(AppError::Conflict(
            "this person is deactivated; they cannot be invited".into(),
        ));
    }
    let token = new_token();
    let now = state.now();
    let expires_at = now + INVITATION_TTL;
    state
        .store()
        .create_invitation(&NewInvitation {
            token_hash: hash_token(&token),
            person_id: id,
            created_at: now,
            expires_at,
        })
        .await?;
    Ok(Invitation {
        link: state.url(&format!("/invite/{token}")),
        expires_at,
    })
}

pub fn date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&f).unwrap_or_default()
}

/// Sets the minimum group size below which nothing confidential is shown (3 to 100).
pub async fn set_k(
    state: &AppState,
    admin: &CurrentUser,
    k: i64,
) -> Result<kintsugi_core::KThreshold, AppError> {
    let k = kintsugi_core::KThreshold::new(k)?;
    let entry = audit(
        state,
        admin,
        "organisation.k_threshold",
        &admin.org.name,
        format!("minimum group size set to {}", k.get()),
    );
    state
        .store()
        .set_k_threshold(admin.org.id, k, &entry)
        .await?;
    Ok(k)
}

/// Puts a person in exactly these teams. Repairs already opened keep their sides as they were.
pub async fn set_teams(
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
    team_ids: &[Uuid],
) -> Result<Person, AppError> {
    let person = person_in_org(state, admin, id).await?;
    let entry = audit(
        state,
        admin,
        "person.teams",
        &person.email,
        format!("{} teams", team_ids.len()),
    );
    state
        .store()
        .set_teams(admin.org.id, id, team_ids, &entry)
        .await
        .map_err(|e| match e {
            kintsugi_store::StoreError::NotFound("team") => {
                AppError::invalid("team", "is not a team of this organisation")
            }
            other => other.into(),
        })?;
    person_in_org(state, admin, id).await
}

/// A tenth-precision number as people type it ("5.5") into tenths (55).
pub fn tenths(field: &'static str, raw: &str) -> Result<u32, AppError> {
    let value: f64 = raw
        .trim()
        .parse()
        .map_err(|_| AppError::invalid(field, "must be a number like 5.5"))?;
    if !(0.0..=10.0).contains(&value) {
        return Err(AppError::invalid(field, "is out of range"));
    }
    Ok((value * 10.0).round() as u32)
}

/// Sets the recovery gate's settings for the organisation, within their bounds.
pub async fn set_gate(
    state: &AppState,
    admin: &CurrentUser,
    gate: kintsugi_core::gate::GateSettings,
) -> Result<(), AppError> {
    let gate = gate.check()?;
    let detail = format!(
        "recovery gate: {} pulses, target up to {}.{}, {}% follow-through, {} weeks (+{} after deception)",
        gate.pulses_required,
        gate.target_cap_tenths / 10,
        gate.target_cap_tenths % 10,
        gate.follow_through_percent,
        gate.min_weeks,
        gate.deception_extra_weeks
    );
    let entry = audit(state, admin, "organisation.gate", &admin.org.name, detail);
    state
        .store()
        .set_gate_settings(admin.org.id, &gate, &entry)
        .await?;
    Ok(())
}
