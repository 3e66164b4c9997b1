//! The job queue's mechanism: enqueue, the worker, failure and retry. Jobs live in the
//! database (`jobs` table), so they survive a restart and any number of `kintsugi serve`
//! processes can share them. Which kinds exist is decided above, where the features are
//! composed (`crate::jobs::registry`); this module knows none of them.
//!
//! - [`enqueue`] stores a job once per idempotency key (a second call with the same key is
//!   a no-op and returns false).
//! - [`start`] runs the worker: it claims due jobs under a lease, runs their handlers, and
//!   retries failures with exponential backoff ([`kintsugi_core::notify::RetryPolicy`])
//!   until they land in the dead letters, which admins see and retry.
//! - [`Worker::shutdown`] stops it: no new claims and no more periodic jobs; running jobs
//!   get a grace period to finish, and those that do not are released for the next worker.
//!
//! Delivery is at least once: a worker that dies mid-job leaves the job to be claimed again
//! when its lease runs out. Handlers whose effect leaves the server (email, webhooks) hand
//! the receiver an idempotency key derived from the job's, so the receiver can deduplicate.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use kintsugi_store::{Job, NewJob, Retry};
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;
use uuid::Uuid;

use crate::clock::Clock;
use crate::context::Ctx;
use crate::error::Error;

/// How a handler failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth trying again later (a server down, a timeout).
    Retry(String),
    /// Will fail the same way every time: straight to the dead letters.
    Permanent(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Retry(e.to_string())
    }
}

impl From<kintsugi_store::StoreError> for Failure {
    fn from(e: kintsugi_store::StoreError) -> Self {
        Failure::Retry(e.to_string())
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>>;
type Handler = Arc<dyn Fn(Ctx, Job) -> HandlerFuture + Send + Sync>;

/// Which handler runs each kind of job, and which kinds are enqueued on a schedule.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
    periodic: Vec<(&'static str, Duration)>,
}

impl Registry {
    /// Adds the handler for `kind`.
    pub fn on<F, Fut>(mut self, kind: &'static str, handler: F) -> Self
    where
        F: Fn(Ctx, Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Failure>> + Send + 'static,
    {
        self.handlers
            .insert(kind, Arc::new(move |c, j| Box::pin(handler(c, j))));
        self
    }

    /// Adds the handler for `kind` and enqueues one such job every `period`.
    pub fn every<F, Fut>(mut self, kind: &'static str, period: Duration, handler: F) -> Self
    where
        F: Fn(Ctx, Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Failure>> + Send + 'static,
    {
        self.periodic.push((kind, period));
        self.on(kind, handler)
    }
}

/// Stores a job to run at `run_at`, once per `idempotency_key`; false when a job with that
/// key already exists (whatever its state).
pub async fn enqueue(
    ctx: &Ctx,
    org_id: Option<Uuid>,
    kind: &str,
    payload: serde_json::Value,
    idempotency_key: &str,
    run_at: OffsetDateTime,
) -> Result<bool, Error> {
    Ok(ctx
        .store()
        .enqueue_job(&new_job(
            ctx,
            org_id,
            kind,
            payload,
            idempotency_key,
            run_at,
        ))
        .await?)
}

/// A job as [`enqueue`] would store it, for a store method that writes it in the same
/// transaction as a change (the outbox).
pub fn new_job(
    ctx: &Ctx,
    org_id: Option<Uuid>,
    kind: &str,
    payload: serde_json::Value,
    idempotency_key: &str,
    run_at: OffsetDateTime,
) -> NewJob {
    NewJob {
        id: ctx.new_id(),
        org_id,
        kind: kind.to_owned(),
        payload: payload.to_string(),
        idempotency_key: idempotency_key.to_owned(),
        max_attempts: ctx.settings().jobs.retry.max_attempts,
        run_at,
        created_at: ctx.now(),
    }
}

/// The running worker. Dropping it leaves the worker running until the process ends.
pub struct Worker {
    /// `Some(grace)` once a shutdown is asked for.
    stop: watch::Sender<Option<std::time::Duration>>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Stops claiming jobs and enqueuing periodic ones, gives running jobs `grace` to finish,
    /// releases the rest for the next worker, and returns when the worker has stopped.
    pub async fn shutdown(self, grace: std::time::Duration) {
        let _ = self.stop.send(Some(grace));
        if tokio::time::timeout(grace + std::time::Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            tracing::warn!("the job worker did not stop in time");
        }
    }
}

/// The jobs this worker holds, so a shutdown can release those that did not finish.
type Held = Arc<Mutex<HashSet<(Uuid, Uuid)>>>;

/// Starts the worker on the runtime.
pub fn start(ctx: Ctx, registry: Registry) -> Worker {
    let (stop, mut stopped) = watch::channel(None);
    let task = tokio::spawn(async move {
        let settings = ctx.settings().jobs.clone();
        let held: Held = Arc::default();
        let mut last_slots = HashMap::new();
        let mut running = tokio::task::JoinSet::new();
        while stopped.borrow().is_none() {
            periodic(&ctx, &registry, &mut last_slots).await;
            let claimed = match ctx
                .store()
                .claim_jobs(
                    ctx.now(),
                    ctx.now() + settings.lease,
                    settings.batch,
                    ctx.new_id(),
                )
                .await
            {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim jobs");
                    Vec::new()
                }
            };
            let busy = !claimed.is_empty();
            for job in claimed {
                running.spawn(run_one(ctx.clone(), registry.clone(), job, held.clone()));
            }
            // Wait for this batch, but wake for a shutdown.
            tokio::select! {
                _ = async { while running.join_next().await.is_some() {} } => {}
                _ = stop_requested(&mut stopped) => break,
            }
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(settings.poll) => {}
                    _ = stop_requested(&mut stopped) => break,
                }
            }
        }
        let grace = stopped.borrow().unwrap_or_default();
        finish(&ctx, running, &held, grace).await;
    });
    Worker { stop, task }
}

/// Resolves once a shutdown is asked for; never, if the [`Worker`] was dropped instead.
async fn stop_requested(stopped: &mut watch::Receiver<Option<std::time::Duration>>) {
    loop {
        if stopped.borrow_and_update().is_some() {
            return;
        }
        if stopped.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// On shutdown: the running jobs finish within `grace`, or are released unfinished.
async fn finish(
    ctx: &Ctx,
    mut running: tokio::task::JoinSet<()>,
    held: &Held,
    grace: std::time::Duration,
) {
    let drained = tokio::time::timeout(grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_ok() {
        return;
    }
    running.abort_all();
    while running.join_next().await.is_some() {}
    let unfinished: Vec<(Uuid, Uuid)> = held
        .lock()
        .map(|h| h.iter().copied().collect())
        .unwrap_or_default();
    for (id, lease) in unfinished {
        match ctx.store().release_job(id, lease).await {
            Ok(_) => tracing::info!(job = %id, "released unfinished at shutdown"),
            Err(e) => tracing::warn!(job = %id, error = %e, "could not release a job at shutdown"),
        }
    }
}

/// Enqueues this period's periodic jobs. Their keys name the period, so however many
/// servers do this, each period's job is stored (and run) once.
async fn periodic(ctx: &Ctx, registry: &Registry, last_slots: &mut HashMap<&'static str, i64>) {
    let now = ctx.now();
    for (kind, period) in &registry.periodic {
        // On a development clock time jumps (or stands still), so slots follow the wall clock
        // and come every second: a pulse due after a jump opens at once.
        let slot = if ctx.on_dev_clock() {
            Clock::system().unix_timestamp()
        } else {
            now.unix_timestamp()
                .div_euclid(period.whole_seconds().max(1))
        };
        if last_slots.get(kind) == Some(&slot) {
            continue;
        }
        let key = format!("{kind}:{slot}");
        match enqueue(ctx, None, kind, serde_json::json!({}), &key, now).await {
            Ok(_) => {
                last_slots.insert(kind, slot);
            }
            Err(e) => tracing::warn!(error = %e, kind, "could not enqueue a periodic job"),
        }
    }
}

async fn run_one(ctx: Ctx, registry: Registry, job: Job, held: Held) {
    let Some(lease) = job.lease else { return };
    if let Ok(mut h) = held.lock() {
        h.insert((job.id, lease));
    }
    let outcome = run_handler(&ctx, &registry, &job).await;
    record(&ctx, &job, lease, outcome).await;
    if let Ok(mut h) = held.lock() {
        h.remove(&(job.id, lease));
    }
}

async fn run_handler(ctx: &Ctx, registry: &Registry, job: &Job) -> Result<(), Failure> {
    let Some(handler) = registry.handlers.get(job.kind.as_str()) else {
        return Err(Failure::Permanent(format!(
            "no handler for jobs of kind {:?}",
            job.kind
        )));
    };
    // Stop well before the lease runs out, so no other worker starts it meanwhile.
    let limit = ctx.settings().jobs.lease.unsigned_abs().mul_f64(0.8);
    let task = tokio::spawn(handler(ctx.clone(), job.clone()));
    let abort = task.abort_handle();
    // Aborting this future (a shutdown past its grace) aborts the handler too.
    let _guard = AbortOnDrop(abort);
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(failed)) => Err(Failure::Retry(format!("the handler failed: {failed}"))),
        Err(_) => Err(Failure::Retry(format!(
            "took longer than {} seconds",
            limit.as_secs()
        ))),
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn record(ctx: &Ctx, job: &Job, lease: Uuid, outcome: Result<(), Failure>) {
    let store = ctx.store();
    let recorded = match &outcome {
        Ok(()) => store.finish_job(job.id, lease, ctx.now()).await,
        Err(failure) => {
            let (why, retry) = match failure {
                Failure::Retry(why) => (
                    why,
                    ctx.settings()
                        .jobs
                        .retry
                        .next_attempt(job.attempts, ctx.now())
                        .map_or(Retry::Never, Retry::At),
                ),
                Failure::Permanent(why) => (why, Retry::Never),
            };
            tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %why,
                dead = retry == Retry::Never, "job failed");
            let outcome = if retry == Retry::Never {
                "dead"
            } else {
                "retry"
            };
            metrics::counter!("kintsugi_jobs_total", "kind" => job.kind.clone(), "outcome" => outcome)
                .increment(1);
            store.fail_job(job.id, lease, why, retry).await
        }
    };
    match recorded {
        Ok(true) if outcome.is_ok() => {
            tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job done");
            metrics::counter!("kintsugi_jobs_total", "kind" => job.kind.clone(), "outcome" => "done")
                .increment(1);
        }
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = %job.id, "the job's lease ran out before it finished"),
        Err(e) => tracing::warn!(job = %job.id, error = %e, "could not record the job's outcome"),
    }
}
