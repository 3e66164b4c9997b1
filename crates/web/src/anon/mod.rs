//! The anonymous path, `/anon/...`: answers to rounds, the round's marks and threads downloads
//! (the same for everyone: a member's client finds its own in them), the author's replies
//! under a comment, and stories for the library. It sits outside the session and CSRF group:
//! the router refuses any request here that carries a cookie, and the request log skips it.
//! Nothing here knows who is asking, and no URL here names an answer.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kintsugi_app::Ctx;
use kintsugi_app::lessons::{self, StoryBody};
use kintsugi_app::rounds::answer::{self, Accepted, AnswerBody, Marks};
use kintsugi_app::rounds::threads::{self, ThreadRequest, Threads};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::kernel::error::extract::{Json, Path};
use crate::kernel::{AppState, Reply};

/// Every `/anon` route; the router puts the cookie refusal in front of them all, once.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/anon/rounds/{round}/answers", post(submit))
        .route("/anon/rounds/{round}/marks", get(marks))
        .route("/anon/rounds/{round}/threads", get(round_threads))
        .route("/anon/replies", post(author_reply))
        .route("/anon/orgs/{org}/stories", post(submit_story))
        .route("/anon/stories/thread", post(story_thread))
}

#[derive(Serialize)]
struct Received {
    received: bool,
}

fn received() -> Response {
    (StatusCode::CREATED, axum::Json(Received { received: true })).into_response()
}

/// 202 while the answer waits for its epoch's seal; 201 when it was sealed at once (its round
/// closes within seconds).
async fn submit(
    State(ctx): State<Ctx>,
    Path(round): Path<Uuid>,
    Json(body): Json<AnswerBody>,
) -> Reply {
    let accepted = answer::submit(&ctx, round, body).await?;
    let status = match accepted {
        Accepted::Waiting { .. } => StatusCode::ACCEPTED,
        Accepted::Sealed => StatusCode::CREATED,
    };
    Ok((status, axum::Json(accepted)).into_response())
}

/// Every sealed mark of the round, and the servers running: the same for everyone.
async fn marks(State(ctx): State<Ctx>, Path(round): Path<Uuid>) -> Reply<axum::Json<Marks>> {
    Ok(axum::Json(answer::marks(&ctx, round).await?))
}

/// Every reply thread of the round, each sealed for its author: the same for everyone.
async fn round_threads(
    State(ctx): State<Ctx>,
    Path(round): Path<Uuid>,
) -> Reply<axum::Json<Threads>> {
    Ok(axum::Json(threads::threads(&ctx, round).await?))
}

/// The author answers the facilitator, still anonymous.
async fn author_reply(
    State(ctx): State<Ctx>,
    Json(body): Json<ThreadRequest>,
) -> Reply<StatusCode> {
    threads::author_reply(&ctx, &body).await?;
    Ok(StatusCode::CREATED)
}

async fn submit_story(
    State(ctx): State<Ctx>,
    Path(org): Path<Uuid>,
    Json(body): Json<StoryBody>,
) -> Reply {
    lessons::submit_story(&ctx, org, &body).await?;
    Ok(received())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThreadBody {
    capability: String,
}

#[derive(Serialize)]
struct ThreadAnswer {
    from: String,
    body: String,
}

#[derive(Serialize)]
struct StoryThread {
    title: String,
    body: String,
    hidden: bool,
    answers: Vec<ThreadAnswer>,
}

/// The author reads the answers to their story with nothing but their capability.
async fn story_thread(
    State(ctx): State<Ctx>,
    Json(body): Json<ThreadBody>,
) -> Reply<axum::Json<StoryThread>> {
    let story = lessons::story_by_capability(&ctx, &body.capability).await?;
    Ok(axum::Json(StoryThread {
        title: story.title,
        body: story.body,
        hidden: story.hidden,
        answers: story
            .answers
            .into_iter()
            .map(|a| ThreadAnswer {
                from: a.author_name,
                body: a.body,
            })
            .collect(),
    }))
}
