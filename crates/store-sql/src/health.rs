//! Team health: settings, instruments, parent teams, health rounds and their rollups.
//! `impl HealthStore` for an adapter, expanded by [`crate::impl_store!`].

#[macro_export]
macro_rules! health_impl {
    ($store:ty) => {
        $crate::release_helpers!($store);

        #[$crate::async_trait]
        impl kintsugi_store::HealthStore for $store {
            async fn health_settings(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<kintsugi_store::HealthSettings> {
                let row: Option<(i64, Option<String>)> =
                    $crate::sqlx::query_as("SELECT health_every_days, health_instrument_id FROM organisations WHERE id = $1")
                        .bind(org_id.to_string())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::db)?;
                let (every, instrument) = row.ok_or(kintsugi_store::StoreError::NotFound("organisation"))?;
                let every = kintsugi_core::health::HealthEvery::new(every)
                    .map_err(|e| kintsugi_store::StoreError::Internal(e.to_string()))?;
                let instrument = match instrument {
                    Some(id) => kintsugi_store::HealthStore::instrument(self, $crate::uuid(&id)?).await?,
                    None => None,
                };
                Ok(kintsugi_store::HealthSettings { every, instrument })
            }

            async fn set_health_every(&self, org_id: uuid::Uuid, every: kintsugi_core::health::HealthEvery, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query("UPDATE organisations SET health_every_days = $1 WHERE id = $2")
                    .bind(i64::from(every.days()))
                    .bind(org_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "organisation")?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn load_instrument(&self, i: &kintsugi_store::StoredInstrument, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("INSERT INTO instruments (id, org_id, instrument_key, name, source, loaded_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(i.id.to_string())
                    .bind(i.org_id.to_string())
                    .bind(&i.key)
                    .bind(&i.name)
                    .bind(&i.source)
                    .bind($crate::ts(i.loaded_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::sqlx::query("UPDATE organisations SET health_instrument_id = $1 WHERE id = $2")
                    .bind(i.id.to_string())
                    .bind(i.org_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn instrument(&self, id: uuid::Uuid) -> kintsugi_store::Result<Option<kintsugi_store::StoredInstrument>> {
                let row: Option<(String, String, String, String, String, i64)> = $crate::sqlx::query_as(
                    "SELECT id, org_id, instrument_key, name, source, loaded_at FROM instruments WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::db)?;
                row.map(|(id, org, key, name, source, at)| {
                    Ok(kintsugi_store::StoredInstrument {
                        id: $crate::uuid(&id)?,
                        org_id: $crate::uuid(&org)?,
                        key,
                        name,
                        source,
                        loaded_at: $crate::from_ts(at)?,
                    })
                })
                .transpose()
            }

            async fn team_parents(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Vec<(uuid::Uuid, uuid::Uuid)>> {
                let rows: Vec<(String, String)> =
                    $crate::sqlx::query_as("SELECT id, parent_id FROM teams WHERE org_id = $1 AND parent_id IS NOT NULL")
                        .bind(org_id.to_string())
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::db)?;
                rows.iter().map(|(t, p)| Ok(($crate::uuid(t)?, $crate::uuid(p)?))).collect()
            }

            async fn team_tree(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Vec<(uuid::Uuid, String, Option<uuid::Uuid>)>> {
                let rows: Vec<(String, String, Option<String>)> =
                    $crate::sqlx::query_as("SELECT id, name, parent_id FROM teams WHERE org_id = $1")
                        .bind(org_id.to_string())
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::db)?;
                rows.iter()
                    .map(|(t, n, p)| Ok(($crate::uuid(t)?, n.clone(), p.as_deref().map($crate::uuid).transpose()?)))
                    .collect()
            }

            async fn set_team_parent(&self, org_id: uuid::Uuid, team_id: uuid::Uuid, parent: Option<uuid::Uuid>, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let rows: Vec<(String, Option<String>)> =
                    $crate::sqlx::query_as("SELECT id, parent_id FROM teams WHERE org_id = $1")
                        .bind(org_id.to_string())
                        .fetch_all(&mut *tx)
                        .await
                        .map_err($crate::db)?;
                let parent_of = |id: &str| rows.iter().find(|(t, _)| t == id).map(|(_, p)| p.clone());
                if parent_of(&team_id.to_string()).is_none() {
                    return Err(kintsugi_store::StoreError::NotFound("team"));
                }
                if let Some(p) = parent {
                    if parent_of(&p.to_string()).is_none() {
                        return Err(kintsugi_store::StoreError::NotFound("parent team"));
                    }
                    // Walk up from the new parent: meeting the team itself would make a loop.
                    let mut at = Some(p.to_string());
                    let mut steps = 0;
                    while let Some(id) = at {
                        if id == team_id.to_string() || steps > rows.len() {
                            return Err(kintsugi_store::StoreError::Refused(
                                "a team cannot sit under itself or under one of its own sub-teams".into(),
                            ));
                        }
                        at = parent_of(&id).flatten();
                        steps += 1;
                    }
                }
                $crate::sqlx::query("UPDATE teams SET parent_id = $1 WHERE id = $2 AND org_id = $3")
                    .bind(parent.map(|p| p.to_string()))
                    .bind(team_id.to_string())
                    .bind(org_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn open_health_round(&self, r: &kintsugi_store::NewRound, h: &kintsugi_store::HealthRound, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::in_org(&mut tx, $crate::InOrg::Team, h.team_id, h.org_id).await?;
                let open: Option<(String,)> = $crate::sqlx::query_as(
                    "SELECT r.id FROM rounds r JOIN health_rounds h ON h.round_id = r.id WHERE h.team_id = $1 AND r.status = 'open'",
                )
                .bind(h.team_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::db)?;
                if open.is_some() {
                    return Err(kintsugi_store::StoreError::Conflict("this team's health check is already open".into()));
                }
                $crate::sqlx::query(
                    "INSERT INTO rounds (id, repair_id, kind, public_key, fingerprint, status, closes_at, opened_at, closed_at, subject, k) \
                     VALUES ($1, NULL, $2, $3, $4, 'open', $5, $6, NULL, $7, $8)",
                )
                .bind(r.id.to_string())
                .bind(r.kind.as_str())
                .bind(&r.public_key)
                .bind(&r.fingerprint)
                .bind(r.closes_at.map($crate::ts))
                .bind($crate::ts(r.opened_at))
                .bind(h.team_id.to_string())
                .bind(i64::from(r.k))
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                $crate::sqlx::query("INSERT INTO health_rounds (round_id, org_id, team_id, instrument_id, period) VALUES ($1, $2, $3, $4, $5)")
                    .bind(r.id.to_string())
                    .bind(h.org_id.to_string())
                    .bind(h.team_id.to_string())
                    .bind(h.instrument_id.map(|i| i.to_string()))
                    .bind(h.period)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn health_round(&self, round_id: uuid::Uuid) -> kintsugi_store::Result<Option<kintsugi_store::HealthRound>> {
                let row: Option<(String, String, String, Option<String>, i64)> = $crate::sqlx::query_as(
                    "SELECT round_id, org_id, team_id, instrument_id, period FROM health_rounds WHERE round_id = $1",
                )
                .bind(round_id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::db)?;
                row.map($crate::health_round_row).transpose()
            }

            async fn last_health_period(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Option<i64>> {
                let (last,): (Option<i64>,) = $crate::sqlx::query_as("SELECT MAX(period) FROM health_rounds WHERE org_id = $1")
                    .bind(org_id.to_string())
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::db)?;
                Ok(last)
            }

            async fn open_health_rounds(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Vec<(kintsugi_store::Round, kintsugi_store::HealthRound)>> {
                let rows: Vec<$crate::RoundRow> = $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(format!(
                    "{} WHERE status = 'open' AND kind = 'team_health' AND id IN (SELECT round_id FROM health_rounds WHERE org_id = $1) ORDER BY opened_at, id",
                    $crate::ROUND_SQL
                )))
                .bind(org_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                let health: Vec<(String, String, String, Option<String>, i64)> = $crate::sqlx::query_as(
                    "SELECT h.round_id, h.org_id, h.team_id, h.instrument_id, h.period FROM rounds r \
                     JOIN health_rounds h ON h.round_id = r.id WHERE r.status = 'open' AND r.kind = 'team_health' AND h.org_id = $1",
                )
                .bind(org_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                // One check per team: 5,000 open at once in a large organisation.
                let mut health = health
                    .into_iter()
                    .map(|row| $crate::health_round_row(row).map(|h| (h.round_id, h)))
                    .collect::<kintsugi_store::Result<std::collections::HashMap<_, _>>>()?;
                let mut out = Vec::new();
                for row in rows {
                    let round: kintsugi_store::Round = row.try_into()?;
                    if let Some(h) = health.remove(&round.id) {
                        out.push((round, h));
                    }
                }
                Ok(out)
            }

            async fn close_health_round(&self, round_id: uuid::Uuid, at: time::OffsetDateTime, instrument: &kintsugi_core::instrument::Instrument, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let row: Option<(String, String, String, Option<String>, i64)> = $crate::sqlx::query_as(
                    "SELECT round_id, org_id, team_id, instrument_id, period FROM health_rounds WHERE round_id = $1",
                )
                .bind(round_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::db)?;
                let h = $crate::health_round_row(row.ok_or(kintsugi_store::StoreError::NotFound("health round"))?)?;
                // Closes in one organisation queue up (SQLite's single writer does this anyway):
                // the period's last close must see every other close, to release it once.
                Self::lock_organisation(&mut tx, &h.org_id.to_string()).await?;
                let done = $crate::sqlx::query("UPDATE rounds SET status = 'closed', closed_at = $1 WHERE id = $2 AND status = 'open'")
                    .bind($crate::ts(at))
                    .bind(round_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                if done.rows_affected() != 1 {
                    return Err(kintsugi_store::StoreError::Conflict("this round is already closed".into()));
                }
                // Read after the close, in the same transaction: no answer can slip in between.
                let (respondents,): (i64,) = $crate::sqlx::query_as("SELECT COUNT(*) FROM round_answers WHERE round_id = $1")
                    .bind(round_id.to_string())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                let sums: Vec<(String, i64, i64)> = $crate::sqlx::query_as(
                    "SELECT i.item, CAST(SUM(i.value) AS BIGINT), COUNT(*) FROM answer_items i \
                     JOIN round_answers a ON a.id = i.answer_id WHERE a.round_id = $1 GROUP BY i.item",
                )
                .bind(round_id.to_string())
                .fetch_all(&mut *tx)
                .await
                .map_err($crate::db)?;
                let names = |d: &str| instrument.dimensions.iter().find(|(id, _)| id == d).map(|(_, n)| n.clone()).unwrap_or_default();
                for d in instrument.dimension_totals(&sums) {
                    $crate::sqlx::query(
                        "INSERT INTO health_rollups (round_id, org_id, team_id, period, dimension, dimension_name, total, value_count, respondents, scale_min, scale_max) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(round_id.to_string())
                    .bind(h.org_id.to_string())
                    .bind(h.team_id.to_string())
                    .bind(h.period)
                    .bind(&d.dimension)
                    .bind(names(&d.dimension))
                    .bind(d.total)
                    .bind(d.count)
                    .bind(respondents)
                    .bind(instrument.scale.min)
                    .bind(instrument.scale.max)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                    $crate::sqlx::query(
                        "INSERT INTO health_org_rollups (org_id, period, dimension, dimension_name, total, value_count, respondents, scale_min, scale_max) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (org_id, period, dimension) DO UPDATE SET total = health_org_rollups.total + excluded.total, \
                         value_count = health_org_rollups.value_count + excluded.value_count, \
                         respondents = health_org_rollups.respondents + excluded.respondents",
                    )
                    .bind(h.org_id.to_string())
                    .bind(h.period)
                    .bind(&d.dimension)
                    .bind(names(&d.dimension))
                    .bind(d.total)
                    .bind(d.count)
                    .bind(respondents)
                    .bind(instrument.scale.min)
                    .bind(instrument.scale.max)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                }
                Self::release_period(&mut tx, &h.org_id.to_string(), h.period, $crate::ts(at)).await?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn release_health_periods(&self, org_id: uuid::Uuid, at: time::OffsetDateTime) -> kintsugi_store::Result<u32> {
                let org = org_id.to_string();
                // Read first, so that a page view writes nothing when every closed period is
                // released already (the usual case). A period's last close releases it, so
                // only periods after the latest release (or every period, the first time
                // after the upgrade) can be waiting.
                let (latest,): (Option<i64>,) = $crate::sqlx::query_as("SELECT MAX(period) FROM health_releases WHERE org_id = $1")
                    .bind(&org)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::db)?;
                let waiting: Vec<(i64,)> = $crate::sqlx::query_as("SELECT DISTINCT period FROM health_rounds WHERE org_id = $1 AND period > $2")
                    .bind(&org)
                    .bind(latest.unwrap_or(i64::MIN))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                if waiting.is_empty() {
                    return Ok(0);
                }
                let open: Vec<(i64,)> = $crate::sqlx::query_as(
                    "SELECT DISTINCT h.period FROM rounds r JOIN health_rounds h ON h.round_id = r.id \
                     WHERE r.status = 'open' AND r.kind = 'team_health' AND h.org_id = $1",
                )
                .bind(&org)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                let due: Vec<i64> = waiting.into_iter().map(|(p,)| p).filter(|p| !open.iter().any(|(o,)| o == p)).collect();
                if due.is_empty() {
                    return Ok(0);
                }
                let mut tx = self.write_tx().await?;
                Self::lock_organisation(&mut tx, &org).await?;
                let mut released = 0;
                for period in due {
                    if Self::release_period(&mut tx, &org, period, $crate::ts(at)).await? {
                        released += 1;
                    }
                }
                tx.commit().await.map_err($crate::db)?;
                Ok(released)
            }

            async fn released_periods(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::ReleasedPeriod>> {
                let rows: Vec<(i64, i64)> = $crate::sqlx::query_as("SELECT period, k FROM health_releases WHERE org_id = $1 ORDER BY period")
                    .bind(org_id.to_string())
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                rows.into_iter()
                    .map(|(period, k)| {
                        let k = kintsugi_core::KThreshold::new(k).map_err(|e| kintsugi_store::StoreError::Internal(format!("period k: {e}")))?;
                        Ok(kintsugi_store::ReleasedPeriod { period, k })
                    })
                    .collect()
            }

            async fn released_period(&self, org_id: uuid::Uuid, period: i64) -> kintsugi_store::Result<Vec<kintsugi_store::ReleasedCell>> {
                let rows: Vec<$crate::ReleasedRow> = $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(format!(
                    "{} WHERE org_id = $1 AND period = $2 ORDER BY cell, dimension",
                    $crate::RELEASED_SQL
                )))
                .bind(org_id.to_string())
                .bind(period)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn released_cells(&self, org_id: uuid::Uuid, team: Option<uuid::Uuid>) -> kintsugi_store::Result<Vec<kintsugi_store::ReleasedCell>> {
                let cell = team.map_or_else(|| $crate::ORGANISATION_CELL.to_owned(), |t| t.to_string());
                let rows: Vec<$crate::ReleasedRow> = $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(format!(
                    "{} WHERE org_id = $1 AND cell = $2 ORDER BY period, dimension",
                    $crate::RELEASED_SQL
                )))
                .bind(org_id.to_string())
                .bind(cell)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}

/// The inherent helpers of releases: the organisation's lock, and releasing one period.
#[macro_export]
macro_rules! release_helpers {
    ($store:ty) => {
        impl $store {
            /// Takes the organisation's row lock (a no-op write).
            async fn lock_organisation(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                org_id: &str,
            ) -> kintsugi_store::Result<()> {
                let done = $crate::sqlx::query("UPDATE organisations SET health_every_days = health_every_days WHERE id = $1")
                    .bind(org_id)
                    .execute(&mut **tx)
                    .await
                    .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "organisation")
            }

            /// Releases one period when every check of it has closed and it is not released
            /// yet: the release rule, with the checks' k, over the team tree as it is in this
            /// transaction, stored once. Whether it released.
            async fn release_period(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                org_id: &str,
                period: i64,
                at: i64,
            ) -> kintsugi_store::Result<bool> {
                // One open check is enough to wait (LIMIT 1: each close of a large period
                // stops at the first it meets, rather than counting them all).
                let open: Option<(String,)> = $crate::sqlx::query_as(
                    "SELECT r.id FROM rounds r JOIN health_rounds h ON h.round_id = r.id \
                     WHERE r.status = 'open' AND r.kind = 'team_health' AND h.org_id = $1 AND h.period = $2 LIMIT 1",
                )
                .bind(org_id)
                .bind(period)
                .fetch_optional(&mut **tx)
                .await
                .map_err($crate::db)?;
                let released: Option<(i64,)> = $crate::sqlx::query_as("SELECT period FROM health_releases WHERE org_id = $1 AND period = $2")
                    .bind(org_id)
                    .bind(period)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::db)?;
                if open.is_some() || released.is_some() {
                    return Ok(false);
                }
                let (k,): (Option<i64>,) = $crate::sqlx::query_as(
                    "SELECT MAX(r.k) FROM rounds r JOIN health_rounds h ON h.round_id = r.id WHERE h.org_id = $1 AND h.period = $2",
                )
                .bind(org_id)
                .bind(period)
                .fetch_one(&mut **tx)
                .await
                .map_err($crate::db)?;
                let Some(k) = k else { return Ok(false) };
                let k = kintsugi_core::KThreshold::new(k).map_err(|e| kintsugi_store::StoreError::Internal(format!("round k: {e}")))?;
                let rows: Vec<$crate::RollupRow> = $crate::sqlx::query_as(
                    "SELECT team_id, period, dimension, dimension_name, total, value_count, respondents, scale_min, scale_max \
                     FROM health_rollups WHERE org_id = $1 AND period = $2 ORDER BY team_id, dimension",
                )
                .bind(org_id)
                .bind(period)
                .fetch_all(&mut **tx)
                .await
                .map_err($crate::db)?;
                let tree: Vec<(String, Option<String>)> = $crate::sqlx::query_as("SELECT id, parent_id FROM teams WHERE org_id = $1")
                    .bind(org_id)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err($crate::db)?;
                let release = $crate::release_of(&rows, &tree, k);
                $crate::sqlx::query("INSERT INTO health_releases (org_id, period, k, released_at) VALUES ($1, $2, $3, $4)")
                    .bind(org_id)
                    .bind(period)
                    .bind(i64::from(k))
                    .bind(at)
                    .execute(&mut **tx)
                    .await
                    .map_err($crate::db)?;
                // A hundred rows a statement: a period of 5,000 teams is 10,000 rows, written
                // in the transaction of its last close.
                for chunk in release.chunks(100) {
                    let values = (0..chunk.len())
                        .map(|i| {
                            let marks: Vec<String> = (1..=12).map(|j| format!("${}", i * 12 + j)).collect();
                            format!("({})", marks.join(", "))
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!(
                        "INSERT INTO health_released (org_id, period, cell, parent_id, hidden, dimension, dimension_name, total, value_count, respondents, scale_min, scale_max) VALUES {values}"
                    );
                    let mut query = $crate::sqlx::query($crate::sqlx::AssertSqlSafe(sql));
                    for c in chunk {
                        query = query
                            .bind(org_id)
                            .bind(period)
                            .bind(&c.cell)
                            .bind(c.parent.as_deref())
                            .bind(c.hidden)
                            .bind(&c.dimension)
                            .bind(&c.dimension_name)
                            .bind((!c.hidden).then_some(c.total))
                            .bind((!c.hidden).then_some(c.value_count))
                            .bind((!c.hidden).then_some(c.respondents))
                            .bind(c.scale_min)
                            .bind(c.scale_max);
                    }
                    query.execute(&mut **tx).await.map_err($crate::db)?;
                }
                Ok(true)
            }
        }
    };
}
