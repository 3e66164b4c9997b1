//! The session in the JSON API: log in (sets the cookie), log out, and who is asking.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use kintsugi_app::Error;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::kernel::error::Problem;
use crate::kernel::error::extract::Json;
use crate::kernel::session::{Client, CurrentUser, end_session, start_session};
use crate::kernel::{AppState, Reply};
use crate::people::view::Me;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, logout))
        .routes(routes!(me))
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
) -> Reply {
    let person = state
        .signin
        .check_login(&state.ctx, &client, &body.email, body.password)
        .await?;
    let org = state
        .ctx
        .store()
        .organisation(person.org_id)
        .await?
        .ok_or(Error::Internal)?;
    let jar = start_session(&state, jar, person.id).await?;
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
async fn logout(State(state): State<AppState>, jar: CookieJar) -> Reply {
    let jar = end_session(&state, jar).await?;
    Ok((jar, StatusCode::NO_CONTENT).into_response())
}

/// The logged-in person and their organisation.
#[utoipa::path(get, path = "/me", tag = "session", security(("session" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
async fn me(CurrentUser(user): CurrentUser) -> axum::Json<Me> {
    axum::Json(Me {
        person: user.person.into(),
        organisation: user.org.into(),
    })
}
