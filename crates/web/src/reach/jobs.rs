//! The admin's view of the job queue: counts, dead letters and retry, as a page and in the API.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::routing::{get, post};
use kintsugi_app::actor::audit;
use kintsugi_app::text::date;
use kintsugi_app::{Ctx, Error};
use kintsugi_store::{Job, JobCounts, JobState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::kernel::error::Problem;
use crate::kernel::error::extract::{Path, Query};
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::AdminUser;
use crate::kernel::{AppState, Reply};

pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/admin/jobs", get(jobs_page))
        .route("/admin/jobs/{id}/retry", post(retry_page))
}

/// How many jobs the admin page and API list.
const LIST_LIMIT: u32 = 100;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list))
        .routes(routes!(api_retry))
}

/// Retries a dead job for an admin, with an audit entry.
async fn retry(ctx: &Ctx, admin: &AdminUser, id: Uuid) -> Result<(), Error> {
    let entry = audit(
        ctx,
        &admin.0,
        "job.retry",
        &id.to_string(),
        "dead job queued again",
    );
    ctx.store()
        .retry_job(admin.0.org.id, id, ctx.now(), &entry)
        .await
        .map_err(|e| match e {
            kintsugi_store::StoreError::NotFound(_) => {
                Error::NotFound("no such dead job (only dead jobs can be retried)".into())
            }
            other => other.into(),
        })
}

pub struct JobRow {
    pub id: Uuid,
    pub kind: String,
    pub key: String,
    pub attempts: String,
    pub when: String,
    pub error: String,
}

impl From<&Job> for JobRow {
    fn from(j: &Job) -> Self {
        Self {
            id: j.id,
            kind: j.kind.clone(),
            key: j.idempotency_key.clone(),
            attempts: format!("{} of {}", j.attempts, j.max_attempts),
            when: date(j.finished_at.unwrap_or(j.run_at)),
            error: j.last_error.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_jobs.html")]
struct JobsPage {
    chrome: Chrome,
    counts: JobCounts,
    dead: Vec<JobRow>,
    waiting: Vec<JobRow>,
}

async fn show(ctx: &Ctx, page: &Page, admin: &AdminUser) -> Reply {
    let store = ctx.store();
    let org = admin.0.org.id;
    let dead = store.jobs(org, Some(JobState::Dead), LIST_LIMIT).await?;
    let mut waiting = store.jobs(org, Some(JobState::Queued), LIST_LIMIT).await?;
    waiting.extend(store.jobs(org, Some(JobState::Running), LIST_LIMIT).await?);
    Ok(render(
        StatusCode::OK,
        &JobsPage {
            chrome: page.chrome("Background jobs"),
            counts: store.job_counts(org).await?,
            dead: dead.iter().map(JobRow::from).collect(),
            waiting: waiting.iter().map(JobRow::from).collect(),
        },
    ))
}

async fn jobs_page(State(ctx): State<Ctx>, page: Page, admin: AdminUser) -> Reply {
    show(&ctx, &page, &admin).await
}

async fn retry_page(
    State(ctx): State<Ctx>,
    admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Reply<Redirect> {
    retry(&ctx, &admin, id).await?;
    Ok(Redirect::to("/admin/jobs"))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// queued, running, done or dead; all when left out.
    state: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct JobsOut {
    #[schema(value_type = Object)]
    counts: JobCounts,
    /// Newest first, at most 100. Payloads are never shown.
    #[schema(value_type = Vec<Object>)]
    jobs: Vec<Job>,
}

/// The organisation's background jobs (email, webhooks, reminders) and the server's own.
/// Admins only.
#[utoipa::path(get, path = "/jobs", tag = "jobs", security(("session" = [])), params(ListQuery),
    responses((status = 200, body = JobsOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
async fn api_list(
    State(ctx): State<Ctx>,
    admin: AdminUser,
    Query(q): Query<ListQuery>,
) -> Reply<axum::Json<JobsOut>> {
    let filter = match q.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(
            JobState::parse(s)
                .ok_or_else(|| Error::invalid("state", "must be queued, running, done or dead"))?,
        ),
    };
    let org = admin.0.org.id;
    Ok(axum::Json(JobsOut {
        counts: ctx.store().job_counts(org).await?,
        jobs: ctx.store().jobs(org, filter, LIST_LIMIT).await?,
    }))
}

/// Queue a dead job again, with its attempts reset. Admins only.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn api_retry(
    State(ctx): State<Ctx>,
    admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Reply<StatusCode> {
    retry(&ctx, &admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
