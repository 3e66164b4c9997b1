//! Blind-signature tokens (RFC 9474, RSABSSA-SHA384-PSS-Randomized, 2048-bit).
//!
//! The server signs a *blinded* message, so it never sees the token it signed; later it
//! verifies the unblinded token, which it cannot link to the signing. One key pair per
//! round: a token is good for one round only, and destroying the key at close ends it.
//!
//! The token message is `kintsugi-round:<round id>:<commitment>`, where the commitment is
//! `hex(sha256("token:" + secret))` and the secret stays with the member. The reply
//! capability `hex(sha256("reply:" + secret))` is derived from the same secret; the server
//! stores only its SHA-256 (the reply check) with the answer.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use blind_rsa_signatures::{
    BlindSignature, DefaultRng, KeyPairSha384PSSRandomized, MessageRandomizer,
    PublicKeySha384PSSRandomized, SecretKeySha384PSSRandomized, Signature,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const MODULUS_BITS: usize = 2048;
/// Bytes of a 2048-bit signature or blinded message.
pub const MODULUS_BYTES: usize = MODULUS_BITS / 8;
/// The random prefix RFC 9474's randomized variant puts before the message.
pub const RANDOMIZER_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not well formed: {0}")]
    Malformed(&'static str),
    #[error("the token is for another round")]
    WrongRound,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the round key is unusable: {0}")]
    Key(String),
}

fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(data.as_ref()))
}

/// A round's key pair. The secret half lives in the key store, never in the database.
pub struct RoundKey {
    secret: SecretKeySha384PSSRandomized,
    public: PublicKeySha384PSSRandomized,
}

impl RoundKey {
    pub fn generate() -> Result<Self, TokenError> {
        let pair = KeyPairSha384PSSRandomized::generate(&mut DefaultRng, MODULUS_BITS)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(Self {
            secret: pair.sk,
            public: pair.pk,
        })
    }

    pub fn from_secret_der(der: &[u8]) -> Result<Self, TokenError> {
        let secret = SecretKeySha384PSSRandomized::from_der(der)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let public = secret
            .public_key()
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(Self { secret, public })
    }

    pub fn secret_der(&self) -> Result<Vec<u8>, TokenError> {
        self.secret
            .to_der()
            .map_err(|e| TokenError::Key(e.to_string()))
    }

    /// The public key as DER SubjectPublicKeyInfo with the rsaEncryption OID: the form
    /// WebCrypto imports (it refuses RFC 9578's RSASSA-PSS SPKI).
    pub fn public_der(&self) -> Result<Vec<u8>, TokenError> {
        self.public
            .to_der()
            .map_err(|e| TokenError::Key(e.to_string()))
    }

    /// Signs a blinded message. The signer learns nothing about the message inside.
    pub fn sign_blinded(&self, blinded: &[u8]) -> Result<Vec<u8>, TokenError> {
        if blinded.len() != MODULUS_BYTES {
            return Err(TokenError::Malformed(
                "the blinded message must be 256 bytes",
            ));
        }
        self.secret
            .blind_sign(blinded)
            .map(|s| s.0)
            .map_err(|_| TokenError::Malformed("the blinded message is out of range"))
    }
}

/// What members compare to be sure they talk to the round they think: SHA-256 of the
/// public key, in groups of four hex digits.
pub fn fingerprint(public_der: &[u8]) -> String {
    let h = sha256_hex(public_der);
    h.as_bytes()
        .chunks(4)
        .take(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A redeemed token: the prepared message (randomizer ‖ message) and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub prepared: Vec<u8>,
    pub signature: Vec<u8>,
}

impl Token {
    pub fn from_base64(message: &str, signature: &str) -> Result<Self, TokenError> {
        let prepared = STANDARD
            .decode(message.trim())
            .map_err(|_| TokenError::Malformed("message is not base64"))?;
        let signature = STANDARD
            .decode(signature.trim())
            .map_err(|_| TokenError::Malformed("signature is not base64"))?;
        if prepared.len() <= RANDOMIZER_BYTES || prepared.len() > 512 {
            return Err(TokenError::Malformed("message has the wrong length"));
        }
        if signature.len() != MODULUS_BYTES {
            return Err(TokenError::Malformed("signature must be 256 bytes"));
        }
        Ok(Self {
            prepared,
            signature,
        })
    }

    /// The round the token names, from its message.
    pub fn round(&self) -> Result<Uuid, TokenError> {
        let text = std::str::from_utf8(&self.prepared[RANDOMIZER_BYTES..])
            .map_err(|_| TokenError::Malformed("message is not text"))?;
        let rest = text
            .strip_prefix("kintsugi-round:")
            .ok_or(TokenError::Malformed("message is not a Kintsugi token"))?;
        let (round, commitment) = rest
            .split_once(':')
            .ok_or(TokenError::Malformed("message has no commitment"))?;
        if commitment.len() != 64 || !commitment.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenError::Malformed(
                "message commitment must be 64 hex digits",
            ));
        }
        Uuid::parse_str(round).map_err(|_| TokenError::Malformed("message names no round"))
    }

    /// Checks the token belongs to `round` and carries the round key's signature.
    pub fn verify(&self, round: Uuid, public_der: &[u8]) -> Result<(), TokenError> {
        if self.round()? != round {
            return Err(TokenError::WrongRound);
        }
        let public = PublicKeySha384PSSRandomized::from_der(public_der)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let mut randomizer = [0u8; RANDOMIZER_BYTES];
        randomizer.copy_from_slice(&self.prepared[..RANDOMIZER_BYTES]);
        public
            .verify(
                &Signature(self.signature.clone()),
                Some(MessageRandomizer(randomizer)),
                &self.prepared[RANDOMIZER_BYTES..],
            )
            .map_err(|_| TokenError::BadSignature)
    }

    /// What the spent list keeps: SHA-256 of the prepared message, hex.
    pub fn spent_mark(&self) -> String {
        sha256_hex(&self.prepared)
    }
}

/// The member's side: blinding and finalising, for `kintsugi respond` and for tests.
pub mod client {
    use super::*;
    use blind_rsa_signatures::BlindingResult;

    /// A token being made: the member's secret and the blinding state.
    pub struct Pending {
        pub secret_hex: String,
        round: Uuid,
        public: PublicKeySha384PSSRandomized,
        blinding: BlindingResult,
    }

    /// The message for `round` from a 32-byte secret.
    pub fn message(round: Uuid, secret_hex: &str) -> String {
        format!(
            "kintsugi-round:{round}:{}",
            sha256_hex(format!("token:{secret_hex}"))
        )
    }

    /// `hex(sha256("reply:" + secret))`: held by the member alone.
    pub fn reply_capability(secret_hex: &str) -> String {
        sha256_hex(format!("reply:{secret_hex}"))
    }

    /// What the server stores to recognise the capability later: its SHA-256.
    pub fn reply_check(capability: &str) -> String {
        sha256_hex(capability)
    }

    impl Pending {
        /// Starts a token for `round` with a fresh secret; returns the blinded message to send.
        pub fn start(
            round: Uuid,
            public_der: &[u8],
            secret: [u8; 32],
        ) -> Result<(Self, Vec<u8>), TokenError> {
            let public = PublicKeySha384PSSRandomized::from_der(public_der)
                .map_err(|e| TokenError::Key(e.to_string()))?;
            let secret_hex = hex::encode(secret);
            let blinding = public
                .blind(&mut DefaultRng, message(round, &secret_hex))
                .map_err(|e| TokenError::Key(e.to_string()))?;
            let blinded = blinding.blind_message.0.clone();
            Ok((
                Self {
                    secret_hex,
                    round,
                    public,
                    blinding,
                },
                blinded,
            ))
        }

        /// Unblinds the server's signature into a token, checking it verifies.
        pub fn finish(self, blind_signature: &[u8]) -> Result<Token, TokenError> {
            let msg = message(self.round, &self.secret_hex);
            let sig = self
                .public
                .finalize(
                    &BlindSignature(blind_signature.to_vec()),
                    &self.blinding,
                    msg.as_bytes(),
                )
                .map_err(|_| TokenError::BadSignature)?;
            let randomizer = self
                .blinding
                .msg_randomizer
                .ok_or(TokenError::Malformed("no message randomizer"))?;
            let mut prepared = randomizer.0.to_vec();
            prepared.extend_from_slice(msg.as_bytes());
            Ok(Token {
                prepared,
                signature: sig.0,
            })
        }
    }
}
