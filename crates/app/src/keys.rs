//! The round key store: each open round's secret key, sealed with AES-256-GCM under the
//! key-encryption key (KEK) and kept in the database (`RoundKeyStore`), so every server that
//! shares the database can issue tokens. The KEK never enters the database: a dump or backup
//! alone opens no key. Closing a round deletes its key in the closing transaction (a trigger),
//! so it is gone for every server at once. Nothing is cached: each signature reads the sealed
//! key of a round that is open in the database at that moment.
//!
//! Before keys lived in the database, they were files `round-<id>.der` in the key directory;
//! [`import_key_files`] moves those of open rounds into the database and removes every one.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_store::Store;
use uuid::Uuid;

use crate::error::Error;
pub use crate::settings::Kek;

/// AES-GCM's nonce, random per sealing; a key is sealed once, so there are few sealings.
const NONCE_BYTES: usize = 12;

/// Sealing and opening under the key-encryption key.
impl Kek {
    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&(*self.bytes()).into())
    }

    /// Seals a round's secret key, bound to the round: base64 of the nonce and the ciphertext.
    pub fn seal(&self, round: Uuid, secret_der: &[u8]) -> Result<String, Error> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let aad = round.to_string();
        let sealed = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret_der,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(STANDARD.encode(out))
    }

    /// Opens what [`Kek::seal`] sealed for this round; fails under another key, for another
    /// round, or when the text was altered.
    pub fn open(&self, round: Uuid, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| KeyError::Damaged)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(KeyError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| KeyError::Damaged)?;
        let aad = round.to_string();
        self.cipher()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| KeyError::WrongKek)
    }
}

/// Why a sealed round key does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Not what sealing writes.
    Damaged,
    /// This server's key-encryption key is not the one the key was sealed under.
    WrongKek,
}

/// What an operator reads when this server cannot open the round keys in the database.
pub const WRONG_KEK: &str = "this server's key_encryption_key does not open the round keys in \
     the database; every server that shares a database needs the same key_encryption_key \
     (see docs/operating.md)";

/// The round keys, in the database, sealed under this server's KEK.
pub struct KeyStore<'a> {
    store: &'a dyn Store,
    kek: &'a Kek,
}

impl<'a> KeyStore<'a> {
    pub fn new(store: &'a dyn Store, kek: &'a Kek) -> Self {
        Self { store, kek }
    }

    fn kek(&self) -> &Kek {
        self.kek
    }

    /// Seals and stores a round's key, before the round itself is stored.
    pub async fn put(&self, round: Uuid, secret_der: &[u8]) -> Result<(), Error> {
        // A key sealed under a key-encryption key that does not open the database's keys would
        // open on none of the servers that do.
        self.check().await.map_err(|why| {
            tracing::error!("{why}");
            Error::Unready(format!("no round can be opened now: {why}"))
        })?;
        let sealed = self.kek().seal(round, secret_der)?;
        Ok(self.store.put_round_key(round, &sealed).await?)
    }

    /// The secret key of a round that is open in the database now. A closed round is a
    /// conflict; an open round whose key cannot be had is the server's problem (503), never
    /// "closed".
    pub async fn get(&self, round: Uuid) -> Result<Vec<u8>, Error> {
        let store = self.store;
        let Some(sealed) = store.round_key(round).await? else {
            return match store.round(round).await? {
                Some(r) if r.open => {
                    tracing::error!(round = %round, "an open round has no key in the database");
                    Err(Error::Unready(
                        "this round's key is missing from the database, so no token can be \
                         issued for it; close the round and open a new one"
                            .into(),
                    ))
                }
                Some(_) => Err(Error::Conflict("this round is closed".into())),
                None => Err(Error::not_found("round")),
            };
        };
        self.kek().open(round, &sealed).map_err(|e| {
            tracing::error!(round = %round, problem = ?e, "cannot open the round key");
            Error::Unready(format!("no token can be issued now: {WRONG_KEK}"))
        })
    }

    /// Deletes a round's key: a round that could not be stored, or one that closed (closing
    /// deletes it already, in its transaction).
    pub async fn destroy(&self, round: Uuid) -> Result<(), Error> {
        Ok(self.store.delete_round_key(round).await?)
    }

    /// Whether this server can open the keys in the database: `Err` names the problem, for
    /// `/readyz`.
    pub async fn check(&self) -> Result<(), String> {
        match self.store.any_round_key().await {
            Ok(None) => Ok(()),
            Ok(Some((round, sealed))) => self
                .kek()
                .open(round, &sealed)
                .map(|_| ())
                .map_err(|_| WRONG_KEK.to_owned()),
            Err(e) => Err(format!("the database did not answer: {e}")),
        }
    }
}

/// The file that held an open round's key before keys moved into the database.
fn legacy_round(path: &Path) -> Option<Uuid> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("round-")?
        .strip_suffix(".der")?
        .parse()
        .ok()
}

/// Overwrites a key file, then removes it.
fn shred(path: &Path) -> std::io::Result<()> {
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::write(path, vec![0u8; meta.len() as usize])?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Moves the key files of an earlier release into the database: each open round's key is
/// sealed and stored (unless the database has one already), then every key file is
/// overwritten and removed. Returns how many keys were imported.
pub async fn import_key_files(keys: &KeyStore<'_>, dir: &Path) -> Result<usize, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(format!(
                "cannot read the key directory {}: {e}",
                dir.display()
            ));
        }
    };
    let files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("round-") || n.starts_with(".round-"))
        })
        .collect();
    let mut imported = 0;
    for path in files {
        if let Some(round) = legacy_round(&path) {
            let open = matches!(keys.store.round(round).await, Ok(Some(r)) if r.open);
            let stored = keys
                .store
                .round_key(round)
                .await
                .map_err(|e| e.to_string())?;
            if open && stored.is_none() {
                let der = std::fs::read(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if kintsugi_anon::RoundKey::from_secret_der(&der).is_err() {
                    return Err(format!(
                        "{} is not a round key; move it away and start again (the round then \
                         issues no tokens: close it and open a new one)",
                        path.display()
                    ));
                }
                match keys.put(round, &der).await {
                    Ok(()) => imported += 1,
                    // Another server sharing the old key directory imported it first.
                    Err(Error::Conflict(_)) => {}
                    Err(e) => {
                        return Err(format!(
                            "cannot store the key of round {round} in the database: {e}"
                        ));
                    }
                }
            }
        }
        shred(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    }
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_under_its_kek_and_for_its_round() {
        let kek = Kek::random();
        let round = Uuid::from_u128(1);
        let sealed = kek.seal(round, b"secret key").unwrap();
        assert_eq!(kek.open(round, &sealed).unwrap(), b"secret key");
        assert!(!sealed.contains("secret"));
        assert_eq!(
            Kek::random().open(round, &sealed),
            Err(KeyError::WrongKek),
            "another KEK"
        );
        assert_eq!(
            kek.open(Uuid::from_u128(2), &sealed),
            Err(KeyError::WrongKek),
            "another round"
        );
        assert_eq!(kek.open(round, "%%%"), Err(KeyError::Damaged));
        let again = Kek::from_base64(&kek.to_base64()).unwrap();
        assert_eq!(again.open(round, &sealed).unwrap(), b"secret key");
    }

    #[test]
    fn a_kek_is_32_bytes_of_base64() {
        assert!(
            Kek::from_base64("c2hvcnQ=")
                .unwrap_err()
                .contains("this is 5 bytes")
        );
        assert!(Kek::from_base64("not base64!").is_err());
        assert!(format!("{:?}", Kek::random()) == "Kek(…)");
    }
}
