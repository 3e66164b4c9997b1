//! The lessons library: published lessons and anonymous stories. Their SQL, helpers and
//! `impl LessonStore` for an adapter, expanded by [`crate::impl_store!`].

/// `LOWER(col) LIKE $n ESCAPE '\'` for each searched column: the pattern comes from
/// `kintsugi_core::lessons::search_pattern`, already lower-cased and escaped.
pub const LESSON_SQL: &str = "SELECT id, breach, title, what_broke, causes, what_worked, figures, published_at FROM lessons \
     WHERE org_id = $1 AND ($2 IS NULL OR id = $2) AND ($3 IS NULL OR LOWER(title) LIKE $3 ESCAPE '\\' \
     OR LOWER(what_broke) LIKE $3 ESCAPE '\\' OR LOWER(causes) LIKE $3 ESCAPE '\\' \
     OR LOWER(what_worked) LIKE $3 ESCAPE '\\') ORDER BY published_at DESC, id";

pub const STORY_SQL: &str = "SELECT id, title, body, week, hidden FROM stories \
     WHERE ($1 IS NULL OR org_id = $1) AND ($2 IS NULL OR id = $2) AND ($3 IS NULL OR reply_check = $3) \
     AND ($4 IS NULL OR LOWER(title) LIKE $4 ESCAPE '\\' OR LOWER(body) LIKE $4 ESCAPE '\\') \
     AND (hidden = FALSE OR $5) ORDER BY week DESC, id";

pub const STORY_ANSWER_SQL: &str = "SELECT a.id, a.story_id, a.author_id, p.name, a.body, a.created_at FROM story_answers a \
     JOIN people p ON p.id = a.author_id JOIN stories s ON s.id = a.story_id \
     WHERE ($1 IS NULL OR s.org_id = $1) ORDER BY a.created_at, a.id";

pub type LessonRow = (String, String, String, String, String, String, String, i64);

pub fn lesson(row: LessonRow) -> Result<kintsugi_store::Lesson, kintsugi_store::StoreError> {
    let (id, breach, title, what_broke, causes, what_worked, figures, at) = row;
    Ok(kintsugi_store::Lesson {
        id: crate::uuid(&id)?,
        breach: kintsugi_core::repair::Breach::parse(&breach).map_err(|e| {
            kintsugi_store::StoreError::Internal(format!("stored breach is unreadable: {e}"))
        })?,
        text: kintsugi_core::lessons::LessonText {
            title,
            what_broke,
            causes,
            what_worked,
            figures,
        },
        published_at: crate::from_ts(at)?,
    })
}

pub type StoryRow = (String, String, String, i64, bool);
pub type StoryAnswerRow = (String, String, String, String, String, i64);

pub fn stories(
    rows: Vec<StoryRow>,
    answers: Vec<StoryAnswerRow>,
) -> Result<Vec<kintsugi_store::Story>, kintsugi_store::StoreError> {
    rows.into_iter()
        .map(|(id, title, body, week, hidden)| {
            let answers = answers
                .iter()
                .filter(|a| a.1 == id)
                .map(|(aid, _, author, name, text, at)| {
                    Ok(kintsugi_store::StoryAnswer {
                        id: crate::uuid(aid)?,
                        author_id: crate::uuid(author)?,
                        author_name: name.clone(),
                        body: text.clone(),
                        created_at: crate::from_ts(*at)?,
                    })
                })
                .collect::<Result<_, kintsugi_store::StoreError>>()?;
            Ok(kintsugi_store::Story {
                id: crate::uuid(&id)?,
                title,
                body,
                week,
                hidden,
                answers,
            })
        })
        .collect()
}

/// Inherent helpers the lesson items use.
#[macro_export]
macro_rules! lesson_helpers {
    ($store:ty) => {
        impl $store {
            async fn load_lessons(
                &self,
                org_id: uuid::Uuid,
                only: Option<uuid::Uuid>,
                pattern: Option<&str>,
            ) -> kintsugi_store::Result<Vec<kintsugi_store::Lesson>> {
                let rows: Vec<$crate::LessonRow> = $crate::sqlx::query_as($crate::LESSON_SQL)
                    .bind(org_id.to_string())
                    .bind(only.map(|i| i.to_string()))
                    .bind(pattern)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                rows.into_iter().map($crate::lesson).collect()
            }

            async fn load_stories(
                &self,
                org_id: Option<uuid::Uuid>,
                only: Option<uuid::Uuid>,
                check: Option<&str>,
                pattern: Option<&str>,
                with_hidden: bool,
            ) -> kintsugi_store::Result<Vec<kintsugi_store::Story>> {
                let rows: Vec<$crate::StoryRow> = $crate::sqlx::query_as($crate::STORY_SQL)
                    .bind(org_id.map(|i| i.to_string()))
                    .bind(only.map(|i| i.to_string()))
                    .bind(check)
                    .bind(pattern)
                    .bind(with_hidden)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::db)?;
                let org = match (org_id, rows.first()) {
                    (Some(org), _) => Some(org.to_string()),
                    (None, Some(_)) => None,
                    (None, None) => return Ok(vec![]),
                };
                let answers: Vec<$crate::StoryAnswerRow> =
                    $crate::sqlx::query_as($crate::STORY_ANSWER_SQL)
                        .bind(org)
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::db)?;
                $crate::stories(rows, answers)
            }

            /// Checks that the story is in the organisation, inside the transaction.
            async fn story_in_org(
                tx: &mut $crate::sqlx::Transaction<'_, <$store as $crate::Backend>::Db>,
                org_id: uuid::Uuid,
                story_id: uuid::Uuid,
            ) -> kintsugi_store::Result<()> {
                Self::in_org(tx, $crate::InOrg::Story, story_id, org_id).await
            }
        }
    };
}

#[macro_export]
macro_rules! lesson_impl {
    ($store:ty) => {
        #[$crate::async_trait]
        impl kintsugi_store::LessonStore for $store {
            async fn publish_lesson(
                &self,
                l: &kintsugi_store::NewLesson,
                audit: &kintsugi_store::Audit,
            ) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query(
                    "INSERT INTO lessons (id, org_id, repair_id, breach, title, what_broke, causes, what_worked, figures, published_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(l.id.to_string())
                .bind(l.org_id.to_string())
                .bind(l.repair_id.to_string())
                .bind(l.breach.as_str())
                .bind(&l.text.title)
                .bind(&l.text.what_broke)
                .bind(&l.text.causes)
                .bind(&l.text.what_worked)
                .bind(&l.text.figures)
                .bind($crate::ts(l.published_at))
                .execute(&mut *tx)
                .await
                .map_err($crate::map_err("this repair's lesson is already in the library"))?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn lessons(
                &self,
                org_id: uuid::Uuid,
                pattern: Option<&str>,
            ) -> kintsugi_store::Result<Vec<kintsugi_store::Lesson>> {
                self.load_lessons(org_id, None, pattern).await
            }

            async fn lesson(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> kintsugi_store::Result<Option<kintsugi_store::Lesson>> {
                Ok(self.load_lessons(org_id, Some(id), None).await?.pop())
            }

            async fn lesson_of_repair(
                &self,
                repair_id: uuid::Uuid,
            ) -> kintsugi_store::Result<Option<uuid::Uuid>> {
                let row: Option<(String,)> =
                    $crate::sqlx::query_as("SELECT id FROM lessons WHERE repair_id = $1")
                        .bind(repair_id.to_string())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::db)?;
                row.map(|(id,)| $crate::uuid(&id)).transpose()
            }

            async fn submit_story(&self, s: &kintsugi_store::NewStory) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                $crate::sqlx::query(
                    "INSERT INTO stories (id, org_id, title, body, week, reply_check, hidden) VALUES ($1, $2, $3, $4, $5, $6, FALSE)",
                )
                .bind(s.id.to_string())
                .bind(s.org_id.to_string())
                .bind(&s.title)
                .bind(&s.body)
                .bind(s.week)
                .bind(&s.reply_check)
                .execute(&mut *tx)
                .await
                .map_err($crate::map_err("a story with this reply capability already exists; pick a new one"))?;
                tx.commit().await.map_err($crate::db)
            }

            async fn stories(
                &self,
                org_id: uuid::Uuid,
                pattern: Option<&str>,
                with_hidden: bool,
            ) -> kintsugi_store::Result<Vec<kintsugi_store::Story>> {
                self.load_stories(Some(org_id), None, None, pattern, with_hidden).await
            }

            async fn story(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> kintsugi_store::Result<Option<kintsugi_store::Story>> {
                Ok(self.load_stories(Some(org_id), Some(id), None, None, true).await?.pop())
            }

            async fn story_by_check(
                &self,
                check: &str,
            ) -> kintsugi_store::Result<Option<kintsugi_store::Story>> {
                Ok(self.load_stories(None, None, Some(check), None, true).await?.pop())
            }

            async fn answer_story(
                &self,
                org_id: uuid::Uuid,
                story_id: uuid::Uuid,
                a: &kintsugi_store::StoryAnswer,
                audit: &kintsugi_store::Audit,
            ) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::story_in_org(&mut tx, org_id, story_id).await?;
                $crate::sqlx::query(
                    "INSERT INTO story_answers (id, story_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(a.id.to_string())
                .bind(story_id.to_string())
                .bind(a.author_id.to_string())
                .bind(&a.body)
                .bind($crate::ts(a.created_at))
                .execute(&mut *tx)
                .await
                .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }

            async fn set_story_hidden(
                &self,
                org_id: uuid::Uuid,
                story_id: uuid::Uuid,
                hidden: bool,
                audit: &kintsugi_store::Audit,
            ) -> kintsugi_store::Result<()> {
                let mut tx = self.write_tx().await?;
                Self::story_in_org(&mut tx, org_id, story_id).await?;
                $crate::sqlx::query("UPDATE stories SET hidden = $1 WHERE id = $2")
                    .bind(hidden)
                    .bind(story_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::db)?;
                Self::write_audit(&mut tx, audit).await?;
                tx.commit().await.map_err($crate::db)
            }
        }
    };
}
