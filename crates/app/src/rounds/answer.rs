//! The anonymous path's answers: checked, then held by the mixer until their epoch's seal,
//! and the round's marks download in which a client finds whether its answer was sealed.
//! Nothing here knows who sent them; the request carries no cookie and is never logged.

use kintsugi_anon::Token;
pub use kintsugi_core::rounds::AnswerBody;
use kintsugi_core::rounds::{CheckedAnswer, RoundKind, check_answer};
use kintsugi_store::{Answer, Redemption};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;
use crate::instruments;
use crate::rounds::mixer::{self, CLOSE_MARGIN};

/// What became of an accepted answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Accepted {
    /// Held in memory by the server `held_by` until its epoch's seal. The client keeps the
    /// answer until its mark is in the round's marks, and sends it again if that server
    /// stops running first.
    Waiting { held_by: String },
    /// Sealed at once: the round closes within seconds.
    Sealed,
}

/// Accepts one anonymous answer: the round is open, the token is the round's and unspent,
/// the answer is what its kind takes. It is then held for its epoch's seal.
pub async fn submit(ctx: &Ctx, round_id: Uuid, body: AnswerBody) -> Result<Accepted, Error> {
    let round = ctx
        .store()
        .round(round_id)
        .await?
        .ok_or_else(|| Error::not_found("round"))?;
    if !round.open || round.closes_at.is_some_and(|t| t <= ctx.now()) {
        return Err(Error::Conflict(
            "this round is closed; it takes no more answers".into(),
        ));
    }
    let token = Token::from_base64(&body.token.message, &body.token.signature)
        .map_err(|e| Error::invalid("token", e.to_string()))?;
    let public = base64_decode(&round.public_key)?;
    token
        .verify(round_id, &public)
        .map_err(|e| Error::invalid("token", e.to_string()))?;

    // A team health check is checked against the instrument its round asks.
    let instrument = match round.kind {
        RoundKind::TeamHealth => Some(instruments::of_round(ctx, &round).await?),
        _ => None,
    };
    let CheckedAnswer {
        category,
        comment,
        rating,
        items,
    } = check_answer(round.kind, &body.answer, instrument.as_ref())?;
    let reply_check = match body.reply_check.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(h.to_ascii_lowercase())
        }
        Some(_) => return Err(Error::invalid("reply_check", "must be 64 hex digits")),
    };
    let redemption = Redemption {
        round_id,
        mark: token.spent_mark(),
        answer: Answer {
            id: ctx.new_id(),
            category,
            comment,
            rating,
            items,
            reply_check,
        },
    };
    let mark = redemption.mark.clone();
    let mixer = ctx.mixer();
    if mixer.is_sealed(ctx.store(), round_id, &mark).await? {
        return Err(Error::Conflict(
            "already sealed: this answer was counted once and cannot be sent again".into(),
        ));
    }
    mixer.hold(&round, mixer::min_batch(ctx, &round), redemption);
    if round
        .closes_at
        .is_some_and(|t| t <= ctx.now() + CLOSE_MARGIN)
    {
        mixer.flush(ctx.store(), round_id).await?;
        if mixer.is_sealed(ctx.store(), round_id, &mark).await? {
            return Ok(Accepted::Sealed);
        }
        return Err(Error::Conflict(
            "this round is closed; it takes no more answers".into(),
        ));
    }
    Ok(Accepted::Waiting {
        held_by: mixer.id().to_owned(),
    })
}

/// A round's marks download: the same for everyone who asks, so asking says nothing about
/// whose answer one looks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Marks {
    /// Whether the round still takes answers.
    pub open: bool,
    /// Every sealed answer's mark (hex SHA-256 of its token), sorted.
    pub sealed: Vec<String>,
    /// The servers running now: an answer waiting at a server not listed is sent again.
    pub running: Vec<String>,
}

pub async fn marks(ctx: &Ctx, round_id: Uuid) -> Result<Marks, Error> {
    let round = ctx
        .store()
        .round(round_id)
        .await?
        .ok_or_else(|| Error::not_found("round"))?;
    Ok(Marks {
        open: round.open && round.closes_at.is_none_or(|t| t > ctx.now()),
        sealed: ctx.store().sealed_marks(round_id).await?,
        running: mixer::running(ctx).await?,
    })
}

fn base64_decode(text: &str) -> Result<Vec<u8>, Error> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| Error::Internal)
}
