//! The queries behind [`kintsugi_store::Store`], shared by the SQLite and PostgreSQL adapters.
//!
//! [`impl_store!`] expands the whole trait implementation for an adapter type that has a
//! `pool` field and a `write_tx()` method (SQLite begins it with `BEGIN IMMEDIATE`).
//! Every write runs in one transaction, so a refused operation stores nothing.

mod health;
mod jobs;
mod lessons;
mod repairs;
mod rows;

pub use jobs::{JOB_COLUMNS, JobRow};

pub use async_trait::async_trait;
pub use lessons::*;
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
    Team,
    Repair,
    Story,
}

impl InOrg {
    pub fn sql(&self) -> &'static str {
        match self {
            InOrg::Team => "SELECT id FROM teams WHERE id = $1 AND org_id = $2",
            InOrg::Repair => "SELECT id FROM repairs WHERE id = $1 AND org_id = $2",
            InOrg::Story => "SELECT id FROM stories WHERE id = $1 AND org_id = $2",
        }
    }

    pub fn what(&self) -> &'static str {
        match self {
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

        $crate::store_impl!($store, {
            async fn ping(&self) -> kintsugi_store::Result<()> {
                $crate::sqlx::query("SELECT 1").execute(&self.pool).await.map_err($crate::db)?;
                Ok(())
            }

            async fn put_setup_token(&self, token_hash: &str, expires_at: time::OffsetDateTime) -> kintsugi_store::Result<()> {
                $crate::sqlx::query("INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)")
                    .bind(token_hash)
                    .bind($crate::ts(expires_at))
                    .execute(&self.pool)
                    .await
                    .map_err($crate::map_err("setup token"))?;
                Ok(())
            }

            async fn setup_organisation(
                &self,
                token_hash: &str,
                now: time::OffsetDateTime,
                org: &kintsugi_store::NewOrganisation,
                admin: &kintsugi_store::NewPerson,
            ) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let spent = $crate::sqlx::query("DELETE FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2")
                    .bind(token_hash)
                    .bind($crate::ts(now))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::one_row(spent.rows_affected(), "setup link (it may be used or expired)")?;
                // Setup happens once: every other outstanding setup link dies with this one.
                $crate::sqlx::query("DELETE FROM setup_tokens").execute(&mut *tx).await.map_err($crate::db)?;
                Self::insert_organisation(&mut tx, org, admin).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn create_organisation(&self, org: &kintsugi_store::NewOrganisation, admin: &kintsugi_store::NewPerson) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::insert_organisation(&mut tx, org, admin).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn organisation(&self, id: uuid::Uuid) -> kintsugi_store::Result<Option<kintsugi_store::Organisation>> {
                let row: Option<$crate::OrganisationRow> =
                    $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(format!("{} WHERE id = $1", $crate::ORGANISATION_SQL)))
                        .bind(id.to_string())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::db)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_organisations(&self) -> kintsugi_store::Result<Vec<kintsugi_store::Organisation>> {
                let rows: Vec<$crate::OrganisationRow> =
                    $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(format!("{} ORDER BY created_at, name", $crate::ORGANISATION_SQL)))
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn create_team(&self, team: &kintsugi_store::NewTeam) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("INSERT INTO teams (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(team.id.to_string())
                    .bind(team.org_id.to_string())
                    .bind(team.name.as_str())
                    .bind($crate::ts(team.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("a team with this name already exists"))?;
                tx.commit().await.map_err($crate::db)
            }

            async fn list_teams(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Team>> {
                let rows: Vec<$crate::TeamRow> = $crate::sqlx::query_as($crate::TEAMS_SQL)
                    .bind(org_id.to_string())
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn team(&self, org_id: uuid::Uuid, id: uuid::Uuid) -> kintsugi_store::Result<Option<kintsugi_store::Team>> {
                let row: Option<$crate::TeamRow> = $crate::sqlx::query_as($crate::TEAM_SQL)
                    .bind(org_id.to_string())
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::db)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn create_person(&self, person: &kintsugi_store::NewPerson) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::insert_person(&mut tx, person).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn list_people(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Person>> {
                Self::people_of(&self.pool, &org_id.to_string()).await
            }

            async fn person(&self, org_id: uuid::Uuid, id: uuid::Uuid) -> kintsugi_store::Result<Option<kintsugi_store::Person>> {
                Self::one_person(&self.pool, &org_id.to_string(), &id.to_string()).await
            }

            async fn credentials(&self, email: &str) -> kintsugi_store::Result<Option<kintsugi_store::Credentials>> {
                let row: Option<$crate::PersonRow> = $crate::sqlx::query_as(
                    "SELECT id, org_id, name, email, password_hash, is_admin, is_facilitator, active, \
                     created_at, deactivated_at FROM people WHERE email = $1",
                )
                .bind(email)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::db)?;
                let Some(row) = row else { return Ok(None) };
                let (person, password_hash) = Self::with_teams(&self.pool, row).await?;
                Ok(Some(kintsugi_store::Credentials { person, password_hash }))
            }

            async fn set_roles(&self, org_id: uuid::Uuid, id: uuid::Uuid, roles: kintsugi_core::Roles, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query("UPDATE people SET is_admin = $1, is_facilitator = $2 WHERE id = $3 AND org_id = $4")
                    .bind(roles.admin)
                    .bind(roles.facilitator)
                    .bind(id.to_string())
                    .bind(org_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "person")?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn set_password(&self, id: uuid::Uuid, password_hash: &str) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query("UPDATE people SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "person")?;
                tx.commit().await.map_err($crate::db)
            }

            async fn deactivate_person(&self, org_id: uuid::Uuid, id: uuid::Uuid, now: time::OffsetDateTime, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query(
                    "UPDATE people SET active = $1, deactivated_at = COALESCE(deactivated_at, $2) WHERE id = $3 AND org_id = $4",
                )
                .bind(false)
                .bind($crate::ts(now))
                .bind(id.to_string())
                .bind(org_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "person")?;
                for sql in ["DELETE FROM sessions WHERE person_id = $1", "DELETE FROM invitations WHERE person_id = $1"] {
                    $crate::sqlx::query(sql).bind(id.to_string()).execute(&mut *tx).await.map_err($crate::db)?;
                }
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn create_invitation(&self, inv: &kintsugi_store::NewInvitation) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("DELETE FROM invitations WHERE person_id = $1")
                    .bind(inv.person_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::sqlx::query("INSERT INTO invitations (token_hash, person_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(&inv.token_hash)
                    .bind(inv.person_id.to_string())
                    .bind($crate::ts(inv.created_at))
                    .bind($crate::ts(inv.expires_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("invitation"))?;
                tx.commit().await.map_err($crate::db)
            }

            async fn invitation(&self, token_hash: &str, now: time::OffsetDateTime) -> kintsugi_store::Result<Option<kintsugi_store::Person>> {
                let Some((org_id, id)) = Self::invited(&self.pool, token_hash, now).await? else { return Ok(None) };
                Self::one_person(&self.pool, &org_id, &id).await
            }

            async fn accept_invitation_with_password(
                &self,
                token_hash: &str,
                now: time::OffsetDateTime,
                password_hash: &str,
            ) -> kintsugi_store::Result<kintsugi_store::Person> {
                let mut tx = self.write_tx().await?;
                let Some((org_id, id)) = Self::invited(&mut *tx, token_hash, now).await? else {
                    return Err(kintsugi_store::StoreError::NotFound("invitation (it may be used or expired)"));
                };
                $crate::sqlx::query("UPDATE people SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::sqlx::query("DELETE FROM invitations WHERE person_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)?;
                Self::one_person(&self.pool, &org_id, &id)
                    .await?
                    .ok_or(kintsugi_store::StoreError::NotFound("person"))
            }

            async fn create_session(&self, s: &kintsugi_store::NewSession) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("INSERT INTO sessions (id_hash, person_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(&s.id_hash)
                    .bind(s.person_id.to_string())
                    .bind($crate::ts(s.created_at))
                    .bind($crate::ts(s.expires_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("session"))?;
                tx.commit().await.map_err($crate::db)
            }

            async fn session(
                &self,
                id_hash: &str,
                now: time::OffsetDateTime,
            ) -> kintsugi_store::Result<Option<(kintsugi_store::Session, kintsugi_store::Person, kintsugi_store::Organisation)>> {
                // Every signed-in request starts here: the session, its person, their teams
                // and their organisation in one query (a row per team).
                let rows: Vec<$crate::SignedInRow> = $crate::sqlx::query_as($crate::SIGNED_IN_SQL)
                    .bind(id_hash)
                    .bind($crate::ts(now))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                $crate::SignedInRow::into_signed_in(rows)
            }

            async fn delete_session(&self, id_hash: &str) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)
            }

            async fn delete_expired(&self, now: time::OffsetDateTime) -> kintsugi_store::Result<u64> {
                let mut tx = self.write_tx().await?;
                let mut n = 0;
                for sql in [
                    "DELETE FROM sessions WHERE expires_at <= $1",
                    "DELETE FROM invitations WHERE expires_at <= $1",
                    "DELETE FROM setup_tokens WHERE expires_at <= $1",
                    "DELETE FROM oidc_logins WHERE expires_at <= $1",
                ] {
                    n += $crate::sqlx::query(sql).bind($crate::ts(now)).execute(&mut *tx).await.map_err($crate::db)?.rows_affected();
                }
                tx.commit().await.map_err($crate::db)?;
                Ok(n)
            }

            // ---- Single sign-on ----

            async fn put_oidc_login(&self, l: &kintsugi_store::OidcLogin) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("INSERT INTO oidc_logins (state_hash, nonce, pkce_verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&l.state_hash)
                    .bind(&l.nonce)
                    .bind(&l.pkce_verifier)
                    .bind($crate::ts(l.created_at))
                    .bind($crate::ts(l.expires_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("sign-in state"))?;
                tx.commit().await.map_err($crate::db)
            }

            async fn take_oidc_login(&self, state_hash: &str, now: time::OffsetDateTime) -> kintsugi_store::Result<Option<kintsugi_store::OidcLogin>> {
                let mut tx = self.write_tx().await?;
                let row: Option<(String, String, i64, i64)> = $crate::sqlx::query_as(
                    "SELECT nonce, pkce_verifier, created_at, expires_at FROM oidc_logins WHERE state_hash = $1",
                )
                .bind(state_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::db)?;
                // Spent whether or not it is still fresh: a state works once.
                $crate::sqlx::query("DELETE FROM oidc_logins WHERE state_hash = $1")
                    .bind(state_hash)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)?;
                let Some((nonce, pkce_verifier, created_at, expires_at)) = row else { return Ok(None) };
                if expires_at <= $crate::ts(now) {
                    return Ok(None);
                }
                Ok(Some(kintsugi_store::OidcLogin {
                    state_hash: state_hash.to_owned(),
                    nonce,
                    pkce_verifier,
                    created_at: $crate::from_ts(created_at)?,
                    expires_at: $crate::from_ts(expires_at)?,
                }))
            }

            async fn sign_in_external(&self, s: &kintsugi_store::ExternalSignIn) -> kintsugi_store::Result<kintsugi_store::Person> {
                let mut tx = self.write_tx().await?;
                let linked: Option<(String, String)> = $crate::sqlx::query_as(
                    "SELECT p.org_id, p.id FROM identities i JOIN people p ON p.id = i.person_id WHERE i.issuer = $1 AND i.subject = $2",
                )
                .bind(&s.issuer)
                .bind(&s.subject)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::db)?;
                let (org_id, person_id) = match linked {
                    Some(found) => found,
                    None => {
                        let by_email: Option<(String, String)> = $crate::sqlx::query_as("SELECT org_id, id FROM people WHERE email = $1")
                            .bind(s.email.as_str())
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err($crate::db)?;
                        let (org_id, person_id, action) = match by_email {
                            Some((org_id, id)) => (org_id, id, "person.sso_link"),
                            None => {
                                let Some(org) = s.org_id else {
                                    return Err(kintsugi_store::StoreError::NotFound("an invitation for this email"));
                                };
                                let exists: Option<(String,)> = $crate::sqlx::query_as("SELECT id FROM organisations WHERE id = $1")
                                    .bind(org.to_string())
                                    .fetch_optional(&mut *tx)
                                    .await
                                    .map_err($crate::db)?;
                                if exists.is_none() {
                                    return Err(kintsugi_store::StoreError::NotFound("organisation for new people"));
                                }
                                Self::insert_person(&mut tx, &kintsugi_store::NewPerson {
                                    id: s.new_id,
                                    org_id: org,
                                    name: s.name.clone(),
                                    email: s.email.clone(),
                                    roles: kintsugi_core::Roles::default(),
                                    team_ids: vec![],
                                    password_hash: None,
                                    created_at: s.at,
                                })
                                .await?;
                                (org.to_string(), s.new_id.to_string(), "person.sso_create")
                            }
                        };
                        $crate::sqlx::query("INSERT INTO identities (issuer, subject, person_id, created_at) VALUES ($1, $2, $3, $4)")
                            .bind(&s.issuer)
                            .bind(&s.subject)
                            .bind(&person_id)
                            .bind($crate::ts(s.at))
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::map_err("this person is already linked to another account at the identity provider"))?;
                        Self::write_audit(&mut tx, &kintsugi_store::Audit {
                            id: s.audit_id,
                            org_id: $crate::uuid(&org_id)?,
                            actor_id: Some($crate::uuid(&person_id)?),
                            action: action.into(),
                            subject: s.email.as_str().to_owned(),
                            detail: format!("single sign-on through {}", s.issuer),
                            at: s.at,
                        })
                        .await?;
                        (org_id, person_id)
                    }
                };
                for group in &s.groups {
                    let team: Option<(String,)> = $crate::sqlx::query_as("SELECT id FROM teams WHERE org_id = $1 AND name = $2")
                        .bind(&org_id)
                        .bind(group)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($crate::db)?;
                    if let Some((team_id,)) = team {
                        $crate::sqlx::query("INSERT INTO team_members (team_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                            .bind(&team_id)
                            .bind(&person_id)
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::db)?;
                    }
                }
                tx.commit().await.map_err($crate::db)?;
                Self::one_person(&self.pool, &org_id, &person_id)
                    .await?
                    .ok_or(kintsugi_store::StoreError::NotFound("person"))
            }

            // ---- Outgoing webhooks ----

            async fn add_webhook(&self, h: &kintsugi_store::NewWebhook, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                if let Some(repair) = h.repair_id {
                    Self::in_org(&mut tx, $crate::InOrg::Repair, repair, h.org_id).await?;
                }
                $crate::sqlx::query("INSERT INTO webhooks (id, org_id, repair_id, url, secret, events, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(h.id.to_string())
                    .bind(h.org_id.to_string())
                    .bind(h.repair_id.map(|r| r.to_string()))
                    .bind(&h.url)
                    .bind(&h.secret)
                    .bind(h.events.join(" "))
                    .bind($crate::ts(h.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("webhook"))?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn webhooks(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Webhook>> {
                let rows: Vec<$crate::WebhookRow> = $crate::sqlx::query_as(
                    "SELECT id, org_id, repair_id, url, secret, events, created_at FROM webhooks WHERE org_id = $1 ORDER BY created_at, id",
                )
                .bind(org_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn delete_webhook(&self, org_id: uuid::Uuid, id: uuid::Uuid, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND org_id = $2")
                    .bind(id.to_string())
                    .bind(org_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                let done = $crate::sqlx::query("DELETE FROM webhooks WHERE id = $1 AND org_id = $2")
                    .bind(id.to_string())
                    .bind(org_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "webhook")?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn webhooks_allow_private(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<bool> {
                let row: Option<(bool,)> = $crate::sqlx::query_as("SELECT allow_private FROM webhook_settings WHERE org_id = $1")
                    .bind(org_id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::db)?;
                Ok(row.is_some_and(|(allow,)| allow))
            }

            async fn set_webhooks_allow_private(&self, org_id: uuid::Uuid, allow: bool, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query(
                    "INSERT INTO webhook_settings (org_id, allow_private) VALUES ($1, $2) \
                     ON CONFLICT (org_id) DO UPDATE SET allow_private = excluded.allow_private",
                )
                .bind(org_id.to_string())
                .bind(allow)
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn add_webhook_deliveries(&self, list: &[kintsugi_store::NewDelivery]) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                for d in list {
                    $crate::sqlx::query(
                        "INSERT INTO webhook_deliveries (id, webhook_id, org_id, event, body, status, attempts, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $6)",
                    )
                    .bind(d.id.to_string())
                    .bind(d.webhook_id.to_string())
                    .bind(d.org_id.to_string())
                    .bind(&d.event)
                    .bind(&d.body)
                    .bind($crate::ts(d.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("delivery"))?;
                }
                tx.commit().await.map_err($crate::db)
            }

            async fn webhook_delivery(&self, id: uuid::Uuid) -> kintsugi_store::Result<Option<(kintsugi_store::Webhook, kintsugi_store::Delivery)>> {
                let row: Option<$crate::DeliveryRow> = $crate::sqlx::query_as($crate::DELIVERIES_SQL_ONE)
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::db)?;
                let Some(row) = row else { return Ok(None) };
                let hook: Option<$crate::WebhookRow> = $crate::sqlx::query_as(
                    "SELECT id, org_id, repair_id, url, secret, events, created_at FROM webhooks WHERE id = $1",
                )
                .bind(&row.webhook_id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::db)?;
                let Some(hook) = hook else { return Ok(None) };
                Ok(Some((hook.try_into()?, row.try_into()?)))
            }

            async fn record_webhook_attempt(&self, id: uuid::Uuid, a: &kintsugi_store::DeliveryAttempt) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query(
                    "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_http_status = $2, last_error = $3, updated_at = $4 WHERE id = $5",
                )
                .bind(&a.status)
                .bind(a.http_status.map(i64::from))
                .bind(a.error.as_deref())
                .bind($crate::ts(a.at))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)
            }

            async fn webhook_deliveries(&self, org_id: uuid::Uuid, limit: u32) -> kintsugi_store::Result<Vec<kintsugi_store::Delivery>> {
                let rows: Vec<$crate::DeliveryRow> = $crate::sqlx::query_as($crate::DELIVERIES_SQL_ORG)
                    .bind(org_id.to_string())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        });
    };
}

/// What an adapter tells [`impl_store!`] about itself.
pub trait Backend {
    type Db: sqlx::Database;
    /// Appended to the job claim's SELECT: PostgreSQL skips rows another worker holds;
    /// SQLite needs nothing, as its claim runs inside `BEGIN IMMEDIATE` (one writer).
    const CLAIM_LOCK: &'static str;
}
