//! People, teams and the organisation's settings in the JSON API. Admins only.

use axum::extract::State;
use axum::http::StatusCode;
use kintsugi_app::people::{self, PersonInput, invitations, organisation};
use kintsugi_app::text::rfc3339;
use kintsugi_app::{Ctx, Error};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::kernel::error::Problem;
use crate::kernel::error::extract::{Json, Path};
use crate::kernel::session::AdminUser;
use crate::kernel::{AppState, Reply};
use crate::people::view::{OrganisationOut, PersonOut, RolesBody, TeamOut};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team))
        .routes(routes!(list_people, create_person))
        .routes(routes!(get_person))
        .routes(routes!(set_roles))
        .routes(routes!(deactivate))
        .routes(routes!(invite))
        .routes(routes!(set_organisation))
        .routes(routes!(set_teams))
        .routes(routes!(audit_log))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeamBody {
    name: String,
}

/// All teams of the organisation. Admins only.
#[utoipa::path(get, path = "/teams", tag = "teams", security(("session" = [])),
    responses((status = 200, body = [TeamOut]), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_teams(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
) -> Reply<axum::Json<Vec<TeamOut>>> {
    let teams = ctx.store().list_teams(admin.org.id).await?;
    Ok(axum::Json(teams.into_iter().map(Into::into).collect()))
}

/// Create a team. Admins only.
#[utoipa::path(post, path = "/teams", tag = "teams", security(("session" = [])), request_body = NewTeamBody,
    responses((status = 201, body = TeamOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_team(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Json(body): Json<NewTeamBody>,
) -> Reply<(StatusCode, axum::Json<TeamOut>)> {
    let team = people::create_team(&ctx, &admin, &body.name).await?;
    Ok((StatusCode::CREATED, axum::Json(team.into())))
}

/// One team. Admins only.
#[utoipa::path(get, path = "/teams/{id}", tag = "teams", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TeamOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_team(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply<axum::Json<TeamOut>> {
    let team = ctx
        .store()
        .team(admin.org.id, id)
        .await?
        .ok_or_else(|| Error::not_found("team"))?;
    Ok(axum::Json(team.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPersonBody {
    name: String,
    email: String,
    #[serde(default)]
    team_ids: Vec<Uuid>,
    #[serde(default)]
    roles: RolesBody,
}

/// Everyone in the organisation, active or not. Admins only.
#[utoipa::path(get, path = "/people", tag = "people", security(("session" = [])),
    responses((status = 200, body = [PersonOut]), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_people(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
) -> Reply<axum::Json<Vec<PersonOut>>> {
    let people = ctx.store().list_people(admin.org.id).await?;
    Ok(axum::Json(people.into_iter().map(Into::into).collect()))
}

/// Add a person. Admins only. They sign in through an invitation link.
#[utoipa::path(post, path = "/people", tag = "people", security(("session" = [])), request_body = NewPersonBody,
    responses((status = 201, body = PersonOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_person(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Json(body): Json<NewPersonBody>,
) -> Reply<(StatusCode, axum::Json<PersonOut>)> {
    let input = PersonInput {
        name: &body.name,
        email: &body.email,
        team_ids: body.team_ids,
        roles: body.roles.into(),
    };
    let person = people::create_person(&ctx, &admin, input).await?;
    Ok((StatusCode::CREATED, axum::Json(person.into())))
}

/// One person. Admins only.
#[utoipa::path(get, path = "/people/{id}", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PersonOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_person(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply<axum::Json<PersonOut>> {
    Ok(axum::Json(
        people::person_in_org(&ctx, &admin, id).await?.into(),
    ))
}

/// Set a person's roles. Admins only; nobody removes their own admin role.
#[utoipa::path(put, path = "/people/{id}/roles", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = RolesBody,
    responses((status = 200, body = PersonOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn set_roles(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Json(body): Json<RolesBody>,
) -> Reply<axum::Json<PersonOut>> {
    Ok(axum::Json(
        people::set_roles(&ctx, &admin, id, body.into())
            .await?
            .into(),
    ))
}

/// Deactivate a person: ends their sessions and invitations, keeps their history. Admins only.
#[utoipa::path(post, path = "/people/{id}/deactivate", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PersonOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn deactivate(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply<axum::Json<PersonOut>> {
    Ok(axum::Json(
        people::deactivate(&ctx, &admin, id).await?.into(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct InvitationOut {
    /// Send this to the person. It replaces any earlier link.
    link: String,
    expires_at: String,
}

/// Create an invitation link for a person. Admins only.
#[utoipa::path(post, path = "/people/{id}/invitation", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 201, body = InvitationOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn invite(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply<(StatusCode, axum::Json<InvitationOut>)> {
    let inv = invitations::invite(&ctx, &admin, id).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(InvitationOut {
            link: inv.link,
            expires_at: rfc3339(inv.expires_at),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationBody {
    /// The minimum group size: 3 to 100.
    k_threshold: i64,
}

/// Change the organisation's settings. Admins only.
#[utoipa::path(put, path = "/organisation", tag = "admin", security(("session" = [])), request_body = OrganisationBody,
    responses((status = 200, body = OrganisationOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn set_organisation(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Json(body): Json<OrganisationBody>,
) -> Reply<axum::Json<OrganisationOut>> {
    organisation::set_k(&ctx, &admin, body.k_threshold).await?;
    let org = ctx
        .store()
        .organisation(admin.org.id)
        .await?
        .ok_or(Error::Internal)?;
    Ok(axum::Json(org.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamsBody {
    team_ids: Vec<Uuid>,
}

/// Put a person in exactly these teams. Admins only.
#[utoipa::path(put, path = "/people/{id}/teams", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = TeamsBody,
    responses((status = 200, body = PersonOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn set_teams(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Json(body): Json<TeamsBody>,
) -> Reply<axum::Json<PersonOut>> {
    Ok(axum::Json(
        people::set_teams(&ctx, &admin, id, &body.team_ids)
            .await?
            .into(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    at: String,
    actor_name: Option<String>,
    action: String,
    subject: String,
    detail: String,
}

/// The audit log: who changed what, and when. Admins only; never confidential input.
#[utoipa::path(get, path = "/audit", tag = "admin", security(("session" = [])),
    responses((status = 200, body = [AuditOut]), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn audit_log(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
) -> Reply<axum::Json<Vec<AuditOut>>> {
    let entries = ctx.store().audit_log(admin.org.id, 1000).await?;
    Ok(axum::Json(
        entries
            .into_iter()
            .map(|e| AuditOut {
                at: rfc3339(e.at),
                actor_name: e.actor_name,
                action: e.action,
                subject: e.subject,
                detail: e.detail,
            })
            .collect(),
    ))
}
