//! The storage interface. Every backend implements [`Store`]'s parts, one trait per
//! aggregate; nothing above this crate knows which database it talks to.
//! [`conformance::story`] is the one scripted story that every backend must pass.

pub mod conformance;
mod events;
mod health;
mod jobs;
mod lessons;
mod model;
mod organisations;
mod people;
mod repairs;
mod round_keys;
mod rounds;
mod webhooks;

pub use events::*;
pub use health::*;
pub use jobs::*;
pub use lessons::*;
pub use model::*;
pub use organisations::*;
pub use people::*;
pub use repairs::*;
pub use round_keys::*;
pub use rounds::*;
pub use webhooks::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row that the operation needs does not exist (or is not in this organisation).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A uniqueness rule was hit, for example a second person with the same email.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A domain rule refused the change (a guardrail); the message says what is missing.
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Internal(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything Kintsugi keeps: every aggregate's part at once. Each method is one
/// transaction: it happens whole or not at all.
///
/// Callers hold `&dyn Store` (or `Arc<dyn Store>`) and call any part's methods on it. A
/// backend implements the parts; the blanket impl below makes it a `Store`.
pub trait Store:
    OrganisationStore
    + PeopleStore
    + RepairStore
    + RoundStore
    + RoundKeyStore
    + LessonStore
    + WebhookStore
    + EventStore
    + HealthStore
    + JobStore
    + Send
    + Sync
    + 'static
{
}

impl<
    T: OrganisationStore
        + PeopleStore
        + RepairStore
        + RoundStore
        + RoundKeyStore
        + LessonStore
        + WebhookStore
        + EventStore
        + HealthStore
        + JobStore
        + Send
        + Sync
        + 'static,
> Store for T
{
}
