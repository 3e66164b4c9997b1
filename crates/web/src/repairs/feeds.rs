//! Secret feed URLs: an Atom feed of each repair's updates and an iCalendar feed of a
//! person's commitments. The URL's token is the only credential (a feed reader sends no
//! cookie), so only its hash is stored and a person can replace or revoke it.

use askama::Template;
use atom_syndication::{
    ContentBuilder, EntryBuilder, FeedBuilder, FixedDateTime, LinkBuilder, PersonBuilder,
};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use icalendar::{Calendar, Component, Event, EventLike};
use uuid::Uuid;

use kintsugi_app::tokens::{hash_token, new_token};
use kintsugi_app::{Ctx, Error};

use crate::kernel::error::extract::Path;
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::CurrentUser;
use crate::kernel::{AppState, Reply};

/// A person's feeds page: make, replace or revoke the secret URL.
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/me/feeds", get(feeds_page).post(create))
        .route("/me/feeds/revoke", post(revoke))
}

/// The feeds themselves: public, the URL's secret is the credential.
pub fn public() -> Router<AppState> {
    Router::new()
        .route("/feeds/{token}/commitments.ics", get(calendar))
        .route("/feeds/{token}/repairs/{id}/updates.atom", get(atom))
}

#[derive(Template)]
#[template(path = "feeds.html")]
struct FeedsPage {
    chrome: Chrome,
    token: Option<String>,
    base: String,
    repairs: Vec<(Uuid, String)>,
}

async fn feeds_page(page: Page, _user: CurrentUser, State(ctx): State<Ctx>) -> Response {
    let base = ctx.settings().public_url.clone();
    render(
        StatusCode::OK,
        &FeedsPage {
            chrome: page.chrome("Your feeds"),
            token: None,
            base,
            repairs: vec![],
        },
    )
}

async fn create(State(ctx): State<Ctx>, page: Page, user: CurrentUser) -> Reply<Response> {
    let token = new_token();
    ctx.store()
        .set_feed_token(user.person.id, &hash_token(&token), ctx.now())
        .await?;
    let repairs = ctx
        .store()
        .repairs_of(user.org.id, user.person.id)
        .await?
        .into_iter()
        .map(|r| (r.id, r.title))
        .collect();
    let base = ctx.settings().public_url.clone();
    Ok(render(
        StatusCode::OK,
        &FeedsPage {
            chrome: page.chrome("Your feeds"),
            token: Some(token),
            base,
            repairs,
        },
    ))
}

async fn revoke(State(ctx): State<Ctx>, user: CurrentUser) -> Reply<Response> {
    ctx.store().revoke_feed_token(user.person.id).await?;
    Ok(Redirect::to("/me/feeds").into_response())
}

async fn feed_owner(ctx: &Ctx, token: &str) -> Result<kintsugi_store::Person, Error> {
    ctx.store()
        .feed_person(&hash_token(token))
        .await?
        .ok_or_else(|| Error::not_found("feed"))
}

fn instant(t: time::OffsetDateTime) -> FixedDateTime {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0)
        .unwrap_or_default()
        .fixed_offset()
}

async fn atom(State(ctx): State<Ctx>, Path((token, id)): Path<(String, Uuid)>) -> Reply<Response> {
    let person = feed_owner(&ctx, &token).await?;
    let repair = ctx
        .store()
        .repair(person.org_id, id)
        .await?
        .ok_or_else(|| Error::not_found("feed"))?;
    if repair.facilitator_id != person.id && repair.side_of(person.id).is_none() {
        return Err(Error::not_found("feed").into());
    }
    kintsugi_app::repairs::commitments::announce_missed(&ctx, person.org_id, id).await?;
    let updates = ctx.store().updates(id).await?;
    let link = ctx.url(&format!("/repairs/{id}"));
    let entries = updates
        .iter()
        .rev()
        .map(|u| {
            let current = u.current();
            let mut text = current.body.clone();
            if let Some(reason) = &current.reason {
                text.push_str(&format!("\n\nWhy: {reason}"));
            }
            if u.versions.len() > 1 {
                text.push_str(&format!(
                    "\n\n(Edited: {} versions; see the repair for every version.)",
                    u.versions.len()
                ));
            }
            EntryBuilder::default()
                .id(format!("urn:uuid:{}", u.id))
                .title(format!("{}: update #{}", u.kind.label(), u.seq))
                .updated(instant(current.created_at))
                .published(Some(instant(u.created_at)))
                .authors(vec![
                    PersonBuilder::default()
                        .name(u.author_name.clone().unwrap_or_else(|| "Kintsugi".into()))
                        .build(),
                ])
                .links(vec![
                    LinkBuilder::default()
                        .href(format!("{link}#update-{}", u.seq))
                        .build(),
                ])
                .content(Some(
                    ContentBuilder::default()
                        .content_type(Some("text".into()))
                        .value(Some(text))
                        .build(),
                ))
                .build()
        })
        .collect::<Vec<_>>();
    let updated = updates
        .iter()
        .map(|u| u.current().created_at)
        .max()
        .unwrap_or(repair.created_at);
    let feed = FeedBuilder::default()
        .id(format!("urn:uuid:{id}"))
        .title(format!("Updates: {}", repair.title))
        .updated(instant(updated))
        .links(vec![LinkBuilder::default().href(link).build()])
        .entries(entries)
        .build();
    Ok((
        [
            (header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        feed.to_string(),
    )
        .into_response())
}

async fn calendar(State(ctx): State<Ctx>, Path(token): Path<String>) -> Reply<Response> {
    let person = feed_owner(&ctx, &token).await?;
    let mut cal = Calendar::new();
    cal.name(&format!("Kintsugi commitments: {}", person.name));
    for c in ctx.store().commitments_owned_by(person.id).await? {
        for o in &c.occurrences {
            let Some(day) = chrono::NaiveDate::from_ymd_opt(
                o.due.year(),
                o.due.month() as u32,
                u32::from(o.due.day()),
            ) else {
                continue;
            };
            cal.push(
                Event::new()
                    .uid(&format!("{}-{}@kintsugi", c.id, o.due))
                    .summary(&c.statement)
                    .description(&format!("Commitment in the repair “{}”.", c.repair_title))
                    // An all-day event's DTEND is exclusive (RFC 5545 3.6.1): the next
                    // day. `all_day` would set it to the start, an event of no length.
                    .starts(day)
                    .ends(day.succ_opt().unwrap_or(day))
                    .url(&ctx.url(&format!("/repairs/{}", c.repair_id)))
                    .done(),
            );
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        cal.done().to_string(),
    )
        .into_response())
}
