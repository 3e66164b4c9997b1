//! The lessons library's SQL: inherent helpers expanded per adapter by [`crate::impl_store!`];
//! the trait items that use them are in their own section at the end of `store_impl!`
//! (`repairs.rs`), because `async_trait` must see every method expanded in one block.

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
