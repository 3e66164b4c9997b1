//! The lessons library in the storage interface: published lessons and anonymous stories.
//! A part of [`crate::Store`].

use async_trait::async_trait;
use uuid::Uuid;

use crate::{Audit, Lesson, NewLesson, NewStory, Result, Story, StoryAnswer};

/// The lessons library (practice 6).
#[async_trait]
pub trait LessonStore: Send + Sync {
    /// Adds an anonymised lesson; `Conflict` when the repair already has one.
    async fn publish_lesson(&self, lesson: &NewLesson, audit: &Audit) -> Result<()>;
    /// The organisation's lessons, newest first; `pattern` is a LIKE pattern (already
    /// lower-cased and escaped with `\`) matched against the title and every text field.
    async fn lessons(&self, org_id: Uuid, pattern: Option<&str>) -> Result<Vec<Lesson>>;
    async fn lesson(&self, org_id: Uuid, id: Uuid) -> Result<Option<Lesson>>;
    /// The lesson published from a repair, if any.
    async fn lesson_of_repair(&self, repair_id: Uuid) -> Result<Option<Uuid>>;
    /// Stores an anonymous story; nothing about who sent it is written anywhere.
    async fn submit_story(&self, story: &NewStory) -> Result<()>;
    /// Stories with their answers, newest week first; hidden ones only when asked.
    async fn stories(
        &self,
        org_id: Uuid,
        pattern: Option<&str>,
        with_hidden: bool,
    ) -> Result<Vec<Story>>;
    async fn story(&self, org_id: Uuid, id: Uuid) -> Result<Option<Story>>;
    /// The story whose reply check is `check`: how its author's capability finds it.
    async fn story_by_check(&self, check: &str) -> Result<Option<Story>>;
    async fn answer_story(
        &self,
        org_id: Uuid,
        story_id: Uuid,
        answer: &StoryAnswer,
        audit: &Audit,
    ) -> Result<()>;
    async fn set_story_hidden(
        &self,
        org_id: Uuid,
        story_id: Uuid,
        hidden: bool,
        audit: &Audit,
    ) -> Result<()>;
}
