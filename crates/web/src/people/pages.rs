//! The admin's pages for people, teams and the organisation's settings, and the audit log.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kintsugi_app::people::invitations::{self, Invitation};
use kintsugi_app::people::{self, PersonInput, organisation};
use kintsugi_app::repairs::commitments::follow_through;
use kintsugi_app::text::date;
use kintsugi_app::{Actor, Ctx, Error};
use kintsugi_core::{Invalid, Roles};
use kintsugi_store::{Person, Team};
use serde::Deserialize;
use uuid::Uuid;

use crate::kernel::error::extract::{Form, Path};
use crate::kernel::page::{Chrome, Page, form_error, render, whole_number};
use crate::kernel::session::AdminUser;
use crate::kernel::{AppState, Reply};
use crate::repairs::view::FollowThroughView;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/teams", get(teams_page).post(create_team))
        .route("/admin/people", get(people_page).post(create_person))
        .route("/admin/people/{id}", get(person_page))
        .route("/admin/people/{id}/invitation", post(invite_person))
        .route("/admin/people/{id}/roles", post(set_roles))
        .route("/admin/people/{id}/teams", post(set_teams))
        .route("/admin/people/{id}/deactivate", post(deactivate))
        .route("/admin/audit", get(audit_page))
        .route("/admin/settings", get(settings_page).post(save_settings))
        .route("/admin/settings/gate", post(save_gate))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<(String, String, String, String, String)>,
}

async fn audit_page(State(ctx): State<Ctx>, page: Page, AdminUser(admin): AdminUser) -> Reply {
    let entries = ctx
        .store()
        .audit_log(admin.org.id, 500)
        .await?
        .into_iter()
        .map(|e| {
            (
                date(e.at),
                e.actor_name.unwrap_or_else(|| "Kintsugi".into()),
                e.action,
                e.subject,
                e.detail,
            )
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            chrome: page.chrome("Audit log"),
            entries,
        },
    ))
}

#[derive(Template)]
#[template(path = "teams.html")]
struct TeamsPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    draft_name: String,
    teams: Vec<Team>,
}

#[derive(Deserialize)]
struct TeamForm {
    #[serde(default)]
    name: String,
}

async fn teams_page(State(ctx): State<Ctx>, page: Page, AdminUser(admin): AdminUser) -> Reply {
    let teams = ctx.store().list_teams(admin.org.id).await?;
    Ok(render(
        StatusCode::OK,
        &TeamsPage {
            chrome: page.chrome("Teams"),
            errors: vec![],
            draft_name: String::new(),
            teams,
        },
    ))
}

async fn create_team(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(form): Form<TeamForm>,
) -> Reply {
    match people::create_team(&ctx, &admin, &form.name).await {
        Ok(_) => Ok(Redirect::to("/admin/teams").into_response()),
        Err(e) => {
            let teams = ctx.store().list_teams(admin.org.id).await?;
            Ok(form_error(e, |errors| TeamsPage {
                chrome: page.chrome("Teams"),
                errors,
                draft_name: form.name.clone(),
                teams,
            }))
        }
    }
}

#[derive(Deserialize, Default, Clone)]
struct PersonForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    team: String,
    facilitator: Option<String>,
    admin: Option<String>,
}

impl PersonForm {
    fn roles(&self) -> Roles {
        Roles {
            admin: self.admin.is_some(),
            facilitator: self.facilitator.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    draft: PersonForm,
    teams: Vec<Team>,
    people: Vec<Person>,
}

async fn people_page(State(ctx): State<Ctx>, page: Page, AdminUser(admin): AdminUser) -> Reply {
    let teams = ctx.store().list_teams(admin.org.id).await?;
    let people = ctx.store().list_people(admin.org.id).await?;
    Ok(render(
        StatusCode::OK,
        &PeoplePage {
            chrome: page.chrome("People"),
            errors: vec![],
            draft: PersonForm::default(),
            teams,
            people,
        },
    ))
}

async fn create_person(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(form): Form<PersonForm>,
) -> Reply {
    let result = async {
        let team_ids = match form.team.trim() {
            "" => vec![],
            raw => vec![
                Uuid::parse_str(raw)
                    .map_err(|_| Error::invalid("team", "is not a team of this organisation"))?,
            ],
        };
        let input = PersonInput {
            name: &form.name,
            email: &form.email,
            team_ids,
            roles: form.roles(),
        };
        people::create_person(&ctx, &admin, input).await
    }
    .await;
    match result {
        Ok(p) => Ok(Redirect::to(&format!("/admin/people/{}", p.id)).into_response()),
        Err(e) => {
            let teams = ctx.store().list_teams(admin.org.id).await?;
            let people = ctx.store().list_people(admin.org.id).await?;
            Ok(form_error(e, |errors| PeoplePage {
                chrome: page.chrome("People"),
                errors,
                draft: form.clone(),
                teams,
                people,
            }))
        }
    }
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    person: Person,
    team_names: Vec<String>,
    /// Every team, and whether the person is in it.
    teams: Vec<(Uuid, String, bool)>,
    ft: FollowThroughView,
    deactivated_on: String,
    invite_link: Option<String>,
    invite_expires: String,
}

async fn show_person(
    ctx: &Ctx,
    page: &Page,
    admin: &Actor,
    person: Person,
    invitation: Option<Invitation>,
    errors: Vec<Invalid>,
) -> Reply {
    let all = ctx.store().list_teams(admin.org.id).await?;
    let team_names = all
        .iter()
        .filter(|t| person.team_ids.contains(&t.id))
        .map(|t| t.name.clone())
        .collect();
    let teams = all
        .into_iter()
        .map(|t| (t.id, t.name, person.team_ids.contains(&t.id)))
        .collect();
    let owned = ctx.store().commitments_owned_by(person.id).await?;
    let ft = follow_through(&owned, ctx.today()).into();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    Ok(render(
        status,
        &PersonPage {
            chrome: page.chrome(&person.name),
            errors,
            deactivated_on: person.deactivated_at.map(date).unwrap_or_default(),
            team_names,
            teams,
            ft,
            invite_expires: invitation
                .as_ref()
                .map(|i| date(i.expires_at))
                .unwrap_or_default(),
            invite_link: invitation.map(|i| i.link),
            person,
        },
    ))
}

async fn person_page(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply {
    let person = people::person_in_org(&ctx, &admin, id).await?;
    show_person(&ctx, &page, &admin, person, None, vec![]).await
}

async fn invite_person(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply {
    let invitation = invitations::invite(&ctx, &admin, id).await?;
    let person = people::person_in_org(&ctx, &admin, id).await?;
    show_person(&ctx, &page, &admin, person, Some(invitation), vec![]).await
}

#[derive(Deserialize)]
struct RolesForm {
    facilitator: Option<String>,
    admin: Option<String>,
}

async fn set_roles(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Form(form): Form<RolesForm>,
) -> Reply {
    let roles = Roles {
        admin: form.admin.is_some(),
        facilitator: form.facilitator.is_some(),
    };
    let result = people::set_roles(&ctx, &admin, id, roles).await;
    back_to_person(&ctx, &page, &admin, id, result).await
}

/// Back to the person's page: redirected on success, shown again with the reason on a conflict.
async fn back_to_person<T>(
    ctx: &Ctx,
    page: &Page,
    admin: &Actor,
    id: Uuid,
    result: Result<T, Error>,
) -> Reply {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/admin/people/{id}")).into_response()),
        Err(Error::Conflict(msg)) => {
            let person = people::person_in_org(ctx, admin, id).await?;
            let errors = vec![Invalid::new(Invalid::FORM, msg)];
            show_person(ctx, page, admin, person, None, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn deactivate(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply {
    let result = people::deactivate(&ctx, &admin, id).await;
    back_to_person(&ctx, &page, &admin, id, result).await
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    k: String,
    gate: kintsugi_core::gate::GateSettings,
}

async fn settings_page(page: Page, AdminUser(admin): AdminUser) -> Response {
    let k = admin.org.k_threshold.get().to_string();
    render(
        StatusCode::OK,
        &SettingsPage {
            chrome: page.chrome("Settings"),
            errors: vec![],
            k,
            gate: admin.org.gate,
        },
    )
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    k_threshold: String,
}

async fn save_settings(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(form): Form<SettingsForm>,
) -> Reply {
    let result = match whole_number("k_threshold", &form.k_threshold) {
        Ok(k) => organisation::set_k(&ctx, &admin, k).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/admin/settings").into_response()),
        Err(e) => Ok(form_error(e, |errors| SettingsPage {
            chrome: page.chrome("Settings"),
            errors,
            k: form.k_threshold.clone(),
            gate: admin.org.gate,
        })),
    }
}

#[derive(Deserialize)]
struct TeamsForm {
    #[serde(default)]
    team: Vec<Uuid>,
}

async fn set_teams(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Form(form): Form<TeamsForm>,
) -> Reply {
    let result = people::set_teams(&ctx, &admin, id, &form.team).await;
    back_to_person(&ctx, &page, &admin, id, result).await
}

#[derive(Deserialize)]
struct GateForm {
    #[serde(default)]
    pulses_required: String,
    #[serde(default)]
    target_cap: String,
    #[serde(default)]
    min_change: String,
    #[serde(default)]
    follow_through_percent: String,
    #[serde(default)]
    min_weeks: String,
    #[serde(default)]
    deception_extra_weeks: String,
}

fn whole(field: &'static str, raw: &str) -> Result<u32, Error> {
    u32::try_from(whole_number(field, raw)?)
        .map_err(|_| Error::invalid(field, "must be a whole number"))
}

async fn save_gate(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(f): Form<GateForm>,
) -> Reply {
    let parsed = (|| {
        Ok::<_, Error>(kintsugi_core::gate::GateSettings {
            pulses_required: whole("pulses_required", &f.pulses_required)?,
            target_cap_tenths: organisation::tenths("target_cap", &f.target_cap)?,
            min_change_tenths: organisation::tenths("min_change", &f.min_change)?,
            follow_through_percent: whole("follow_through_percent", &f.follow_through_percent)?
                .min(255) as u8,
            min_weeks: whole("min_weeks", &f.min_weeks)?,
            deception_extra_weeks: whole("deception_extra_weeks", &f.deception_extra_weeks)?,
        })
    })();
    let result = match parsed {
        Ok(gate) => organisation::set_gate(&ctx, &admin, gate).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/admin/settings").into_response()),
        Err(e) => Ok(form_error(e, |errors| SettingsPage {
            chrome: page.chrome("Settings"),
            errors,
            k: admin.org.k_threshold.get().to_string(),
            gate: admin.org.gate,
        })),
    }
}
