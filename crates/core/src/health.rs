//! Team health checks: how often they run, and which teams a heat map may show.
//!
//! The heat map rule: a team with fewer than k answers is hidden, and so is the next-smallest
//! team under the same parent (more, until the hidden group holds at least k answers). If only
//! the small team were hidden, anyone with the parent's total (or the organisation's) could
//! subtract the shown siblings and read the small team off what is left.

use crate::Invalid;
use crate::anonymity::KThreshold;

/// Days between a team's health checks: an organisation setting, 7 to 90, default 14.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthEvery(u32);

impl HealthEvery {
    pub const MIN: i64 = 7;
    pub const MAX: i64 = 90;

    pub fn new(days: i64) -> Result<Self, Invalid> {
        if (Self::MIN..=Self::MAX).contains(&days) {
            Ok(Self(days as u32))
        } else {
            Err(Invalid::new(
                "health_every_days",
                format!("must be between {} and {} days", Self::MIN, Self::MAX),
            ))
        }
    }

    pub fn days(self) -> u32 {
        self.0
    }

    /// How long each check stays open: a week, or the whole cycle if that is shorter.
    pub fn open_for_days(self) -> u32 {
        self.0.min(7)
    }
}

impl Default for HealthEvery {
    fn default() -> Self {
        Self(14)
    }
}

/// Whether the organisation's next round of checks is due: none yet, or the last began at
/// least a cycle ago. Days are counted from the epoch, so "today" comes in from the caller.
pub fn round_due(last_opened_day: Option<i64>, today: i64, every: HealthEvery) -> bool {
    last_opened_day.is_none_or(|last| today - last >= i64::from(every.days()))
}

/// One team in one period, as the heat map rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamCount<T, P> {
    pub team: T,
    /// The parent team; teams without a parent are siblings of each other.
    pub parent: Option<P>,
    pub answered: u32,
}

/// For each team (in the order given), whether the heat map must hide it.
pub fn suppressed<T: Ord, P: Eq>(teams: &[TeamCount<T, P>], k: KThreshold) -> Vec<bool> {
    let k = k.get();
    let mut hidden = vec![false; teams.len()];
    let mut done = vec![false; teams.len()];
    for start in 0..teams.len() {
        if done[start] {
            continue;
        }
        // The siblings of `start`, smallest first (ties by team, so the choice is stable).
        let mut siblings: Vec<usize> = (0..teams.len())
            .filter(|&i| teams[i].parent == teams[start].parent)
            .collect();
        for &i in &siblings {
            done[i] = true;
        }
        siblings.sort_by(|&a, &b| {
            (teams[a].answered, &teams[a].team).cmp(&(teams[b].answered, &teams[b].team))
        });
        let small = siblings
            .iter()
            .take_while(|&&i| teams[i].answered < k)
            .count();
        if small == 0 {
            continue;
        }
        // Hide the small ones, then always one more, then more until the hidden group
        // holds at least k answers (or the whole parent is hidden).
        let mut total: u32 = 0;
        for (n, &i) in siblings.iter().enumerate() {
            if n > small && total >= k {
                break;
            }
            hidden[i] = true;
            total += teams[i].answered;
        }
    }
    hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: i64) -> KThreshold {
        KThreshold::new(n).unwrap()
    }

    #[test]
    fn cadence_bounds() {
        for (days, ok) in [
            (0, false),
            (6, false),
            (7, true),
            (14, true),
            (90, true),
            (91, false),
        ] {
            assert_eq!(HealthEvery::new(days).is_ok(), ok, "{days}");
        }
        assert_eq!(HealthEvery::default().days(), 14);
        assert_eq!(HealthEvery::new(7).unwrap().open_for_days(), 7);
        assert_eq!(HealthEvery::new(30).unwrap().open_for_days(), 7);
    }

    #[test]
    fn a_round_is_due_after_a_full_cycle() {
        let every = HealthEvery::default();
        for (last, today, due) in [
            (None, 100, true),
            (Some(100), 100, false),
            (Some(100), 113, false),
            (Some(100), 114, true),
            (Some(100), 200, true),
        ] {
            assert_eq!(round_due(last, today, every), due, "{last:?} {today}");
        }
    }

    /// (teams as (name, parent, answered), k, the names hidden)
    #[test]
    fn the_heat_map_hides_small_teams_with_their_next_smallest_sibling() {
        type Case = (
            &'static [(&'static str, Option<&'static str>, u32)],
            i64,
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            // Everyone at k or above: nothing hidden.
            (&[("a", Some("p"), 5), ("b", Some("p"), 9)], 5, &[]),
            // One small team: it and the next smallest in its parent go.
            (
                &[
                    ("a", Some("p"), 2),
                    ("b", Some("p"), 9),
                    ("c", Some("p"), 6),
                ],
                5,
                &["a", "c"],
            ),
            // The next smallest is chosen within the same parent only.
            (
                &[
                    ("a", Some("p"), 2),
                    ("b", Some("p"), 9),
                    ("x", Some("q"), 5),
                    ("y", Some("q"), 7),
                ],
                5,
                &["a", "b"],
            ),
            // Two small teams that together reach k still take one more with them: otherwise
            // the parent minus the shown teams is their sum, and each knows its own part.
            (
                &[
                    ("a", Some("p"), 2),
                    ("b", Some("p"), 3),
                    ("c", Some("p"), 8),
                    ("d", Some("p"), 9),
                ],
                5,
                &["a", "b", "c"],
            ),
            // Small teams that do not reach k between them take siblings until they do.
            (
                &[
                    ("a", Some("p"), 1),
                    ("b", Some("p"), 1),
                    ("c", Some("p"), 1),
                    ("d", Some("p"), 6),
                    ("e", Some("p"), 7),
                ],
                5,
                &["a", "b", "c", "d"],
            ),
            // A small team with no sibling is hidden alone (there is nothing to pair it with).
            (&[("a", Some("p"), 2), ("b", Some("q"), 9)], 5, &["a"]),
            // Top-level teams are siblings of each other.
            (
                &[("a", None, 0), ("b", None, 5), ("c", None, 12)],
                5,
                &["a", "b"],
            ),
            // Ties in size are broken by the team, so the result does not depend on order.
            (
                &[
                    ("b", Some("p"), 6),
                    ("a", Some("p"), 6),
                    ("s", Some("p"), 1),
                ],
                5,
                &["s", "a"],
            ),
            // A higher k hides more: here the whole parent.
            (
                &[
                    ("a", Some("p"), 5),
                    ("b", Some("p"), 9),
                    ("c", Some("p"), 12),
                ],
                10,
                &["a", "b", "c"],
            ),
        ];
        for (teams, k_value, expected) in cases {
            let input: Vec<TeamCount<&str, &str>> = teams
                .iter()
                .map(|(team, parent, answered)| TeamCount {
                    team: *team,
                    parent: *parent,
                    answered: *answered,
                })
                .collect();
            let hidden = suppressed(&input, k(*k_value));
            let mut got: Vec<&str> = input
                .iter()
                .zip(&hidden)
                .filter(|(_, h)| **h)
                .map(|(t, _)| t.team)
                .collect();
            let mut want = expected.to_vec();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{teams:?} k={k_value}");
            // Whatever is hidden in a parent holds at least k answers, or is all there is.
            for parent in input.iter().map(|t| t.parent) {
                let group: Vec<_> = input
                    .iter()
                    .zip(&hidden)
                    .filter(|(t, _)| t.parent == parent)
                    .collect();
                let hidden_sum: u32 = group
                    .iter()
                    .filter(|(_, h)| **h)
                    .map(|(t, _)| t.answered)
                    .sum();
                let all_hidden = group.iter().all(|(_, h)| **h);
                assert!(
                    hidden_sum == 0 || hidden_sum >= *k_value as u32 || all_hidden,
                    "{teams:?}"
                );
            }
        }
    }
}
