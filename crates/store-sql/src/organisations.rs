//! Organisations: first-run setup, an organisation's settings and its audit log.
//! `impl OrganisationStore` for an adapter, expanded by [`crate::impl_store!`].

#[macro_export]
macro_rules! organisation_impl {
    ($store:ty) => {
        #[$crate::async_trait]
        impl kintsugi_store::OrganisationStore for $store {
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

            async fn set_k_threshold(&self, org_id: uuid::Uuid, k: kintsugi_core::KThreshold, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query("UPDATE organisations SET k_threshold = $1 WHERE id = $2")
                    .bind(i64::from(k))
                    .bind(org_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "organisation")?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn set_gate_settings(&self, org_id: uuid::Uuid, g: &kintsugi_core::gate::GateSettings, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query(
                    "UPDATE organisations SET gate_pulses = $1, gate_target_cap = $2, gate_min_change = $3, gate_follow_through = $4, \
                     gate_min_weeks = $5, gate_deception_weeks = $6 WHERE id = $7",
                )
                .bind(i64::from(g.pulses_required))
                .bind(i64::from(g.target_cap_tenths))
                .bind(i64::from(g.min_change_tenths))
                .bind(i64::from(g.follow_through_percent))
                .bind(i64::from(g.min_weeks))
                .bind(i64::from(g.deception_extra_weeks))
                .bind(org_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "organisation")?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn audit_log(&self, org_id: uuid::Uuid, limit: u32) -> kintsugi_store::Result<Vec<kintsugi_store::AuditEntry>> {
                let rows: Vec<$crate::AuditRow> = $crate::sqlx::query_as(
                    "SELECT a.id, a.actor_id, p.name AS actor_name, a.action, a.subject, a.detail, a.at FROM audit_log a \
                     LEFT JOIN people p ON p.id = a.actor_id WHERE a.org_id = $1 ORDER BY a.at DESC, a.id LIMIT $2",
                )
                .bind(org_id.to_string())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}
