//! Anonymous rounds: opening and closing, tokens issued and spent, answers and their reply
//! threads. `impl RoundStore` for an adapter, expanded by [`crate::impl_store!`].

#[macro_export]
macro_rules! round_impl {
    ($store:ty) => {
        #[$crate::async_trait]
        impl kintsugi_store::RoundStore for $store {
            async fn open_round(
                &self,
                r: &kintsugi_store::NewRound,
                audit: &kintsugi_store::Audit,
                event: &kintsugi_store::NewEvent,
            ) -> kintsugi_store::Result<()> {
                // Rounds without a repair (team health) open through `open_health_round`.
                let repair_id = r.repair_id.ok_or(kintsugi_store::StoreError::NotFound("repair"))?;
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &repair_id.to_string()).await?;
                let open: Option<(String,)> = $crate::sqlx::query_as("SELECT id FROM rounds WHERE repair_id = $1 AND kind = $2 AND status = 'open' AND COALESCE(subject, '') = COALESCE($3, '')")
                    .bind(repair_id.to_string())
                    .bind(r.kind.as_str())
                    .bind(r.subject.as_deref())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                if open.is_some() {
                    return Err(kintsugi_store::StoreError::Conflict("a round of this kind is already open in this repair; close it first".into()));
                }
                $crate::sqlx::query(
                    "INSERT INTO rounds (id, repair_id, kind, public_key, fingerprint, status, closes_at, opened_at, closed_at, subject, k) \
                     VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, NULL, $8, $9)",
                )
                .bind(r.id.to_string())
                .bind(repair_id.to_string())
                .bind(r.kind.as_str())
                .bind(&r.public_key)
                .bind(&r.fingerprint)
                .bind(r.closes_at.map($crate::ts))
                .bind($crate::ts(r.opened_at))
                .bind(r.subject.as_deref())
                .bind(i64::from(r.k))
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                Self::write_event(&mut tx, repair_id, event).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn round(&self, id: uuid::Uuid) -> kintsugi_store::Result<Option<kintsugi_store::Round>> {
                let row: Option<$crate::RoundRow> = $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(format!("{} WHERE id = $1", $crate::ROUND_SQL)))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::db)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn rounds_of(&self, repair_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Round>> {
                let rows: Vec<$crate::RoundRow> =
                    $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(format!("{} WHERE repair_id = $1 ORDER BY opened_at, id", $crate::ROUND_SQL)))
                        .bind(repair_id.to_string())
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn close_soon(&self, id: uuid::Uuid, at: time::OffsetDateTime) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("UPDATE rounds SET closes_at = $1 WHERE id = $2 AND status = 'open' AND (closes_at IS NULL OR closes_at > $1)")
                    .bind($crate::ts(at))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)
            }

            async fn close_round(&self, id: uuid::Uuid, at: time::OffsetDateTime, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query("UPDATE rounds SET status = 'closed', closed_at = $1 WHERE id = $2 AND status = 'open'")
                    .bind($crate::ts(at))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                if done.rows_affected() != 1 {
                    return Err(kintsugi_store::StoreError::Conflict("this round is already closed".into()));
                }
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn record_issue(&self, round_id: uuid::Uuid, person_id: uuid::Uuid, replacement: bool) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let issued: Option<(bool,)> = $crate::sqlx::query_as("SELECT replaced FROM round_issued WHERE round_id = $1 AND person_id = $2")
                    .bind(round_id.to_string())
                    .bind(person_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                match (issued, replacement) {
                    (None, _) => {
                        $crate::sqlx::query("INSERT INTO round_issued (round_id, person_id) VALUES ($1, $2)")
                            .bind(round_id.to_string())
                            .bind(person_id.to_string())
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::map_err("a token for this round was already issued to you"))?;
                    }
                    (Some((false,)), false) => {
                        return Err(kintsugi_store::StoreError::Conflict("a token for this round was already issued to you".into()));
                    }
                    (Some((false,)), true) => {
                        $crate::sqlx::query("UPDATE round_issued SET replaced = TRUE WHERE round_id = $1 AND person_id = $2")
                            .bind(round_id.to_string())
                            .bind(person_id.to_string())
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::db)?;
                    }
                    (Some((true,)), _) => {
                        return Err(kintsugi_store::StoreError::Conflict(
                            "your key for this round was already replaced once; a second replacement is not possible".into(),
                        ));
                    }
                }
                tx.commit().await.map_err($crate::db)
            }

            async fn redeem(&self, batch: &[kintsugi_store::Redemption]) -> kintsugi_store::Result<Vec<kintsugi_store::Redeemed>> {
                let mut tx = self.write_tx().await?;
                let mut out = Vec::with_capacity(batch.len());
                for r in batch {
                    let open: Option<(String,)> = $crate::sqlx::query_as("SELECT status FROM rounds WHERE id = $1")
                        .bind(r.round_id.to_string())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($crate::db)?;
                    if open.map(|(s,)| s) != Some("open".into()) {
                        out.push(kintsugi_store::Redeemed::RoundClosed);
                        continue;
                    }
                    let spent = $crate::sqlx::query("INSERT INTO round_spent (round_id, mark) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(r.round_id.to_string())
                        .bind(&r.mark)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::db)?;
                    if spent.rows_affected() != 1 {
                        out.push(kintsugi_store::Redeemed::AlreadySpent);
                        continue;
                    }
                    $crate::sqlx::query("INSERT INTO round_answers (id, round_id, category, comment, rating, reply_check) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(r.answer.id.to_string())
                        .bind(r.round_id.to_string())
                        .bind(r.answer.category.as_deref())
                        .bind(r.answer.comment.as_deref())
                        .bind(r.answer.rating)
                        .bind(r.answer.reply_check.as_deref())
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::db)?;
                    for (item, value) in &r.answer.items {
                        $crate::sqlx::query("INSERT INTO answer_items (answer_id, item, value) VALUES ($1, $2, $3)")
                            .bind(r.answer.id.to_string())
                            .bind(item)
                            .bind(value)
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::db)?;
                    }
                    out.push(kintsugi_store::Redeemed::Stored);
                }
                tx.commit().await.map_err($crate::db)?;
                let after = <$store as $crate::Backend>::AFTER_SEAL;
                if !after.is_empty() {
                    // Best effort: a reader holding an old snapshot only delays the truncation.
                    let _ = $crate::sqlx::query(after).execute(&self.pool).await;
                }
                Ok(out)
            }

            async fn sealed_marks(&self, round_id: uuid::Uuid) -> kintsugi_store::Result<Vec<String>> {
                let rows: Vec<(String,)> = $crate::sqlx::query_as("SELECT mark FROM round_spent WHERE round_id = $1 ORDER BY mark")
                    .bind(round_id.to_string())
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                Ok(rows.into_iter().map(|(m,)| m).collect())
            }

            async fn mixer_seen(&self, id: &str, at: time::OffsetDateTime) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("INSERT INTO mixers (id, seen_at) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at")
                    .bind(id)
                    .bind($crate::ts(at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                // Servers gone for a day are forgotten.
                $crate::sqlx::query("DELETE FROM mixers WHERE seen_at < $1")
                    .bind($crate::ts(at) - 86_400)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)
            }

            async fn mixers_since(&self, since: time::OffsetDateTime) -> kintsugi_store::Result<Vec<String>> {
                let rows: Vec<(String,)> = $crate::sqlx::query_as("SELECT id FROM mixers WHERE seen_at >= $1 ORDER BY id")
                    .bind($crate::ts(since))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                Ok(rows.into_iter().map(|(m,)| m).collect())
            }

            async fn answers(&self, round_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Answer>> {
                let rows: Vec<$crate::AnswerRow> =
                    $crate::sqlx::query_as("SELECT id, category, comment, rating, reply_check FROM round_answers WHERE round_id = $1 ORDER BY id")
                        .bind(round_id.to_string())
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::db)?;
                let items: Vec<(String, String, i64)> = $crate::sqlx::query_as(
                    "SELECT i.answer_id, i.item, i.value FROM answer_items i JOIN round_answers a ON a.id = i.answer_id WHERE a.round_id = $1",
                )
                .bind(round_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                let mut answers: Vec<kintsugi_store::Answer> = rows.into_iter().map(TryInto::try_into).collect::<kintsugi_store::Result<_>>()?;
                for a in &mut answers {
                    let id = a.id.to_string();
                    a.items = items.iter().filter(|(answer, _, _)| *answer == id).map(|(_, item, v)| (item.clone(), *v)).collect();
                    a.items.sort();
                }
                Ok(answers)
            }

            async fn record_confirmations(&self, commitment_id: uuid::Uuid, due: time::Date, confirmations: &[(uuid::Uuid, bool)], on: time::Date) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                for &(id, happened) in confirmations {
                    $crate::sqlx::query("INSERT INTO confirmations (id, commitment_id, due, happened, confirmed_on) VALUES ($1, $2, $3, $4, $5)")
                        .bind(id.to_string())
                        .bind(commitment_id.to_string())
                        .bind($crate::date_text(due))
                        .bind(happened)
                        .bind($crate::date_text(on))
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::db)?;
                }
                tx.commit().await.map_err($crate::db)
            }

            async fn answer_by_reply_check(&self, check: &str) -> kintsugi_store::Result<Option<(uuid::Uuid, kintsugi_store::Answer)>> {
                let row: Option<(String,)> = $crate::sqlx::query_as("SELECT round_id FROM round_answers WHERE reply_check = $1")
                    .bind(check)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::db)?;
                let Some((round,)) = row else { return Ok(None) };
                let answer: $crate::AnswerRow =
                    $crate::sqlx::query_as("SELECT id, category, comment, rating, reply_check FROM round_answers WHERE reply_check = $1")
                        .bind(check)
                        .fetch_one(&self.pool)
                        .await
                        .map_err($crate::db)?;
                Ok(Some(($crate::uuid(&round)?, answer.try_into()?)))
            }

            async fn add_reply(&self, id: uuid::Uuid, answer_id: uuid::Uuid, from_author: bool, body: &str) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let (seq,): (i64,) = $crate::sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM answer_replies WHERE answer_id = $1")
                    .bind(answer_id.to_string())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::sqlx::query("INSERT INTO answer_replies (id, answer_id, from_author, body, seq) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id.to_string())
                    .bind(answer_id.to_string())
                    .bind(from_author)
                    .bind(body)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("another reply arrived at the same moment; send yours again"))?;
                tx.commit().await.map_err($crate::db)
            }

            async fn replies(&self, round_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Reply>> {
                let rows: Vec<(String, bool, String, i64)> = $crate::sqlx::query_as(
                    "SELECT r.answer_id, r.from_author, r.body, r.seq FROM answer_replies r JOIN round_answers a ON a.id = r.answer_id \
                     WHERE a.round_id = $1 ORDER BY r.answer_id, r.seq",
                )
                .bind(round_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                rows.into_iter()
                    .map(|(answer, from_author, body, seq)| {
                        Ok(kintsugi_store::Reply { answer_id: $crate::uuid(&answer)?, from_author, body, seq: seq as u32 })
                    })
                    .collect()
            }
        }
    };
}
