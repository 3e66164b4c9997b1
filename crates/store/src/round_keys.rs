//! Round keys, sealed: each open round's secret key, encrypted by the application under a
//! key-encryption key the database never holds (`kintsugi_app::keys`). Closing a round deletes
//! its key in the closing transaction (a trigger on `rounds`, migration 0024), on every write
//! path and for every server that shares the database. A part of [`crate::Store`].

use async_trait::async_trait;
use uuid::Uuid;

use crate::Result;

#[async_trait]
pub trait RoundKeyStore {
    /// Stores a round's sealed key, before the round itself is stored; a second key for the
    /// same round is a conflict.
    async fn put_round_key(&self, round_id: Uuid, sealed: &str) -> Result<()>;
    /// The sealed key of a round that is open now; none once it closed (or never opened).
    async fn round_key(&self, round_id: Uuid) -> Result<Option<String>>;
    /// Removes a key whose round could not be stored.
    async fn delete_round_key(&self, round_id: Uuid) -> Result<()>;
    /// One open round's sealed key, to check that this server's key-encryption key opens it.
    async fn any_round_key(&self) -> Result<Option<(Uuid, String)>>;
}
