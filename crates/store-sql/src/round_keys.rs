//! Round keys, sealed by the application: `impl RoundKeyStore` for an adapter, expanded by
//! [`crate::impl_store!`]. Closing a round deletes its key by trigger (migration 0024), so no
//! close path here or elsewhere can forget it.

#[macro_export]
macro_rules! round_key_impl {
    ($store:ty) => {
        #[$crate::async_trait]
        impl kintsugi_store::RoundKeyStore for $store {
            async fn put_round_key(&self, round_id: uuid::Uuid, sealed: &str) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("INSERT INTO round_keys (round_id, sealed) VALUES ($1, $2)")
                    .bind(round_id.to_string())
                    .bind(sealed)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("this round already has a key"))?;
                tx.commit().await.map_err($crate::db)
            }

            async fn round_key(&self, round_id: uuid::Uuid) -> kintsugi_store::Result<Option<String>> {
                let row: Option<(String,)> = $crate::sqlx::query_as(
                    "SELECT k.sealed FROM round_keys k JOIN rounds r ON r.id = k.round_id \
                     WHERE k.round_id = $1 AND r.status = 'open'",
                )
                .bind(round_id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::db)?;
                Ok(row.map(|(sealed,)| sealed))
            }

            async fn delete_round_key(&self, round_id: uuid::Uuid) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("DELETE FROM round_keys WHERE round_id = $1")
                    .bind(round_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)
            }

            async fn any_round_key(&self) -> kintsugi_store::Result<Option<(uuid::Uuid, String)>> {
                let row: Option<(String, String)> = $crate::sqlx::query_as(
                    "SELECT k.round_id, k.sealed FROM round_keys k JOIN rounds r ON r.id = k.round_id \
                     WHERE r.status = 'open' ORDER BY k.round_id LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::db)?;
                row.map(|(id, sealed)| {
                    id.parse()
                        .map(|id| (id, sealed))
                        .map_err(|_| kintsugi_store::StoreError::Internal(format!("round key with a bad round id {id:?}")))
                })
                .transpose()
            }
        }
    };
}
