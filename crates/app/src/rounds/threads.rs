//! Two-way replies under an anonymous comment: the facilitator writes on the repair's page;
//! the comment's author reads and answers here with nothing but their capability (a secret
//! only their client holds; only its hash is stored).

use kintsugi_store::Answer;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadRequest {
    /// The author's reply capability, hex(sha256("reply:" + secret)); only its hash is stored.
    pub capability: String,
    pub body: Option<String>,
}

#[derive(Serialize)]
pub struct ThreadMessage {
    pub from_author: bool,
    pub body: String,
}

#[derive(Serialize)]
pub struct Thread {
    pub round: Uuid,
    pub comment: Option<String>,
    pub replies: Vec<ThreadMessage>,
}

/// The answer a capability opens, found by the hash of the capability.
async fn by_capability(ctx: &Ctx, capability: &str) -> Result<(Uuid, Answer), Error> {
    let capability = capability.trim().to_ascii_lowercase();
    if capability.len() != 64 || !capability.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid("capability", "must be 64 hex digits"));
    }
    let check = kintsugi_anon::client::reply_check(&capability);
    ctx.store()
        .answer_by_reply_check(&check)
        .await?
        .ok_or_else(|| Error::not_found("thread"))
}

/// The author reads their comment's thread, with nothing but their capability.
pub async fn thread(ctx: &Ctx, body: &ThreadRequest) -> Result<Thread, Error> {
    let (round, answer) = by_capability(ctx, &body.capability).await?;
    let replies = ctx
        .store()
        .replies(round)
        .await?
        .into_iter()
        .filter(|r| r.answer_id == answer.id)
        .map(|r| ThreadMessage {
            from_author: r.from_author,
            body: r.body,
        })
        .collect();
    Ok(Thread {
        round,
        comment: answer.comment,
        replies,
    })
}

/// The author answers the facilitator, still anonymous.
pub async fn author_reply(ctx: &Ctx, body: &ThreadRequest) -> Result<(), Error> {
    let (round, answer) = by_capability(ctx, &body.capability).await?;
    let replies = ctx.store().replies(round).await?;
    if !replies
        .iter()
        .any(|r| r.answer_id == answer.id && !r.from_author)
    {
        return Err(Error::Conflict("there is no reply to answer yet".into()));
    }
    let text = kintsugi_core::repair::reason_text(body.body.as_deref().unwrap_or_default())
        .map_err(|e| Error::invalid("body", e.message))?;
    ctx.store()
        .add_reply(ctx.new_id(), answer.id, true, &text)
        .await?;
    Ok(())
}
