//! The page chrome (the layout's title, navigation and CSRF token), rendering, and the one
//! conversion of errors into HTML pages.

use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kintsugi_app::Error;
use kintsugi_core::Invalid;

use crate::kernel::csrf::{CSRF_COOKIE, CsrfToken};
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
            // Masked afresh for every page: compressed pages hold no fixed secret.
            csrf: csrf.masked(),
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
    /// The way on: where the person came from, or the start page.
    back: Back,
}

/// A link back: the page the person came from when the `Referer` names this site, else home.
struct Back {
    href: String,
    label: &'static str,
}

impl Back {
    fn from(referer: Option<&str>, host: Option<&str>, this_path: &str) -> Self {
        let same_origin = referer
            .and_then(|r| {
                r.strip_prefix("https://")
                    .or_else(|| r.strip_prefix("http://"))
            })
            .and_then(|rest| {
                let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                (Some(authority) == host).then_some(path)
            })
            // Only a path on this site: never `//elsewhere`, never the failing page itself.
            .filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\"))
            .filter(|p| p.split(['?', '#']).next() != Some(this_path));
        match same_origin {
            Some(path) if path != "/" => Self {
                href: path.to_owned(),
                label: "Go back to the page you came from",
            },
            _ => Self {
                href: "/".into(),
                label: "Go to the start page",
            },
        }
    }
}

/// A heading a person understands, for a page that could not be shown or an action refused.
fn heading_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::FORBIDDEN => "This is not open to you",
        StatusCode::TOO_MANY_REQUESTS => "Too many tries; wait a moment",
        StatusCode::PAYLOAD_TOO_LARGE => "That was too large to send",
        s if s.is_server_error() => "Something went wrong on our side",
        _ => "That could not be done",
    }
}

/// Turns any [`HttpError`] a page route returned into an HTML page; sends people who are
/// not logged in to the login page. The page has the signed-in person's chrome (navigation,
/// name, Log out) when the request carries a valid session, the server's reason, and a way on.
pub async fn html_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
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
    // Kept for the error page: the session cookie, where the person came from, and this path.
    let mut headers = HeaderMap::new();
    for name in [header::COOKIE, header::REFERER, header::HOST] {
        if let Some(value) = req.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let path = req.uri().path().to_owned();
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
    error_page(&state, headers, &path, &csrf, &err).await
}

/// The error page for `err`: the person's chrome when `headers` carry a valid session, a
/// heading in words, the server's reason, and a link back.
async fn error_page(
    state: &AppState,
    headers: HeaderMap,
    path: &str,
    csrf: &CsrfToken,
    err: &HttpError,
) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let back = Back::from(header(header::REFERER), header(header::HOST), path);
    let mut parts = Request::new(()).into_parts().0;
    parts.headers = headers.clone();
    // A session that cannot be read (the database is down) shows the page without it.
    let user = MaybeUser::from_request_parts(&mut parts, state)
        .await
        .ok()
        .and_then(|MaybeUser(u)| u);
    let status = err.status();
    let heading = heading_for(status).to_owned();
    render(
        status,
        &ErrorPage {
            chrome: Chrome::new(csrf, user.as_ref(), &heading, path),
            heading,
            message: err.to_string(),
            back,
        },
    )
}

/// Where no route matched: the API and the anonymous path answer with a problem document,
/// a person with the "Page not found" page (in their chrome, with the form token their
/// cookie already holds, so Log out works).
pub async fn not_found(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    let machine = ["/api/", "/anon/", "/ohttp/"];
    if path == "/api" || machine.iter().any(|m| path.starts_with(m)) {
        return HttpError::from(Error::NotFound("no such API endpoint".into())).into_response();
    }
    let csrf = axum_extra::extract::CookieJar::from_headers(req.headers())
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32)
        .unwrap_or_default();
    let err = HttpError::from(Error::NotFound("there is no page at this address".into()));
    error_page(&state, req.headers().clone(), path, &CsrfToken(csrf), &err).await
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
