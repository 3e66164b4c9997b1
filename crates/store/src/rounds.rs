//! Anonymous rounds in the storage interface: opening and closing them, the tokens issued
//! and spent, the answers and their reply threads. A part of [`crate::Store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Answer, Audit, Date, NewEvent, NewRound, Redeemed, Redemption, Reply, Result, Round};

/// Anonymous rounds.
#[async_trait]
pub trait RoundStore: Send + Sync {
    /// Opens a round; refused while another round of the same kind (and subject) is open in the
    /// repair. Stores `event` (`round.opened`) with its fan-out job in the same transaction.
    async fn open_round(&self, round: &NewRound, audit: &Audit, event: &NewEvent) -> Result<()>;
    async fn round(&self, id: Uuid) -> Result<Option<Round>>;
    async fn rounds_of(&self, repair_id: Uuid) -> Result<Vec<Round>>;
    /// Brings an open round's set close forward to `at` (never later than it was): how a close
    /// by hand gives every server a moment to seal the answers it holds.
    async fn close_soon(&self, id: Uuid, at: OffsetDateTime) -> Result<()>;
    /// Closes an open round; `Conflict` when it was already closed.
    async fn close_round(&self, id: Uuid, at: OffsetDateTime, audit: &Audit) -> Result<()>;
    /// Records that `person_id` received a token for `round_id`: once, and with `replacement`
    /// one more time (a member who lost their first key); `Conflict` beyond that.
    /// No time is kept: when someone fetched a token says nothing about their answer.
    async fn record_issue(&self, round_id: Uuid, person_id: Uuid, replacement: bool) -> Result<()>;
    /// Stores a batch of answers in one transaction, each with its token marked spent, in
    /// the order given (the caller shuffles). The answers are durable when this returns.
    async fn redeem(&self, batch: &[Redemption]) -> Result<Vec<Redeemed>>;
    /// Every spent mark of a round, sorted: the download that is the same for everyone, in
    /// which a member's client looks for its own.
    async fn sealed_marks(&self, round_id: Uuid) -> Result<Vec<String>>;
    /// Says that the server `id` is running and may hold answers waiting for their epoch.
    async fn mixer_seen(&self, id: &str, at: OffsetDateTime) -> Result<()>;
    /// The servers seen running since `since`.
    async fn mixers_since(&self, since: OffsetDateTime) -> Result<Vec<String>>;
    /// The answers of a round, in random id order.
    async fn answers(&self, round_id: Uuid) -> Result<Vec<Answer>>;
    /// Records the outcome of an anonymous confirmation round as unattributed confirmations:
    /// each its id and whether the occurrence happened.
    async fn record_confirmations(
        &self,
        commitment_id: Uuid,
        due: Date,
        confirmations: &[(Uuid, bool)],
        on: Date,
    ) -> Result<()>;
    /// The answer whose reply check is `check`, with its round: how an author's capability finds their answer.
    async fn answer_by_reply_check(&self, check: &str) -> Result<Option<(Uuid, Answer)>>;
    /// Adds a message, with its id, to an answer's thread.
    async fn add_reply(
        &self,
        id: Uuid,
        answer_id: Uuid,
        from_author: bool,
        body: &str,
    ) -> Result<()>;
    /// The threads of a round's answers, in order.
    async fn replies(&self, round_id: Uuid) -> Result<Vec<Reply>>;
}
