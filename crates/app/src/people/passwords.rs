//! Password hashing: Argon2id on the blocking pool, and a check that takes the same time
//! whether or not the account exists.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use kintsugi_core::NewPassword;

use crate::error::Error;

/// Argon2id with the crate's recommended parameters, off the async runtime.
pub async fn hash_password(password: NewPassword) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                Error::Internal
            })
    })
    .await
    .map_err(|_| Error::Internal)?
}

/// Checks a password against a stored hash. Without a hash it still does the work of a
/// check, so the time taken does not tell whether the email exists.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let decoy = DECOY.get_or_init(|| {
            Argon2::default()
                .hash_password(b"decoy password")
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        let Ok(hash) = PasswordHash::new(stored.as_deref().unwrap_or(decoy)) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok();
        ok && stored.is_some()
    })
    .await
    .unwrap_or(false)
}
