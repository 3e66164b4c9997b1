//! People: teams, people and their roles, invitations, sessions, notifications, secret feed
//! URLs and single sign-on. `impl PeopleStore` for an adapter, expanded by
//! [`crate::impl_store!`]; the person helpers it shares with setup are in that macro.

#[macro_export]
macro_rules! people_impl {
    ($store:ty) => {
        #[$crate::async_trait]
        impl kintsugi_store::PeopleStore for $store {
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

            async fn set_teams(&self, org_id: uuid::Uuid, id: uuid::Uuid, team_ids: &[uuid::Uuid], audit: &kintsugi_store::Audit) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::in_org(&mut tx, $crate::InOrg::Person, id, org_id).await?;
                $crate::sqlx::query("DELETE FROM team_members WHERE person_id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                for team in team_ids {
                    Self::in_org(&mut tx, $crate::InOrg::Team, *team, org_id).await?;
                    $crate::sqlx::query("INSERT INTO team_members (team_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(team.to_string())
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::db)?;
                }
                Self::write_audit(&mut tx, audit).await?;
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

            async fn notifications(&self, person_id: uuid::Uuid, limit: u32) -> kintsugi_store::Result<Vec<kintsugi_store::Notification>> {
                let rows: Vec<$crate::NotificationRow> = $crate::sqlx::query_as(
                    "SELECT id, repair_id, body, seen, created_at FROM notifications WHERE person_id = $1 \
                     ORDER BY created_at DESC, id LIMIT $2",
                )
                .bind(person_id.to_string())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::db)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn mark_notifications_seen(&self, person_id: uuid::Uuid) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("UPDATE notifications SET seen = $1 WHERE person_id = $2")
                    .bind(true)
                    .bind(person_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)
            }

            async fn set_feed_token(&self, person_id: uuid::Uuid, token_hash: &str, at: time::OffsetDateTime) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("DELETE FROM feed_tokens WHERE person_id = $1")
                    .bind(person_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                $crate::sqlx::query("INSERT INTO feed_tokens (token_hash, person_id, created_at) VALUES ($1, $2, $3)")
                    .bind(token_hash)
                    .bind(person_id.to_string())
                    .bind($crate::ts(at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::map_err("feed token"))?;
                tx.commit().await.map_err($crate::db)
            }

            async fn revoke_feed_token(&self, person_id: uuid::Uuid) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query("DELETE FROM feed_tokens WHERE person_id = $1")
                    .bind(person_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                tx.commit().await.map_err($crate::db)
            }

            async fn feed_person(&self, token_hash: &str) -> kintsugi_store::Result<Option<kintsugi_store::Person>> {
                let found: Option<(String, String)> = $crate::sqlx::query_as(
                    "SELECT p.org_id, p.id FROM feed_tokens f JOIN people p ON p.id = f.person_id WHERE f.token_hash = $1 AND p.active",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::db)?;
                let Some((org_id, id)) = found else { return Ok(None) };
                Self::one_person(&self.pool, &org_id, &id).await
            }

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
        }
    };
}
