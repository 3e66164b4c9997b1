//! The page chrome (the layout's title, navigation and CSRF token), rendering, and the one
//! conversion of errors into HTML pages.

use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kintsugi_app::Error;
use kintsugi_core::Invalid;

use crate::kernel::csrf::CsrfToken;
use crate::kernel::error::HttpError;
use crate::kernel::session::{CurrentUser, MaybeUser};
use crate::kernel::state::AppState;

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
    type Rejection = HttpError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
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
            HttpError::from(Error::Internal).into_response()
        }
    }
}

/// A whole number as a form field holds it, or the field's problem.
pub fn whole_number(field: &'static str, raw: &str) -> Result<i64, Error> {
    raw.trim()
        .parse()
        .map_err(|_| Error::invalid(field, "must be a whole number"))
}

/// Re-renders a form with its problems when they are the user's to fix; passes other errors on.
pub fn form_error<T: Template>(err: Error, page: impl FnOnce(Vec<Invalid>) -> T) -> Response {
    match err {
        Error::Invalid(errors) => render(StatusCode::UNPROCESSABLE_ENTITY, &page(errors)),
        Error::Conflict(msg) => render(
            StatusCode::CONFLICT,
            &page(vec![Invalid::new(Invalid::FORM, msg)]),
        ),
        other => HttpError::from(other).into_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: String,
    message: String,
}

/// Turns any [`HttpError`] a page route returned into an HTML page; sends people who are
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
    let Some(err) = response.extensions().get::<HttpError>().cloned() else {
        return response;
    };
    if matches!(err, HttpError::App(Error::Unauthenticated)) {
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

impl Chrome {
    /// The chrome of a page shown to someone without a session or a form token (the
    /// unsubscribe page a mail provider may open).
    pub fn bare(title: &str) -> Self {
        Self {
            title: title.into(),
            csrf: String::new(),
            user: None,
            path: String::new(),
        }
    }
}
