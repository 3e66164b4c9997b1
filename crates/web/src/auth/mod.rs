//! Signing in and out: first-run setup, password login, invitations, single sign-on
//! (`oidc`), and the session in the JSON API. The rules are `kintsugi_app::signin`; this
//! feature keeps the cookies and the forms.

mod api;
pub mod oidc;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use kintsugi_app::signin::{self, SetupInput, SignIn};
use kintsugi_app::{Ctx, Error};
use kintsugi_core::Invalid;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use crate::kernel::error::extract::{Form, Path, Query};
use crate::kernel::page::{Chrome, Page, form_error, render};
use crate::kernel::session::{Client, end_session, start_session};
use crate::kernel::{AppState, Reply};

/// The sign-in pages; they set and end the session cookie, so they sit under CSRF.
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/setup", get(setup_page).post(setup))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/invite/{token}", get(invite_page))
        .route("/invite/{token}/password", post(accept_with_password))
        .route("/invite/{token}/continue", post(accept_without_password))
        .merge(oidc::pages())
}

pub fn api() -> OpenApiRouter<AppState> {
    api::routes()
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

async fn setup_page(page: Page, Query(q): Query<TokenQuery>) -> Reply {
    let token = q.token.filter(|t| !t.is_empty()).ok_or_else(|| {
        Error::BadRequest(
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
) -> Reply {
    let input = SetupInput {
        token: &form.token,
        organisation_name: &form.organisation_name,
        name: &form.name,
        email: &form.email,
        password: &form.password,
    };
    match signin::set_up(&state.ctx, input).await {
        Ok(admin) => {
            let jar = start_session(&state, jar, admin).await?;
            Ok((jar, Redirect::to("/")).into_response())
        }
        Err(e) => Ok(form_error(e, |errors| SetupPage {
            chrome: page.chrome("Set up"),
            errors,
            token: form.token.clone(),
            organisation_name: form.organisation_name.clone(),
            name: form.name.clone(),
            email: form.email.clone(),
        })),
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
    fn new(signin: &SignIn, chrome: Chrome, errors: Vec<Invalid>, email: String) -> Self {
        Self {
            chrome,
            errors,
            email,
            local_login: signin.local_login(),
            sso: signin.oidc().map(|o| o.display_name().to_owned()),
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

async fn login_page(State(signin): State<Arc<SignIn>>, page: Page) -> Response {
    if page.user().is_some() {
        return Redirect::to("/").into_response();
    }
    render(
        StatusCode::OK,
        &LoginPage::new(&signin, page.chrome("Log in"), vec![], String::new()),
    )
}

/// The one wording for every failed login: it never says which part was wrong.
pub const LOGIN_FAILED: &str = "Email or password is incorrect.";

async fn login(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    Client(client): Client,
    Form(form): Form<LoginForm>,
) -> Reply {
    let relogin = |status: StatusCode, message: &str| {
        render(
            status,
            &LoginPage::new(
                &state.signin,
                page.chrome("Log in"),
                vec![Invalid::new(Invalid::FORM, message)],
                form.email.clone(),
            ),
        )
    };
    let checked = state
        .signin
        .check_login(&state.ctx, &client, &form.email, form.password.clone())
        .await;
    match checked {
        Ok(person) => {
            let jar = start_session(&state, jar, person.id).await?;
            Ok((jar, Redirect::to("/")).into_response())
        }
        Err(Error::Unauthenticated) => Ok(relogin(StatusCode::UNAUTHORIZED, LOGIN_FAILED)),
        Err(Error::TooManyRequests(seconds)) => {
            let mut page = relogin(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Too many attempts. Wait {seconds} second{}, then try again.",
                    if seconds == 1 { "" } else { "s" }
                ),
            );
            page.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
            Ok(page)
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(State(state): State<AppState>, jar: CookieJar) -> Reply {
    let jar = end_session(&state, jar).await?;
    Ok((jar, Redirect::to("/login")).into_response())
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

async fn invite_page(State(ctx): State<Ctx>, page: Page, Path(token): Path<String>) -> Reply {
    let (person, org_name) = signin::invited(&ctx, &token).await?;
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
) -> Reply {
    let (person, org_name) = signin::invited(&state.ctx, &token).await?;
    match signin::accept_with_password(&state.ctx, &token, &form.password).await {
        Ok(person) => {
            let jar = start_session(&state, jar, person.id).await?;
            Ok((jar, Redirect::to("/")).into_response())
        }
        Err(e @ Error::Invalid(_)) => Ok(form_error(e, |errors| InvitePage {
            chrome: page.chrome("Invitation"),
            errors,
            token: token.clone(),
            name: person.name.clone(),
            org_name: org_name.clone(),
        })),
        Err(e) => Err(e.into()),
    }
}

async fn accept_without_password(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Reply {
    let (person, _) = signin::invited(&state.ctx, &token).await?;
    let jar = start_session(&state, jar, person.id).await?;
    Ok((jar, Redirect::to("/")).into_response())
}
