//! The anonymous path, `/anon/...`: answers to rounds, the marks that say an answer arrived,
//! the two-way replies under a comment, and stories for the library. It sits outside the
//! session and CSRF group: the router refuses any request here that carries a cookie, and the
//! request log skips it. Nothing here knows who is asking.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kintsugi_app::Ctx;
use kintsugi_app::lessons::{self, StoryBody};
use kintsugi_app::rounds::answer::{self, AnswerBody};
use kintsugi_app::rounds::batcher::Batcher;
use kintsugi_app::rounds::threads::{self, Thread, ThreadRequest};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::kernel::error::extract::{Json, Path};
use crate::kernel::{AppState, Reply};

/// Every `/anon` route; the router puts the cookie refusal in front of them all, once.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/anon/rounds/{round}/answers", post(submit))
        .route("/anon/rounds/{round}/spent/{mark}", get(spent))
        .route("/anon/replies/thread", post(thread))
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

async fn submit(
    State(ctx): State<Ctx>,
    State(batcher): State<Batcher>,
    Path(round): Path<Uuid>,
    Json(body): Json<AnswerBody>,
) -> Reply {
    answer::submit(&ctx, &batcher, round, body).await?;
    Ok(received())
}

#[derive(Serialize)]
struct Spent {
    spent: bool,
}

/// Lets a member see that their own answer arrived, by their token's mark, and nothing else.
async fn spent(
    State(ctx): State<Ctx>,
    Path((round, mark)): Path<(Uuid, String)>,
) -> Reply<axum::Json<Spent>> {
    Ok(axum::Json(Spent {
        spent: answer::spent(&ctx, round, &mark).await?,
    }))
}

/// The author reads their comment's thread, with nothing but their capability.
async fn thread(
    State(ctx): State<Ctx>,
    Json(body): Json<ThreadRequest>,
) -> Reply<axum::Json<Thread>> {
    Ok(axum::Json(threads::thread(&ctx, &body).await?))
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
