//! Repairs: a repair and what hangs off it (acknowledgments, causes, its stage, updates,
//! commitments and their occurrences). Helpers and `impl RepairStore` for an adapter,
//! expanded by [`crate::impl_store!`].

/// Inherent helpers the repair items use (`write_audit` and `lock_repair` serve other parts too).
#[macro_export]
macro_rules! repair_helpers {
    ($store:ty) => {
        impl $store {
            async fn write_audit(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                a: &kintsugi_store::Audit,
            ) -> kintsugi_store::Result<()> {
                $crate::sqlx::query(
                    "INSERT INTO audit_log (id, org_id, actor_id, action, subject, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(a.id.to_string())
                .bind(a.org_id.to_string())
                .bind(a.actor_id.map(|i| i.to_string()))
                .bind(&a.action)
                .bind(&a.subject)
                .bind(&a.detail)
                .bind($crate::ts(a.at))
                .execute(&mut **tx)
                .await
                .map_err($crate::db)?;
                Ok(())
            }

            /// Takes the repair's row lock (a no-op write), so changes to one repair queue up
            /// on PostgreSQL as they do on SQLite's single writer.
            async fn lock_repair(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                repair_id: &str,
            ) -> kintsugi_store::Result<()> {
                let done = $crate::sqlx::query("UPDATE repairs SET stage = stage WHERE id = $1")
                    .bind(repair_id)
                    .execute(&mut **tx)
                    .await
                    .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "repair")?;
                Ok(())
            }

            async fn insert_update(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                repair_id: &str,
                u: &kintsugi_store::NewUpdate,
            ) -> kintsugi_store::Result<()> {
                let (seq,): (i64,) = $crate::sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM updates WHERE repair_id = $1")
                    .bind(repair_id)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err($crate::db)?;
                $crate::sqlx::query(
                    "INSERT INTO updates (id, repair_id, seq, kind, author_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(u.id.to_string())
                .bind(repair_id)
                .bind(seq)
                .bind(u.kind.as_str())
                .bind(u.author_id.map(|i| i.to_string()))
                .bind($crate::ts(u.created_at))
                .execute(&mut **tx)
                .await
                .map_err($crate::db)?;
                $crate::sqlx::query(
                    "INSERT INTO update_versions (update_id, version, body, reason, editor_id, created_at) VALUES ($1, 1, $2, $3, $4, $5)",
                )
                .bind(u.id.to_string())
                .bind(&u.body)
                .bind(u.reason.as_deref())
                .bind(u.author_id.map(|i| i.to_string()))
                .bind($crate::ts(u.created_at))
                .execute(&mut **tx)
                .await
                .map_err($crate::db)?;
                Ok(())
            }

            async fn load_commitments(
                &self,
                of: $crate::CommitmentsOf,
                id: uuid::Uuid,
            ) -> kintsugi_store::Result<Vec<kintsugi_store::Commitment>> {
                let rows: Vec<$crate::CommitmentRow> =
                    $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(of.commitments_sql()))
                        .bind(id.to_string())
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::db)?;
                let occ: Vec<$crate::OccurrenceRow> =
                    $crate::sqlx::query_as($crate::sqlx::AssertSqlSafe(of.occurrences_sql()))
                        .bind(id.to_string())
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::db)?;
                let occ = $crate::ByParent::new(&occ, |o| o.commitment_id.as_str());
                rows.into_iter().map(|r| r.into_commitment(&occ)).collect()
            }

            async fn load_repairs(&self, org_id: uuid::Uuid, person: Option<String>) -> kintsugi_store::Result<Vec<kintsugi_store::RepairSummary>> {
                let rows: Vec<$crate::RepairListRow> = $crate::sqlx::query_as($crate::REPAIR_LIST_SQL)
                    .bind(org_id.to_string())
                    .bind(person)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}

#[macro_export]
macro_rules! repair_impl {
    ($store:ty) => {
        #[$crate::async_trait]
        impl kintsugi_store::RepairStore for $store {
            async fn create_repair(&self, r: &kintsugi_store::NewRepair, notice: &str, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                if r.notification_ids.len() != r.participants.len() {
                    return Err(kintsugi_store::StoreError::Internal(format!(
                        "a new repair needs one notification id per participant: {} for {}",
                        r.notification_ids.len(),
                        r.participants.len()
                    )));
                }
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query(
                    "INSERT INTO repairs (id, org_id, title, summary, breach, scope, stage, facilitator_id, update_cadence_days, \
                     deception, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(r.id.to_string())
                .bind(r.org_id.to_string())
                .bind(&r.title)
                .bind(&r.summary)
                .bind(r.breach.as_str())
                .bind(r.scope.as_str())
                .bind(kintsugi_store::Stage::Acknowledge.as_str())
                .bind(r.facilitator_id.to_string())
                .bind(i64::from(r.update_cadence_days))
                .bind(r.deception)
                .bind($crate::ts(r.created_at))
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                for ((person, side), notification_id) in r.participants.iter().zip(&r.notification_ids) {
                    $crate::sqlx::query("INSERT INTO repair_participants (repair_id, person_id, side) VALUES ($1, $2, $3)")
                        .bind(r.id.to_string())
                        .bind(person.to_string())
                        .bind(side.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::map_err("this person is already in the repair"))?;
                    $crate::sqlx::query(
                        "INSERT INTO notifications (id, person_id, repair_id, body, created_at, seen) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(notification_id.to_string())
                    .bind(person.to_string())
                    .bind(r.id.to_string())
                    .bind(notice)
                    .bind($crate::ts(r.created_at))
                    .bind(false)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                }
                for (team, side) in &r.teams {
                    $crate::sqlx::query("INSERT INTO repair_teams (repair_id, team_id, side) VALUES ($1, $2, $3)")
                        .bind(r.id.to_string())
                        .bind(team.to_string())
                        .bind(side.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::map_err("this team is already in the repair"))?;
                }
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn repair(&self, org_id: uuid::Uuid, id: uuid::Uuid) -> kintsugi_store::Result<Option<kintsugi_store::Repair>> {
                let row: Option<$crate::RepairRow> = $crate::sqlx::query_as($crate::REPAIR_SQL)
                    .bind(id.to_string())
                    .bind(org_id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::db)?;
                let Some(row) = row else { return Ok(None) };
                let people: Vec<(String, String, String)> = $crate::sqlx::query_as(
                    "SELECT rp.person_id, p.name, rp.side FROM repair_participants rp JOIN people p ON p.id = rp.person_id \
                     WHERE rp.repair_id = $1 ORDER BY rp.side, p.name, p.id",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                let teams: Vec<(String, String, String)> = $crate::sqlx::query_as(
                    "SELECT rt.team_id, t.name, rt.side FROM repair_teams rt JOIN teams t ON t.id = rt.team_id \
                     WHERE rt.repair_id = $1 ORDER BY rt.side, t.name",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                row.into_repair(people, teams).map(Some)
            }

            async fn repair_version(&self, org_id: uuid::Uuid, id: uuid::Uuid) -> kintsugi_store::Result<Option<i64>> {
                let row: Option<(i64,)> = $crate::sqlx::query_as("SELECT version FROM repairs WHERE id = $1 AND org_id = $2")
                    .bind(id.to_string())
                    .bind(org_id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::db)?;
                Ok(row.map(|(v,)| v))
            }

            async fn repairs_of(&self, org_id: uuid::Uuid, person_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::RepairSummary>> {
                self.load_repairs(org_id, Some(person_id.to_string())).await
            }

            async fn all_repairs(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::RepairSummary>> {
                self.load_repairs(org_id, None).await
            }

            async fn post_acknowledgment(&self, repair_id: uuid::Uuid, a: &kintsugi_store::Acknowledgment, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &repair_id.to_string()).await?;
                $crate::sqlx::query(
                    "INSERT INTO acknowledgments (id, repair_id, author_id, body, score, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(a.id.to_string())
                .bind(repair_id.to_string())
                .bind(a.author_id.to_string())
                .bind(&a.body)
                .bind(i64::from(a.score))
                .bind($crate::ts(a.created_at))
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn acknowledgments(&self, repair_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Acknowledgment>> {
                let rows: Vec<$crate::AckRow> = $crate::sqlx::query_as(
                    "SELECT a.id, a.author_id, p.name AS author_name, a.body, a.score, a.created_at FROM acknowledgments a \
                     JOIN people p ON p.id = a.author_id WHERE a.repair_id = $1 ORDER BY a.created_at, a.id",
                )
                .bind(repair_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn add_cause(&self, repair_id: uuid::Uuid, c: &kintsugi_store::Cause, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &repair_id.to_string()).await?;
                $crate::sqlx::query("INSERT INTO causes (id, repair_id, category, description, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(c.id.to_string())
                    .bind(repair_id.to_string())
                    .bind(c.category.as_str())
                    .bind(&c.description)
                    .bind($crate::ts(c.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                for answer in &c.support {
                    $crate::sqlx::query("INSERT INTO cause_support (cause_id, answer_id) VALUES ($1, $2)")
                        .bind(c.id.to_string())
                        .bind(answer.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::map_err("this comment is already linked to the cause"))?;
                }
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn causes(&self, repair_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Cause>> {
                let rows: Vec<$crate::CauseRow> = $crate::sqlx::query_as(
                    "SELECT id, category, description, created_at FROM causes WHERE repair_id = $1 ORDER BY created_at, id",
                )
                .bind(repair_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                let links: Vec<(String, String, Option<String>)> = $crate::sqlx::query_as(
                    "SELECT cs.cause_id, cs.answer_id, a.comment FROM cause_support cs JOIN causes c ON c.id = cs.cause_id \
                     JOIN round_answers a ON a.id = cs.answer_id WHERE c.repair_id = $1 ORDER BY cs.answer_id",
                )
                .bind(repair_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                let mut causes: Vec<kintsugi_store::Cause> = rows.into_iter().map(TryInto::try_into).collect::<kintsugi_store::Result<_>>()?;
                for cause in &mut causes {
                    for (cause_id, answer_id, comment) in &links {
                        if *cause_id == cause.id.to_string() {
                            cause.support.push($crate::uuid(answer_id)?);
                            cause.supporting_comments.extend(comment.clone());
                        }
                    }
                }
                Ok(causes)
            }

            async fn record_no_round_reason(&self, repair_id: uuid::Uuid, reason: &str, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &repair_id.to_string()).await?;
                $crate::sqlx::query("UPDATE repairs SET no_round_reason = $1 WHERE id = $2")
                    .bind(reason)
                    .bind(repair_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn set_pair_consent(&self, repair_id: uuid::Uuid, consent: bool, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &repair_id.to_string()).await?;
                $crate::sqlx::query("UPDATE repairs SET pair_consent = $1 WHERE id = $2")
                    .bind(consent)
                    .bind(repair_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn move_stage(
                &self,
                repair_id: uuid::Uuid,
                from: kintsugi_store::Stage,
                transition: &kintsugi_core::repair::Transition,
                gate_passes: Option<bool>,
                audit: &kintsugi_store::Audit,
                event: &kintsugi_store::NewEvent,
            ) -> kintsugi_store::Result<kintsugi_store::Stage> {
                use kintsugi_core::repair::{Facts, Transition, check};
                let id = repair_id.to_string();
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &id).await?;
                let (stage, no_round_reason): (String, Option<String>) =
                    $crate::sqlx::query_as("SELECT stage, no_round_reason FROM repairs WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err($crate::db)?;
                let stage = kintsugi_store::Stage::parse(&stage).map_err(|e| kintsugi_store::StoreError::Internal(e.to_string()))?;
                if stage != from {
                    return Err(kintsugi_store::StoreError::Conflict(format!(
                        "the repair has moved on to {} meanwhile; reload to see it",
                        stage.label()
                    )));
                }
                let mut counts = Vec::new();
                for sql in [
                    "SELECT COUNT(*) FROM acknowledgments WHERE repair_id = $1",
                    "SELECT COUNT(*) FROM causes WHERE repair_id = $1",
                    "SELECT COUNT(*) FROM commitments WHERE repair_id = $1",
                    "SELECT COUNT(*) FROM rounds WHERE repair_id = $1 AND kind = 'listening' AND status = 'closed'",
                ] {
                    let (n,): (i64,) = $crate::sqlx::query_as(sql).bind(&id).fetch_one(&mut *tx).await.map_err($crate::db)?;
                    counts.push(n as usize);
                }
                let facts = Facts {
                    stage: Some(stage),
                    acknowledgments: counts[0],
                    closed_listening_rounds: counts[3],
                    no_round_reason: no_round_reason.is_some(),
                    causes: counts[1],
                    scheduled_commitments: counts[2],
                    gate_passes,
                };
                let to = check(&facts, transition).map_err(|r| kintsugi_store::StoreError::Refused(r.message))?;
                let (closed, overridden) = match transition {
                    Transition::Close { reason } => (Some(reason.as_str()), None),
                    Transition::Override { reason } => (None, Some(reason.as_str())),
                    Transition::Advance => (None, None),
                };
                $crate::sqlx::query(
                    "UPDATE repairs SET stage = $1, closed_reason = COALESCE($2, closed_reason), \
                     override_reason = COALESCE($3, override_reason), \
                     rebuild_started_at = CASE WHEN $1 = 'rebuild' THEN $5 ELSE rebuild_started_at END WHERE id = $4",
                )
                .bind(to.as_str())
                .bind(closed)
                .bind(overridden)
                .bind(&id)
                .bind($crate::ts(audit.at))
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                Self::write_event(&mut tx, repair_id, event).await?;
                tx.commit().await.map_err($crate::db)?;
                Ok(to)
            }

            async fn post_update(
                &self,
                repair_id: uuid::Uuid,
                u: &kintsugi_store::NewUpdate,
                audit: &kintsugi_store::Audit,
                event: &kintsugi_store::NewEvent,
            ) -> kintsugi_store::Result<()> {
                let id = repair_id.to_string();
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &id).await?;
                Self::insert_update(&mut tx, &id, u).await?;
                Self::write_audit(&mut tx, audit).await?;
                Self::write_event(&mut tx, repair_id, event).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn edit_update(&self, repair_id: uuid::Uuid, e: &kintsugi_store::UpdateEdit, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let (update_id, editor_id, body, reason, at) = (e.update_id, e.editor_id, e.body.as_str(), e.reason.as_deref(), e.at);
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &repair_id.to_string()).await?;
                let found: Option<(String,)> = $crate::sqlx::query_as("SELECT kind FROM updates WHERE id = $1 AND repair_id = $2")
                    .bind(update_id.to_string())
                    .bind(repair_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                match found {
                    None => return Err(kintsugi_store::StoreError::NotFound("update")),
                    Some((kind,)) if kind == kintsugi_store::UpdateKind::Missed.as_str() => {
                        return Err(kintsugi_store::StoreError::Refused("updates Kintsugi posts itself cannot be edited".into()));
                    }
                    Some(_) => {}
                }
                let (version,): (i64,) = $crate::sqlx::query_as("SELECT MAX(version) + 1 FROM update_versions WHERE update_id = $1")
                    .bind(update_id.to_string())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::sqlx::query(
                    "INSERT INTO update_versions (update_id, version, body, reason, editor_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(update_id.to_string())
                .bind(version)
                .bind(body)
                .bind(reason)
                .bind(editor_id.to_string())
                .bind($crate::ts(at))
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn updates(&self, repair_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Update>> {
                let rows: Vec<$crate::UpdateRow> = $crate::sqlx::query_as(
                    "SELECT u.id, u.seq, u.kind, u.author_id, p.name AS author_name, u.created_at FROM updates u \
                     LEFT JOIN people p ON p.id = u.author_id WHERE u.repair_id = $1 ORDER BY u.seq",
                )
                .bind(repair_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                let versions: Vec<$crate::VersionRow> = $crate::sqlx::query_as(
                    "SELECT v.update_id, v.version, v.body, v.reason, e.name AS editor_name, v.created_at FROM update_versions v \
                     JOIN updates u ON u.id = v.update_id LEFT JOIN people e ON e.id = v.editor_id \
                     WHERE u.repair_id = $1 ORDER BY v.update_id, v.version",
                )
                .bind(repair_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                let versions = $crate::ByParent::new(&versions, |v| v.update_id.as_str());
                rows.into_iter().map(|r| r.into_update(&versions)).collect()
            }

            async fn add_commitment(&self, c: &kintsugi_store::NewCommitment, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let Some(first) = c.due_dates.first() else {
                    return Err(kintsugi_store::StoreError::Refused("a commitment needs at least one due date".into()));
                };
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &c.repair_id.to_string()).await?;
                $crate::sqlx::query(
                    "INSERT INTO commitments (id, repair_id, owner_id, statement, cadence, occurrence_count, first_due, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(c.id.to_string())
                .bind(c.repair_id.to_string())
                .bind(c.owner_id.to_string())
                .bind(&c.statement)
                .bind(c.cadence.as_deref())
                .bind(c.due_dates.len() as i64)
                .bind($crate::date_text(*first))
                .bind($crate::ts(c.created_at))
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                for due in &c.due_dates {
                    $crate::sqlx::query("INSERT INTO occurrences (commitment_id, due, done_on, missed_announced) VALUES ($1, $2, NULL, $3)")
                        .bind(c.id.to_string())
                        .bind($crate::date_text(*due))
                        .bind(false)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::map_err("two occurrences on the same day"))?;
                }
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn commitments(&self, repair_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Commitment>> {
                self.load_commitments($crate::CommitmentsOf::Repair, repair_id).await
            }

            async fn commitments_owned_by(&self, person_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Commitment>> {
                self.load_commitments($crate::CommitmentsOf::Owner, person_id).await
            }

            async fn commitments_in_org(&self, org_id: uuid::Uuid) -> kintsugi_store::Result<Vec<kintsugi_store::Commitment>> {
                self.load_commitments($crate::CommitmentsOf::Organisation, org_id).await
            }

            async fn mark_done(&self, commitment_id: uuid::Uuid, due: time::Date, on: time::Date, audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = $crate::sqlx::query("UPDATE occurrences SET done_on = $1 WHERE commitment_id = $2 AND due = $3")
                    .bind($crate::date_text(on))
                    .bind(commitment_id.to_string())
                    .bind($crate::date_text(due))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::one_row(done.rows_affected(), "occurrence")?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn confirm(&self, id: uuid::Uuid, commitment_id: uuid::Uuid, due: time::Date, person_id: uuid::Uuid, happened: bool, on: time::Date) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("INSERT INTO confirmation_receipts (commitment_id, due, person_id) VALUES ($1, $2, $3)")
                    .bind(commitment_id.to_string())
                    .bind($crate::date_text(due))
                    .bind(person_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("you have already confirmed this occurrence"))?;
                $crate::sqlx::query("INSERT INTO confirmations (id, commitment_id, due, happened, confirmed_on) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id.to_string())
                    .bind(commitment_id.to_string())
                    .bind($crate::date_text(due))
                    .bind(happened)
                    .bind($crate::date_text(on))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)
            }

            async fn announce_missed(
                &self,
                repair_id: uuid::Uuid,
                commitment_id: uuid::Uuid,
                due: time::Date,
                u: &kintsugi_store::NewUpdate,
                event: &kintsugi_store::NewEvent,
            ) -> kintsugi_store::Result<bool> {
                let id = repair_id.to_string();
                let mut tx = self.write_tx().await?;
                Self::lock_repair(&mut tx, &id).await?;
                let flipped = $crate::sqlx::query(
                    "UPDATE occurrences SET missed_announced = $1 WHERE commitment_id = $2 AND due = $3 AND missed_announced = $4",
                )
                .bind(true)
                .bind(commitment_id.to_string())
                .bind($crate::date_text(due))
                .bind(false)
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                if flipped.rows_affected() != 1 {
                    return Ok(false);
                }
                Self::insert_update(&mut tx, &id, u).await?;
                Self::write_event(&mut tx, repair_id, event).await?;
                tx.commit().await.map_err($crate::db)?;
                Ok(true)
            }
        }
    };
}
