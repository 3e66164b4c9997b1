//! The answers a server holds until their epoch's seal (the loop that seals them, and what
//! needs the context, is `crate::rounds::mixer`). A base module: `Ctx` holds one.
//!
//! The mixer: answers are not written as they arrive. Each server holds the answers it
//! accepted in memory, per round, and seals them at the end of an epoch of random length,
//! in one transaction, in random order, once a round has at least its minimum batch (by
//! default its k). A round's close seals whatever is left. So the database, its files and its
//! replication stream show batches, never one answer's arrival.
//!
//! The contract with a member's client (docs/privacy.md): an accepted answer is *waiting*,
//! held by this server (its id in the reply); it is *sealed* once its mark is in the round's
//! marks download. A server that stops loses what it held, and the client, seeing that server
//! gone from the list of running ones, sends the answer again. Nothing is sealed at shutdown:
//! otherwise a restart right after someone answered would seal a batch of one.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kintsugi_store::{Redeemed, Redemption, Round, Store};
use rand::Rng;
use rand::seq::SliceRandom;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::Error;

/// How often the mixer looks at the rounds it holds answers for (not an epoch).
pub const TICK: Duration = Duration::from_secs(1);
/// A round closing within this is sealed at every tick, so its close finds nothing waiting.
pub const CLOSE_MARGIN: time::Duration = time::Duration::seconds(5);

/// Answers waiting for their epoch, on this server. Cheap to clone.
#[derive(Clone)]
pub struct Mixer(Arc<Inner>);

struct Inner {
    /// This server's id for as long as it runs: random, named in the waiting reply.
    id: String,
    waiting: Mutex<HashMap<Uuid, Waiting>>,
    /// Each round's sealed marks as last read whole, and when: whether an arriving answer is
    /// already sealed is looked up here, never by a query that names its mark (a statement
    /// log would then date each mark's arrival).
    sealed: Mutex<HashMap<Uuid, (std::time::Instant, HashSet<String>)>>,
    /// One seal at a time, so a round's answers are never split across two racing writes.
    sealing: tokio::sync::Mutex<()>,
}

struct Waiting {
    min_batch: usize,
    closes_at: Option<OffsetDateTime>,
    /// By mark: an answer sent again before its seal is held once.
    answers: HashMap<String, Redemption>,
}

impl Default for Mixer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mixer {
    pub fn new() -> Self {
        let id: [u8; 16] = rand::rng().random();
        Self(Arc::new(Inner {
            id: hex::encode(id),
            waiting: Mutex::new(HashMap::new()),
            sealed: Mutex::new(HashMap::new()),
            sealing: tokio::sync::Mutex::new(()),
        }))
    }

    /// This server's id, named in a waiting answer's reply.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Waiting>> {
        // The map stays consistent under a panic elsewhere: every change is one insert or take.
        self.0
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds an answer until its round's batch is sealed.
    pub fn hold(&self, round: &Round, min_batch: usize, answer: Redemption) {
        let mut waiting = self.waiting();
        let entry = waiting.entry(round.id).or_insert_with(|| Waiting {
            min_batch,
            closes_at: round.closes_at,
            answers: HashMap::new(),
        });
        entry.closes_at = round.closes_at;
        entry.answers.entry(answer.mark.clone()).or_insert(answer);
    }

    /// Whether `mark` is among the round's sealed marks, read whole (the same query for every
    /// answer) at most once a tick, and afresh after this server seals. A mark sealed by
    /// another server within the tick is missed here; its redeem then refuses it, so it is
    /// never counted twice.
    pub async fn is_sealed(
        &self,
        store: &dyn Store,
        round: Uuid,
        mark: &str,
    ) -> Result<bool, Error> {
        let fresh = |at: &std::time::Instant| at.elapsed() < TICK;
        if let Some((at, marks)) = self.sealed_marks().get(&round)
            && fresh(at)
        {
            return Ok(marks.contains(mark));
        }
        let marks: HashSet<String> = store.sealed_marks(round).await?.into_iter().collect();
        let found = marks.contains(mark);
        let mut cache = self.sealed_marks();
        cache.retain(|_, (at, _)| at.elapsed() < TICK * 60);
        cache.insert(round, (std::time::Instant::now(), marks));
        Ok(found)
    }

    fn sealed_marks(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Uuid, (std::time::Instant, HashSet<String>)>> {
        self.0.sealed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rounds this server holds answers for.
    fn rounds(&self) -> Vec<Uuid> {
        self.waiting().keys().copied().collect()
    }

    /// Takes the answers of the rounds `pick` chooses: all of them, less `carry(round)` chosen
    /// at random, which stay for a later batch.
    fn take(
        &self,
        pick: impl Fn(&Waiting) -> bool,
        carry: impl Fn(&Waiting) -> usize,
    ) -> Vec<Redemption> {
        let mut rng = rand::rng();
        let mut waiting = self.waiting();
        let mut out = Vec::new();
        for w in waiting.values_mut().filter(|w| pick(w)) {
            let keep = carry(w);
            let mut marks: Vec<String> = w.answers.keys().cloned().collect();
            marks.shuffle(&mut rng);
            out.extend(
                marks
                    .into_iter()
                    .skip(keep)
                    .filter_map(|m| w.answers.remove(&m)),
            );
        }
        waiting.retain(|_, w| !w.answers.is_empty());
        out
    }

    /// Puts a batch back after its write failed: nothing accepted is dropped for a database
    /// that was briefly away. A round whose entry was taken whole (it was closing) comes back
    /// with a minimum of one: the next tick's refresh finds it closing again.
    fn put_back(&self, batch: Vec<Redemption>) {
        let mut waiting = self.waiting();
        for answer in batch {
            let entry = waiting.entry(answer.round_id).or_insert_with(|| Waiting {
                min_batch: 1,
                closes_at: None,
                answers: HashMap::new(),
            });
            entry.answers.entry(answer.mark.clone()).or_insert(answer);
        }
    }

    /// Seals, in one transaction and in random order, what `take` takes.
    async fn seal(
        &self,
        store: &dyn Store,
        take: impl FnOnce(&Self) -> Vec<Redemption>,
    ) -> Result<(), Error> {
        let _one = self.0.sealing.lock().await;
        let mut batch = take(self);
        if batch.is_empty() {
            return Ok(());
        }
        batch.shuffle(&mut rand::rng());
        match store.redeem(&batch).await {
            Ok(results) => {
                let answers = results.iter().filter(|r| **r == Redeemed::Stored).count();
                // Whole batches only: never finer than the epoch.
                metrics::counter!("kintsugi_anon_batches_sealed_total").increment(1);
                metrics::counter!("kintsugi_anon_answers_sealed_total").increment(answers as u64);
                let mut cache = self.sealed_marks();
                for answer in &batch {
                    cache.remove(&answer.round_id);
                }
                Ok(())
            }
            Err(e) => {
                self.put_back(batch);
                Err(e.into())
            }
        }
    }

    /// The epoch's seal: every round with more than its minimum batch waiting, and every round
    /// about to close. Of the first, at least one and fewer than the minimum (chosen at random,
    /// never leaving the batch below its minimum) stay for a later batch. So a batch is never
    /// simply "whoever answered since the last seal", and the round's last batch, sealed at its
    /// close however small, always holds an answer from before the last seal as well.
    pub async fn seal_epoch(&self, store: &dyn Store, now: OffsetDateTime) -> Result<(), Error> {
        self.seal(store, |m| {
            m.take(
                |w| w.answers.len() > w.min_batch || closing(w, now),
                |w| {
                    if closing(w, now) {
                        return 0;
                    }
                    let (n, min) = (w.answers.len(), w.min_batch);
                    let most = (n - min).min(min.saturating_sub(1)).max(1);
                    rand::rng().random_range(1..=most)
                },
            )
        })
        .await
    }

    /// Seals one round's waiting answers, however few: its close is next.
    pub async fn flush(&self, store: &dyn Store, round: Uuid) -> Result<(), Error> {
        self.seal(store, |m| {
            let mut waiting = m.waiting();
            let Some(w) = waiting.remove(&round) else {
                return Vec::new();
            };
            w.answers.into_values().collect()
        })
        .await
    }

    /// Re-reads the rounds held here: one may have been set to close soon through another
    /// server, or closed without us. Every tick does this first, epoch or not.
    pub async fn refresh(&self, store: &dyn Store, now: OffsetDateTime) -> Result<(), Error> {
        for id in self.rounds() {
            let closes_at = match store.round(id).await? {
                Some(r) if r.open => r.closes_at,
                // Closed without us: what we hold can no longer be sealed; the redeem says so.
                _ => Some(now),
            };
            if let Some(w) = self.waiting().get_mut(&id) {
                w.closes_at = closes_at;
            }
        }
        Ok(())
    }

    /// Between epochs: seals the rounds about to close.
    pub async fn seal_closing(&self, store: &dyn Store, now: OffsetDateTime) -> Result<(), Error> {
        self.seal(store, |m| m.take(|w| closing(w, now), |_| 0))
            .await
    }
}

fn closing(w: &Waiting, now: OffsetDateTime) -> bool {
    w.closes_at.is_some_and(|t| t <= now + CLOSE_MARGIN)
}
