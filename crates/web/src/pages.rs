//! Server-rendered pages. Each works without JavaScript: forms post, then redirect.

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use kintsugi_core::{Email, Invalid, KThreshold, NewPassword, OrganisationName, PersonName, Roles};
use kintsugi_store::{NewOrganisation, NewPerson, Person, Team};
use serde::Deserialize;
use uuid::Uuid;

use crate::actions::{self, PersonInput, all_valid, date};
use crate::auth::{self, AdminUser, CurrentUser, MaybeUser};
use crate::csrf::CsrfToken;
use crate::error::AppError;
use crate::error::extract::{Form, Path, Query};
use crate::state::AppState;
use crate::tokens::hash_token;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/setup", get(setup_page).post(setup))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/admin/teams", get(teams_page).post(create_team))
        .route("/admin/people", get(people_page).post(create_person))
        .route("/admin/people/{id}", get(person_page))
        .route("/admin/people/{id}/invitation", post(invite_person))
        .route("/admin/people/{id}/roles", post(set_roles))
        .route("/admin/people/{id}/teams", post(set_teams))
        .route("/admin/people/{id}/deactivate", post(deactivate))
        .route("/invite/{token}", get(invite_page))
        .route("/invite/{token}/password", post(accept_with_password))
        .route("/invite/{token}/continue", post(accept_without_password))
        .route("/admin/audit", get(audit_page))
        .route("/admin/settings", get(settings_page).post(save_settings))
        .route("/admin/settings/gate", post(save_gate))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            html_errors,
        ))
        .with_state(state)
}

/// What the layout needs on every page.
pub struct Chrome {
    pub title: String,
    pub csrf: String,
    pub user: Option<UserChrome>,
    /// The request's path, so the navigation can mark where the person is.
    pub path: String,
}

pub struct UserChrome {
    pub name: String,
    pub org_name: String,
    pub is_admin: bool,
    pub is_demo: bool,
    /// Admins and facilitators see the dashboard.
    pub sees_dashboard: bool,
}

impl Chrome {
    fn new(csrf: &CsrfToken, user: Option<&CurrentUser>, title: &str, path: &str) -> Self {
        Self {
            path: path.into(),
            title: title.into(),
            csrf: csrf.0.clone(),
            user: user.map(|u| UserChrome {
                name: u.person.name.clone(),
                org_name: u.org.name.clone(),
                is_admin: u.person.roles.admin,
                is_demo: u.org.is_demo,
                sees_dashboard: u.person.roles.require_dashboard().is_ok(),
            }),
        }
    }
}

/// The layout's inputs, taken from the request: its CSRF token and who is logged in.
pub struct Page {
    csrf: CsrfToken,
    user: Option<CurrentUser>,
    path: String,
}

impl Page {
    pub fn chrome(&self, title: &str) -> Chrome {
        Chrome::new(&self.csrf, self.user.as_ref(), title, &self.path)
    }

    pub fn user(&self) -> Option<&CurrentUser> {
        self.user.as_ref()
    }
}

impl FromRequestParts<AppState> for Page {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .unwrap_or(CsrfToken(String::new()));
        let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await?;
        Ok(Self {
            csrf,
            user,
            path: parts.uri.path().to_owned(),
        })
    }
}

pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            AppError::Internal.into_response()
        }
    }
}

/// Re-renders a form with its problems when they are the user's to fix; passes other errors on.
pub(crate) fn form_error<T: Template>(
    err: AppError,
    page: impl FnOnce(Vec<Invalid>) -> T,
) -> Response {
    match err {
        AppError::Invalid(errors) => render(StatusCode::UNPROCESSABLE_ENTITY, &page(errors)),
        AppError::Conflict(msg) => render(
            StatusCode::CONFLICT,
            &page(vec![Invalid::new(Invalid::FORM, msg)]),
        ),
        other => other.into_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: String,
    message: String,
}

/// Turns any [`AppError`] a page route returned into an HTML page; sends people who are
/// not logged in to the login page.
pub async fn html_errors(req: Request, next: Next) -> Response {
    let csrf = req
        .extensions()
        .get::<CsrfToken>()
        .cloned()
        .unwrap_or(CsrfToken(String::new()));
    // A script posting JSON (the token fetch) wants the problem document, not a page.
    let wants_json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let response = next.run(req).await;
    if wants_json {
        return response;
    }
    let Some(err) = response.extensions().get::<AppError>().cloned() else {
        return response;
    };
    if matches!(err, AppError::Unauthenticated) {
        return Redirect::to("/login").into_response();
    }
    let status = err.status();
    let heading = status.canonical_reason().unwrap_or("Error").to_owned();
    render(
        status,
        &ErrorPage {
            chrome: Chrome::new(&csrf, None, &heading, ""),
            heading,
            message: err.to_string(),
        },
    )
}

// ---- Home ----

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    name: String,
    org_name: String,
    roles: String,
    is_admin: bool,
    team_count: usize,
    people_count: usize,
    repairs: Vec<crate::repair_pages::ListedRepair>,
    notifications: Vec<kintsugi_store::Notification>,
    has_news: bool,
    ft: crate::repair_pages::FollowThroughView,
    commitments: usize,
}

async fn home(State(state): State<AppState>, page: Page) -> Result<Response, AppError> {
    let Some(user) = &page.user else {
        return Ok(Redirect::to("/login").into_response());
    };
    let notifications = state.store().notifications(user.person.id, 10).await?;
    if notifications.iter().any(|n| !n.seen) {
        state
            .store()
            .mark_notifications_seen(user.person.id)
            .await?;
    }
    let mine = state.store().commitments_owned_by(user.person.id).await?;
    let (team_count, people_count) = if user.person.roles.admin {
        (
            state.store().list_teams(user.org.id).await?.len(),
            state.store().list_people(user.org.id).await?.len(),
        )
    } else {
        (0, 0)
    };
    Ok(render(
        StatusCode::OK,
        &HomePage {
            chrome: page.chrome("Home"),
            name: user.person.name.clone(),
            org_name: user.org.name.clone(),
            roles: user.person.roles.labels().join(" and "),
            is_admin: user.person.roles.admin,
            team_count,
            people_count,
            repairs: crate::repair_pages::listed(&state, user).await?,
            has_news: notifications.iter().any(|n| !n.seen),
            notifications,
            ft: crate::repairs::follow_through(&mine, crate::repairs::today(&state)).into(),
            commitments: mine.len(),
        },
    ))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<(String, String, String, String, String)>,
}

async fn audit_page(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
) -> Result<Response, AppError> {
    let entries = state
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

// ---- First-run setup ----

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    token: String,
    organisation_name: String,
    name: String,
    email: String,
}

#[derive(Deserialize, Default)]
struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    organisation_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn setup_page(page: Page, Query(q): Query<TokenQuery>) -> Result<Response, AppError> {
    let token = q.token.filter(|t| !t.is_empty()).ok_or_else(|| {
        AppError::BadRequest(
            "this setup link has no token; copy the whole link that `kintsugi serve` printed"
                .into(),
        )
    })?;
    Ok(render(
        StatusCode::OK,
        &SetupPage {
            chrome: page.chrome("Set up"),
            errors: vec![],
            token,
            organisation_name: String::new(),
            name: String::new(),
            email: String::new(),
        },
    ))
}

async fn setup(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    Form(form): Form<SetupForm>,
) -> Response {
    let result = async {
        let org_name = OrganisationName::parse(&form.organisation_name);
        let name = PersonName::parse(&form.name);
        let email = Email::parse(&form.email);
        let password = NewPassword::parse(&form.password);
        let problems: Vec<Invalid> = [
            org_name.as_ref().err(),
            name.as_ref().err(),
            email.as_ref().err(),
            password.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        let (Ok(org_name), Ok(name), Ok(email), Ok(password)) = (org_name, name, email, password) else {
            return Err(AppError::Invalid(problems));
        };
        let now = state.now();
        let org = NewOrganisation {
            id: state.new_id(),
            name: org_name,
            is_demo: false,
            k_threshold: KThreshold::DEFAULT,
            created_at: now,
        };
        let admin = NewPerson {
            id: state.new_id(),
            org_id: org.id,
            name,
            email,
            roles: Roles::ADMIN,
            team_ids: vec![],
            password_hash: Some(auth::hash_password(password).await?),
            created_at: now,
        };
        state.store().setup_organisation(&hash_token(&form.token), now, &org, &admin).await.map_err(|e| match e {
            kintsugi_store::StoreError::NotFound(_) => AppError::NotFound(
                "this setup link has been used or has expired; restart `kintsugi serve` for a new one".into(),
            ),
            other => other.into(),
        })?;
        auth::start_session(&state, jar, admin.id).await
    }
    .await;
    match result {
        Ok(jar) => (jar, Redirect::to("/")).into_response(),
        Err(e) => form_error(e, |errors| SetupPage {
            chrome: page.chrome("Set up"),
            errors,
            token: form.token.clone(),
            organisation_name: form.organisation_name.clone(),
            name: form.name.clone(),
            email: form.email.clone(),
        }),
    }
}

// ---- Login ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    email: String,
    /// Whether the password form is offered.
    local_login: bool,
    /// The identity provider's name, when single sign-on is set up.
    sso: Option<String>,
}

impl LoginPage {
    fn new(state: &AppState, chrome: Chrome, errors: Vec<Invalid>, email: String) -> Self {
        Self {
            chrome,
            errors,
            email,
            local_login: state.config().local_login,
            sso: state.oidc().map(|o| o.display_name().to_owned()),
        }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login_page(State(state): State<AppState>, page: Page) -> Response {
    if page.user.is_some() {
        return Redirect::to("/").into_response();
    }
    render(
        StatusCode::OK,
        &LoginPage::new(&state, page.chrome("Log in"), vec![], String::new()),
    )
}

/// The one wording for every failed login: it never says which part was wrong.
pub const LOGIN_FAILED: &str = "Email or password is incorrect.";

/// Checks credentials with the rate limit; the person on success.
pub async fn check_login(
    state: &AppState,
    client: &str,
    email: &str,
    password: String,
) -> Result<Person, AppError> {
    if !state.config().local_login {
        return Err(AppError::Forbidden(
            "password login is switched off here".into(),
        ));
    }
    let email = email.trim().to_lowercase();
    if !state.allow_login_attempt(&email, client) {
        return Err(AppError::TooManyRequests);
    }
    let creds = state.store().credentials(&email).await?;
    let (person, hash) = match creds {
        Some(c) if c.person.active => (Some(c.person), c.password_hash),
        _ => (None, None),
    };
    let ok = auth::verify_password(password, hash).await;
    match person {
        Some(p) if ok => Ok(p),
        _ => Err(AppError::Unauthenticated),
    }
}

/// The client's address, as the rate limiter's key. Used for nothing else, and never logged.
pub struct Client(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(Client(
            peer.map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

async fn login(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    Client(client): Client,
    Form(form): Form<LoginForm>,
) -> Response {
    let relogin = |status: StatusCode, message: &str| {
        render(
            status,
            &LoginPage::new(
                &state,
                page.chrome("Log in"),
                vec![Invalid::new(Invalid::FORM, message)],
                form.email.clone(),
            ),
        )
    };
    match check_login(&state, &client, &form.email, form.password.clone()).await {
        Ok(person) => match auth::start_session(&state, jar, person.id).await {
            Ok(jar) => (jar, Redirect::to("/")).into_response(),
            Err(e) => e.into_response(),
        },
        Err(AppError::Unauthenticated) => relogin(StatusCode::UNAUTHORIZED, LOGIN_FAILED),
        Err(AppError::TooManyRequests) => relogin(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts. Wait a minute, then try again.",
        ),
        Err(e) => e.into_response(),
    }
}

async fn logout(State(state): State<AppState>, jar: CookieJar) -> Result<Response, AppError> {
    let jar = auth::end_session(&state, jar).await?;
    Ok((jar, Redirect::to("/login")).into_response())
}

// ---- Teams ----

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

async fn teams_page(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
) -> Result<Response, AppError> {
    let teams = state.store().list_teams(admin.org.id).await?;
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
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(form): Form<TeamForm>,
) -> Result<Response, AppError> {
    match actions::create_team(&state, &admin, &form.name).await {
        Ok(_) => Ok(Redirect::to("/admin/teams").into_response()),
        Err(e) => {
            let teams = state.store().list_teams(admin.org.id).await?;
            Ok(form_error(e, |errors| TeamsPage {
                chrome: page.chrome("Teams"),
                errors,
                draft_name: form.name.clone(),
                teams,
            }))
        }
    }
}

// ---- People ----

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

async fn people_page(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
) -> Result<Response, AppError> {
    let teams = state.store().list_teams(admin.org.id).await?;
    let people = state.store().list_people(admin.org.id).await?;
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
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(form): Form<PersonForm>,
) -> Result<Response, AppError> {
    let result = async {
        let team_ids = match form.team.trim() {
            "" => vec![],
            raw => vec![
                Uuid::parse_str(raw)
                    .map_err(|_| AppError::invalid("team", "is not a team of this organisation"))?,
            ],
        };
        let input = PersonInput {
            name: &form.name,
            email: &form.email,
            team_ids,
            roles: form.roles(),
        };
        actions::create_person(&state, &admin, input).await
    }
    .await;
    match result {
        Ok(p) => Ok(Redirect::to(&format!("/admin/people/{}", p.id)).into_response()),
        Err(e) => {
            let teams = state.store().list_teams(admin.org.id).await?;
            let people = state.store().list_people(admin.org.id).await?;
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
    ft: crate::repair_pages::FollowThroughView,
    deactivated_on: String,
    invite_link: Option<String>,
    invite_expires: String,
}

async fn show_person(
    state: &AppState,
    page: &Page,
    admin: &CurrentUser,
    person: Person,
    invitation: Option<actions::Invitation>,
    errors: Vec<Invalid>,
) -> Result<Response, AppError> {
    let all = state.store().list_teams(admin.org.id).await?;
    let team_names = all
        .iter()
        .filter(|t| person.team_ids.contains(&t.id))
        .map(|t| t.name.clone())
        .collect();
    let teams = all
        .into_iter()
        .map(|t| (t.id, t.name, person.team_ids.contains(&t.id)))
        .collect();
    let owned = state.store().commitments_owned_by(person.id).await?;
    let ft = crate::repairs::follow_through(&owned, crate::repairs::today(state)).into();
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
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let person = actions::person_in_org(&state, &admin, id).await?;
    show_person(&state, &page, &admin, person, None, vec![]).await
}

async fn invite_person(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let invitation = actions::invite(&state, &admin, id).await?;
    let person = actions::person_in_org(&state, &admin, id).await?;
    show_person(&state, &page, &admin, person, Some(invitation), vec![]).await
}

#[derive(Deserialize)]
struct RolesForm {
    facilitator: Option<String>,
    admin: Option<String>,
}

async fn set_roles(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Form(form): Form<RolesForm>,
) -> Result<Response, AppError> {
    let roles = Roles {
        admin: form.admin.is_some(),
        facilitator: form.facilitator.is_some(),
    };
    let result = actions::set_roles(&state, &admin, id, roles).await;
    back_to_person(&state, &page, &admin, id, result).await
}

/// Back to the person's page: redirected on success, shown again with the reason on a conflict.
async fn back_to_person<T>(
    state: &AppState,
    page: &Page,
    admin: &CurrentUser,
    id: Uuid,
    result: Result<T, AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/admin/people/{id}")).into_response()),
        Err(AppError::Conflict(msg)) => {
            let person = actions::person_in_org(state, admin, id).await?;
            let errors = vec![Invalid::new(Invalid::FORM, msg)];
            show_person(state, page, admin, person, None, errors).await
        }
        Err(e) => Err(e),
    }
}

async fn deactivate(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let result = actions::deactivate(&state, &admin, id).await;
    back_to_person(&state, &page, &admin, id, result).await
}

// ---- Invitations ----

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    token: String,
    name: String,
    org_name: String,
}

async fn invited(state: &AppState, token: &str) -> Result<(Person, String), AppError> {
    let gone = || {
        AppError::NotFound("this invitation link is not valid: it has expired, been replaced, or been used to set a password. Ask your administrator for a new one".into())
    };
    let person = state
        .store()
        .invitation(&hash_token(token), state.now())
        .await?
        .ok_or_else(gone)?;
    let org = state
        .store()
        .organisation(person.org_id)
        .await?
        .ok_or_else(gone)?;
    Ok((person, org.name))
}

async fn invite_page(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (person, org_name) = invited(&state, &token).await?;
    Ok(render(
        StatusCode::OK,
        &InvitePage {
            chrome: page.chrome("Invitation"),
            errors: vec![],
            token,
            name: person.name,
            org_name,
        },
    ))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

async fn accept_with_password(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    Path(token): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let (person, org_name) = invited(&state, &token).await?;
    let password = match all_valid(vec![NewPassword::parse(&form.password)]) {
        Ok(mut p) => p.remove(0),
        Err(e) => {
            return Ok(form_error(e, |errors| InvitePage {
                chrome: page.chrome("Invitation"),
                errors,
                token: token.clone(),
                name: person.name.clone(),
                org_name: org_name.clone(),
            }));
        }
    };
    let hash = auth::hash_password(password).await?;
    let person = state
        .store()
        .accept_invitation_with_password(&hash_token(&token), state.now(), &hash)
        .await?;
    let jar = auth::start_session(&state, jar, person.id).await?;
    Ok((jar, Redirect::to("/")).into_response())
}

async fn accept_without_password(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (person, _) = invited(&state, &token).await?;
    let jar = auth::start_session(&state, jar, person.id).await?;
    Ok((jar, Redirect::to("/")).into_response())
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
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let result = match form.k_threshold.trim().parse::<i64>() {
        Ok(k) => actions::set_k(&state, &admin, k).await,
        Err(_) => Err(AppError::invalid("k_threshold", "must be a whole number")),
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
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Form(form): Form<TeamsForm>,
) -> Result<Response, AppError> {
    let result = actions::set_teams(&state, &admin, id, &form.team).await;
    back_to_person(&state, &page, &admin, id, result).await
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

fn whole(field: &'static str, raw: &str) -> Result<u32, AppError> {
    raw.trim()
        .parse()
        .map_err(|_| AppError::invalid(field, "must be a whole number"))
}

async fn save_gate(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(f): Form<GateForm>,
) -> Result<Response, AppError> {
    let parsed = (|| {
        Ok::<_, AppError>(kintsugi_core::gate::GateSettings {
            pulses_required: whole("pulses_required", &f.pulses_required)?,
            target_cap_tenths: actions::tenths("target_cap", &f.target_cap)?,
            min_change_tenths: actions::tenths("min_change", &f.min_change)?,
            follow_through_percent: whole("follow_through_percent", &f.follow_through_percent)?
                .min(255) as u8,
            min_weeks: whole("min_weeks", &f.min_weeks)?,
            deception_extra_weeks: whole("deception_extra_weeks", &f.deception_extra_weeks)?,
        })
    })();
    let result = match parsed {
        Ok(gate) => actions::set_gate(&state, &admin, gate).await,
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
