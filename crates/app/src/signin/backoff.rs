//! The login back-off: in memory per server, per email address and per client address.
//!
//! Each key has a small free allowance of failures; each failure beyond it makes the next
//! attempt wait, a second at first, doubling per failure up to a cap. A refused attempt checks no password and counts
//! nothing, so it does not extend the wait, and once the wait has passed the right password
//! logs in: a stranger can slow an account down but never lock its owner out. An attempt
//! counts as a failure from the moment it is let through (so a burst of parallel attempts
//! cannot all pass) until it succeeds; a success forgets the account's failures and takes
//! back its own count from the address. A key quiet for the cap beyond its wait is forgotten.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The first wait once the free allowance is used up; it doubles per failure.
const BASE: Duration = Duration::from_secs(1);
/// Per client address, this many times the free allowance of an email address.
const PER_CLIENT: u32 = 3;
/// Beyond this many keys, the forgotten ones are swept out.
const SWEEP_AT: usize = 10_000;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Email,
    Client,
}

struct Entry {
    failures: u32,
    last: Instant,
}

pub struct Backoff {
    free: u32,
    cap: Duration,
    entries: Mutex<HashMap<(Kind, String), Entry>>,
}

impl Backoff {
    pub fn new(free_failures: u32, cap: Duration) -> Self {
        Self {
            free: free_failures,
            cap: cap.max(BASE),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn allowance(&self, kind: Kind) -> u32 {
        match kind {
            Kind::Email => self.free,
            Kind::Client => self.free.saturating_mul(PER_CLIENT),
        }
    }

    /// The wait after `failures` failures of a key of this kind.
    fn delay(&self, kind: Kind, failures: u32) -> Duration {
        let over = failures.saturating_sub(self.allowance(kind));
        if over == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(over - 1).unwrap_or(u32::MAX);
        BASE.saturating_mul(factor).min(self.cap)
    }

    /// How long this entry still has to wait, or none when it may try; `forget` when it is
    /// old enough to drop.
    fn remaining(&self, kind: Kind, e: &Entry, now: Instant) -> (Duration, bool) {
        let delay = self.delay(kind, e.failures);
        let since = now.saturating_duration_since(e.last);
        (delay.saturating_sub(since), since >= delay + self.cap)
    }

    /// Lets an attempt through, counting it as a failure until [`Self::succeeded`]; or the
    /// whole seconds to wait (at least one).
    pub fn begin(&self, email: &str, client: &str, now: Instant) -> Result<(), u64> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= SWEEP_AT {
            entries.retain(|(kind, _), e| !self.remaining(*kind, e, now).1);
        }
        let keys = [(Kind::Email, email), (Kind::Client, client)];
        let mut wait = Duration::ZERO;
        for (kind, key) in keys {
            let k = (kind, key.to_owned());
            if let Some(e) = entries.get(&k) {
                let (left, forget) = self.remaining(kind, e, now);
                if forget {
                    entries.remove(&k);
                } else {
                    wait = wait.max(left);
                }
            }
        }
        if !wait.is_zero() {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(secs.max(1));
        }
        for (kind, key) in keys {
            let e = entries.entry((kind, key.to_owned())).or_insert(Entry {
                failures: 0,
                last: now,
            });
            e.failures = e.failures.saturating_add(1);
            e.last = now;
        }
        Ok(())
    }

    /// The attempt let through by [`Self::begin`] had the right password.
    pub fn succeeded(&self, email: &str, client: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(&(Kind::Email, email.to_owned()));
        let k = (Kind::Client, client.to_owned());
        if let Some(e) = entries.get_mut(&k) {
            e.failures = e.failures.saturating_sub(1);
            if e.failures == 0 {
                entries.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_beyond_the_allowance_wait_longer_each_time_up_to_the_cap() {
        let b = Backoff::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(b.begin("a", "x", t0), Ok(()));
        assert_eq!(b.begin("a", "x", t0), Ok(()));
        assert_eq!(b.begin("a", "x", t0), Ok(()), "still within the allowance");
        assert_eq!(b.begin("a", "x", t0), Err(1), "three failures: one second");
        assert_eq!(
            b.begin("a", "y", t0),
            Err(1),
            "the account waits from anywhere"
        );
        assert_eq!(b.begin("b", "y", t0), Ok(()), "another account does not");
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.begin("a", "x", t1), Ok(()));
        assert_eq!(b.begin("a", "x", t1), Err(2), "then two");
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(b.begin("a", "x", t2), Ok(()));
        assert_eq!(b.begin("a", "x", t2), Err(4));
        let mut t = t2;
        for _ in 0..10 {
            t += Duration::from_secs(10);
            assert_eq!(b.begin("a", "z", t), Ok(()));
        }
        assert_eq!(b.begin("a", "z", t), Err(10), "never beyond the cap");
        let t = t + Duration::from_secs(10);
        assert_eq!(b.begin("a", "z", t), Ok(()), "after the wait, an attempt");
        b.succeeded("a", "z");
        assert_eq!(
            b.begin("a", "w", t),
            Ok(()),
            "a success forgets the account"
        );
    }

    #[test]
    fn an_address_gets_three_times_the_allowance_across_accounts() {
        let b = Backoff::new(2, Duration::from_secs(60));
        let t = Instant::now();
        for i in 0..7 {
            assert_eq!(b.begin(&format!("p{i}"), "x", t), Ok(()));
        }
        assert_eq!(b.begin("p9", "x", t), Err(1));
        assert_eq!(
            b.begin("p9", "y", t),
            Ok(()),
            "another address is not slowed"
        );
    }

    #[test]
    fn a_quiet_key_is_forgotten() {
        let b = Backoff::new(1, Duration::from_secs(5));
        let t = Instant::now();
        b.begin("a", "x", t).unwrap();
        b.begin("a", "x", t).unwrap();
        b.begin("a", "x", t).unwrap_err();
        let later = t + Duration::from_secs(1 + 5);
        b.begin("a", "x", later).unwrap();
        assert_eq!(b.begin("a", "x", later), Ok(()), "counting from one again");
    }
}
