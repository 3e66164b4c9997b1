//! What reaches each person, at the edge: their email preferences (page and API), the
//! one-click unsubscribe link (public: mail providers POST to it, RFC 8058), and an admin
//! emailing someone their invitation.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use kintsugi_app::Ctx;
use kintsugi_app::notify::invitations;
use kintsugi_app::notify::preferences::{self, KindChoice};
use kintsugi_app::text::date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::kernel::error::Problem;
use crate::kernel::error::extract::{Form, Json, Path};
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::{AdminUser, CurrentUser};
use crate::kernel::{AppState, Reply};

pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/preferences", get(preferences_page).post(save_preferences))
        .route(
            "/admin/people/{id}/invitation/email",
            axum::routing::post(invitation_page),
        )
}

/// One-click unsubscribe: no session and no CSRF token; the link's secret is the authority.
pub fn public() -> Router<AppState> {
    Router::new().route(
        "/unsubscribe/{token}",
        get(unsubscribe_page).post(unsubscribe_now),
    )
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_email_preferences, set_email_preferences))
        .routes(routes!(api_email_invitation))
}

#[derive(Template)]
#[template(path = "email_sent.html")]
struct InvitationSentPage {
    chrome: Chrome,
    person: kintsugi_store::Person,
    expires: String,
}

async fn invitation_page(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply {
    let (person, invitation) = invitations::email_invitation(&ctx, &admin, id).await?;
    Ok(render(
        StatusCode::OK,
        &InvitationSentPage {
            chrome: page.chrome("Invitation sent"),
            expires: date(invitation.expires_at),
            person,
        },
    ))
}

#[derive(Template)]
#[template(path = "preferences.html")]
struct PreferencesPage {
    chrome: Chrome,
    choices: Vec<KindChoice>,
    saved: bool,
    mail_on: bool,
}

async fn preferences_page(State(ctx): State<Ctx>, page: Page, user: CurrentUser) -> Reply {
    Ok(render(
        StatusCode::OK,
        &PreferencesPage {
            chrome: page.chrome("Email preferences"),
            choices: preferences::choices(&ctx, user.person.id).await?,
            saved: false,
            mail_on: ctx.settings().mail.is_some(),
        },
    ))
}

#[derive(Deserialize)]
struct PreferencesForm {
    /// The kinds left ticked.
    #[serde(default)]
    on: Vec<String>,
}

async fn save_preferences(
    State(ctx): State<Ctx>,
    page: Page,
    user: CurrentUser,
    Form(form): Form<PreferencesForm>,
) -> Reply {
    preferences::keep_only(&ctx, user.person.id, &form.on).await?;
    Ok(render(
        StatusCode::OK,
        &PreferencesPage {
            chrome: page.chrome("Email preferences"),
            choices: preferences::choices(&ctx, user.person.id).await?,
            saved: true,
            mail_on: ctx.settings().mail.is_some(),
        },
    ))
}

#[derive(Template)]
#[template(path = "preferences_unsubscribe.html")]
struct UnsubscribePage {
    chrome: Chrome,
    token: String,
    done: Option<&'static str>,
    /// The link is unknown: nothing was changed.
    invalid: bool,
}

/// Shows a button rather than unsubscribing on GET: link scanners follow links.
async fn unsubscribe_page(Path(token): Path<String>) -> Response {
    render(
        StatusCode::OK,
        &UnsubscribePage {
            chrome: Chrome::bare("Unsubscribe"),
            token,
            done: None,
            invalid: false,
        },
    )
}

async fn unsubscribe_now(State(ctx): State<Ctx>, Path(token): Path<String>) -> Reply {
    Ok(match preferences::unsubscribe(&ctx, &token).await? {
        Some(what) => render(
            StatusCode::OK,
            &UnsubscribePage {
                chrome: Chrome::bare("Unsubscribed"),
                token,
                done: Some(what),
                invalid: false,
            },
        ),
        None => render(
            StatusCode::NOT_FOUND,
            &UnsubscribePage {
                chrome: Chrome::bare("Unsubscribe link not valid"),
                token,
                done: None,
                invalid: true,
            },
        ),
    })
}

#[derive(Serialize, ToSchema)]
struct InvitationEmailed {
    /// Where the invitation was sent.
    sent_to: String,
    /// RFC 3339: the link in the email works until then.
    expires_at: String,
}

/// Email a new invitation link to a person (it replaces earlier links). Admins only.
/// The email goes out through the job queue, with retries.
#[utoipa::path(post, path = "/people/{id}/invitation/email", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 202, body = InvitationEmailed), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn api_email_invitation(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply<(StatusCode, axum::Json<InvitationEmailed>)> {
    let (person, invitation) = invitations::email_invitation(&ctx, &admin, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(InvitationEmailed {
            sent_to: person.email,
            expires_at: invitation
                .expires_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }),
    ))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailPreferences {
    /// Each non-essential kind of email and whether the person wants it by email.
    kinds: std::collections::BTreeMap<String, bool>,
}

/// Which non-essential emails you get. Invitations are always sent.
#[utoipa::path(get, path = "/me/email-preferences", tag = "me", security(("session" = [])),
    responses((status = 200, body = EmailPreferences), (status = 401, body = Problem)))]
async fn get_email_preferences(
    State(ctx): State<Ctx>,
    user: CurrentUser,
) -> Reply<axum::Json<EmailPreferences>> {
    Ok(axum::Json(EmailPreferences {
        kinds: preferences::choices(&ctx, user.person.id)
            .await?
            .into_iter()
            .map(|c| (c.key.to_owned(), c.on))
            .collect(),
    }))
}

/// Turn kinds of email on or off; kinds left out keep their setting.
#[utoipa::path(put, path = "/me/email-preferences", tag = "me", security(("session" = [])), request_body = EmailPreferences,
    responses((status = 200, body = EmailPreferences), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn set_email_preferences(
    State(ctx): State<Ctx>,
    user: CurrentUser,
    Json(body): Json<EmailPreferences>,
) -> Reply<axum::Json<EmailPreferences>> {
    preferences::set(&ctx, user.person.id, &body.kinds).await?;
    get_email_preferences(State(ctx), user).await
}
