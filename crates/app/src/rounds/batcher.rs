//! The batch writer: a single task that collects answers for a moment, shuffles them and
//! writes them in one transaction, so the order rows reach the disk says nothing about the
//! order answers arrived. Nobody is answered before their batch is durable.

use std::sync::Arc;
use std::time::Duration;

use kintsugi_store::{Redeemed, Redemption, Store};
use rand::seq::SliceRandom;
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;

type Job = (Redemption, oneshot::Sender<Result<Redeemed, Error>>);

/// Collects answers for a moment, shuffles them and writes them in one transaction, so the
/// order rows reach the disk says nothing about the order answers arrived.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::Sender<Job>,
}

impl Batcher {
    pub const MAX_BATCH: usize = 256;
    /// How long a batch waits for company once its first answer arrived.
    pub const WINDOW: Duration = Duration::from_millis(3);

    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                let until = tokio::time::Instant::now() + Self::WINDOW;
                while batch.len() < Self::MAX_BATCH {
                    match tokio::time::timeout_at(until, rx.recv()).await {
                        Ok(Some(job)) => batch.push(job),
                        _ => break,
                    }
                }
                batch.shuffle(&mut rand::rng());
                let items: Vec<Redemption> = batch.iter().map(|(r, _)| r.clone()).collect();
                match store.redeem(&items).await {
                    Ok(results) => {
                        for ((_, reply), result) in batch.into_iter().zip(results) {
                            let _ = reply.send(Ok(result));
                        }
                    }
                    Err(e) => {
                        let err = Error::from(e);
                        for (_, reply) in batch {
                            let _ = reply.send(Err(err.clone()));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Stores one answer; returns once its batch is durable.
    pub async fn submit(&self, redemption: Redemption) -> Result<Redeemed, Error> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((redemption, reply))
            .await
            .map_err(|_| Error::Unavailable)?;
        done.await.map_err(|_| Error::Unavailable)?
    }
}
