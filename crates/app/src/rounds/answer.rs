//! The anonymous path's answers: checked, then sealed by the batch writer. Nothing here
//! knows who sent them; the request carries no cookie and is never logged.

use kintsugi_anon::Token;
pub use kintsugi_core::rounds::AnswerBody;
use kintsugi_core::rounds::{CheckedAnswer, RoundKind, check_answer};
use kintsugi_store::{Answer, Redeemed, Redemption};
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;
use crate::instruments;
use crate::rounds::batcher::Batcher;

/// Seals one anonymous answer: the round is open, the token is the round's and unspent,
/// the answer is what its kind takes. Returns once the answer's batch is durable.
pub async fn submit(
    ctx: &Ctx,
    batcher: &Batcher,
    round_id: Uuid,
    body: AnswerBody,
) -> Result<(), Error> {
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
    match batcher.submit(redemption).await? {
        Redeemed::Stored => Ok(()),
        Redeemed::AlreadySpent => Err(Error::Conflict(
            "this token was already used: one answer per person".into(),
        )),
        Redeemed::RoundClosed => Err(Error::Conflict(
            "this round is closed; it takes no more answers".into(),
        )),
    }
}

/// Lets a member see that their own answer arrived, by their token's mark, and nothing else.
pub async fn spent(ctx: &Ctx, round_id: Uuid, mark: &str) -> Result<bool, Error> {
    if mark.len() != 64 || !mark.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid("mark", "must be 64 hex digits"));
    }
    Ok(ctx
        .store()
        .spent(round_id, &mark.to_ascii_lowercase())
        .await?)
}

fn base64_decode(text: &str) -> Result<Vec<u8>, Error> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| Error::Internal)
}
