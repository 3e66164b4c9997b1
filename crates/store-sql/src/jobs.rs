//! The job queue half of [`crate::impl_store!`]: [`kintsugi_store::JobStore`], expanded per adapter.
//! The claim differs by backend only in its lock clause ([`crate::Backend::CLAIM_LOCK`]).

/// A job row, converted with checks.
#[derive(sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub org_id: Option<String>,
    pub kind: String,
    pub payload: String,
    pub idempotency_key: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub lease: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

pub const JOB_COLUMNS: &str = "id, org_id, kind, payload, idempotency_key, state, attempts, \
    max_attempts, run_at, lease, last_error, created_at, finished_at";

impl TryFrom<JobRow> for kintsugi_store::Job {
    type Error = kintsugi_store::StoreError;
    fn try_from(r: JobRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: crate::uuid(&r.id)?,
            org_id: r.org_id.as_deref().map(crate::uuid).transpose()?,
            kind: r.kind,
            payload: r.payload,
            idempotency_key: r.idempotency_key,
            state: kintsugi_store::JobState::parse(&r.state).ok_or_else(|| {
                kintsugi_store::StoreError::Internal(format!("bad job state {:?}", r.state))
            })?,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(r.max_attempts).unwrap_or(u32::MAX),
            run_at: crate::from_ts(r.run_at)?,
            lease: r.lease.as_deref().map(crate::uuid).transpose()?,
            last_error: r.last_error,
            created_at: crate::from_ts(r.created_at)?,
            finished_at: r.finished_at.map(crate::from_ts).transpose()?,
        })
    }
}

#[macro_export]
macro_rules! impl_job_store {
    ($store:ty) => {
        impl $store {
            /// Stores a job unless its idempotency key has one; true when stored. Shared by
            /// `enqueue_job` and the writes that enqueue inside their own transaction.
            async fn insert_job(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                job: &kintsugi_store::NewJob,
            ) -> kintsugi_store::Result<bool> {
                let done = $crate::sqlx::query(
                    "INSERT INTO jobs (id, org_id, kind, payload, idempotency_key, state, attempts, max_attempts, run_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8) ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(job.id.to_string())
                .bind(job.org_id.map(|o| o.to_string()))
                .bind(&job.kind)
                .bind(&job.payload)
                .bind(&job.idempotency_key)
                .bind(i64::from(job.max_attempts.max(1)))
                .bind($crate::ts(job.run_at))
                .bind($crate::ts(job.created_at))
                .execute(&mut **tx)
                .await
                .map_err($crate::db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_email_preference(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                person_id: &str,
                kind: &str,
                enabled: bool,
            ) -> kintsugi_store::Result<()> {
                $crate::sqlx::query(
                    "INSERT INTO email_preferences (person_id, kind, enabled) VALUES ($1, $2, $3) \
                     ON CONFLICT (person_id, kind) DO UPDATE SET enabled = excluded.enabled",
                )
                .bind(person_id)
                .bind(kind)
                .bind(enabled)
                .execute(&mut **tx)
                .await
                .map_err($crate::db)?;
                Ok(())
            }
        }

        #[$crate::async_trait]
        impl kintsugi_store::JobStore for $store {
            async fn enqueue_job(&self, job: &kintsugi_store::NewJob) -> kintsugi_store::Result<bool> {
                let mut tx = self.write_tx().await?;
                let stored = Self::insert_job(&mut tx, job).await?;
                tx.commit().await.map_err($crate::db)?;
                Ok(stored)
            }

            async fn known_job_keys(&self, keys: &[String]) -> kintsugi_store::Result<std::collections::HashSet<String>> {
                let mut known = std::collections::HashSet::new();
                // Batches well under either backend's limit on bound parameters.
                for batch in keys.chunks(500) {
                    let marks: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
                    let sql = format!("SELECT idempotency_key FROM jobs WHERE idempotency_key IN ({})", marks.join(", "));
                    let mut query = $crate::sqlx::query_as::<_, (String,)>($crate::sqlx::AssertSqlSafe(sql));
                    for key in batch {
                        query = query.bind(key);
                    }
                    known.extend(query.fetch_all(&self.pool).await.map_err($crate::db)?.into_iter().map(|(k,)| k));
                }
                Ok(known)
            }

            async fn claim_jobs(
                &self,
                now: time::OffsetDateTime,
                locked_until: time::OffsetDateTime,
                limit: u32,
                lease: uuid::Uuid,
            ) -> kintsugi_store::Result<Vec<kintsugi_store::Job>> {
                let now = $crate::ts(now);
                let lease = lease.to_string();
                // Idle workers poll often: look before taking the write lock.
                let due: Option<(String,)> = $crate::sqlx::query_as(
                    "SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $1) \
                     OR (state = 'running' AND locked_until <= $1) LIMIT 1",
                )
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::db)?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                let mut tx = self.write_tx().await?;
                // A worker died holding these, and they have no attempts left.
                $crate::sqlx::query(
                    "UPDATE jobs SET state = 'dead', lease = NULL, locked_until = NULL, finished_at = $1, \
                     last_error = COALESCE(last_error, 'the worker stopped during every attempt') \
                     WHERE state = 'running' AND locked_until <= $1 AND attempts >= max_attempts",
                )
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                let sql = format!(
                    "SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $1) \
                     OR (state = 'running' AND locked_until <= $1) ORDER BY run_at, id LIMIT $2{}",
                    <$store as $crate::Backend>::CLAIM_LOCK
                );
                let ids: Vec<(String,)> = $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                let mut claimed = Vec::with_capacity(ids.len());
                for (id,) in ids {
                    let row: $crate::JobRow = $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(format!(
                        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease = $1, locked_until = $2 \
                         WHERE id = $3 RETURNING {}",
                        $crate::JOB_COLUMNS
                    )))
                    .bind(&lease)
                    .bind($crate::ts(locked_until))
                    .bind(&id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                    claimed.push(row.try_into()?);
                }
                tx.commit().await.map_err($crate::db)?;
                Ok(claimed)
            }

            async fn finish_job(&self, id: uuid::Uuid, lease: uuid::Uuid, now: time::OffsetDateTime) -> kintsugi_store::Result<bool> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query(
                    "UPDATE jobs SET state = 'done', payload = '{}', lease = NULL, locked_until = NULL, finished_at = $1 \
                     WHERE id = $2 AND lease = $3 AND state = 'running'",
                )
                .bind($crate::ts(now))
                .bind(id.to_string())
                .bind(lease.to_string())
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_job(&self, id: uuid::Uuid, lease: uuid::Uuid) -> kintsugi_store::Result<bool> {
                let mut tx = self.write_tx().await?;
                // The attempt the claim counted is given back: the job did not fail.
                let done = $crate::sqlx::query(
                    "UPDATE jobs SET state = 'queued', lease = NULL, locked_until = NULL, attempts = attempts - 1 \
                     WHERE id = $1 AND lease = $2 AND state = 'running'",
                )
                .bind(id.to_string())
                .bind(lease.to_string())
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn fail_job(&self, id: uuid::Uuid, lease: uuid::Uuid, error: &str, retry: kintsugi_store::Retry) -> kintsugi_store::Result<bool> {
                let (state, run_at) = match retry {
                    kintsugi_store::Retry::At(t) => ("queued", Some($crate::ts(t))),
                    kintsugi_store::Retry::Never => ("dead", None),
                };
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query(
                    "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), last_error = $3, lease = NULL, \
                     locked_until = NULL WHERE id = $4 AND lease = $5 AND state = 'running'",
                )
                .bind(state)
                .bind(run_at)
                .bind(error)
                .bind(id.to_string())
                .bind(lease.to_string())
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn purge_jobs(&self, before: time::OffsetDateTime) -> kintsugi_store::Result<u64> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query("DELETE FROM jobs WHERE state = 'done' AND finished_at < $1")
                    .bind($crate::ts(before))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)?;
                Ok(done.rows_affected())
            }

            async fn jobs(&self, org_id: uuid::Uuid, state: Option<kintsugi_store::JobState>, limit: u32) -> kintsugi_store::Result<Vec<kintsugi_store::Job>> {
                let rows: Vec<$crate::JobRow> = $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM jobs WHERE (org_id = $1 OR org_id IS NULL) AND ($2 IS NULL OR state = $2) \
                     ORDER BY created_at DESC, id LIMIT $3",
                    $crate::JOB_COLUMNS
                )))
                .bind(org_id.to_string())
                .bind(state.map(|s| s.as_str()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn job_counts(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<kintsugi_store::JobCounts> {
                let rows: Vec<(String, i64)> = $crate::sqlx::query_as(
                    "SELECT state, COUNT(*) FROM jobs WHERE org_id = $1 OR org_id IS NULL GROUP BY state",
                )
                .bind(org_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                let mut counts = kintsugi_store::JobCounts::default();
                for (state, n) in rows {
                    let n = u64::try_from(n).unwrap_or(0);
                    match kintsugi_store::JobState::parse(&state) {
                        Some(kintsugi_store::JobState::Queued) => counts.queued = n,
                        Some(kintsugi_store::JobState::Running) => counts.running = n,
                        Some(kintsugi_store::JobState::Done) => counts.done = n,
                        Some(kintsugi_store::JobState::Dead) => counts.dead = n,
                        None => {}
                    }
                }
                Ok(counts)
            }

            async fn retry_job(&self, org_id: uuid::Uuid, id: uuid::Uuid, now: time::OffsetDateTime, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query(
                    "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, finished_at = NULL \
                     WHERE id = $2 AND state = 'dead' AND (org_id = $3 OR org_id IS NULL)",
                )
                .bind($crate::ts(now))
                .bind(id.to_string())
                .bind(org_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "dead job")?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn emails_off(&self, person_id: uuid::Uuid) -> kintsugi_store::Result<Vec<String>> {
                let rows: Vec<(String,)> = $crate::sqlx::query_as(
                    "SELECT kind FROM email_preferences WHERE person_id = $1 AND NOT enabled ORDER BY kind",
                )
                .bind(person_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                Ok(rows.into_iter().map(|(k,)| k).collect())
            }

            async fn set_email(&self, person_id: uuid::Uuid, kind: &str, enabled: bool) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::put_email_preference(&mut tx, &person_id.to_string(), kind, enabled).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn put_unsubscribe_link(&self, token_hash: &str, person_id: uuid::Uuid, kind: &str, now: time::OffsetDateTime) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("INSERT INTO unsubscribe_links (token_hash, person_id, kind, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(token_hash)
                    .bind(person_id.to_string())
                    .bind(kind)
                    .bind($crate::ts(now))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("unsubscribe link"))?;
                tx.commit().await.map_err($crate::db)
            }

            async fn unsubscribe(&self, token_hash: &str) -> kintsugi_store::Result<Option<(uuid::Uuid, String)>> {
                let mut tx = self.write_tx().await?;
                let found: Option<(String, String)> = $crate::sqlx::query_as("SELECT person_id, kind FROM unsubscribe_links WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                let Some((person_id, kind)) = found else { return Ok(None) };
                Self::put_email_preference(&mut tx, &person_id, &kind, false).await?;
                tx.commit().await.map_err($crate::db)?;
                Ok(Some(($crate::uuid(&person_id)?, kind)))
            }

            async fn issued_to(&self, round_id: uuid::Uuid) -> kintsugi_store::Result<Vec<uuid::Uuid>> {
                let rows: Vec<(String,)> = $crate::sqlx::query_as("SELECT person_id FROM round_issued WHERE round_id = $1")
                    .bind(round_id.to_string())
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                rows.iter().map(|(p,)| $crate::uuid(p)).collect()
            }

            async fn team_member_ids(&self, team_id: uuid::Uuid) -> kintsugi_store::Result<Vec<uuid::Uuid>> {
                let rows: Vec<(String,)> = $crate::sqlx::query_as(
                    "SELECT m.person_id FROM team_members m JOIN people p ON p.id = m.person_id \
                     WHERE m.team_id = $1 AND p.active ORDER BY m.person_id",
                )
                .bind(team_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                rows.iter().map(|(p,)| $crate::uuid(p)).collect()
            }
        }
    };
}
