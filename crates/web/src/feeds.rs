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

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::error::extract::Path;
use crate::pages::{Chrome, Page, html_errors, render};
use crate::state::AppState;
use crate::tokens::{hash_token, new_token};

pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .route("/me/feeds", get(feeds_page).post(create))
        .route("/me/feeds/revoke", post(revoke))
        .layer(axum::middleware::from_fn(html_errors));
    Router::new()
        .merge(pages)
        .route("/feeds/{token}/commitments.ics", get(calendar))
        .route("/feeds/{token}/repairs/{id}/updates.atom", get(atom))
        .with_state(state)
}

#[derive(Template)]
#[template(path = "feeds.html")]
struct FeedsPage {
    chrome: Chrome,
    token: Option<String>,
    base: String,
    repairs: Vec<(Uuid, String)>,
}

async fn feeds_page(page: Page, _user: CurrentUser, State(state): State<AppState>) -> Response {
    let base = state.config().public_url.clone();
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

async fn create(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let token = new_token();
    state
        .store()
        .set_feed_token(user.person.id, &hash_token(&token), state.now())
        .await?;
    let repairs = state
        .store()
        .repairs_of(user.org.id, user.person.id)
        .await?
        .into_iter()
        .map(|r| (r.id, r.title))
        .collect();
    let base = state.config().public_url.clone();
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

async fn revoke(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    state.store().revoke_feed_token(user.person.id).await?;
    Ok(Redirect::to("/me/feeds").into_response())
}

async fn feed_owner(state: &AppState, token: &str) -> Result<kintsugi_store::Person, AppError> {
    state
        .store()
        .feed_person(&hash_token(token))
        .await?
        .ok_or_else(|| AppError::not_found("feed"))
}

fn instant(t: time::OffsetDateTime) -> FixedDateTime {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0)
        .unwrap_or_default()
        .fixed_offset()
}

async fn atom(
    State(state): State<AppState>,
    Path((token, id)): Path<(String, Uuid)>,
) -> Result<Response, AppError> {
    let person = feed_owner(&state, &token).await?;
    let repair = state
        .store()
        .repair(person.org_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("feed"))?;
    if repair.facilitator_id != person.id && repair.side_of(person.id).is_none() {
        return Err(AppError::not_found("feed"));
    }
    crate::repairs::announce_missed(&state, person.org_id, id).await?;
    let updates = state.store().updates(id).await?;
    let link = state.url(&format!("/repairs/{id}"));
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

async fn calendar(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let person = feed_owner(&state, &token).await?;
    let mut cal = Calendar::new();
    cal.name(&format!("Kintsugi commitments: {}", person.name));
    for c in state.store().commitments_owned_by(person.id).await? {
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
                    .all_day(day)
                    .url(&state.url(&format!("/repairs/{}", c.repair_id)))
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
