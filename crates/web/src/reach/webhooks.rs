//! The admin's webhooks: add, remove, see deliveries, allow private targets. As a page and
//! in the API. Sending them is `kintsugi_app::reach::webhooks`.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use kintsugi_app::reach::webhooks::{self, WebhookInput};
use kintsugi_app::{Actor, Ctx, Error};
use kintsugi_core::Invalid;
use kintsugi_core::webhooks::Event;
use kintsugi_store::{Delivery, RepairSummary, Webhook};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::kernel::error::extract::{Form, Path};
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::AdminUser;
use crate::kernel::{AppState, Reply};

pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/admin/webhooks", get(page).post(add_page))
        .route("/admin/webhooks/{id}/delete", post(delete_page))
        .route("/admin/webhooks/private", post(private_page))
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
    ctx: &Ctx,
    page: &Page,
    admin: &Actor,
    errors: Vec<Invalid>,
    draft_url: String,
    chosen: &[String],
    new_secret: Option<String>,
) -> Reply<WebhooksPage> {
    let all = chosen.is_empty();
    Ok(WebhooksPage {
        chrome: page.chrome("Webhooks"),
        errors,
        hooks: ctx.store().webhooks(admin.org.id).await?,
        deliveries: ctx.store().webhook_deliveries(admin.org.id, 20).await?,
        repairs: ctx.store().all_repairs(admin.org.id).await?,
        allow_private: ctx.store().webhooks_allow_private(admin.org.id).await?,
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

async fn page(State(ctx): State<Ctx>, page: Page, AdminUser(admin): AdminUser) -> Reply {
    let data = page_data(&ctx, &page, &admin, vec![], String::new(), &[], None).await?;
    Ok(render(StatusCode::OK, &data))
}

async fn add_page(
    State(ctx): State<Ctx>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(form): Form<Vec<(String, String)>>,
) -> Reply {
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
    match webhooks::add(&ctx, &admin, input).await {
        Ok((_, secret)) => {
            let data = page_data(
                &ctx,
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
        Err(Error::Invalid(errors)) => {
            let data = page_data(
                &ctx,
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
        Err(e) => Err(e.into()),
    }
}

async fn delete_page(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Reply {
    webhooks::remove(&ctx, &admin, id).await?;
    Ok(Redirect::to("/admin/webhooks").into_response())
}

#[derive(Deserialize)]
struct PrivateForm {
    #[serde(default)]
    allow: String,
}

async fn private_page(
    State(ctx): State<Ctx>,
    AdminUser(admin): AdminUser,
    Form(form): Form<PrivateForm>,
) -> Reply {
    webhooks::allow_private(&ctx, &admin, form.allow == "on" || form.allow == "true").await?;
    Ok(Redirect::to("/admin/webhooks").into_response())
}

// ---- API ----

pub mod api {
    use super::*;
    use crate::kernel::error::Problem;
    use crate::kernel::error::extract::Json;
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
        State(ctx): State<Ctx>,
        AdminUser(admin): AdminUser,
    ) -> Reply<axum::Json<Vec<WebhookOut>>> {
        Ok(axum::Json(
            ctx.store()
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
        State(ctx): State<Ctx>,
        AdminUser(admin): AdminUser,
        Json(body): Json<NewWebhookBody>,
    ) -> Reply {
        let (hook, secret) = webhooks::add(
            &ctx,
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
        State(ctx): State<Ctx>,
        AdminUser(admin): AdminUser,
        Path(id): Path<Uuid>,
    ) -> Reply<StatusCode> {
        webhooks::remove(&ctx, &admin, id).await?;
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
        State(ctx): State<Ctx>,
        AdminUser(admin): AdminUser,
    ) -> Reply<axum::Json<Vec<DeliveryOut>>> {
        Ok(axum::Json(
            ctx.store()
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
        State(ctx): State<Ctx>,
        AdminUser(admin): AdminUser,
        Json(body): Json<WebhookSettings>,
    ) -> Reply<axum::Json<WebhookSettings>> {
        webhooks::allow_private(&ctx, &admin, body.allow_private).await?;
        Ok(axum::Json(body))
    }
}
