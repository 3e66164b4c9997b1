//! The lessons library (practice 6): lessons published from rebuilt repairs, anonymised in
//! the core before anyone but their facilitator sees them, and anonymous stories that
//! facilitators answer. Anyone in the organisation reads and searches the library.
//!
//! A story arrives on the cookie-free `/anon` path, so nothing ties it to a session; its
//! author keeps a capability (only its SHA-256 is stored) that opens the answers later.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kintsugi_core::Invalid;
use kintsugi_core::lessons::{self, LessonText, Named};
use kintsugi_store::{Lesson, NewLesson, NewStory, Story, StoryAnswer};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actions::audit;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::error::extract::{Form, Json, Path, Query};
use crate::pages::{Chrome, Page, html_errors, render};
use crate::repairs::{Access, InRepair};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/library", get(library))
        .route("/library/lessons/{lesson}", get(lesson_page))
        .route("/library/stories/new", get(new_story_page))
        .route("/library/stories/mine", get(my_stories_page))
        .route("/library/stories/{story}/answers", post(answer_story))
        .route("/library/stories/{story}/hide", post(hide_story))
        .route("/repairs/{id}/lesson", get(publish_page).post(publish))
        .route("/repairs/{id}/lesson/preview", post(preview))
        .layer(axum::middleware::from_fn(html_errors))
        .with_state(state)
}

/// The cookie-free half: submitting a story and reading its answers by capability.
pub fn anon_router(state: AppState) -> Router {
    Router::new()
        .route("/anon/orgs/{org}/stories", post(submit_story))
        .route("/anon/stories/thread", post(story_thread))
        .layer(axum::middleware::from_fn(crate::anon::refuse_cookies))
        .with_state(state)
}

fn logged_in(page: &Page) -> Result<&CurrentUser, AppError> {
    page.user().ok_or(AppError::Unauthenticated)
}

/// 1970-01-01 was a Thursday: weeks are counted from the Monday before it.
const MONDAY_BEFORE_EPOCH: i64 = 3 * 86_400;

/// Weeks (Monday to Sunday) since 1969-12-29: all a story keeps of when it arrived.
fn week_of(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp() + MONDAY_BEFORE_EPOCH).div_euclid(7 * 86_400)
}

/// The Monday a week starts on, for people to read.
pub fn week_start(week: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(week * 7 * 86_400 - MONDAY_BEFORE_EPOCH)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

// ---- The library ----

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

async fn library(
    State(state): State<AppState>,
    page: Page,
    Query(query): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let user = logged_in(&page)?;
    let pattern = lessons::search_pattern(&query.q);
    let is_facilitator = user.person.roles.facilitator;
    let lessons = state
        .store()
        .lessons(user.org.id, pattern.as_deref())
        .await?;
    let stories = state
        .store()
        .stories(user.org.id, pattern.as_deref(), is_facilitator)
        .await?
        .into_iter()
        .map(|story| StoryView {
            week: week_start(story.week),
            story,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &LibraryPage {
            chrome: page.chrome("Lessons library"),
            q: query.q.trim().to_owned(),
            lessons,
            stories,
            is_facilitator,
        },
    ))
}

#[derive(Template)]
#[template(path = "lesson.html")]
struct LessonPage {
    chrome: Chrome,
    lesson: Lesson,
}

async fn lesson_page(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let user = logged_in(&page)?;
    let lesson = state
        .store()
        .lesson(user.org.id, id)
        .await?
        .ok_or_else(|| AppError::not_found("lesson"))?;
    Ok(render(
        StatusCode::OK,
        &LessonPage {
            chrome: page.chrome(&lesson.text.title.clone()),
            lesson,
        },
    ))
}

// ---- Publishing a lesson ----

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

/// Only the repair's facilitator, and only once the repair is rebuilt.
fn may_publish(access: &Access) -> Result<(), AppError> {
    access.require_facilitator()?;
    if access.repair.stage != kintsugi_core::repair::Stage::Rebuilt {
        return Err(AppError::Conflict(
            "a lesson can be published only once the repair is rebuilt".into(),
        ));
    }
    Ok(())
}

/// Every name the lesson must not carry: the repair's people (facilitator too) and teams.
/// The accountable side comes first, then the affected side, then the facilitator, so the
/// labels read the same way in every lesson ("Person A" is accountable).
async fn names(state: &AppState, access: &Access) -> Result<(Vec<Named>, Vec<String>), AppError> {
    use kintsugi_core::repair::Side;
    let r = &access.repair;
    let people = state.store().list_people(r.org_id).await?;
    let mut ids: Vec<Uuid> = [Side::Accountable, Side::Affected]
        .iter()
        .flat_map(|side| {
            r.participants
                .iter()
                .filter(move |p| p.side == *side)
                .map(|p| p.person_id)
        })
        .collect();
    ids.push(r.facilitator_id);
    let named = ids
        .iter()
        .filter_map(|id| people.iter().find(|p| p.id == *id))
        .map(|p| Named {
            name: p.name.clone(),
            email: p.email.clone(),
        })
        .collect();
    // Every team of the organisation: a lesson about "the Platform team" names people too.
    let teams = state
        .store()
        .list_teams(r.org_id)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    Ok((named, teams))
}

/// The draft the facilitator starts from: what the repair recorded, and its figures.
async fn draft(
    state: &AppState,
    org: &kintsugi_store::Organisation,
    access: &Access,
) -> Result<LessonText, AppError> {
    let r = &access.repair;
    let causes = state
        .store()
        .causes(r.id)
        .await?
        .iter()
        .map(|c| format!("- {}: {}", c.category.label(), c.description))
        .collect::<Vec<_>>()
        .join("\n");
    let commitments = state.store().commitments(r.id).await?;
    let ft = crate::repairs::follow_through(&commitments, state.now().date());
    let worked = commitments
        .iter()
        .map(|c| format!("- {}", c.statement))
        .collect::<Vec<_>>()
        .join("\n");
    let rounds = crate::rounds::RoundsRead::read(state, r.id).await?;
    let gate = crate::rounds::gate_report(state.now(), org, r, &rounds, &commitments);
    let mut figures = vec![format!(
        "Commitments kept: {} of {} due occurrences.",
        ft.kept, ft.due
    )];
    figures.extend(gate.conditions.iter().map(|c| {
        let mut text = c.text.clone();
        if let Some(first) = text.get(..1) {
            text.replace_range(..1, &first.to_uppercase());
        }
        format!("{text}.")
    }));
    if r.override_reason.is_some() {
        figures.push("The recovery gate was overridden, with a written reason.".into());
    }
    Ok(LessonText {
        title: r.title.clone(),
        what_broke: r.summary.clone(),
        causes,
        what_worked: worked,
        figures: figures.join("\n"),
    })
}

async fn publish_page(
    State(state): State<AppState>,
    page: Page,
    InRepair { user, access }: InRepair,
) -> Result<Response, AppError> {
    may_publish(&access)?;
    let published = state.store().lesson_of_repair(access.repair.id).await?;
    Ok(render(
        StatusCode::OK,
        &PublishPage {
            chrome: page.chrome("Publish a lesson"),
            repair_id: access.repair.id,
            repair_title: access.repair.title.clone(),
            errors: vec![],
            draft: draft(&state, &user.org, &access).await?,
            preview: None,
            published,
        },
    ))
}

/// Shows the text as it would be stored, with names replaced, and asks for confirmation.
async fn preview(
    State(state): State<AppState>,
    page: Page,
    InRepair { access, .. }: InRepair,
    Form(form): Form<LessonForm>,
) -> Result<Response, AppError> {
    may_publish(&access)?;
    let raw = form.raw();
    let (people, teams) = names(&state, &access).await?;
    let (status, errors, preview) = match LessonText::parse(
        &raw.title,
        &raw.what_broke,
        &raw.causes,
        &raw.what_worked,
        &raw.figures,
    ) {
        Ok(text) => (
            StatusCode::OK,
            vec![],
            Some(text.anonymised(&people, &teams)),
        ),
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
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Form(form): Form<LessonForm>,
) -> Result<Response, AppError> {
    let lesson = publish_lesson(&state, &user, &access, &form).await?;
    Ok(Redirect::to(&format!("/library/lessons/{lesson}")).into_response())
}

pub async fn publish_lesson(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    form: &LessonForm,
) -> Result<Uuid, AppError> {
    may_publish(access)?;
    let text = LessonText::parse(
        &form.title,
        &form.what_broke,
        &form.causes,
        &form.what_worked,
        &form.figures,
    )
    .map_err(AppError::Invalid)?;
    let (people, teams) = names(state, access).await?;
    let text = text.anonymised(&people, &teams);
    let id = state.new_id();
    let entry = audit(
        state,
        user,
        "lesson.publish",
        &access.repair.title,
        format!("published as \"{}\"", text.title),
    );
    state
        .store()
        .publish_lesson(
            &NewLesson {
                id,
                org_id: access.repair.org_id,
                repair_id: access.repair.id,
                breach: access.repair.breach,
                text,
                published_at: state.now(),
            },
            &entry,
        )
        .await?;
    Ok(id)
}

// ---- Stories ----

#[derive(Template)]
#[template(path = "story_new.html")]
struct NewStoryPage {
    chrome: Chrome,
    org_id: Uuid,
}

async fn new_story_page(page: Page) -> Result<Response, AppError> {
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

async fn my_stories_page(page: Page) -> Result<Response, AppError> {
    logged_in(&page)?;
    Ok(render(
        StatusCode::OK,
        &MyStoriesPage {
            chrome: page.chrome("Answers to the stories you shared"),
        },
    ))
}

fn require_facilitator(user: &CurrentUser) -> Result<(), AppError> {
    if user.person.roles.facilitator {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only facilitators may answer or hide stories".into(),
        ))
    }
}

#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    body: String,
}

async fn answer_story(
    State(state): State<AppState>,
    page: Page,
    Path(story): Path<Uuid>,
    Form(form): Form<AnswerForm>,
) -> Result<Response, AppError> {
    let user = logged_in(&page)?;
    require_facilitator(user)?;
    let body = lessons::story_answer(&form.body).map_err(|e| AppError::Invalid(vec![e]))?;
    let entry = audit(
        &state,
        user,
        "story.answer",
        "an anonymous story",
        "answered",
    );
    state
        .store()
        .answer_story(
            user.org.id,
            story,
            &StoryAnswer {
                id: state.new_id(),
                author_id: user.person.id,
                author_name: user.person.name.clone(),
                body,
                created_at: state.now(),
            },
            &entry,
        )
        .await?;
    Ok(Redirect::to(&format!("/library#story-{story}")).into_response())
}

#[derive(Deserialize)]
struct HideForm {
    #[serde(default)]
    hidden: String,
}

async fn hide_story(
    State(state): State<AppState>,
    page: Page,
    Path(story): Path<Uuid>,
    Form(form): Form<HideForm>,
) -> Result<Response, AppError> {
    let user = logged_in(&page)?;
    require_facilitator(user)?;
    let hidden = match form.hidden.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(AppError::invalid("hidden", "must be true or false")),
    };
    let detail = if hidden { "hidden" } else { "shown again" };
    let entry = audit(&state, user, "story.hide", "an anonymous story", detail);
    state
        .store()
        .set_story_hidden(user.org.id, story, hidden, &entry)
        .await?;
    Ok(Redirect::to(&format!("/library#story-{story}")).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoryBody {
    title: String,
    body: String,
    /// hex(SHA-256(capability)); the capability itself never leaves the author's browser
    /// until they ask for the answers.
    reply_check: String,
}

#[derive(Serialize)]
struct Created {
    received: bool,
}

fn hex64(field: &'static str, raw: &str) -> Result<String, AppError> {
    let h = raw.trim().to_ascii_lowercase();
    if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(h)
    } else {
        Err(AppError::invalid(field, "must be 64 hex digits"))
    }
}

async fn submit_story(
    State(state): State<AppState>,
    Path(org): Path<Uuid>,
    Json(body): Json<StoryBody>,
) -> Result<Response, AppError> {
    if state.store().organisation(org).await?.is_none() {
        return Err(AppError::not_found("organisation"));
    }
    let title = lessons::story_title(&body.title);
    let text = lessons::story_body(&body.body);
    let check = hex64("reply_check", &body.reply_check);
    let (title, text, check) = match (title, text, check) {
        (Ok(t), Ok(b), Ok(c)) => (t, b, c),
        (t, b, c) => {
            let mut errors: Vec<Invalid> = [t.err(), b.err()].into_iter().flatten().collect();
            if let Err(AppError::Invalid(e)) = c {
                errors.extend(e);
            }
            return Err(AppError::Invalid(errors));
        }
    };
    state
        .store()
        .submit_story(&NewStory {
            id: state.new_id(),
            org_id: org,
            title,
            body: text,
            week: week_of(state.now()),
            reply_check: check,
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(Created { received: true })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThreadBody {
    capability: String,
}

#[derive(Serialize)]
struct ThreadAnswer {
    from: String,
    body: String,
}

#[derive(Serialize)]
struct StoryThread {
    title: String,
    body: String,
    hidden: bool,
    answers: Vec<ThreadAnswer>,
}

/// The author reads the answers to their story with nothing but their capability.
async fn story_thread(
    State(state): State<AppState>,
    Json(body): Json<ThreadBody>,
) -> Result<axum::Json<StoryThread>, AppError> {
    let capability = hex64("capability", &body.capability)?;
    let check = kintsugi_anon::client::reply_check(&capability);
    let story = state
        .store()
        .story_by_check(&check)
        .await?
        .ok_or_else(|| AppError::not_found("story"))?;
    Ok(axum::Json(StoryThread {
        title: story.title,
        body: story.body,
        hidden: story.hidden,
        answers: story
            .answers
            .into_iter()
            .map(|a| ThreadAnswer {
                from: a.author_name,
                body: a.body,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn weeks_start_on_monday() {
        use time::macros::datetime;
        for (at, monday) in [
            (datetime!(2026-11-23 00:00 UTC), "2026-11-23"),
            (datetime!(2026-11-27 21:30 UTC), "2026-11-23"),
            (datetime!(2026-11-29 23:59:59 UTC), "2026-11-23"),
            (datetime!(2026-11-30 00:00 UTC), "2026-11-30"),
            (datetime!(1970-01-01 00:00 UTC), "1969-12-29"),
        ] {
            assert_eq!(super::week_start(super::week_of(at)), monday, "{at}");
        }
    }
}
