//! The job queue's worker and its small API. Jobs live in the database (`jobs` table), so
//! they survive a restart and any number of `kintsugi serve` processes can share them.
//!
//! - [`enqueue`]`(state, org, kind, payload, idempotency_key, run_at)` stores a job once
//!   per key (a second call with the same key is a no-op and returns false).
//! - [`registry`] maps each kind to its handler; add a kind there.
//! - [`start`] runs the worker: it claims due jobs under a lease, runs their handlers,
//!   and retries failures with exponential backoff ([`kintsugi_core::notify::RetryPolicy`])
//!   until they land in the dead letters, which admins see and retry at `/admin/jobs`.
//!
//! Delivery is at least once: a worker that dies mid-job leaves the job to be claimed again
//! when its lease runs out. Handlers whose effect leaves the server (email, webhooks) hand
//! the receiver an idempotency key derived from the job's, so the receiver can deduplicate.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use kintsugi_core::notify::RetryPolicy;
use kintsugi_store::{Job, NewJob, Retry};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use kintsugi_store::{JobCounts, JobState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::actions::{audit, date};
use crate::auth::AdminUser;
use crate::error::Problem;
use crate::error::extract::{Path, Query};
use crate::pages::{Chrome, Page, render};

/// How a handler failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth trying again later (a server down, a timeout).
    Retry(String),
    /// Will fail the same way every time: straight to the dead letters.
    Permanent(String),
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Failure::Retry(e.to_string())
    }
}

impl From<kintsugi_store::StoreError> for Failure {
    fn from(e: kintsugi_store::StoreError) -> Self {
        Failure::Retry(e.to_string())
    }
}

/// The queue's timing. The defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub retry: RetryPolicy,
    /// How long a claimed job is a worker's; after that another worker may take it.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs.
    pub poll: std::time::Duration,
    /// Jobs claimed at once by one worker.
    pub batch: u32,
    /// How often the reminders are looked for (a periodic job).
    pub scan_every: Duration,
    /// Round and pulse notices go out at the next multiple of this, so their timing says nothing.
    pub notice_slot: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            lease: Duration::minutes(5),
            poll: std::time::Duration::from_secs(1),
            batch: 8,
            scan_every: Duration::minutes(10),
            notice_slot: Duration::hours(1),
        }
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>>;
type Handler = Arc<dyn Fn(AppState, Job) -> HandlerFuture + Send + Sync>;

/// Which handler runs each kind of job.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
}

impl Registry {
    /// Adds the handler for `kind`.
    pub fn on<F, Fut>(mut self, kind: &'static str, handler: F) -> Self
    where
        F: Fn(AppState, Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Failure>> + Send + 'static,
    {
        self.handlers
            .insert(kind, Arc::new(move |s, j| Box::pin(handler(s, j))));
        self
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }
}

/// The periodic job that keeps the database tidy (expired sessions and links, missed
/// occurrences announced, rounds closed when their time comes).
pub const HOUSEKEEPING: &str = "housekeeping";
const HOUSEKEEPING_EVERY: Duration = Duration::minutes(10);
/// How long finished jobs stay, so their keys still stop a second copy.
const KEEP_FINISHED: Duration = Duration::days(30);

/// Every kind of job this server runs. A new kind is one more line here.
pub fn registry() -> Registry {
    Registry::default()
        .on(crate::email::KIND, crate::email::deliver)
        .on(HOUSEKEEPING, housekeeping)
        .on(crate::notify::SCAN, crate::notify::scan)
        .on(crate::notify::ROUND_NOTICE, crate::notify::round_notice)
        .on(crate::webhooks::KIND, crate::webhooks::deliver)
}

/// Stores a job to run at `run_at`, once per `idempotency_key`; false when a job with that
/// key already exists (whatever its state).
pub async fn enqueue(
    state: &AppState,
    org_id: Option<Uuid>,
    kind: &str,
    payload: serde_json::Value,
    idempotency_key: &str,
    run_at: OffsetDateTime,
) -> Result<bool, AppError> {
    let job = NewJob {
        id: state.new_id(),
        org_id,
        kind: kind.to_owned(),
        payload: payload.to_string(),
        idempotency_key: idempotency_key.to_owned(),
        max_attempts: state.config().jobs.retry.max_attempts,
        run_at,
        created_at: state.now(),
    };
    Ok(state.store().enqueue_job(&job).await?)
}

/// Starts the worker on the runtime; it runs until the process ends.
pub fn start(state: AppState, registry: Registry) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let settings = state.config().jobs.clone();
        let mut last_slots = HashMap::new();
        loop {
            periodic(&state, &mut last_slots).await;
            let claimed = match state
                .store()
                .claim_jobs(state.now(), state.now() + settings.lease, settings.batch)
                .await
            {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim jobs");
                    Vec::new()
                }
            };
            let busy = !claimed.is_empty();
            let mut running = tokio::task::JoinSet::new();
            for job in claimed {
                running.spawn(run_one(state.clone(), registry.clone(), job));
            }
            while running.join_next().await.is_some() {}
            if !busy {
                tokio::time::sleep(settings.poll).await;
            }
        }
    })
}

/// Enqueues this period's periodic jobs. Their keys name the period, so however many
/// servers do this, each period's job is stored (and run) once.
async fn periodic(state: &AppState, last_slots: &mut HashMap<&'static str, i64>) {
    let now = state.now();
    let every = [
        (HOUSEKEEPING, HOUSEKEEPING_EVERY),
        (crate::notify::SCAN, state.config().jobs.scan_every),
    ];
    for (kind, period) in every {
        // On a development clock time jumps (or stands still), so slots follow the wall clock
        // and come every second: a pulse due after a jump opens at once.
        let slot = if state.on_dev_clock() {
            time::OffsetDateTime::now_utc().unix_timestamp()
        } else {
            now.unix_timestamp()
                .div_euclid(period.whole_seconds().max(1))
        };
        if last_slots.get(kind) == Some(&slot) {
            continue;
        }
        let key = format!("{kind}:{slot}");
        match enqueue(state, None, kind, serde_json::json!({}), &key, now).await {
            Ok(_) => {
                last_slots.insert(kind, slot);
            }
            Err(e) => tracing::warn!(error = %e, kind, "could not enqueue a periodic job"),
        }
    }
}

async fn run_one(state: AppState, registry: Registry, job: Job) {
    let Some(lease) = job.lease else { return };
    let settings = &state.config().jobs;
    let outcome = match registry.handlers.get(job.kind.as_str()) {
        None => Err(Failure::Permanent(format!(
            "no handler for jobs of kind {:?}",
            job.kind
        ))),
        Some(handler) => {
            // Stop well before the lease runs out, so no other worker starts it meanwhile.
            let limit = settings.lease.unsigned_abs().mul_f64(0.8);
            let task = tokio::spawn(handler(state.clone(), job.clone()));
            match tokio::time::timeout(limit, task).await {
                Ok(Ok(result)) => result,
                Ok(Err(panicked)) => Err(Failure::Retry(format!("the handler failed: {panicked}"))),
                Err(_) => Err(Failure::Retry(format!(
                    "took longer than {} seconds",
                    limit.as_secs()
                ))),
            }
        }
    };
    let store = state.store();
    let recorded = match &outcome {
        Ok(()) => store.finish_job(job.id, lease, state.now()).await,
        Err(failure) => {
            let (why, retry) = match failure {
                Failure::Retry(why) => (
                    why,
                    settings
                        .retry
                        .next_attempt(job.attempts, state.now())
                        .map_or(Retry::Never, Retry::At),
                ),
                Failure::Permanent(why) => (why, Retry::Never),
            };
            tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %why,
                dead = retry == Retry::Never, "job failed");
            store.fail_job(job.id, lease, why, retry).await
        }
    };
    match recorded {
        Ok(true) if outcome.is_ok() => {
            tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job done");
        }
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = %job.id, "the job's lease ran out before it finished"),
        Err(e) => tracing::warn!(job = %job.id, error = %e, "could not record the job's outcome"),
    }
}

async fn housekeeping(state: AppState, _job: Job) -> Result<(), Failure> {
    state.store().delete_expired(state.now()).await?;
    state
        .store()
        .purge_jobs(state.now() - KEEP_FINISHED)
        .await?;
    crate::repairs::announce_missed_everywhere(&state).await?;
    crate::rounds::close_due(&state).await?;
    crate::health::sweep(&state).await?;
    Ok(())
}

// ---- The admin's view: queue counts, dead letters, retry ----

/// How many jobs the admin page and API list.
const LIST_LIMIT: u32 = 100;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/admin/jobs", get(jobs_page))
        .route("/admin/jobs/{id}/retry", post(retry_page))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::pages::html_errors,
        ))
        .with_state(state)
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list))
        .routes(routes!(api_retry))
}

/// Retries a dead job for an admin, with an audit entry.
async fn retry(state: &AppState, admin: &AdminUser, id: Uuid) -> Result<(), AppError> {
    let entry = audit(
        state,
        &admin.0,
        "job.retry",
        &id.to_string(),
        "dead job queued again",
    );
    state
        .store()
        .retry_job(admin.0.org.id, id, state.now(), &entry)
        .await
        .map_err(|e| match e {
            kintsugi_store::StoreError::NotFound(_) => {
                AppError::NotFound("no such dead job (only dead jobs can be retried)".into())
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

async fn show(state: &AppState, page: &Page, admin: &AdminUser) -> Result<Response, AppError> {
    let store = state.store();
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

async fn jobs_page(
    State(state): State<AppState>,
    page: Page,
    admin: AdminUser,
) -> Result<Response, AppError> {
    show(&state, &page, &admin).await
}

async fn retry_page(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Redirect, AppError> {
    retry(&state, &admin, id).await?;
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
    State(state): State<AppState>,
    admin: AdminUser,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<JobsOut>, AppError> {
    let filter =
        match q.state.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(JobState::parse(s).ok_or_else(|| {
                AppError::invalid("state", "must be queued, running, done or dead")
            })?),
        };
    let org = admin.0.org.id;
    Ok(axum::Json(JobsOut {
        counts: state.store().job_counts(org).await?,
        jobs: state.store().jobs(org, filter, LIST_LIMIT).await?,
    }))
}

/// Queue a dead job again, with its attempts reset. Admins only.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn api_retry(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    retry(&state, &admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
