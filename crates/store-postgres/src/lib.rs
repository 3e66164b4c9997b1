//! The PostgreSQL adapter, for organisations that run several stateless servers.
//!
//! The migrator runs without advisory locks, so the same migrations work on
//! Postgres-wire databases that lack them (CockroachDB); run `kintsugi migrate`
//! once per deploy rather than racing several servers.

use std::time::Duration;

use kintsugi_store::{Result, StoreError};
use kintsugi_store_sql::{Backend, db, impl_store};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

pub struct PostgresStore {
    pool: PgPool,
}

impl Backend for PostgresStore {
    type Db = Postgres;
    const CLAIM_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";
    // A batch is one transaction: one xmin for all its rows, its WAL one commit record.
    const AFTER_SEAL: &'static str = "";
}

impl_store!(PostgresStore);

impl PostgresStore {
    /// Connects to `postgres://…` and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Self> {
        // Statements are never logged, at any level: a statement log next to the request log
        // is one way to tie the anonymous path's writes to a moment.
        let options = url
            .parse::<PgConnectOptions>()
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_locking(false);
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))
    }

    async fn write_tx(&self) -> Result<Transaction<'_, Postgres>> {
        self.pool.begin().await.map_err(db)
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "each test's database gets a fresh random name; the one id source is in the \
              application layer above the store"
)]
mod tests {
    use super::*;

    /// A fresh database for one test, on the server named by `KINTSUGI_TEST_POSTGRES_URL`
    /// (default: the local server with trust auth). Dropped by the next run's cleanup.
    async fn fresh_database() -> String {
        let admin = std::env::var("KINTSUGI_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin)
            .await
            .expect(
                "PostgreSQL must run for the conformance suite (scripts/ensure-postgres starts it)",
            );
        let name = format!("kintsugi_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        format!("{base}/{name}")
    }

    #[tokio::test]
    async fn conformance_story() {
        let url = fresh_database().await;
        let store = PostgresStore::open(&url).await.unwrap();
        kintsugi_store::conformance::story(&store).await;
    }

    #[tokio::test]
    async fn job_queue() {
        let url = fresh_database().await;
        let store = PostgresStore::open(&url).await.unwrap();
        kintsugi_store::job_queue_conformance(&store).await;
    }
}
