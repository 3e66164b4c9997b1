//! The job queue and what the reminders need from storage, apart from [`crate::Store`]'s
//! domain methods. Every [`crate::Store`] is a [`JobStore`].
//!
//! Delivery is at least once: a job is claimed with a lease, and a worker that dies
//! mid-job leaves it to be claimed again when the lease runs out. A claim is a lease id;
//! finishing or failing with a stale lease changes nothing, so a job another worker took
//! over is not marked twice.

use async_trait::async_trait;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Audit, Result};

#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    /// Organisation the job belongs to (its admins see it); none for server housekeeping.
    pub org_id: Option<Uuid>,
    /// Which handler runs it, e.g. `email`.
    pub kind: String,
    /// JSON for the handler.
    pub payload: String,
    /// At most one job per key is ever stored: a second enqueue with the same key is a no-op.
    /// Receivers see it too (email: `Message-ID`), so they can deduplicate redeliveries.
    pub idempotency_key: String,
    pub max_attempts: u32,
    pub run_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker until `locked_until`.
    Running,
    Done,
    /// Failed `max_attempts` times; waits for an admin to retry it.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub kind: String,
    #[serde(skip)]
    pub payload: String,
    pub idempotency_key: String,
    pub state: JobState,
    /// Attempts started so far, this one included once claimed.
    pub attempts: u32,
    pub max_attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub run_at: OffsetDateTime,
    /// The claim this copy of the job was handed out under.
    #[serde(skip)]
    pub lease: Option<Uuid>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// What becomes of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    At(OffsetDateTime),
    /// No attempts left: the job goes to the dead letters.
    Never,
}

/// How many jobs are in each state, for the admin page and metrics.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct JobCounts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a job unless one with the same idempotency key exists; true when stored.
    async fn enqueue_job(&self, job: &NewJob) -> Result<bool>;
    /// Which of these idempotency keys already have a job: a sweep that would enqueue
    /// thousands of jobs, most of them already queued, asks first and writes only the new.
    async fn known_job_keys(&self, keys: &[String]) -> Result<std::collections::HashSet<String>>;
    /// Claims up to `limit` jobs that are due (or whose lease ran out), each under `lease`
    /// until `locked_until`, and counts the attempt. The caller passes a new lease for every
    /// claim (the store makes no ids); finishing, failing and releasing match the job's id
    /// as well as its lease, so the jobs of one claim may share it. PostgreSQL skips rows
    /// another worker holds (`FOR UPDATE SKIP LOCKED`); SQLite claims inside
    /// `BEGIN IMMEDIATE`. A job whose lease ran out with no attempts left goes to the dead
    /// letters instead.
    async fn claim_jobs(
        &self,
        now: OffsetDateTime,
        locked_until: OffsetDateTime,
        limit: u32,
        lease: Uuid,
    ) -> Result<Vec<Job>>;
    /// Marks a claimed job done and drops its payload (it may hold personal data or a link);
    /// false when the lease is no longer this one's.
    async fn finish_job(&self, id: Uuid, lease: Uuid, now: OffsetDateTime) -> Result<bool>;
    /// Puts a claimed job back in the queue at once, without counting the attempt: a worker
    /// that stops before finishing hands it back. False when the lease is no longer this one's.
    async fn release_job(&self, id: Uuid, lease: Uuid) -> Result<bool>;
    /// Records a failed attempt: queued again at the given time, or dead.
    async fn fail_job(&self, id: Uuid, lease: Uuid, error: &str, retry: Retry) -> Result<bool>;
    /// Deletes jobs that finished before `before`; returns how many.
    async fn purge_jobs(&self, before: OffsetDateTime) -> Result<u64>;
    /// An organisation's jobs (and the server's own), newest first, optionally in one state.
    async fn jobs(&self, org_id: Uuid, state: Option<JobState>, limit: u32) -> Result<Vec<Job>>;
    async fn job_counts(&self, org_id: Uuid) -> Result<JobCounts>;
    /// Queues a dead job again with fresh attempts. `NotFound` unless it is dead and visible
    /// to the organisation.
    async fn retry_job(
        &self,
        org_id: Uuid,
        id: Uuid,
        now: OffsetDateTime,
        audit: &Audit,
    ) -> Result<()>;

    /// The email kinds a person turned off (every other kind is on).
    async fn emails_off(&self, person_id: Uuid) -> Result<Vec<String>>;
    async fn set_email(&self, person_id: Uuid, kind: &str, enabled: bool) -> Result<()>;
    /// Stores an unsubscribe link (its token's hash) for one person and kind.
    async fn put_unsubscribe_link(
        &self,
        token_hash: &str,
        person_id: Uuid,
        kind: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Turns off the kind the link names; returns the person and kind, or none for an
    /// unknown link. Works any number of times (mail scanners fetch links too).
    async fn unsubscribe(&self, token_hash: &str) -> Result<Option<(Uuid, String)>>;
    /// Who fetched a token for a round: the only "has not answered" the reminders may use.
    async fn issued_to(&self, round_id: Uuid) -> Result<Vec<Uuid>>;
    /// The active members of a team: who a team health check's notices go to.
    async fn team_member_ids(&self, team_id: Uuid) -> Result<Vec<Uuid>>;
}

/// The queue's contract, run by each adapter's tests with time passed in: a claimed job is
/// not claimed again until its lease runs out; then it is, under a new lease, and the old
/// lease can no longer finish or fail it; retries wait; the dead wait for an admin.
#[allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    reason = "a test story run by the adapters' tests: a failed step fails the test, and it \
              needs fresh ids while the one id source is in the application layer above"
)]
pub async fn job_queue_conformance(store: &dyn JobStore) {
    let t = |s: i64| OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap();
    let job = |key: &str, at: OffsetDateTime| NewJob {
        id: Uuid::new_v4(),
        org_id: None,
        kind: "test".into(),
        payload: "{}".into(),
        idempotency_key: key.into(),
        max_attempts: 2,
        run_at: at,
        created_at: t(0),
    };
    assert!(store.enqueue_job(&job("a", t(0))).await.unwrap());
    assert!(
        !store.enqueue_job(&job("a", t(0))).await.unwrap(),
        "one job per key"
    );
    assert!(store.enqueue_job(&job("later", t(100))).await.unwrap());
    let asked: Vec<String> = (0..1500)
        .map(|i| format!("k{i}"))
        .chain(["a".into(), "later".into()])
        .collect();
    assert_eq!(
        store.known_job_keys(&asked).await.unwrap(),
        ["a".to_string(), "later".to_string()].into(),
        "only the keys with a job, asked in more than one batch"
    );

    // Each claim under a new lease, as the worker makes one.
    let claim = move |now, until| store.claim_jobs(now, until, 10, Uuid::new_v4());
    let lease = Uuid::new_v4();
    let first = store.claim_jobs(t(1), t(31), 10, lease).await.unwrap();
    assert_eq!(first.len(), 1, "only the due job");
    let (id, lease1) = (first[0].id, first[0].lease.unwrap());
    assert_eq!(lease1, lease, "held under the lease given");
    assert_eq!(first[0].attempts, 1);
    assert!(
        claim(t(2), t(32)).await.unwrap().is_empty(),
        "held under its lease"
    );

    // The worker died: after the lease, another worker takes it.
    let second = claim(t(31), t(61)).await.unwrap();
    assert_eq!(second.len(), 1);
    let lease2 = second[0].lease.unwrap();
    assert_ne!(lease1, lease2);
    assert_eq!(second[0].attempts, 2);
    assert!(
        !store.finish_job(id, lease1, t(40)).await.unwrap(),
        "a stale lease changes nothing"
    );
    assert!(
        !store
            .fail_job(id, lease1, "late", Retry::At(t(50)))
            .await
            .unwrap()
    );
    // A failure with a retry time waits for it.
    assert!(
        store
            .fail_job(id, lease2, "boom", Retry::At(t(90)))
            .await
            .unwrap()
    );
    assert!(claim(t(60), t(90)).await.unwrap().is_empty());
    let third = claim(t(90), t(120)).await.unwrap();
    assert_eq!(third.len(), 1, "due again at its retry time");
    assert!(
        store
            .fail_job(third[0].id, third[0].lease.unwrap(), "boom", Retry::Never)
            .await
            .unwrap()
    );
    // Dead: no worker takes it, until it is retried.
    let later = claim(t(100), t(130)).await.unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].idempotency_key, "later");
    store
        .finish_job(later[0].id, later[0].lease.unwrap(), t(101))
        .await
        .unwrap();
    assert!(claim(t(200), t(230)).await.unwrap().is_empty());
    assert_eq!(
        store.purge_jobs(t(102)).await.unwrap(),
        1,
        "the finished job"
    );
    assert_eq!(store.purge_jobs(t(102)).await.unwrap(), 0);

    // A stopping worker hands its job back: due again at once, the attempt not counted.
    assert!(store.enqueue_job(&job("released", t(300))).await.unwrap());
    let held = claim(t(300), t(330)).await.unwrap();
    assert_eq!(held.len(), 1);
    let (id, lease1) = (held[0].id, held[0].lease.unwrap());
    assert_eq!(held[0].attempts, 1);
    assert!(
        !store.release_job(id, Uuid::new_v4()).await.unwrap(),
        "another lease releases nothing"
    );
    assert!(store.release_job(id, lease1).await.unwrap());
    assert!(
        !store.release_job(id, lease1).await.unwrap(),
        "released once"
    );
    let again = claim(t(300), t(330)).await.unwrap();
    assert_eq!(
        again.len(),
        1,
        "claimed again before its lease would have run out"
    );
    assert_eq!(
        (again[0].id, again[0].attempts),
        (id, 1),
        "attempts unchanged"
    );
    let lease2 = again[0].lease.unwrap();
    assert_ne!(lease1, lease2);
    assert!(
        !store.release_job(id, lease1).await.unwrap(),
        "a stale lease releases nothing"
    );
    assert!(
        claim(t(301), t(331)).await.unwrap().is_empty(),
        "still held under the new lease"
    );
    assert!(store.finish_job(id, lease2, t(302)).await.unwrap());
}
