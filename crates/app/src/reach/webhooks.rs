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
//! (`ssrf`) at creation and again at every attempt.

use std::time::Duration;

use kintsugi_core::Invalid;
use kintsugi_core::webhooks::{self as rules, Event, WebhookSecret};
use kintsugi_store::{Delivery, DeliveryAttempt, Job, NewWebhook, Webhook};
use serde::Deserialize;
use uuid::Uuid;

use crate::actor::{Actor, audit};
use crate::context::Ctx;
use crate::error::Error;
use crate::reach::jobs::Failure;
use crate::reach::ssrf;

/// The job kind that delivers one webhook call.
pub const KIND: &str = "webhook";
/// How long a receiver has to answer one attempt.
pub const TIMEOUT: Duration = Duration::from_secs(10);

// ---- Delivery (a job) ----

#[derive(Deserialize)]
struct DeliveryJob {
    delivery: Uuid,
}

/// Sends one delivery. Its result is recorded on the delivery for the admin page.
pub async fn deliver(ctx: Ctx, job: Job) -> Result<(), Failure> {
    let ctx = &ctx;
    let DeliveryJob { delivery } = serde_json::from_str(&job.payload)
        .map_err(|e| Failure::Permanent(format!("bad webhook job: {e}")))?;
    let Some((hook, d)) = ctx.store().webhook_delivery(delivery).await? else {
        // The webhook was removed meanwhile: nothing to send.
        return Ok(());
    };
    if d.status == "delivered" {
        return Ok(());
    }
    let last = job.attempts >= job.max_attempts;
    let outcome = attempt(ctx, &hook, &d).await;
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
    ctx.store()
        .record_webhook_attempt(
            d.id,
            &DeliveryAttempt {
                status: status.into(),
                http_status,
                error,
                at: ctx.now(),
            },
        )
        .await?;
    match failure {
        None => Ok(()),
        Some(f) => Err(f),
    }
}

/// `v1=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` under the secret.
fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

enum Attempt {
    /// The SSRF guard refused the target: retrying would not help.
    Refused(String),
    Answered(u16),
    Unreachable(String),
}

async fn attempt(ctx: &Ctx, hook: &Webhook, d: &Delivery) -> Result<u16, Attempt> {
    let allow_private = ctx
        .store()
        .webhooks_allow_private(hook.org_id)
        .await
        .map_err(|e| Attempt::Unreachable(e.to_string()))?;
    let target = ssrf::check(&hook.url, allow_private)
        .await
        .map_err(|why| Attempt::Refused(format!("the URL {why}")))?;
    let client = ssrf::client(&target, TIMEOUT)
        .map_err(|e| Attempt::Unreachable(format!("cannot build a client: {e}")))?;
    let timestamp = ctx.now().unix_timestamp();
    let signature = sign(hook.secret.as_bytes(), timestamp, d.body.as_bytes());
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
    ctx: &Ctx,
    admin: &Actor,
    input: WebhookInput<'_>,
) -> Result<(Webhook, String), Error> {
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
    let allow_private = ctx.store().webhooks_allow_private(admin.org.id).await?;
    let url = match ssrf::check(input.url, allow_private).await {
        Ok(t) => Some(t.url.to_string()),
        Err(why) => {
            problems.push(Invalid::new("url", format!("the URL {why}")));
            None
        }
    };
    let (Some(url), Some(secret), true) = (url, secret, problems.is_empty()) else {
        return Err(Error::Invalid(problems));
    };
    let hook = NewWebhook {
        id: ctx.new_id(),
        org_id: admin.org.id,
        repair_id,
        url,
        secret: secret.clone(),
        events,
        created_at: ctx.now(),
    };
    let entry = audit(ctx, admin, "webhook.add", &hook.url, hook.events.join(" "));
    ctx.store().add_webhook(&hook, &entry).await?;
    let stored = ctx
        .store()
        .webhooks(admin.org.id)
        .await?
        .into_iter()
        .find(|h| h.id == hook.id)
        .ok_or(Error::Internal)?;
    Ok((stored, secret))
}

pub async fn remove(ctx: &Ctx, admin: &Actor, id: Uuid) -> Result<(), Error> {
    let hook = ctx
        .store()
        .webhooks(admin.org.id)
        .await?
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| Error::not_found("webhook"))?;
    let entry = audit(ctx, admin, "webhook.remove", &hook.url, "");
    Ok(ctx.store().delete_webhook(admin.org.id, id, &entry).await?)
}

pub async fn allow_private(ctx: &Ctx, admin: &Actor, allow: bool) -> Result<(), Error> {
    let entry = audit(
        ctx,
        admin,
        "webhook.private_targets",
        &admin.org.name,
        if allow {
            "private targets allowed"
        } else {
            "private targets refused"
        },
    );
    Ok(ctx
        .store()
        .set_webhooks_allow_private(admin.org.id, allow, &entry)
        .await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // The receiver in tests/it/webhooks.rs checks the value with its own HMAC.
        let sig = super::sign(b"0123456789abcdef0123456789abcdef", 1_700_000_000, b"{}");
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        assert_ne!(
            sig,
            super::sign(b"0123456789abcdef0123456789abcdef", 1_700_000_001, b"{}"),
            "the timestamp is signed"
        );
        assert_ne!(
            sig,
            super::sign(b"0123456789abcdef0123456789abcdef", 1_700_000_000, b"[]"),
            "the body is signed"
        );
    }
}
