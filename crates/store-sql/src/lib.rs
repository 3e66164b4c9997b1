//! The queries behind [`kintsugi_store::Store`], shared by the SQLite and PostgreSQL adapters.
//!
//! [`impl_store!`] expands everything for an adapter type that has a `pool` field and a
//! `write_tx()` method (SQLite begins it with `BEGIN IMMEDIATE`): the inherent helpers the
//! queries share, then one `impl` per part of the trait, each written by a macro in the
//! module named for its aggregate (`organisations`, `people`, `repairs`, `rounds`,
//! `lessons`, `webhooks`, `events`, `health`, `jobs`). Row types and the longer shared queries are
//! in `rows`. Every write runs in one transaction, so a refused operation stores nothing.

mod events;
mod health;
mod jobs;
mod lessons;
mod organisations;
mod people;
mod releases;
mod repairs;
mod round_keys;
mod rounds;
mod rows;
mod webhooks;

pub use jobs::{JOB_COLUMNS, JobRow};

pub use async_trait::async_trait;
pub use lessons::*;
pub use releases::*;
pub use rows::*;
pub use sqlx;

use kintsugi_store::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

/// Timestamps are stored as BIGINT seconds since the epoch: the same on every backend.
pub fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub fn from_ts(secs: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| StoreError::Internal(format!("bad timestamp {secs}: {e}")))
}

pub fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::Internal(format!("bad id {text:?}: {e}")))
}

/// A record that belongs to an organisation, checked inside a write before it is referred to.
pub enum InOrg {
    Person,
    Team,
    Repair,
    Story,
}

impl InOrg {
    pub fn sql(&self) -> &'static str {
        match self {
            InOrg::Person => "SELECT id FROM people WHERE id = $1 AND org_id = $2",
            InOrg::Team => "SELECT id FROM teams WHERE id = $1 AND org_id = $2",
            InOrg::Repair => "SELECT id FROM repairs WHERE id = $1 AND org_id = $2",
            InOrg::Story => "SELECT id FROM stories WHERE id = $1 AND org_id = $2",
        }
    }

    pub fn what(&self) -> &'static str {
        match self {
            InOrg::Person => "person",
            InOrg::Team => "team",
            InOrg::Repair => "repair",
            InOrg::Story => "story",
        }
    }
}

/// An update or delete of one record by id: it touched exactly one row, or the record is not
/// there (`NotFound(what)`).
pub fn one_row(affected: u64, what: &'static str) -> Result<(), StoreError> {
    if affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound(what))
    }
}

/// Maps a driver error once. `conflict` names what was duplicated, in the user's words.
pub fn map_err(conflict: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(conflict.into())
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound("a referenced record")
        }
        sqlx::Error::Database(db) if db.code().is_some_and(|c| unavailable_code(&c)) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

/// Codes that mean "the database cannot serve now", not "this request is wrong".
/// PostgreSQL: connection exceptions (08…), shutdown or start-up (57P…), a database that
/// is gone (3D000), out of disk or memory (53…). SQLite: busy, locked, I/O, full, cannot open.
fn unavailable_code(code: &str) -> bool {
    if code.starts_with("08")
        || code.starts_with("57P")
        || code.starts_with("53")
        || code == "3D000"
    {
        return true;
    }
    code.parse::<i64>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13 | 14))
}

/// Errors with no uniqueness rule to name.
pub fn db(e: sqlx::Error) -> StoreError {
    map_err("record")(e)
}

#[macro_export]
macro_rules! impl_store {
    ($store:ty) => {
        $crate::repair_helpers!($store);
        $crate::health_impl!($store);
        $crate::impl_job_store!($store);
        $crate::lesson_helpers!($store);

        impl $store {
            /// `NotFound` unless the record is in the organisation (inside the write's transaction).
            async fn in_org(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                kind: $crate::InOrg,
                id: uuid::Uuid,
                org_id: uuid::Uuid,
            ) -> kintsugi_store::Result<()> {
                let found: Option<(String,)> = $crate::sqlx::query_as(kind.sql())
                    .bind(id.to_string())
                    .bind(org_id.to_string())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::db)?;
                found.map(|_| ()).ok_or(kintsugi_store::StoreError::NotFound(kind.what()))
            }

            async fn people_of<'e, E>(exec: E, org_id: &str) -> kintsugi_store::Result<Vec<kintsugi_store::Person>>
            where
                E: $crate::sqlx::Executor<'e, Database = <$store as $crate::Backend>::Db> + Copy,
            {
                let rows: Vec<$crate::PersonRow> = $crate::sqlx::query_as(
                    "SELECT id, org_id, name, email, password_hash, is_admin, is_facilitator, active, \
                     created_at, deactivated_at FROM people WHERE org_id = $1 ORDER BY name, id",
                )
                .bind(org_id)
                .fetch_all(exec)
                .await
                .map_err($crate::db)?;
                let links: Vec<(String, String)> = $crate::sqlx::query_as(
                    "SELECT m.person_id, m.team_id FROM team_members m JOIN people p ON p.id = m.person_id \
                     WHERE p.org_id = $1",
                )
                .bind(org_id)
                .fetch_all(exec)
                .await
                .map_err($crate::db)?;
                let links = $crate::ByParent::new(&links, |(person, _)| person.as_str());
                rows.into_iter().map(|r| r.into_person(&links)).map(|p| p.map(|(p, _)| p)).collect()
            }

            /// One person by id: its own queries, because `$2 IS NULL OR id = $2` keeps the
            /// planner from the primary key, and every request of a signed-in person reads
            /// them (a scan of 100,000 people each time, in a large organisation).
            async fn one_person<'e, E>(exec: E, org_id: &str, id: &str) -> kintsugi_store::Result<Option<kintsugi_store::Person>>
            where
                E: $crate::sqlx::Executor<'e, Database = <$store as $crate::Backend>::Db> + Copy,
            {
                let row: Option<$crate::PersonRow> = $crate::sqlx::query_as(
                    "SELECT id, org_id, name, email, password_hash, is_admin, is_facilitator, active, \
                     created_at, deactivated_at FROM people WHERE id = $1 AND org_id = $2",
                )
                .bind(id)
                .bind(org_id)
                .fetch_optional(exec)
                .await
                .map_err($crate::db)?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(Self::with_teams(exec, row).await?.0))
            }

            /// A person's row with their team links: the person, and their password hash.
            async fn with_teams<'e, E>(exec: E, row: $crate::PersonRow) -> kintsugi_store::Result<(kintsugi_store::Person, Option<String>)>
            where
                E: $crate::sqlx::Executor<'e, Database = <$store as $crate::Backend>::Db> + Copy,
            {
                let links: Vec<(String, String)> =
                    $crate::sqlx::query_as("SELECT person_id, team_id FROM team_members WHERE person_id = $1")
                        .bind(&row.id)
                        .fetch_all(exec)
                        .await
                        .map_err($crate::db)?;
                let links = $crate::ByParent::new(&links, |(person, _)| person.as_str());
                row.into_person(&links)
            }

            async fn insert_person(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                p: &kintsugi_store::NewPerson,
            ) -> kintsugi_store::Result<()> {
                $crate::sqlx::query(
                    "INSERT INTO people (id, org_id, name, email, password_hash, is_admin, is_facilitator, active, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(p.id.to_string())
                .bind(p.org_id.to_string())
                .bind(p.name.as_str())
                .bind(p.email.as_str())
                .bind(p.password_hash.as_deref())
                .bind(p.roles.admin)
                .bind(p.roles.facilitator)
                .bind(true)
                .bind($crate::ts(p.created_at))
                .execute(&mut **tx)
                .await
                .map_err($crate::map_err("a person with this email already exists"))?;
                for team_id in &p.team_ids {
                    Self::in_org(tx, $crate::InOrg::Team, *team_id, p.org_id).await?;
                    $crate::sqlx::query("INSERT INTO team_members (team_id, person_id) VALUES ($1, $2)")
                        .bind(team_id.to_string())
                        .bind(p.id.to_string())
                        .execute(&mut **tx)
                        .await
                        .map_err($crate::map_err("this person is already in that team"))?;
                }
                Ok(())
            }

            async fn insert_organisation(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                org: &kintsugi_store::NewOrganisation,
                admin: &kintsugi_store::NewPerson,
            ) -> kintsugi_store::Result<()> {
                $crate::sqlx::query("INSERT INTO organisations (id, name, is_demo, k_threshold, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(org.id.to_string())
                    .bind(org.name.as_str())
                    .bind(org.is_demo)
                    .bind(i64::from(org.k_threshold))
                    .bind($crate::ts(org.created_at))
                    .execute(&mut **tx)
                    .await
                    .map_err($crate::map_err("this organisation already exists"))?;
                Self::insert_person(tx, admin).await
            }

            /// The person behind a live invitation, by id, with the invitation checked.
            async fn invited<'e, E>(exec: E, token_hash: &str, now: time::OffsetDateTime) -> kintsugi_store::Result<Option<(String, String)>>
            where
                E: $crate::sqlx::Executor<'e, Database = <$store as $crate::Backend>::Db>,
            {
                $crate::sqlx::query_as(
                    "SELECT p.org_id, p.id FROM invitations i JOIN people p ON p.id = i.person_id \
                     WHERE i.token_hash = $1 AND i.expires_at > $2 AND p.active",
                )
                .bind(token_hash)
                .bind($crate::ts(now))
                .fetch_optional(exec)
                .await
                .map_err($crate::db)
            }
        }

        $crate::organisation_impl!($store);
        $crate::people_impl!($store);
        $crate::repair_impl!($store);
        $crate::round_impl!($store);
        $crate::round_key_impl!($store);
        $crate::lesson_impl!($store);
        $crate::webhook_impl!($store);
        $crate::event_impl!($store);
    };
}

/// What an adapter tells [`impl_store!`] about itself.
pub trait Backend {
    type Db: sqlx::Database;
    /// Appended to the job claim's SELECT: PostgreSQL skips rows another worker holds;
    /// SQLite needs nothing, as its claim runs inside `BEGIN IMMEDIATE` (one writer).
    const CLAIM_LOCK: &'static str;
    /// Run after a batch of answers is sealed, so the database's files hold no more than the
    /// batch (SQLite: checkpoint and truncate the WAL). Empty for none.
    const AFTER_SEAL: &'static str;
}
