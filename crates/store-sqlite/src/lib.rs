//! The SQLite adapter: the default, embedded in the data directory.
//!
//! WAL mode with `synchronous = FULL`, so a committed write survives power loss; write
//! transactions begin with `BEGIN IMMEDIATE`, so they wait on the busy timeout instead
//! of failing when they upgrade from read to write.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use kintsugi_store::{Result, StoreError};
use kintsugi_store_sql::{Backend, db, impl_store};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Sqlite, Transaction};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct SqliteStore {
    pool: SqlitePool,
}

impl Backend for SqliteStore {
    type Db = Sqlite;
    const CLAIM_LOCK: &'static str = "";
    // The WAL would otherwise keep each batch's frames, in order, until the next checkpoint.
    const AFTER_SEAL: &'static str = "PRAGMA wal_checkpoint(TRUNCATE)";
}

impl_store!(SqliteStore);

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // Deleted rows are overwritten, not left in free pages for a file reader to find.
        .pragma("secure_delete", "on")
        // Statements are never logged, at any level (see docs/privacy.md).
        .disable_statement_logging()
        // Rows come back from SQLite's worker thread through a bounded channel; at the default
        // (50) a page's 1,000-row reads stall the worker every 50 rows and cost a thread wake-up
        // each time. Our reads are bounded (`fetch_all` of one repair or one organisation), so
        // a larger buffer costs no more memory than the result itself.
        .row_buffer_size(1024)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            // On a full disk SQLite rolls a failed transaction back itself; sqlx's rollback
            // then fails and its count of open transactions stays up, so every later BEGIN on
            // that connection would fail. Such a connection is closed, not reused.
            .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options(path))
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens `sqlite://PATH` (or `sqlite:PATH`).
    pub async fn open_url(url: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad SQLite URL {url:?}: {e}")))?;
        Self::open(opts.get_filename()).await
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))
    }

    async fn write_tx(&self) -> Result<Transaction<'_, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }

    /// Writes a consistent snapshot of the live database to `target` (which must not exist),
    /// while other connections keep reading and writing.
    pub async fn backup(&self, target: &Path) -> Result<()> {
        if target.exists() {
            return Err(StoreError::Conflict(format!(
                "{} already exists",
                target.display()
            )));
        }
        let target = target
            .to_str()
            .ok_or_else(|| StoreError::Internal("backup path is not valid UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// Checks that `backup` is a whole Kintsugi database, then puts it in place of `live`.
/// The server must be stopped: the caller holds the data directory's lock.
pub async fn restore(backup: &Path, live: &Path) -> Result<()> {
    let check = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(backup).read_only(true))
        .await
        .map_err(|e| {
            StoreError::NotFound(Box::leak(
                format!("backup {}: {e}", backup.display()).into_boxed_str(),
            ))
        })?;
    let verdict: Result<(String,), _> = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&check)
        .await;
    let migrated: Result<(i64,), _> = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&check)
        .await;
    check.close().await;
    match (verdict, migrated) {
        (Ok((ok,)), Ok((n,))) if ok == "ok" && n > 0 => {}
        _ => {
            return Err(StoreError::Conflict(format!(
                "{} is not a Kintsugi backup (integrity check failed or no schema)",
                backup.display()
            )));
        }
    }
    let staged = live.with_extension("restoring");
    std::fs::copy(backup, &staged)
        .map_err(|e| StoreError::Internal(format!("copy backup: {e}")))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = live.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    std::fs::rename(&staged, live)
        .map_err(|e| StoreError::Internal(format!("put backup in place: {e}")))?;
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "the backup test stamps its setup tokens with the real time, as the application would"
)]
mod tests {
    use super::*;
    use kintsugi_store::OrganisationStore;

    #[tokio::test]
    async fn conformance_story() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kintsugi.db"))
            .await
            .unwrap();
        kintsugi_store::conformance::story(&store).await;
    }

    #[tokio::test]
    async fn job_queue() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kintsugi.db"))
            .await
            .unwrap();
        kintsugi_store::job_queue_conformance(&store).await;
    }

    #[tokio::test]
    async fn backup_while_open_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("kintsugi.db");
        let store = SqliteStore::open(&live).await.unwrap();
        store
            .put_setup_token(
                "a",
                time::OffsetDateTime::now_utc() + time::Duration::hours(1),
            )
            .await
            .unwrap();
        let snap = dir.path().join("snap.db");
        store.backup(&snap).await.unwrap();
        assert!(
            store.backup(&snap).await.is_err(),
            "a backup never overwrites"
        );
        store
            .put_setup_token("b", time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        store.close().await;

        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"not a database").unwrap();
        assert!(restore(&junk, &live).await.is_err());
        restore(&snap, &live).await.unwrap();
        let store = SqliteStore::open(&live).await.unwrap();
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM setup_tokens")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(
            n.0, 1,
            "the restore holds what the snapshot held, not later writes"
        );
    }
}
