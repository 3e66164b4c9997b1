//! Two-way replies under an anonymous comment: the facilitator writes on the repair's page;
//! the comment's author reads them in the round's threads download, which is the same for
//! everyone (each thread sealed under a key derived from the author's capability, addressed by
//! another hash of it), and answers with nothing but their capability (a secret only their
//! client holds; only its hash is stored).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_store::Answer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
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

/// What a sealed thread holds, as JSON.
#[derive(Serialize)]
struct ThreadText {
    comment: Option<String>,
    replies: Vec<ThreadMessage>,
}

/// One sealed thread of the download.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct SealedThread {
    /// hex(SHA-256("kintsugi thread address:" + reply check)), where the reply check is
    /// hex(SHA-256(capability)).
    pub address: String,
    /// Base64 of the 12-byte AES-GCM nonce.
    pub nonce: String,
    /// Base64 of AES-256-GCM(key = SHA-256("kintsugi thread key:" + reply check),
    /// associated data = the round's id) over `{"comment": …, "replies": [{"from_author", "body"}]}`.
    pub sealed: String,
}

/// A round's threads download: every comment that has a reply, sealed for its author alone.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Threads {
    pub threads: Vec<SealedThread>,
}

fn derived(label: &str, reply_check: &str) -> [u8; 32] {
    Sha256::digest(format!("{label}{reply_check}").as_bytes()).into()
}

/// The round's threads, the same download for everyone; sorted by address, which is random.
pub async fn threads(ctx: &Ctx, round_id: Uuid) -> Result<Threads, Error> {
    ctx.store()
        .round(round_id)
        .await?
        .ok_or_else(|| Error::not_found("round"))?;
    let answers = ctx.store().answers(round_id).await?;
    let replies = ctx.store().replies(round_id).await?;
    let mut threads = Vec::new();
    for answer in answers {
        let Some(check) = answer.reply_check else {
            continue;
        };
        let mine: Vec<ThreadMessage> = replies
            .iter()
            .filter(|r| r.answer_id == answer.id)
            .map(|r| ThreadMessage {
                from_author: r.from_author,
                body: r.body.clone(),
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let text = serde_json::to_vec(&ThreadText {
            comment: answer.comment,
            replies: mine,
        })
        .map_err(|_| Error::Internal)?;
        let key = derived("kintsugi thread key:", &check);
        let cipher = Aes256Gcm::new(&key.into());
        // The nonce follows from the key and the text, so the download is byte for byte the
        // same for everyone until a thread changes; a changed text gets another nonce.
        let mut seed = Sha256::new();
        seed.update(key);
        seed.update(&text);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&seed.finalize()[..12]);
        let id = round_id.to_string();
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &text,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal)?;
        threads.push(SealedThread {
            address: hex::encode(derived("kintsugi thread address:", &check)),
            nonce: STANDARD.encode(nonce),
            sealed: STANDARD.encode(sealed),
        });
    }
    threads.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(Threads { threads })
}

/// Opens a thread of the download with the author's capability: what the member's client
/// does, here for `kintsugi respond` and the tests.
pub fn open_thread(
    round_id: Uuid,
    capability: &str,
    threads: &Threads,
) -> Option<serde_json::Value> {
    let check = kintsugi_anon::client::reply_check(&capability.trim().to_ascii_lowercase());
    let address = hex::encode(derived("kintsugi thread address:", &check));
    let thread = threads.threads.iter().find(|t| t.address == address)?;
    let nonce: [u8; 12] = STANDARD.decode(&thread.nonce).ok()?.try_into().ok()?;
    let sealed = STANDARD.decode(&thread.sealed).ok()?;
    let cipher = Aes256Gcm::new(&derived("kintsugi thread key:", &check).into());
    let id = round_id.to_string();
    let text = cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &sealed,
                aad: id.as_bytes(),
            },
        )
        .ok()?;
    serde_json::from_slice(&text).ok()
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
