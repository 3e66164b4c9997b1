//! Outgoing webhooks in the storage interface: the hooks and their deliveries. A part of
//! [`crate::Store`].

use async_trait::async_trait;
use uuid::Uuid;

use crate::{Audit, Delivery, DeliveryAttempt, NewWebhook, Result, Webhook};

/// Outgoing webhooks.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn add_webhook(&self, hook: &NewWebhook, audit: &Audit) -> Result<()>;
    /// An organisation's webhooks, oldest first.
    async fn webhooks(&self, org_id: Uuid) -> Result<Vec<Webhook>>;
    /// Removes a webhook and its delivery history.
    async fn delete_webhook(&self, org_id: Uuid, id: Uuid, audit: &Audit) -> Result<()>;
    async fn webhooks_allow_private(&self, org_id: Uuid) -> Result<bool>;
    async fn set_webhooks_allow_private(
        &self,
        org_id: Uuid,
        allow: bool,
        audit: &Audit,
    ) -> Result<()>;
    /// A delivery with its webhook, for the worker that sends it.
    async fn webhook_delivery(&self, id: Uuid) -> Result<Option<(Webhook, Delivery)>>;
    /// Counts an attempt and what came of it.
    async fn record_webhook_attempt(&self, id: Uuid, attempt: &DeliveryAttempt) -> Result<()>;
    /// An organisation's most recent deliveries, newest first.
    async fn webhook_deliveries(&self, org_id: Uuid, limit: u32) -> Result<Vec<Delivery>>;
}
