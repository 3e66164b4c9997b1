//! The anonymous path: the round key store, the batch writer, and the `/anon` routes.
//!
//! `/anon` sits outside the session and CSRF layers on purpose. It refuses any request
//! with a cookie, logs nothing per request (the request log skips it), and answers only
//! after the answer's batch has committed to disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kintsugi_anon::Token;
use kintsugi_core::repair::CauseCategory;
use kintsugi_store::{Answer, Redeemed, Redemption, Store};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::error::AppError;
use crate::error::extract::{Json, Path as UrlPath};
use crate::state::AppState;

/// Private round keys, one file per round, readable by the server's user only.
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    fn path(&self, round: Uuid) -> PathBuf {
        self.dir.join(format!("round-{round}.der"))
    }

    pub fn put(&self, round: Uuid, secret_der: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        let staged = self.dir.join(format!(".round-{round}.tmp"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&staged)?;
        file.write_all(secret_der)?;
        file.sync_all()?;
        std::fs::rename(&staged, self.path(round))
    }

    pub fn get(&self, round: Uuid) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(round)) {
            Ok(der) => Ok(Some(der)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Overwrites the key, then removes it: a closed round can sign nothing ever again.
    pub fn destroy(&self, round: Uuid) -> std::io::Result<()> {
        let path = self.path(round);
        if let Ok(meta) = std::fs::metadata(&path) {
            std::fs::write(&path, vec![0u8; meta.len() as usize])?;
        }
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

type Job = (Redemption, oneshot::Sender<Result<Redeemed, AppError>>);

/// Collects answers for a moment, shuffles them and writes them in one transaction, so the
/// order rows reach the disk says nothing about the order answers arrived.
pub struct Batcher {
    tx: mpsc::Sender<Job>,
}

impl Batcher {
    pub const MAX_BATCH: usize = 256;
    /// How long a batch waits for company once its first answer arrived.
    pub const WINDOW: Duration = Duration::from_millis(3);

    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                let until = tokio::time::Instant::now() + Self::WINDOW;
                while batch.len() < Self::MAX_BATCH {
                    match tokio::time::timeout_at(until, rx.recv()).await {
                        Ok(Some(job)) => batch.push(job),
                        _ => break,
                    }
                }
                batch.shuffle(&mut rand::rng());
                let items: Vec<Redemption> = batch.iter().map(|(r, _)| r.clone()).collect();
                match store.redeem(&items).await {
                    Ok(results) => {
                        for ((_, reply), result) in batch.into_iter().zip(results) {
                            let _ = reply.send(Ok(result));
                        }
                    }
                    Err(e) => {
                        let err = AppError::from(e);
                        for (_, reply) in batch {
                            let _ = reply.send(Err(err.clone()));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Stores one answer; returns once its batch is durable.
    pub async fn submit(&self, redemption: Redemption) -> Result<Redeemed, AppError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((redemption, reply))
            .await
            .map_err(|_| AppError::Unavailable)?;
        done.await.map_err(|_| AppError::Unavailable)?
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/anon/rounds/{round}/answers", post(answer))
        .route("/anon/rounds/{round}/spent/{mark}", get(spent))
        .route("/anon/replies/thread", post(thread))
        .route("/anon/replies", post(author_reply))
        .layer(axum::middleware::from_fn(refuse_cookies))
        .with_state(state)
}

/// A cookie could tie an answer to a session; the anonymous path takes none.
pub(crate) async fn refuse_cookies(req: Request, next: Next) -> Response {
    if req.headers().contains_key(header::COOKIE) {
        return AppError::BadRequest(
            "the anonymous path takes no cookies: send answers without credentials, so nothing can tie them to a session".into(),
        )
        .into_response();
    }
    next.run(req).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// Base64 of the prepared message (32-byte randomizer, then the message).
    pub message: String,
    pub signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerContent {
    pub category: Option<String>,
    pub comment: Option<String>,
    /// 1 to 7, in genuineness rounds only.
    pub rating: Option<i64>,
    /// Trust pulses only: each item rated 1 to 7.
    pub items: Option<std::collections::BTreeMap<String, i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    pub token: TokenBody,
    pub answer: AnswerContent,
    /// hex(SHA-256(reply capability)); lets only the author answer a reply.
    pub reply_check: Option<String>,
}

#[derive(Serialize)]
struct Received {
    received: bool,
}

async fn answer(
    State(state): State<AppState>,
    UrlPath(round_id): UrlPath<Uuid>,
    Json(body): Json<AnswerBody>,
) -> Result<Response, AppError> {
    let round = state
        .store()
        .round(round_id)
        .await?
        .ok_or_else(|| AppError::not_found("round"))?;
    if !round.open || round.closes_at.is_some_and(|t| t <= state.now()) {
        return Err(AppError::Conflict(
            "this round is closed; it takes no more answers".into(),
        ));
    }
    let token = Token::from_base64(&body.token.message, &body.token.signature)
        .map_err(|e| AppError::invalid("token", e.to_string()))?;
    let public = base64_decode(&round.public_key)?;
    token
        .verify(round_id, &public)
        .map_err(|e| AppError::invalid("token", e.to_string()))?;

    let category = match body
        .answer
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        // A causes round's "category" is the answer agree or disagree, checked below.
        Some(c)
            if round.kind == crate::rounds::CAUSES || round.kind == crate::rounds::CONFIRMATION =>
        {
            Some(c.to_owned())
        }
        Some(c) => Some(CauseCategory::parse(c)?.as_str().to_owned()),
        None => None,
    };
    let comment = body
        .answer
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    if comment.as_ref().is_some_and(|c| c.chars().count() > 4000) {
        return Err(AppError::invalid(
            "comment",
            "must be at most 4000 characters",
        ));
    }
    let rating = match (round.kind.as_str(), body.answer.rating) {
        (crate::rounds::GENUINENESS, Some(r)) => Some(kintsugi_core::anonymity::rating(r)?),
        (crate::rounds::GENUINENESS, None) => {
            return Err(AppError::invalid(
                "rating",
                "is required: how genuine did it feel, from 1 to 7?",
            ));
        }
        (_, Some(_)) => return Err(AppError::invalid("rating", "belongs only to rating rounds")),
        (_, None) => None,
    };
    if round.kind == crate::rounds::CAUSES
        && !matches!(category.as_deref(), Some("agree" | "disagree"))
    {
        return Err(AppError::invalid("category", "must be agree or disagree"));
    }
    let items = if round.kind == crate::health::TEAM_HEALTH {
        // Ratings only: a comment or a category could tell who wrote it in a small team.
        if category.is_some() || comment.is_some() {
            return Err(AppError::invalid(
                "answer",
                "a team health check takes ratings only, no category or comment",
            ));
        }
        crate::health::answer_items(&state, &round, body.answer.items).await?
    } else {
        crate::rounds::pulse_items(&round.kind, body.answer.items)?
    };
    if round.kind == crate::rounds::CONFIRMATION
        && !matches!(category.as_deref(), Some("happened" | "not_happened"))
    {
        return Err(AppError::invalid(
            "category",
            "must be happened or not_happened",
        ));
    }
    if (round.kind == crate::rounds::GENUINENESS || round.kind == crate::rounds::PULSE)
        && category.is_some()
    {
        return Err(AppError::invalid(
            "category",
            "belongs only to listening rounds",
        ));
    }
    if category.is_none() && comment.is_none() && rating.is_none() && items.is_empty() {
        return Err(AppError::invalid(
            "answer",
            "needs a category, a comment, or both",
        ));
    }
    let reply_check = match body.reply_check.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(h.to_ascii_lowercase())
        }
        Some(_) => return Err(AppError::invalid("reply_check", "must be 64 hex digits")),
    };
    let redemption = Redemption {
        round_id,
        mark: token.spent_mark(),
        answer: Answer {
            id: state.new_id(),
            category,
            comment,
            rating,
            items,
            reply_check,
        },
    };
    match state.batcher().submit(redemption).await? {
        Redeemed::Stored => {
            Ok((StatusCode::CREATED, axum::Json(Received { received: true })).into_response())
        }
        Redeemed::AlreadySpent => Err(AppError::Conflict(
            "this token was already used: one answer per person".into(),
        )),
        Redeemed::RoundClosed => Err(AppError::Conflict(
            "this round is closed; it takes no more answers".into(),
        )),
    }
}

#[derive(Serialize)]
struct Spent {
    spent: bool,
}

/// Lets a member see that their own answer arrived, by their token's mark, and nothing else.
async fn spent(
    State(state): State<AppState>,
    UrlPath((round_id, mark)): UrlPath<(Uuid, String)>,
) -> Result<axum::Json<Spent>, AppError> {
    if mark.len() != 64 || !mark.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::invalid("mark", "must be 64 hex digits"));
    }
    Ok(axum::Json(Spent {
        spent: state
            .store()
            .spent(round_id, &mark.to_ascii_lowercase())
            .await?,
    }))
}

pub fn base64_decode(text: &str) -> Result<Vec<u8>, AppError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| AppError::Internal)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadRequest {
    /// The author's reply capability, hex(sha256("reply:" + secret)); only its hash is stored.
    pub capability: String,
    pub body: Option<String>,
}

#[derive(Serialize)]
struct ThreadMessage {
    from_author: bool,
    body: String,
}

#[derive(Serialize)]
struct Thread {
    round: Uuid,
    comment: Option<String>,
    replies: Vec<ThreadMessage>,
}

/// The answer a capability opens, found by the hash of the capability.
async fn by_capability(state: &AppState, capability: &str) -> Result<(Uuid, Answer), AppError> {
    let capability = capability.trim().to_ascii_lowercase();
    if capability.len() != 64 || !capability.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::invalid("capability", "must be 64 hex digits"));
    }
    let check = kintsugi_anon::client::reply_check(&capability);
    state
        .store()
        .answer_by_reply_check(&check)
        .await?
        .ok_or_else(|| AppError::not_found("thread"))
}

/// The author reads their comment's thread, with nothing but their capability.
async fn thread(
    State(state): State<AppState>,
    Json(body): Json<ThreadRequest>,
) -> Result<axum::Json<Thread>, AppError> {
    let (round, answer) = by_capability(&state, &body.capability).await?;
    let replies = state
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
    Ok(axum::Json(Thread {
        round,
        comment: answer.comment,
        replies,
    }))
}

/// The author answers the facilitator, still anonymous.
async fn author_reply(
    State(state): State<AppState>,
    Json(body): Json<ThreadRequest>,
) -> Result<StatusCode, AppError> {
    let (round, answer) = by_capability(&state, &body.capability).await?;
    let replies = state.store().replies(round).await?;
    if !replies
        .iter()
        .any(|r| r.answer_id == answer.id && !r.from_author)
    {
        return Err(AppError::Conflict("there is no reply to answer yet".into()));
    }
    let text = kintsugi_core::repair::reason_text(body.body.as_deref().unwrap_or_default())
        .map_err(|e| AppError::invalid("body", e.message))?;
    state.store().add_reply(answer.id, true, &text).await?;
    Ok(StatusCode::CREATED)
}
