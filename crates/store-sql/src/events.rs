//! The outbox of repair events: `write_event`, which the changes that cause an event call inside
//! their own transaction, and `impl EventStore` for an adapter, expanded by [`crate::impl_store!`].

#[macro_export]
macro_rules! event_impl {
    ($store:ty) => {
        impl $store {
            /// Stores the event and enqueues its fan-out job inside the change's transaction,
            /// after the change: the row takes the repair's organisation and stage as they now
            /// are. Every change that stores an event goes through here.
            async fn write_event(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                repair_id: uuid::Uuid,
                e: &kintsugi_store::NewEvent,
            ) -> kintsugi_store::Result<()> {
                if e.repair_id != repair_id {
                    return Err(kintsugi_store::StoreError::Internal(format!(
                        "event {} names repair {}, but the change is to repair {repair_id}",
                        e.id, e.repair_id
                    )));
                }
                let done = $crate::sqlx::query(
                    "INSERT INTO events (id, org_id, repair_id, event, round_id, stage, created_at) \
                     SELECT $1, org_id, id, $2, $3, stage, $4 FROM repairs WHERE id = $5",
                )
                .bind(e.id.to_string())
                .bind(&e.event)
                .bind(e.round_id.map(|r| r.to_string()))
                .bind($crate::ts(e.at))
                .bind(repair_id.to_string())
                .execute(&mut **tx)
                .await
                .map_err($crate::map_err("this event is already stored"))?;
                $crate::one_row(done.rows_affected(), "repair")?;
                Self::insert_job(tx, &e.fan_out).await?;
                Ok(())
            }
        }

        #[$crate::async_trait]
        impl kintsugi_store::EventStore for $store {
            async fn event(&self, id: uuid::Uuid) -> kintsugi_store::Result<Option<kintsugi_store::EventRecord>> {
                let row: Option<$crate::EventRow> = $crate::sqlx::query_as($crate::EVENT_SQL)
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::db)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn fan_out_event(
                &self,
                id: uuid::Uuid,
                deliveries: &[kintsugi_store::NewDelivery],
                jobs: &[kintsugi_store::NewJob],
                at: time::OffsetDateTime,
            ) -> kintsugi_store::Result<bool> {
                let mut tx = self.write_tx().await?;
                // The mark comes first: a second fan-out (a redelivered job, another worker)
                // finds it set, or waits on the row lock and then does, and writes nothing.
                let marked = $crate::sqlx::query("UPDATE events SET fanned_out_at = $1 WHERE id = $2 AND fanned_out_at IS NULL")
                    .bind($crate::ts(at))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                if marked.rows_affected() != 1 {
                    return Ok(false);
                }
                Self::insert_deliveries(&mut tx, deliveries).await?;
                for job in jobs {
                    Self::insert_job(&mut tx, job).await?;
                }
                tx.commit().await.map_err($crate::db)?;
                Ok(true)
            }
        }
    };
}
