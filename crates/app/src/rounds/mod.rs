//! Anonymous rounds, whatever asks them (a repair, a team health check): a key pair per
//! round, blind signatures issued once per member, the batch writer that seals answers, and
//! the anonymous path's reads by capability. What a repair's rounds mean lives in
//! `crate::repairs::rounds`, what a health check's mean in `crate::health`.

pub mod answer;
pub mod mixer;
pub mod threads;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_anon::RoundKey;
use kintsugi_store::{NewRound, Round};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;

pub use kintsugi_core::rounds::{PULSE_ITEMS, RoundKind};

/// A round with a fresh key pair, its secret half already sealed in the database; the caller
/// stores the round, and destroys the key if it cannot. `k` is the organisation's k now: the
/// round keeps it for good.
pub async fn new_keyed_round(
    ctx: &Ctx,
    kind: RoundKind,
    subject: Option<String>,
    closes_at: Option<time::OffsetDateTime>,
    k: kintsugi_core::KThreshold,
) -> Result<NewRound, Error> {
    let key = tokio::task::spawn_blocking(RoundKey::generate)
        .await
        .map_err(|_| Error::Internal)?
        .map_err(|e| {
            tracing::error!(error = %e, "round key generation failed");
            Error::Internal
        })?;
    let public = key.public_der().map_err(|_| Error::Internal)?;
    let id = ctx.new_id();
    let secret = key.secret_der().map_err(|_| Error::Internal)?;
    ctx.keys().put(id, &secret).await?;
    Ok(NewRound {
        id,
        repair_id: None,
        kind,
        public_key: STANDARD.encode(&public),
        fingerprint: kintsugi_anon::fingerprint(&public),
        closes_at,
        opened_at: ctx.now(),
        subject,
        k,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Base64 of the blinded message (256 bytes).
    pub blinded_message: String,
    /// A replacement for a key the member lost (another device, a cleared browser): allowed
    /// once per member and round, and counted in the round's results.
    #[serde(default)]
    pub replace: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Base64 of the blind signature; the member's client unblinds it into the token.
    pub blind_signature: String,
}

/// Signs a member's blinded message for an open round and records that they got their
/// token (once, and one replacement; beyond that a conflict). Whether they may answer is
/// checked first.
pub async fn sign_for(
    ctx: &Ctx,
    round: &Round,
    person_id: Uuid,
    request: &TokenRequest,
) -> Result<TokenResponse, Error> {
    if !round.open {
        return Err(Error::Conflict("this round is closed".into()));
    }
    let blinded = STANDARD
        .decode(request.blinded_message.trim())
        .map_err(|_| Error::invalid("blinded_message", "must be base64"))?;
    if blinded.len() != kintsugi_anon::MODULUS_BYTES {
        return Err(Error::invalid("blinded_message", "must be 256 bytes"));
    }
    // Read for a round open in the database now; never "closed" while it is open.
    let secret = ctx.keys().get(round.id).await?;
    let key = RoundKey::from_secret_der(&secret).map_err(|_| Error::Internal)?;
    let signature = tokio::task::spawn_blocking(move || key.sign_blinded(&blinded))
        .await
        .map_err(|_| Error::Internal)?;
    let signature = signature.map_err(|e| Error::invalid("blinded_message", e.to_string()))?;
    // Recorded only once the signature exists, so a refused request does not use up the member's token.
    ctx.store()
        .record_issue(round.id, person_id, request.replace)
        .await?;
    Ok(TokenResponse {
        blind_signature: STANDARD.encode(signature),
    })
}

/// Destroys a closed round's key: no token can be signed for it again. The close deleted it
/// already, in its own transaction (migration 0024); this makes sure.
pub async fn destroy_key(ctx: &Ctx, round: Uuid) -> Result<(), Error> {
    ctx.keys().destroy(round).await
}
