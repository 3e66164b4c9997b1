//! Reminders, scheduled as jobs, and each person's choice of emails.
//!
//! A periodic `reminders.scan` job looks for what is due and queues one `email` job per
//! person and occasion, keyed so that it is queued once however often the scan runs:
//! - a commitment occurrence due tomorrow, or missed (to its owner);
//! - a repair behind on its promised updates (to its facilitator);
//! - a round, pulse or team health check that opened, or closes within a day: a `round.notice` job at the
//!   next batch slot ([`kintsugi_core::notify::batch_slot`]) sends to everyone eligible
//!   (opened) or to those who have not fetched a token (closing). Never derived from answers:
//!   only `round_issued`, which holds no time, says who fetched a token;
//! - a weekly digest per person (once per ISO week, at the first scan of the week).
//!
//! `/preferences` (and `/api/v1/me/email-preferences`) turns kinds off; every non-essential
//! email carries a one-click unsubscribe link (RFC 8058) that works without logging in.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kintsugi_core::commitments;
use kintsugi_core::notify::{EmailKind, batch_slot, closing_notice_at, digest_week};
use kintsugi_core::repair::Side;
use kintsugi_store::{Job, Repair, Round};
use serde::{Deserialize, Serialize};
use time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{AdminUser, CurrentUser};
use crate::email::{self, Action, Mail};
use crate::error::extract::{Form, Json, Path};
use crate::error::{AppError, Problem};
use crate::jobs::{self, Failure};
use crate::pages::{Chrome, Page, render};
use crate::repairs::{occurrences, today};
use crate::rounds;
use crate::state::AppState;
use crate::tokens::hash_token;

/// The periodic job that looks for reminders to send.
pub const SCAN: &str = "reminders.scan";
/// Sends a round's "opened" or "closing" notice to its people, at a batch slot.
pub const ROUND_NOTICE: &str = "round.notice";

/// Missed occurrences older than this are not reminded of (their jobs may have been purged).
const MISSED_WINDOW_DAYS: i64 = 9;
/// Rounds opened longer ago than this get no "opened" notice (e.g. after an upgrade).
const OPENED_WINDOW: Duration = Duration::days(2);

/// Who may answer a round of this kind: everyone in the repair for listening rounds, the
/// affected side for the others (as `rounds::issue` enforces).
pub fn eligible(repair: &Repair, kind: &str) -> Vec<Uuid> {
    repair
        .participants
        .iter()
        .filter(|p| kind == rounds::LISTENING || p.side == Side::Affected)
        .map(|p| p.person_id)
        .collect()
}

pub async fn scan(state: AppState, _job: Job) -> Result<(), Failure> {
    if state.config().mail.is_none() {
        return Ok(());
    }
    let today = today(&state);
    let now = state.now();
    for org in state.store().list_organisations().await? {
        // The demo organisation's people are made up: nothing is mailed to them.
        if org.is_demo {
            continue;
        }
        // Every open round's notices, most of them queued by an earlier sweep.
        let mut notices = Vec::new();
        for summary in state.store().all_repairs(org.id).await? {
            if !summary.stage.is_open() {
                continue;
            }
            let Some(repair) = state.store().repair(org.id, summary.id).await? else {
                continue;
            };
            let open_link = Action {
                label: "Open the repair".into(),
                url: state.url(&format!("/repairs/{}", repair.id)),
            };
            for c in state.store().commitments(repair.id).await? {
                let occ = occurrences(&c.occurrences);
                let tomorrow = today + Duration::days(1);
                if c.occurrences
                    .iter()
                    .any(|o| o.due == tomorrow && o.done_on.is_none())
                {
                    let mail = Mail {
                        subject: format!("Due tomorrow: {}", c.statement),
                        paragraphs: vec![format!(
                            "Your commitment in “{}” is due tomorrow, {tomorrow}: {}",
                            repair.title, c.statement
                        )],
                        action: Some(open_link.clone()),
                        ..Mail::default()
                    };
                    let key = format!("commitment_due:{}:{tomorrow}", c.id);
                    email::queue(
                        &state,
                        org.id,
                        c.owner_id,
                        EmailKind::CommitmentDue,
                        mail,
                        &key,
                        now,
                    )
                    .await?;
                }
                for due in commitments::missed(&occ, today) {
                    if (today - due).whole_days() > MISSED_WINDOW_DAYS {
                        continue;
                    }
                    let mail = Mail {
                        subject: format!("Missed: {}", c.statement),
                        paragraphs: vec![
                            format!(
                                "Your commitment in “{}”, due {due}, was not confirmed as kept: {}",
                                repair.title, c.statement
                            ),
                            "The repair's update log says so. Saying what happened, and what you will do instead, rebuilds more trust than silence.".into(),
                        ],
                        action: Some(open_link.clone()),
                        ..Mail::default()
                    };
                    let key = format!("commitment_missed:{}:{due}", c.id);
                    email::queue(
                        &state,
                        org.id,
                        c.owner_id,
                        EmailKind::CommitmentMissed,
                        mail,
                        &key,
                        now,
                    )
                    .await?;
                }
            }
            if let Some(late) = crate::repairs::overdue(&state, &summary) {
                let since = summary.last_update_at.unwrap_or(summary.created_at);
                let mail = Mail {
                    subject: format!("Update due: {}", repair.title),
                    paragraphs: vec![format!(
                        "“{}” is behind on its promised updates: {}.",
                        repair.title,
                        late.describe()
                    )],
                    action: Some(open_link.clone()),
                    ..Mail::default()
                };
                let key = format!("update_overdue:{}:{}", repair.id, since.unix_timestamp());
                email::queue(
                    &state,
                    org.id,
                    repair.facilitator_id,
                    EmailKind::UpdateOverdue,
                    mail,
                    &key,
                    now,
                )
                .await?;
            }
            for round in state.store().rounds_of(repair.id).await? {
                notices.extend(round_notices(&state, org.id, &round)?);
            }
        }
        for (round, _) in state.store().open_health_rounds(org.id).await? {
            notices.extend(round_notices(&state, org.id, &round)?);
        }
        enqueue_new(&state, org.id, notices).await?;
        digests(&state, org.id).await?;
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct RoundNotice {
    org_id: Uuid,
    round_id: Uuid,
    closing: bool,
}

/// A notice to queue: its idempotency key, its payload and when it goes.
type Notice = (String, serde_json::Value, time::OffsetDateTime);

/// An open round's notices: "now open" while it is new, and "closing soon" if it closes.
fn round_notices(state: &AppState, org_id: Uuid, round: &Round) -> Result<Vec<Notice>, AppError> {
    let mut out = Vec::new();
    if !round.open {
        return Ok(out);
    }
    let slot = state.config().jobs.notice_slot;
    let payload = |closing| {
        serde_json::to_value(RoundNotice {
            org_id,
            round_id: round.id,
            closing,
        })
        .map_err(|_| AppError::Internal)
    };
    if state.now() - round.opened_at <= OPENED_WINDOW {
        out.push((
            format!("round_opened:{}", round.id),
            payload(false)?,
            batch_slot(round.opened_at, slot),
        ));
    }
    if let Some(closes_at) = round.closes_at
        && let Some(at) = closing_notice_at(round.opened_at, closes_at, slot)
    {
        out.push((format!("round_closing:{}", round.id), payload(true)?, at));
    }
    Ok(out)
}

/// Queues the notices that have no job yet. An organisation with 5,000 teams has 5,000 open
/// health checks: one read asks which are queued, instead of 10,000 refused inserts, each a
/// write transaction, every ten minutes.
async fn enqueue_new(state: &AppState, org_id: Uuid, notices: Vec<Notice>) -> Result<(), AppError> {
    let keys: Vec<String> = notices.iter().map(|(key, _, _)| key.clone()).collect();
    let known = state.store().known_job_keys(&keys).await?;
    for (key, payload, at) in notices {
        if !known.contains(&key) {
            jobs::enqueue(state, Some(org_id), ROUND_NOTICE, payload, &key, at).await?;
        }
    }
    Ok(())
}

/// Who a round's notices concern, and where they answer it.
struct Audience {
    /// "an anonymous round in Missed launch date", "the anonymous team health check for Alpha".
    about: String,
    people: Vec<Uuid>,
    action: Action,
}

/// A round's audience, from its subject: the repair's eligible participants, or the active
/// members of the team whose health check it is.
async fn audience(state: &AppState, org_id: Uuid, round: &Round) -> Result<Audience, Failure> {
    let store = state.store();
    if let Some(repair_id) = round.repair_id {
        let Some(repair) = store.repair(org_id, repair_id).await? else {
            return Err(Failure::Permanent("the repair no longer exists".into()));
        };
        return Ok(Audience {
            about: format!("an anonymous round in {}", repair.title),
            people: eligible(&repair, &round.kind),
            action: Action {
                label: "Open the repair".into(),
                url: state.url(&format!("/repairs/{}", repair.id)),
            },
        });
    }
    let Some(health) = store.health_round(round.id).await? else {
        return Err(Failure::Permanent("the round has no subject".into()));
    };
    let Some(team) = store.team(org_id, health.team_id).await? else {
        return Err(Failure::Permanent("the team no longer exists".into()));
    };
    Ok(Audience {
        about: format!("the anonymous team health check for {}", team.name),
        people: store.team_member_ids(team.id).await?,
        action: Action {
            label: "Open team health".into(),
            url: state.url("/health"),
        },
    })
}

/// Sends a round's notice, at its batch slot, to each person it concerns.
pub async fn round_notice(state: AppState, job: Job) -> Result<(), Failure> {
    let notice: RoundNotice = serde_json::from_str(&job.payload)
        .map_err(|e| Failure::Permanent(format!("unreadable notice: {e}")))?;
    let Some(round) = state.store().round(notice.round_id).await? else {
        return Err(Failure::Permanent("the round no longer exists".into()));
    };
    if !round.open {
        return Ok(());
    }
    let Audience {
        about,
        mut people,
        action,
    } = audience(&state, notice.org_id, &round).await?;
    let (kind, subject, line) = if notice.closing {
        // Only "has fetched a token", never anything about answers.
        let fetched = state.store().issued_to(round.id).await?;
        people.retain(|p| !fetched.contains(p));
        (
            EmailKind::RoundClosing,
            format!("Closing soon: {about}"),
            "An anonymous round you may answer closes within a day. Taking part is your choice; nobody sees who answered.",
        )
    } else {
        (
            EmailKind::RoundOpened,
            format!("Now open: {about}"),
            "An anonymous round you may answer has opened. Your answer cannot be traced to you; results appear only when enough people answer.",
        )
    };
    for person in people {
        let mail = Mail {
            subject: subject.clone(),
            paragraphs: vec![line.into()],
            action: Some(action.clone()),
            ..Mail::default()
        };
        let key = format!("{}:{}:{person}", job.idempotency_key, kind.as_str());
        email::queue(&state, notice.org_id, person, kind, mail, &key, state.now()).await?;
    }
    Ok(())
}

/// Queues this week's digest for each active person of an organisation, once per week.
async fn digests(state: &AppState, org_id: Uuid) -> Result<(), AppError> {
    let today = today(state);
    let week = digest_week(today);
    let store = state.store();
    for person in store.list_people(org_id).await? {
        if !person.active {
            continue;
        }
        let mut items = Vec::new();
        for c in store.commitments_owned_by(person.id).await? {
            if let Some(next) = c
                .occurrences
                .iter()
                .find(|o| o.due >= today && o.done_on.is_none())
            {
                items.push(format!(
                    "Commitment, next due {}: {}",
                    next.due, c.statement
                ));
            }
        }
        for r in store.repairs_of(org_id, person.id).await? {
            if r.stage.is_open() {
                items.push(format!("Repair “{}”: {}", r.title, r.stage.label()));
            }
        }
        let paragraphs = if items.is_empty() {
            vec!["Nothing needs you this week: no open repairs and no commitments due.".into()]
        } else {
            vec!["Here is where things stand for you this week.".into()]
        };
        let mail = Mail {
            subject: format!("Your week in Kintsugi ({week})"),
            paragraphs,
            items,
            action: Some(Action {
                label: "Open Kintsugi".into(),
                url: state.url("/"),
            }),
        };
        let key = format!("digest:{}:{week}", person.id);
        email::queue(
            state,
            org_id,
            person.id,
            EmailKind::WeeklyDigest,
            mail,
            &key,
            state.now(),
        )
        .await?;
    }
    Ok(())
}

// ---- Invitations by email ----

/// Creates a new invitation link for a person and queues it by email (essential: no
/// unsubscribe, sent whatever their preferences).
pub async fn email_invitation(
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
) -> Result<(kintsugi_store::Person, crate::actions::Invitation), AppError> {
    if state.config().mail.is_none() {
        return Err(AppError::Conflict(
            "this server sends no email: set smtp_host and mail_from (see docs/operating.md), or copy the invitation link by hand".into(),
        ));
    }
    let invitation = crate::actions::invite(state, admin, id).await?;
    let person = crate::actions::person_in_org(state, admin, id).await?;
    let mail = Mail {
        subject: format!("Your invitation to Kintsugi for {}", admin.org.name),
        paragraphs: vec![
            format!(
                "{} invited you to Kintsugi, where {} works on rebuilding trust after things go wrong.",
                admin.person.name, admin.org.name
            ),
            format!(
                "This link signs you in. It works until {} and only for you; you can set a password on the way.",
                crate::actions::date(invitation.expires_at)
            ),
        ],
        items: vec![],
        action: Some(Action {
            label: "Sign in to Kintsugi".into(),
            url: invitation.link.clone(),
        }),
    };
    // One email per link: a resent invitation is a new link, so a new key.
    let key = format!("invitation:{id}:{}", email::message_id(&invitation.link));
    email::queue(
        state,
        admin.org.id,
        id,
        EmailKind::Invitation,
        mail,
        &key,
        state.now(),
    )
    .await?;
    Ok((person, invitation))
}

#[derive(Template)]
#[template(path = "email_sent.html")]
struct InvitationSentPage {
    chrome: Chrome,
    person: kintsugi_store::Person,
    expires: String,
}

async fn invitation_page(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let (person, invitation) = email_invitation(&state, &admin, id).await?;
    Ok(render(
        StatusCode::OK,
        &InvitationSentPage {
            chrome: page.chrome("Invitation sent"),
            expires: crate::actions::date(invitation.expires_at),
            person,
        },
    ))
}

// ---- Preferences and unsubscribing ----

/// The pages: `/preferences` behind login, `/unsubscribe/{token}` for anyone with the link.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/preferences", get(preferences_page).post(save_preferences))
        .route(
            "/admin/people/{id}/invitation/email",
            axum::routing::post(invitation_page),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::pages::html_errors,
        ))
        .with_state(state)
}

/// One-click unsubscribe sits outside the CSRF layer: mail providers POST to it (RFC 8058)
/// with no cookie and no token; the link's secret is the authority.
pub fn unsubscribe_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe_now),
        )
        .with_state(state)
}

pub struct KindChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub on: bool,
}

async fn choices(state: &AppState, person: Uuid) -> Result<Vec<KindChoice>, AppError> {
    let off = state.store().emails_off(person).await?;
    Ok(EmailKind::OPTIONAL
        .iter()
        .map(|k| KindChoice {
            key: k.as_str(),
            label: k.label(),
            on: !off.iter().any(|o| o == k.as_str()),
        })
        .collect())
}

#[derive(Template)]
#[template(path = "preferences.html")]
struct PreferencesPage {
    chrome: Chrome,
    choices: Vec<KindChoice>,
    saved: bool,
    mail_on: bool,
}

async fn preferences_page(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
) -> Result<Response, AppError> {
    Ok(render(
        StatusCode::OK,
        &PreferencesPage {
            chrome: page.chrome("Email preferences"),
            choices: choices(&state, user.person.id).await?,
            saved: false,
            mail_on: state.config().mail.is_some(),
        },
    ))
}

#[derive(Deserialize)]
struct PreferencesForm {
    /// The kinds left ticked.
    #[serde(default)]
    on: Vec<String>,
}

async fn save_preferences(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Form(form): Form<PreferencesForm>,
) -> Result<Response, AppError> {
    let wanted: Vec<&str> = form.on.iter().map(String::as_str).collect();
    if let Some(bad) = wanted.iter().find(|k| parse_optional(k).is_err()) {
        return Err(AppError::invalid(
            "on",
            format!("{bad:?} is not a kind of email"),
        ));
    }
    for k in EmailKind::OPTIONAL {
        state
            .store()
            .set_email(user.person.id, k.as_str(), wanted.contains(&k.as_str()))
            .await?;
    }
    Ok(render(
        StatusCode::OK,
        &PreferencesPage {
            chrome: page.chrome("Email preferences"),
            choices: choices(&state, user.person.id).await?,
            saved: true,
            mail_on: state.config().mail.is_some(),
        },
    ))
}

fn parse_optional(raw: &str) -> Result<EmailKind, AppError> {
    EmailKind::parse(raw)
        .filter(|k| !k.essential())
        .ok_or_else(|| {
            AppError::invalid(
                "kind",
                format!(
                    "must be one of {}",
                    EmailKind::OPTIONAL.map(|k| k.as_str()).join(", ")
                ),
            )
        })
}

#[derive(Template)]
#[template(path = "preferences_unsubscribe.html")]
struct UnsubscribePage {
    chrome: Chrome,
    token: String,
    done: Option<&'static str>,
    /// The link is unknown: nothing was changed.
    invalid: bool,
}

fn bare_chrome(title: &str) -> Chrome {
    Chrome {
        title: title.into(),
        csrf: String::new(),
        user: None,
        path: String::new(),
    }
}

/// Shows a button rather than unsubscribing on GET: link scanners follow links.
async fn unsubscribe_page(Path(token): Path<String>) -> Response {
    render(
        StatusCode::OK,
        &UnsubscribePage {
            chrome: bare_chrome("Unsubscribe"),
            token,
            done: None,
            invalid: false,
        },
    )
}

async fn unsubscribe_now(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.store().unsubscribe(&hash_token(&token)).await {
        Ok(Some((_, kind))) => render(
            StatusCode::OK,
            &UnsubscribePage {
                chrome: bare_chrome("Unsubscribed"),
                token,
                done: Some(EmailKind::parse(&kind).map_or("these emails", |k| k.label())),
                invalid: false,
            },
        ),
        Ok(None) => render(
            StatusCode::NOT_FOUND,
            &UnsubscribePage {
                chrome: bare_chrome("Unsubscribe link not valid"),
                token,
                done: None,
                invalid: true,
            },
        ),
        Err(e) => AppError::from(e).into_response(),
    }
}

// ---- API ----

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_email_preferences, set_email_preferences))
        .routes(routes!(api_email_invitation))
}

#[derive(Serialize, ToSchema)]
struct InvitationEmailed {
    /// Where the invitation was sent.
    sent_to: String,
    /// RFC 3339: the link in the email works until then.
    expires_at: String,
}

/// Email a new invitation link to a person (it replaces earlier links). Admins only.
/// The email goes out through the job queue, with retries.
#[utoipa::path(post, path = "/people/{id}/invitation/email", tag = "people", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 202, body = InvitationEmailed), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn api_email_invitation(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, axum::Json<InvitationEmailed>), AppError> {
    let (person, invitation) = email_invitation(&state, &admin, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(InvitationEmailed {
            sent_to: person.email,
            expires_at: invitation
                .expires_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }),
    ))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailPreferences {
    /// Each non-essential kind of email and whether the person wants it by email.
    kinds: std::collections::BTreeMap<String, bool>,
}

/// Which non-essential emails you get. Invitations are always sent.
#[utoipa::path(get, path = "/me/email-preferences", tag = "me", security(("session" = [])),
    responses((status = 200, body = EmailPreferences), (status = 401, body = Problem)))]
async fn get_email_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<EmailPreferences>, AppError> {
    Ok(axum::Json(EmailPreferences {
        kinds: choices(&state, user.person.id)
            .await?
            .into_iter()
            .map(|c| (c.key.to_owned(), c.on))
            .collect(),
    }))
}

/// Turn kinds of email on or off; kinds left out keep their setting.
#[utoipa::path(put, path = "/me/email-preferences", tag = "me", security(("session" = [])), request_body = EmailPreferences,
    responses((status = 200, body = EmailPreferences), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn set_email_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<EmailPreferences>,
) -> Result<axum::Json<EmailPreferences>, AppError> {
    let parsed = body
        .kinds
        .iter()
        .map(|(k, on)| parse_optional(k).map(|k| (k, *on)))
        .collect::<Result<Vec<_>, _>>()?;
    for (k, on) in parsed {
        state
            .store()
            .set_email(user.person.id, k.as_str(), on)
            .await?;
    }
    get_email_preferences(State(state), user).await
}
