//! The JSON API under `/api/v1`, described by the OpenAPI document it serves.
//!
//! It authenticates with the same session cookie as the pages (`POST /api/v1/session`
//! sets it). Unsafe requests must send `Content-Type: application/json` or an
//! `X-CSRF-Token` header (see `csrf`). Errors are RFC 9457 problem documents.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use kintsugi_core::Roles;
use kintsugi_store::{Organisation, Person, Team};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::actions::{self, PersonInput};
use crate::auth::{self, AdminUser, CurrentUser};
use crate::error::extract::{Json, Path};
use crate::error::{AppError, Problem};
use crate::pages::Client;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Kintsugi API", description = "People and teams of an organisation. Confidential input never passes through this API."),
    modifiers(&CookieAuth),
    components(schemas(Problem))
)]
struct ApiDoc;

struct CookieAuth;

impl Modify for CookieAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(login, logout))
        .routes(routes!(me))
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team))
        .routes(routes!(list_people, create_person))
        .routes(routes!(get_person))
        .routes(routes!(set_roles))
        .routes(routes!(deactivate))
        .routes(routes!(invite))
        .routes(routes!(set_organisation))
        .routes(routes!(set_teams))
        .merge(crate::repair_api::routes())
        .merge(crate::health::routes())
        .merge(crate::jobs::api_routes())
        .merge(crate::notify::api_routes())
        .merge(crate::webhooks::api::routes());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1)
}

/// The OpenAPI document, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = api_router().into_openapi();
        problems_as_problem_json(&mut doc);
        doc
    })
}

/// Errors are served as `application/problem+json` (error.rs); utoipa lists every body as
/// `application/json`, so a client checking the document would reject each error it gets.
fn problems_as_problem_json(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let is_problem = matches!(
                    response.content.get("application/json"),
                    Some(RefOr::T(c)) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                );
                if let Some(content) = is_problem
                    .then(|| response.content.shift_remove("application/json"))
                    .flatten()
                {
                    response
                        .content
                        .insert("application/problem+json".into(), content);
                }
            }
        }
    }
}

pub fn router(state: AppState) -> Router {
    let (router, _) = api_router().split_for_parts();
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(|| async { axum::Json(openapi()) }),
        )
        .fallback(|| async { AppError::NotFound("no such API endpoint".into()) })
        .with_state(state)
}

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

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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
    person: PersonOut,
    organisation: OrganisationOut,
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
}

/// Log in with email and password; sets the session cookie.
#[utoipa::path(post, path = "/session", tag = "session", request_body = LoginBody,
    responses((status = 200, body = Me), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    Client(client): Client,
    Json(body): Json<LoginBody>,
) -> Result<Response, AppError> {
    let person = crate::pages::check_login(&state, &client, &body.email, body.password).await?;
    let org = state
        .store()
        .organisation(person.org_id)
        .await?
        .ok_or(AppError::Internal)?;
    let jar = auth::start_session(&state, jar, person.id).await?;
    Ok((
        jar,
        axum::Json(Me {
            person: person.into(),
            organisation: org.into(),
        }),
    )
        .into_response())
}

/// Log out: ends the session.
#[utoipa::path(delete, path = "/session", tag = "session", responses((status = 204)))]
async fn logout(State(state): State<AppState>, jar: CookieJar) -> Result<Response, AppError> {
    let jar = auth::end_session(&state, jar).await?;
    Ok((jar, StatusCode::NO_CONTENT).into_response())
}

/// The logged-in person and their organisation.
#[utoipa::path(get, path = "/me", tag = "session", security(("session" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
async fn me(user: CurrentUser) -> axum::Json<Me> {
    axum::Json(Me {
        person: user.person.into(),
        organisation: user.org.into(),
    })
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
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> Result<axum::Json<Vec<TeamOut>>, AppError> {
    let teams = state.store().list_teams(admin.org.id).await?;
    Ok(axum::Json(teams.into_iter().map(Into::into).collect()))
}

/// Create a team. Admins only.
#[utoipa::path(post, path = "/teams", tag = "teams", security(("session" = [])), request_body = NewTeamBody,
    responses((status = 201, body = TeamOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_team(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(body): Json<NewTeamBody>,
) -> Result<(StatusCode, axum::Json<TeamOut>), AppError> {
    let team = actions::create_team(&state, &admin, &body.name).await?;
    Ok((StatusCode::CREATED, axum::Json(team.into())))
}

/// One team. Admins only.
#[utoipa::path(get, path = "/teams/{id}", tag = "teams", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TeamOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_team(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<TeamOut>, AppError> {
    let team = state
        .store()
        .team(admin.org.id, id)
        .await?
        .ok_or_else(|| AppError::not_found("team"))?;
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
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> Result<axum::Json<Vec<PersonOut>>, AppError> {
    let people = state.store().list_people(admin.org.id).await?;
    Ok(axum::Json(people.into_iter().map(Into::into).collect()))
}

/// Add a person. Admins only. They sign in through an invitation link.
#[utoipa::path(post, path = "/people", tag = "people", security(("session" = [])), request_body = NewPersonBody,
    responses((status = 201, body = PersonOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_person(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(body): Json<NewPersonBody>,
) -> Result<(StatusCode, axum::Json<PersonOut>), AppError> {
    let input = PersonInput {
        name: &body.name,
        email: &body.email,
        team_ids: body.team_ids,
        roles: body.roles.into(),
    };
    let person = actions::create_person(&state, &admin, input).await?;
    Ok((StatusCode::CREATED, axum::Json(person.into())))
}

/// One person. Admins only.
#[utoipa::path(get, path = "/people/{id}", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PersonOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_person(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<PersonOut>, AppError> {
    Ok(axum::Json(
        actions::person_in_org(&state, &admin, id).await?.into(),
    ))
}

/// Set a person's roles. Admins only; nobody removes their own admin role.
#[utoipa::path(put, path = "/people/{id}/roles", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = RolesBody,
    responses((status = 200, body = PersonOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn set_roles(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Json(body): Json<RolesBody>,
) -> Result<axum::Json<PersonOut>, AppError> {
    Ok(axum::Json(
        actions::set_roles(&state, &admin, id, body.into())
            .await?
            .into(),
    ))
}

/// Deactivate a person: ends their sessions and invitations, keeps their history. Admins only.
#[utoipa::path(post, path = "/people/{id}/deactivate", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PersonOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn deactivate(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<PersonOut>, AppError> {
    Ok(axum::Json(
        actions::deactivate(&state, &admin, id).await?.into(),
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
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, axum::Json<InvitationOut>), AppError> {
    let inv = actions::invite(&state, &admin, id).await?;
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
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(body): Json<OrganisationBody>,
) -> Result<axum::Json<OrganisationOut>, AppError> {
    actions::set_k(&state, &admin, body.k_threshold).await?;
    let org = state
        .store()
        .organisation(admin.org.id)
        .await?
        .ok_or(AppError::Internal)?;
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
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Json(body): Json<TeamsBody>,
) -> Result<axum::Json<PersonOut>, AppError> {
    Ok(axum::Json(
        actions::set_teams(&state, &admin, id, &body.team_ids)
            .await?
            .into(),
    ))
}
