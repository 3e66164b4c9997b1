//! Reaching people: which emails exist and which a person may turn off, how failed
//! deliveries are retried, and when round notices go out so that their timing says nothing.

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime};

/// The kinds of email Kintsugi sends. Each non-essential kind can be turned off, and its
/// emails carry a one-click unsubscribe link (RFC 8058).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// The sign-in link an admin sends. Essential: no unsubscribe.
    Invitation,
    /// A commitment occurrence of yours is due tomorrow.
    CommitmentDue,
    /// A commitment occurrence of yours was missed.
    CommitmentMissed,
    /// A repair you facilitate is behind on its promised updates.
    UpdateOverdue,
    /// An anonymous round or pulse you may answer opened.
    RoundOpened,
    /// An anonymous round or pulse you have not fetched a token for closes within a day.
    RoundClosing,
    /// Once a week: your commitments and your repairs.
    WeeklyDigest,
}

impl EmailKind {
    /// The kinds a person may turn off, in the order the preferences page lists them.
    pub const OPTIONAL: [EmailKind; 6] = [
        EmailKind::CommitmentDue,
        EmailKind::CommitmentMissed,
        EmailKind::UpdateOverdue,
        EmailKind::RoundOpened,
        EmailKind::RoundClosing,
        EmailKind::WeeklyDigest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invitation => "invitation",
            Self::CommitmentDue => "commitment_due",
            Self::CommitmentMissed => "commitment_missed",
            Self::UpdateOverdue => "update_overdue",
            Self::RoundOpened => "round_opened",
            Self::RoundClosing => "round_closing",
            Self::WeeklyDigest => "weekly_digest",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Invitation]
            .into_iter()
            .chain(Self::OPTIONAL)
            .find(|k| k.as_str() == s)
    }

    pub fn essential(self) -> bool {
        matches!(self, Self::Invitation)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Invitation => "Invitations to sign in",
            Self::CommitmentDue => "A commitment of mine is due tomorrow",
            Self::CommitmentMissed => "A commitment of mine was missed",
            Self::UpdateOverdue => "A repair I facilitate is behind on its updates",
            Self::RoundOpened => "An anonymous round or pulse opens",
            Self::RoundClosing => {
                "An anonymous round closes within a day and I have not taken part"
            }
            Self::WeeklyDigest => "A weekly digest of my commitments and repairs",
        }
    }
}

/// How failed jobs are retried: exponential backoff from `base`, never longer than `cap`,
/// at most `max_attempts` attempts in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::seconds(30),
            cap: Duration::hours(1),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// When to try again after attempt number `attempts` (1-based) failed at `now`; none
    /// when that was the last attempt.
    pub fn next_attempt(&self, attempts: u32, now: OffsetDateTime) -> Option<OffsetDateTime> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doublings = attempts.saturating_sub(1).min(30);
        let wait = self
            .base
            .checked_mul(1 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap);
        Some(now + wait)
    }
}

/// The next batch slot strictly after `at`: slots are every `slot` since the epoch, so all
/// notices that arise within one slot go out together, at a time set by the clock rather
/// than by when anyone fetched a token or answered.
pub fn batch_slot(at: OffsetDateTime, slot: Duration) -> OffsetDateTime {
    let slot_secs = slot.whole_seconds().max(1);
    let t = at.unix_timestamp();
    let next = (t.div_euclid(slot_secs) + 1) * slot_secs;
    OffsetDateTime::from_unix_timestamp(next).unwrap_or(at)
}

/// When the "closes within a day" notice for a round closing at `closes_at` goes out: the
/// batch slot after 24 hours before closing, or, for a round that closes sooner, after it opened.
pub fn closing_notice_at(
    opened_at: OffsetDateTime,
    closes_at: OffsetDateTime,
    slot: Duration,
) -> Option<OffsetDateTime> {
    let at = batch_slot((closes_at - Duration::days(1)).max(opened_at), slot);
    (at < closes_at).then_some(at)
}

/// The ISO week a digest belongs to, e.g. "2026-W48": one digest per person per week.
pub fn digest_week(today: Date) -> String {
    let (year, week, _) = today.to_iso_week_date();
    format!("{year}-W{week:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_then_stops() {
        let p = RetryPolicy {
            base: Duration::seconds(10),
            cap: Duration::seconds(60),
            max_attempts: 6,
        };
        for (attempts, wait) in [
            (1, Some(10)),
            (2, Some(20)),
            (3, Some(40)),
            (4, Some(60)),
            (5, Some(60)),
            (6, None),
            (7, None),
        ] {
            assert_eq!(
                p.next_attempt(attempts, t(1000)),
                wait.map(|w| t(1000 + w)),
                "after attempt {attempts}"
            );
        }
        let huge = RetryPolicy {
            max_attempts: u32::MAX,
            ..p
        };
        assert_eq!(huge.next_attempt(1000, t(0)), Some(t(60)));
    }

    #[test]
    fn batch_slots_hide_the_moment() {
        let hour = Duration::hours(1);
        for (at, slot) in [
            (0, 3600),
            (1, 3600),
            (3599, 3600),
            (3600, 7200),
            (7000, 7200),
        ] {
            assert_eq!(batch_slot(t(at), hour), t(slot), "at {at}");
        }
    }

    #[test]
    fn closing_notices() {
        let hour = Duration::hours(1);
        let day = 86_400;
        // Closes in three days: the notice goes at the slot after "one day left".
        assert_eq!(
            closing_notice_at(t(0), t(3 * day + 10), hour),
            Some(t(2 * day + 3600))
        );
        // Closes within a day of opening: the slot after it opened.
        assert_eq!(closing_notice_at(t(0), t(7200), hour), Some(t(3600)));
        // Closes before the next slot: no notice.
        assert_eq!(closing_notice_at(t(0), t(1800), hour), None);
    }

    #[test]
    fn kinds_round_trip_and_only_invitations_are_essential() {
        for k in EmailKind::OPTIONAL {
            assert_eq!(EmailKind::parse(k.as_str()), Some(k));
            assert!(!k.essential());
        }
        assert!(EmailKind::Invitation.essential());
        assert_eq!(EmailKind::parse("invitation"), Some(EmailKind::Invitation));
        assert_eq!(EmailKind::parse("spam"), None);
    }

    #[test]
    fn digest_weeks() {
        let d = |y, m, day| Date::from_calendar_date(y, m, day).unwrap();
        assert_eq!(digest_week(d(2026, time::Month::November, 27)), "2026-W48");
        assert_eq!(digest_week(d(2027, time::Month::January, 1)), "2026-W53");
    }
}
