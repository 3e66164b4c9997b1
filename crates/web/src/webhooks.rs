//! Outgoing webhooks: admins add them per organisation or per repair; repair events become
//! Slack-compatible messages (`kintsugi_core::webhooks::message`) delivered through the job
//! queue.
//!
//! Delivery is at least once. Each event makes one delivery row with the exact body, and
//! one job keyed `webhook:<delivery id>`. Every attempt is signed anew: the
//! `X-Kintsugi-Timestamp` header and `X-Kintsugi-Signature: v1=<hex HMAC-SHA256 of
//! "timestamp.body">`, so a receiver rejects old timestamps (replays) and deduplicates on
//! `Idempotency-Key` (the delivery id, the same on every retry). A receiver that answers
//! anything but 2xx, or does not answer within the timeout, gets the attempt again later
//! (the queue's backoff), up to the queue's attempt limit. The target passes the SSRF guard
//! (`ssrf.rs`) at creation and again at every attempt.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kintsugi_core::Invalid;
use kintsugi_core::webhooks::{self as rules, Event, Happening, WebhookSecret};
use kintsugi_store::{
    Delivery, DeliveryAttempt, Job, NewDelivery, NewWebhook, Repair, RepairSummary, Webhook,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actions::audit;
use crate::auth::{AdminUser, CurrentUser};
use crate::error::AppError;
use crate::error::extract::{Form, Path};
use crate::jobs::Failure;
use crate::pages::{Chrome, Page, render};
use crate::state::AppState;

/// The job kind that delivers one webhook call.
pub const KIND: &str = "webhook";
/// How long a receiver has to answer one attempt.
pub const TIMEOUT: Duration = Duration::from_secs(10);

// ---- Events ----

/// Queues a delivery of `event` to every webhook of the repair's organisation that wants
/// it. Never fails the action that caused it: a problem is logged and the action stands.
pub async fn announce(state: &AppState, repair: &Repair, event: Event) {
    if let Err(e) = try_announce(state, repair, event).await {
        tracing::warn!(error = %e, event = event.as_str(), "could not queue webhook deliveries");
    }
}

/// The same, for callers that hold only the repair's id.
pub async fn announce_id(state: &AppState, org_id: Uuid, repair_id: Uuid, event: Event) {
    match state.store().repair(org_id, repair_id).await {
        Ok(Some(repair)) => announce(state, &repair, event).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not read the repair for its webhooks"),
    }
}

async fn try_announce(state: &AppState, repair: &Repair, event: Event) -> Result<(), AppError> {
    let hooks: Vec<Webhook> = state
        .store()
        .webhooks(repair.org_id)
        .await?
        .into_iter()
        .filter(|h| h.repair_id.is_none_or(|r| r == repair.id))
        .filter(|h| h.events.iter().any(|e| e == event.as_str()))
        .collect();
    if hooks.is_empty() {
        return Ok(());
    }
    let message = rules::message(&Happening {
        event,
        repair_title: repair.title.clone(),
        stage: repair.stage.label().to_owned(),
        link: state.url(&format!("/repairs/{}", repair.id)),
    });
    let body = serde_json::to_string(&message).map_err(|_| AppError::Internal)?;
    let now = state.now();
    let deliveries: Vec<NewDelivery> = hooks
        .iter()
        .map(|h| NewDelivery {
            id: state.new_id(),
            webhook_id: h.id,
            org_id: repair.org_id,
            event: event.as_str().to_owned(),
            body: body.clone(),
            created_at: now,
        })
        .collect();
    state.store().add_webhook_deliveries(&deliveries).await?;
    for d in &deliveries {
        crate::jobs::enqueue(
            state,
            Some(repair.org_id),
            KIND,
            serde_json::json!({ "delivery": d.id }),
            &format!("webhook:{}", d.id),
            now,
        )
        .await?;
    }
    Ok(())
}

// ---- Delivery (a job) ----

#[derive(Deserialize)]
struct DeliveryJob {
    delivery: Uuid,
}

/// Sends one delivery. Its result is recorded on the delivery for the admin page.
pub async fn deliver(state: AppState, job: Job) -> Result<(), Failure> {
    let DeliveryJob { delivery } = serde_json::from_str(&job.payload)
        .map_err(|e| Failure::Permanent(format!("bad webhook job: {e}")))?;
    let Some((hook, d)) = state.store().webhook_delivery(delivery).await? else {
        // The webhook was removed meanwhile: nothing to send.
        return Ok(());
    };
    if d.status == "delivered" {
        return Ok(());
    }
    let last = job.attempts >= job.max_attempts;
    let outcome = attempt(&state, &hook, &d).await;
    let (status, http_status, error, failure) = match outcome {
        Ok(code) => ("delivered", Some(code), None, None),
        Err(Attempt::Refused(why)) => (
            "failed",
            None,
            Some(why.clone()),
            Some(Failure::Permanent(why)),
        ),
        Err(Attempt::Answered(code)) => {
            let why = format!("the receiver answered {code}");
            (
                if last { "failed" } else { "retrying" },
                Some(code),
                Some(why.clone()),
                Some(Failure::Retry(why)),
            )
        }
        Err(Attempt::Unreachable(why)) => (
            if last { "failed" } else { "retrying" },
            None,
            Some(why.clone()),
            Some(Failure::Retry(why)),
        ),
    };
    state
        .store()
        .record_webhook_attempt(
            d.id,
            &DeliveryAttempt {
                status: status.into(),
                http_status,
                error,
                at: state.now(),
            },
        )
        .await?;
    match failure {
        None => Ok(()),
        Some(f) => Err(f),
    }
}

enum Attempt {
    /// The SSRF guard refused the target: retrying would not help.
    Refused(String),
    Answered(u16),
    Unreachable(String),
}

async fn attempt(state: &AppState, hook: &Webhook, d: &Delivery) -> Result<u16, Attempt> {
    let allow_private = state
        .store()
        .webhooks_allow_private(hook.org_id)
        .await
        .map_err(|e| Attempt::Unreachable(e.to_string()))?;
    let target = crate::ssrf::check(&hook.url, allow_private)
        .await
        .map_err(|why| Attempt::Refused(format!("the URL {why}")))?;
    let client = crate::ssrf::client(&target, TIMEOUT)
        .map_err(|e| Attempt::Unreachable(format!("cannot build a client: {e}")))?;
    let timestamp = state.now().unix_timestamp();
    let signature = rules::sign(hook.secret.as_bytes(), timestamp, d.body.as_bytes());
    let resp = client
        .post(target.url.clone())
        .header("content-type", "application/json")
        .header("user-agent", "Kintsugi-Webhooks/1")
        .header(rules::TIMESTAMP_HEADER, timestamp.to_string())
        .header(rules::SIGNATURE_HEADER, signature)
        .header(rules::IDEMPOTENCY_HEADER, d.id.to_string())
        .header("X-Kintsugi-Event", &d.event)
        .body(d.body.clone())
        .send()
        .await
        .map_err(|e| {
            Attempt::Unreachable(if e.is_timeout() {
                format!("no answer within {} seconds", TIMEOUT.as_secs())
            } else {
                "the receiver cannot be reached".to_owned()
            })
        })?;
    let code = resp.status().as_u16();
    if resp.status().is_success() {
        Ok(code)
    } else {
        Err(Attempt::Answered(code))
    }
}

// ---- Admin actions (pages and API) ----

pub struct WebhookInput<'a> {
    pub url: &'a str,
    pub secret: &'a str,
    pub events: Vec<String>,
    pub repair_id: Option<&'a str>,
}

/// Adds a webhook. Without a secret one is made; either way it is returned once.
pub async fn add(
    state: &AppState,
    admin: &CurrentUser,
    input: WebhookInput<'_>,
) -> Result<(Webhook, String), AppError> {
    let mut problems = Vec::new();
    let secret = if input.secret.trim().is_empty() {
        Some(crate::tokens::new_token())
    } else {
        match WebhookSecret::parse(input.secret.trim()) {
            Ok(s) => Some(s.expose().to_owned()),
            Err(e) => {
                problems.push(e);
                None
            }
        }
    };
    let mut events = Vec::new();
    for raw in &input.events {
        match Event::parse(raw) {
            Some(e) if !events.contains(&e.as_str().to_owned()) => {
                events.push(e.as_str().to_owned())
            }
            Some(_) => {}
            None => problems.push(Invalid::new(
                "events",
                format!("{raw:?} is not an event; choose from repair.update, repair.stage, commitment.missed, round.opened"),
            )),
        }
    }
    if events.is_empty() && problems.iter().all(|p| p.field != "events") {
        problems.push(Invalid::new("events", "choose at least one event"));
    }
    let repair_id = match input.repair_id.map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(raw) => match Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                problems.push(Invalid::new("repair", "is not a repair id"));
                None
            }
        },
    };
    let allow_private = state.store().webhooks_allow_private(admin.org.id).await?;
    let url = match crate::ssrf::check(input.url, allow_private).await {
        Ok(t) => Some(t.url.to_string()),
        Err(why) => {
            problems.push(Invalid::new("url", format!("the URL {why}")));
            None
        }
    };
    let (Some(url), Some(secret), true) = (url, secret, problems.is_empty()) else {
        return Err(AppError::Invalid(problems));
    };
    let hook = NewWebhook {
        id: state.new_id(),
        org_id: admin.org.id,
        repair_id,
        url,
        secret: secret.clone(),
        events,
        created_at: state.now(),
    };
    let entry = audit(
        state,
        admin,
        "webhook.add",
        &hook.url,
        hook.events.join(" "),
    );
    state.store().add_webhook(&hook, &entry).await?;
    let stored = state
        .store()
        .webhooks(admin.org.id)
        .await?
        .into_iter()
        .find(|h| h.id == hook.id)
        .ok_or(AppError::Internal)?;
    Ok((stored, secret))
}

pub async fn remove(state: &AppState, admin: &CurrentUser, id: Uuid) -> Result<(), AppError> {
    let hook = state
        .store()
        .webhooks(admin.org.id)
        .await?
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| AppError::not_found("webhook"))?;
    let entry = audit(state, admin, "webhook.remove", &hook.url, "");
    Ok(state
        .store()
        .delete_webhook(admin.org.id, id, &entry)
        .await?)
}

pub async fn allow_private(
    state: &AppState,
    admin: &CurrentUser,
    allow: bool,
) -> Result<(), AppError> {
    let entry = audit(
        state,
        admin,
        "webhook.private_targets",
        &admin.org.name,
        if allow {
            "private targets allowed"
        } else {
            "private targets refused"
        },
    );
    Ok(state
        .store()
        .set_webhooks_allow_private(admin.org.id, allow, &entry)
        .await?)
}

// ---- Pages ----

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/admin/webhooks", get(page).post(add_page))
        .route("/admin/webhooks/{id}/delete", post(delete_page))
        .route("/admin/webhooks/private", post(private_page))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::pages::html_errors,
        ))
        .with_state(state)
}

pub struct EventChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    hooks: Vec<Webhook>,
    deliveries: Vec<Delivery>,
    repairs: Vec<RepairSummary>,
    allow_private: bool,
    draft_url: String,
    choices: Vec<EventChoice>,
    /// The secret of the webhook just added: shown once.
    new_secret: Option<String>,
}

impl WebhooksPage {
    fn url_of(&self, id: &Uuid) -> String {
        self.hooks
            .iter()
            .find(|h| h.id == *id)
            .map(|h| h.url.clone())
            .unwrap_or_else(|| "(removed)".into())
    }

    fn repair_title(&self, id: &Option<Uuid>) -> String {
        match id {
            None => "every repair".into(),
            Some(id) => self
                .repairs
                .iter()
                .find(|r| r.id == *id)
                .map(|r| r.title.clone())
                .unwrap_or_else(|| "a repair".into()),
        }
    }
}

async fn page_data(
    state: &AppState,
    page: &Page,
    admin: &CurrentUser,
    errors: Vec<Invalid>,
    draft_url: String,
    chosen: &[String],
    new_secret: Option<String>,
) -> Result<WebhooksPage, AppError> {
    let all = chosen.is_empty();
    Ok(WebhooksPage {
        chrome: page.chrome("Webhooks"),
        errors,
        hooks: state.store().webhooks(admin.org.id).await?,
        deliveries: state.store().webhook_deliveries(admin.org.id, 20).await?,
        repairs: state.store().all_repairs(admin.org.id).await?,
        allow_private: state.store().webhooks_allow_private(admin.org.id).await?,
        draft_url,
        choices: Event::ALL
            .iter()
            .map(|e| EventChoice {
                value: e.as_str(),
                label: e.label(),
                checked: all || chosen.iter().any(|c| c == e.as_str()),
            })
            .collect(),
        new_secret,
    })
}

async fn page(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
) -> Result<Response, AppError> {
    let data = page_data(&state, &page, &admin, vec![], String::new(), &[], None).await?;
    Ok(render(StatusCode::OK, &data))
}

async fn add_page(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let events: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let input = WebhookInput {
        url: field("url"),
        secret: field("secret"),
        events: events.clone(),
        repair_id: Some(field("repair")),
    };
    match add(&state, &admin, input).await {
        Ok((_, secret)) => {
            let data = page_data(
                &state,
                &page,
                &admin,
                vec![],
                String::new(),
                &[],
                Some(secret),
            )
            .await?;
            Ok(render(StatusCode::CREATED, &data))
        }
        Err(AppError::Invalid(errors)) => {
            let data = page_data(
                &state,
                &page,
                &admin,
                errors,
                field("url").to_owned(),
                &events,
                None,
            )
            .await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &data))
        }
        Err(e) => Err(e),
    }
}

async fn delete_page(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    remove(&state, &admin, id).await?;
    Ok(Redirect::to("/admin/webhooks").into_response())
}

#[derive(Deserialize)]
struct PrivateForm {
    #[serde(default)]
    allow: String,
}

async fn private_page(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Form(form): Form<PrivateForm>,
) -> Result<Response, AppError> {
    allow_private(&state, &admin, form.allow == "on" || form.allow == "true").await?;
    Ok(Redirect::to("/admin/webhooks").into_response())
}

// ---- API ----

pub mod api {
    use super::*;
    use crate::error::Problem;
    use crate::error::extract::Json;
    use utoipa::ToSchema;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;

    pub fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .routes(routes!(list, create))
            .routes(routes!(delete))
            .routes(routes!(deliveries))
            .routes(routes!(settings))
    }

    #[derive(Serialize, ToSchema)]
    pub struct WebhookOut {
        id: Uuid,
        repair_id: Option<Uuid>,
        url: String,
        events: Vec<String>,
        #[schema(value_type = String, format = DateTime)]
        #[serde(with = "time::serde::rfc3339")]
        created_at: time::OffsetDateTime,
        /// Only in the answer that created the webhook.
        #[serde(skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    }

    fn out(h: Webhook, secret: Option<String>) -> WebhookOut {
        WebhookOut {
            id: h.id,
            repair_id: h.repair_id,
            url: h.url,
            events: h.events,
            created_at: h.created_at,
            secret,
        }
    }

    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct NewWebhookBody {
        /// https:// (or http://) URL of the receiver. Private, loopback and link-local
        /// targets are refused unless the organisation allows private targets.
        url: String,
        /// At least 32 bytes; made for you when left out.
        #[serde(default)]
        secret: String,
        /// Any of `repair.update`, `repair.stage`, `commitment.missed`, `round.opened`.
        events: Vec<String>,
        /// Only this repair's events; every repair when left out.
        #[serde(default)]
        repair_id: Option<String>,
    }

    /// The organisation's webhooks (their secrets are never shown again).
    #[utoipa::path(get, path = "/webhooks", tag = "webhooks", security(("session" = [])),
        responses((status = 200, body = [WebhookOut]), (status = 401, body = Problem), (status = 403, body = Problem)))]
    async fn list(
        State(state): State<AppState>,
        AdminUser(admin): AdminUser,
    ) -> Result<axum::Json<Vec<WebhookOut>>, AppError> {
        Ok(axum::Json(
            state
                .store()
                .webhooks(admin.org.id)
                .await?
                .into_iter()
                .map(|h| out(h, None))
                .collect(),
        ))
    }

    /// Adds a webhook; the answer carries its signing secret, once.
    #[utoipa::path(post, path = "/webhooks", tag = "webhooks", security(("session" = [])), request_body = NewWebhookBody,
        responses((status = 201, body = WebhookOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
    async fn create(
        State(state): State<AppState>,
        AdminUser(admin): AdminUser,
        Json(body): Json<NewWebhookBody>,
    ) -> Result<Response, AppError> {
        let (hook, secret) = add(
            &state,
            &admin,
            WebhookInput {
                url: &body.url,
                secret: &body.secret,
                events: body.events,
                repair_id: body.repair_id.as_deref(),
            },
        )
        .await?;
        Ok((StatusCode::CREATED, axum::Json(out(hook, Some(secret)))).into_response())
    }

    /// Removes a webhook and its delivery history.
    #[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", security(("session" = [])),
        params(("id" = Uuid, Path)),
        responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
    async fn delete(
        State(state): State<AppState>,
        AdminUser(admin): AdminUser,
        Path(id): Path<Uuid>,
    ) -> Result<StatusCode, AppError> {
        remove(&state, &admin, id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    #[derive(Serialize, ToSchema)]
    pub struct DeliveryOut {
        id: Uuid,
        webhook_id: Uuid,
        event: String,
        /// `queued`, `delivered`, `retrying` or `failed`.
        status: String,
        attempts: u32,
        last_http_status: Option<u16>,
        last_error: Option<String>,
        #[schema(value_type = String, format = DateTime)]
        #[serde(with = "time::serde::rfc3339")]
        updated_at: time::OffsetDateTime,
    }

    /// The organisation's 50 most recent deliveries, newest first.
    #[utoipa::path(get, path = "/webhooks/deliveries", tag = "webhooks", security(("session" = [])),
        responses((status = 200, body = [DeliveryOut]), (status = 401, body = Problem), (status = 403, body = Problem)))]
    async fn deliveries(
        State(state): State<AppState>,
        AdminUser(admin): AdminUser,
    ) -> Result<axum::Json<Vec<DeliveryOut>>, AppError> {
        Ok(axum::Json(
            state
                .store()
                .webhook_deliveries(admin.org.id, 50)
                .await?
                .into_iter()
                .map(|d| DeliveryOut {
                    id: d.id,
                    webhook_id: d.webhook_id,
                    event: d.event,
                    status: d.status,
                    attempts: d.attempts,
                    last_http_status: d.last_http_status,
                    last_error: d.last_error,
                    updated_at: d.updated_at,
                })
                .collect(),
        ))
    }

    #[derive(Deserialize, Serialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct WebhookSettings {
        /// Allow targets in private, loopback, link-local and unique-local ranges (audited).
        allow_private: bool,
    }

    /// Allows or refuses private targets for the organisation's webhooks.
    #[utoipa::path(put, path = "/webhooks/settings", tag = "webhooks", security(("session" = [])), request_body = WebhookSettings,
        responses((status = 200, body = WebhookSettings), (status = 401, body = Problem), (status = 403, body = Problem)))]
    async fn settings(
        State(state): State<AppState>,
        AdminUser(admin): AdminUser,
        Json(body): Json<WebhookSettings>,
    ) -> Result<axum::Json<WebhookSettings>, AppError> {
        allow_private(&state, &admin, body.allow_private).await?;
        Ok(axum::Json(body))
    }
}
