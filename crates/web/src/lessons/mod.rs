//! The lessons library at the edge: reading and searching it, publishing a rebuilt repair's
//! lesson (draft, preview with names replaced, confirm), and facilitators answering and hiding
//! stories. Stories arrive on the anonymous path (`crate::anon`). The rules are
//! `kintsugi_app::lessons`.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use kintsugi_app::lessons;
use kintsugi_app::{Ctx, Error};
use kintsugi_core::Invalid;
use kintsugi_core::lessons::LessonText;
use kintsugi_store::{Lesson, Story};
use serde::Deserialize;
use uuid::Uuid;

use crate::kernel::error::extract::{Form, Path, Query};
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::{CurrentUser, InRepair};
use crate::kernel::{AppState, Reply};

pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/library", get(library))
        .route("/library/lessons/{lesson}", get(lesson_page))
        .route("/library/stories/new", get(new_story_page))
        .route("/library/stories/mine", get(my_stories_page))
        .route("/library/stories/{story}/answers", post(answer_story))
        .route("/library/stories/{story}/hide", post(hide_story))
        .route("/repairs/{id}/lesson", get(publish_page).post(publish))
        .route("/repairs/{id}/lesson/preview", post(preview))
}

fn logged_in(page: &Page) -> Result<&CurrentUser, Error> {
    page.user().ok_or(Error::Unauthenticated)
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub struct StoryView {
    pub story: Story,
    pub week: String,
}

#[derive(Template)]
#[template(path = "lessons.html")]
struct LibraryPage {
    chrome: Chrome,
    q: String,
    lessons: Vec<Lesson>,
    stories: Vec<StoryView>,
    is_facilitator: bool,
}

async fn library(State(ctx): State<Ctx>, page: Page, Query(query): Query<SearchQuery>) -> Reply {
    let user = logged_in(&page)?;
    let (lessons, stories) = lessons::library(&ctx, user, &query.q).await?;
    Ok(render(
        StatusCode::OK,
        &LibraryPage {
            chrome: page.chrome("Lessons library"),
            q: query.q.trim().to_owned(),
            lessons,
            stories: stories
                .into_iter()
                .map(|story| StoryView {
                    week: lessons::week_start(story.week),
                    story,
                })
                .collect(),
            is_facilitator: user.person.roles.facilitator,
        },
    ))
}

#[derive(Template)]
#[template(path = "lesson.html")]
struct LessonPage {
    chrome: Chrome,
    lesson: Lesson,
}

async fn lesson_page(State(ctx): State<Ctx>, page: Page, Path(id): Path<Uuid>) -> Reply {
    let user = logged_in(&page)?;
    let lesson = lessons::lesson(&ctx, user, id).await?;
    Ok(render(
        StatusCode::OK,
        &LessonPage {
            chrome: page.chrome(&lesson.text.title.clone()),
            lesson,
        },
    ))
}

#[derive(Template)]
#[template(path = "lesson_publish.html")]
struct PublishPage {
    chrome: Chrome,
    repair_id: Uuid,
    repair_title: String,
    errors: Vec<Invalid>,
    draft: LessonText,
    /// The anonymised text, once previewed: the only text that can be confirmed.
    preview: Option<LessonText>,
    published: Option<Uuid>,
}

#[derive(Deserialize)]
pub struct LessonForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    what_broke: String,
    #[serde(default)]
    causes: String,
    #[serde(default)]
    what_worked: String,
    #[serde(default)]
    figures: String,
}

impl LessonForm {
    fn raw(&self) -> LessonText {
        LessonText {
            title: self.title.clone(),
            what_broke: self.what_broke.clone(),
            causes: self.causes.clone(),
            what_worked: self.what_worked.clone(),
            figures: self.figures.clone(),
        }
    }
}

async fn publish_page(
    State(ctx): State<Ctx>,
    page: Page,
    InRepair { user, access }: InRepair,
) -> Reply {
    lessons::may_publish(&access)?;
    let published = ctx.store().lesson_of_repair(access.repair.id).await?;
    Ok(render(
        StatusCode::OK,
        &PublishPage {
            chrome: page.chrome("Publish a lesson"),
            repair_id: access.repair.id,
            repair_title: access.repair.title.clone(),
            errors: vec![],
            draft: lessons::draft(&ctx, &user.org, &access).await?,
            preview: None,
            published,
        },
    ))
}

/// Shows the text as it would be stored, with names replaced, and asks for confirmation.
async fn preview(
    State(ctx): State<Ctx>,
    page: Page,
    InRepair { access, .. }: InRepair,
    Form(form): Form<LessonForm>,
) -> Reply {
    let raw = form.raw();
    let (status, errors, preview) = match lessons::preview(&ctx, &access, &raw).await? {
        Ok(text) => (StatusCode::OK, vec![], Some(text)),
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, None),
    };
    Ok(render(
        status,
        &PublishPage {
            chrome: page.chrome("Preview the lesson"),
            repair_id: access.repair.id,
            repair_title: access.repair.title.clone(),
            errors,
            draft: raw,
            preview,
            published: None,
        },
    ))
}

/// Stores the confirmed text. It is anonymised again here, so a name typed back into the
/// preview (or a hand-made request that skipped it) never reaches the library.
async fn publish(
    State(ctx): State<Ctx>,
    InRepair { user, access }: InRepair,
    Form(form): Form<LessonForm>,
) -> Reply {
    let lesson = lessons::publish_lesson(&ctx, &user, &access, &form.raw()).await?;
    Ok(Redirect::to(&format!("/library/lessons/{lesson}")).into_response())
}

#[derive(Template)]
#[template(path = "story_new.html")]
struct NewStoryPage {
    chrome: Chrome,
    org_id: Uuid,
}

async fn new_story_page(page: Page) -> Reply {
    let org_id = logged_in(&page)?.org.id;
    Ok(render(
        StatusCode::OK,
        &NewStoryPage {
            chrome: page.chrome("Share a story anonymously"),
            org_id,
        },
    ))
}

#[derive(Template)]
#[template(path = "stories_mine.html")]
struct MyStoriesPage {
    chrome: Chrome,
}

async fn my_stories_page(page: Page) -> Reply {
    logged_in(&page)?;
    Ok(render(
        StatusCode::OK,
        &MyStoriesPage {
            chrome: page.chrome("Answers to the stories you shared"),
        },
    ))
}

#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    body: String,
}

async fn answer_story(
    State(ctx): State<Ctx>,
    page: Page,
    Path(story): Path<Uuid>,
    Form(form): Form<AnswerForm>,
) -> Reply {
    lessons::answer_story(&ctx, logged_in(&page)?, story, &form.body).await?;
    Ok(Redirect::to(&format!("/library#story-{story}")).into_response())
}

#[derive(Deserialize)]
struct HideForm {
    #[serde(default)]
    hidden: String,
}

async fn hide_story(
    State(ctx): State<Ctx>,
    page: Page,
    Path(story): Path<Uuid>,
    Form(form): Form<HideForm>,
) -> Reply {
    lessons::hide_story(&ctx, logged_in(&page)?, story, &form.hidden).await?;
    Ok(Redirect::to(&format!("/library#story-{story}")).into_response())
}
