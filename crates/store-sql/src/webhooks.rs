//! Outgoing webhooks: the hooks and their deliveries. `impl WebhookStore` for an adapter,
//! expanded by [`crate::impl_store!`].

#[macro_export]
macro_rules! webhook_impl {
    ($store:ty) => {
        impl $store {
            /// Records deliveries to be made (status `queued`), inside the caller's transaction.
            async fn insert_deliveries(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                list: &[kintsugi_store::NewDelivery],
            ) -> kintsugi_store::Result<()> {
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
                    .execute(&mut **tx)
                    .await
                    .map_err($crate::map_err("delivery"))?;
                }
                Ok(())
            }
        }

        #[$crate::async_trait]
        impl kintsugi_store::WebhookStore for $store {
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
        }
    };
}
