//! The lessons library (practice 6): lessons published from rebuilt repairs, anonymised in
//! the core before anyone but their facilitator sees them, and anonymous stories that
//! facilitators answer. Anyone in the organisation reads and searches the library.
//!
//! A story arrives on the cookie-free path, so nothing ties it to a session; its author keeps
//! a capability (only its SHA-256 is stored) that opens the answers later.

use kintsugi_core::Invalid;
use kintsugi_core::lessons::{self, LessonText, Named};
use kintsugi_store::{Lesson, NewLesson, NewStory, Story, StoryAnswer};
use serde::Deserialize;
use uuid::Uuid;

use crate::actor::{Actor, audit};
use crate::context::Ctx;
use crate::error::Error;
use crate::repairs::access::Access;
use crate::repairs::reads::RoundsRead;
use crate::repairs::{commitments, pulses};

/// 1970-01-01 was a Thursday: weeks are counted from the Monday before it.
const MONDAY_BEFORE_EPOCH: i64 = 3 * 86_400;

/// Weeks (Monday to Sunday) since 1969-12-29: all a story keeps of when it arrived.
pub fn week_of(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp() + MONDAY_BEFORE_EPOCH).div_euclid(7 * 86_400)
}

/// The Monday a week starts on, for people to read.
pub fn week_start(week: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(week * 7 * 86_400 - MONDAY_BEFORE_EPOCH)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// Only the repair's facilitator, and only once the repair is rebuilt.
pub fn may_publish(access: &Access) -> Result<(), Error> {
    access.require_facilitator()?;
    if access.repair.stage != kintsugi_core::repair::Stage::Rebuilt {
        return Err(Error::Conflict(
            "a lesson can be published only once the repair is rebuilt".into(),
        ));
    }
    Ok(())
}

/// Every name the lesson must not carry: the repair's people (facilitator too) and teams.
/// The accountable side comes first, then the affected side, then the facilitator, so the
/// labels read the same way in every lesson ("Person A" is accountable).
async fn names(ctx: &Ctx, access: &Access) -> Result<(Vec<Named>, Vec<String>), Error> {
    use kintsugi_core::repair::Side;
    let r = &access.repair;
    let people = ctx.store().list_people(r.org_id).await?;
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
    let teams = ctx
        .store()
        .list_teams(r.org_id)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    Ok((named, teams))
}

/// The draft the facilitator starts from: what the repair recorded, and its figures.
pub async fn draft(
    ctx: &Ctx,
    org: &kintsugi_store::Organisation,
    access: &Access,
) -> Result<LessonText, Error> {
    let r = &access.repair;
    let causes = ctx
        .store()
        .causes(r.id)
        .await?
        .iter()
        .map(|c| format!("- {}: {}", c.category.label(), c.description))
        .collect::<Vec<_>>()
        .join("\n");
    let commitments = ctx.store().commitments(r.id).await?;
    let ft = commitments::follow_through(&commitments, ctx.now().date());
    let worked = commitments
        .iter()
        .map(|c| format!("- {}", c.statement))
        .collect::<Vec<_>>()
        .join("\n");
    let rounds = RoundsRead::read(ctx, r.id).await?;
    let gate = pulses::gate_report(ctx.now(), org, r, &rounds, &commitments);
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

pub async fn publish_lesson(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    raw: &LessonText,
) -> Result<Uuid, Error> {
    may_publish(access)?;
    let text = parse(raw).map_err(Error::Invalid)?;
    let (people, teams) = names(ctx, access).await?;
    let text = text.anonymised(&people, &teams);
    let id = ctx.new_id();
    let entry = audit(
        ctx,
        user,
        "lesson.publish",
        &access.repair.title,
        format!("published as \"{}\"", text.title),
    );
    ctx.store()
        .publish_lesson(
            &NewLesson {
                id,
                org_id: access.repair.org_id,
                repair_id: access.repair.id,
                breach: access.repair.breach,
                text,
                published_at: ctx.now(),
            },
            &entry,
        )
        .await?;
    Ok(id)
}

pub fn require_facilitator(user: &Actor) -> Result<(), Error> {
    if user.person.roles.facilitator {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only facilitators may answer or hide stories".into(),
        ))
    }
}

fn hex64(field: &'static str, raw: &str) -> Result<String, Error> {
    let h = raw.trim().to_ascii_lowercase();
    if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(h)
    } else {
        Err(Error::invalid(field, "must be 64 hex digits"))
    }
}

fn parse(raw: &LessonText) -> Result<LessonText, Vec<Invalid>> {
    LessonText::parse(
        &raw.title,
        &raw.what_broke,
        &raw.causes,
        &raw.what_worked,
        &raw.figures,
    )
}

/// The text as it would be stored, names replaced; or what is wrong with it.
pub async fn preview(
    ctx: &Ctx,
    access: &Access,
    raw: &LessonText,
) -> Result<Result<LessonText, Vec<Invalid>>, Error> {
    may_publish(access)?;
    let (people, teams) = names(ctx, access).await?;
    Ok(parse(raw).map(|text| text.anonymised(&people, &teams)))
}

/// The library as a member sees it: lessons and stories matching `q` (all when empty);
/// facilitators also see hidden stories.
pub async fn library(ctx: &Ctx, user: &Actor, q: &str) -> Result<(Vec<Lesson>, Vec<Story>), Error> {
    let pattern = lessons::search_pattern(q);
    let lessons = ctx.store().lessons(user.org.id, pattern.as_deref()).await?;
    let stories = ctx
        .store()
        .stories(
            user.org.id,
            pattern.as_deref(),
            user.person.roles.facilitator,
        )
        .await?;
    Ok((lessons, stories))
}

pub async fn lesson(ctx: &Ctx, user: &Actor, id: Uuid) -> Result<Lesson, Error> {
    ctx.store()
        .lesson(user.org.id, id)
        .await?
        .ok_or_else(|| Error::not_found("lesson"))
}

/// A facilitator answers an anonymous story in the library.
pub async fn answer_story(ctx: &Ctx, user: &Actor, story: Uuid, body: &str) -> Result<(), Error> {
    require_facilitator(user)?;
    let body = lessons::story_answer(body).map_err(|e| Error::Invalid(vec![e]))?;
    let entry = audit(ctx, user, "story.answer", "an anonymous story", "answered");
    ctx.store()
        .answer_story(
            user.org.id,
            story,
            &StoryAnswer {
                id: ctx.new_id(),
                author_id: user.person.id,
                author_name: user.person.name.clone(),
                body,
                created_at: ctx.now(),
            },
            &entry,
        )
        .await?;
    Ok(())
}

/// A facilitator hides a story from the library, or shows it again.
pub async fn hide_story(ctx: &Ctx, user: &Actor, story: Uuid, hidden: &str) -> Result<(), Error> {
    require_facilitator(user)?;
    let hidden = match hidden {
        "true" => true,
        "false" => false,
        _ => return Err(Error::invalid("hidden", "must be true or false")),
    };
    let detail = if hidden { "hidden" } else { "shown again" };
    let entry = audit(ctx, user, "story.hide", "an anonymous story", detail);
    ctx.store()
        .set_story_hidden(user.org.id, story, hidden, &entry)
        .await?;
    Ok(())
}

/// An anonymous story, as it arrives on the cookie-free path.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoryBody {
    pub title: String,
    pub body: String,
    /// hex(SHA-256(capability)); the capability itself never leaves the author's browser
    /// until they ask for the answers.
    pub reply_check: String,
}

/// Stores an anonymous story: nothing about who sent it, and of when only the week.
pub async fn submit_story(ctx: &Ctx, org: Uuid, body: &StoryBody) -> Result<(), Error> {
    if ctx.store().organisation(org).await?.is_none() {
        return Err(Error::not_found("organisation"));
    }
    let title = lessons::story_title(&body.title);
    let text = lessons::story_body(&body.body);
    let check = hex64("reply_check", &body.reply_check);
    let (title, text, check) = match (title, text, check) {
        (Ok(t), Ok(b), Ok(c)) => (t, b, c),
        (t, b, c) => {
            let mut errors: Vec<Invalid> = [t.err(), b.err()].into_iter().flatten().collect();
            if let Err(Error::Invalid(e)) = c {
                errors.extend(e);
            }
            return Err(Error::Invalid(errors));
        }
    };
    ctx.store()
        .submit_story(&NewStory {
            id: ctx.new_id(),
            org_id: org,
            title,
            body: text,
            week: week_of(ctx.now()),
            reply_check: check,
        })
        .await?;
    Ok(())
}

/// The story a capability opens: its author reads the answers with nothing else.
pub async fn story_by_capability(ctx: &Ctx, capability: &str) -> Result<Story, Error> {
    let capability = hex64("capability", capability)?;
    let check = kintsugi_anon::client::reply_check(&capability);
    ctx.store()
        .story_by_check(&check)
        .await?
        .ok_or_else(|| Error::not_found("story"))
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
