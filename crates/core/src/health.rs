//! Team health checks: how often they run, and which teams a heat map may show.
//!
//! The heat map rule: a team with fewer than k answers is hidden, and so is the next-smallest
//! team under the same parent (more, until the hidden group holds at least k answers). If only
//! the small team were hidden, anyone with the parent's total (or the organisation's) could
//! subtract the shown siblings and read the small team off what is left. [`release`] adds
//! what the organisation's total needs on top (a lone child, a whole parent below k), and is
//! what a period publishes.

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

/// What one released period shows: each team's cell (in the order given), and the
/// organisation's total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub hidden: Vec<bool>,
    pub total_shown: bool,
}

/// The release rule for one period, complementary across everything a period publishes:
/// each team's cell and the organisation's total (no aggregate spans periods, and parents'
/// totals are not published). The organisation's total minus the shown cells is the hidden
/// cells' sum, so what is hidden must be at least two cells holding at least k answers
/// between them; a lone hidden group (a small team that is its parent's only child, or a
/// whole parent below k) would otherwise be read off by subtraction.
///
/// First [`suppressed`] within each parent; then, while the hidden cells are one alone or
/// hold fewer than k answers, the smallest shown cell of the organisation (ties by team)
/// joins them. When nothing is left to add, the organisation's total is hidden too.
pub fn release<T: Ord, P: Eq>(teams: &[TeamCount<T, P>], k: KThreshold) -> Release {
    let mut hidden = suppressed(teams, k);
    let safe = |hidden: &[bool]| {
        let cells = hidden.iter().filter(|h| **h).count();
        let answers: u32 = teams
            .iter()
            .zip(hidden)
            .filter(|(_, h)| **h)
            .map(|(t, _)| t.answered)
            .sum();
        cells == 0 || (cells >= 2 && answers >= k.get())
    };
    while !safe(&hidden) {
        let next = (0..teams.len()).filter(|&i| !hidden[i]).min_by(|&a, &b| {
            (teams[a].answered, &teams[a].team).cmp(&(teams[b].answered, &teams[b].team))
        });
        match next {
            Some(i) => hidden[i] = true,
            None => break,
        }
    }
    let total: u32 = teams.iter().map(|t| t.answered).sum();
    let total_shown = total >= k.get() && safe(&hidden);
    Release {
        hidden,
        total_shown,
    }
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

    /// (teams as (name, parent, answered), k, the names hidden, whether the total shows)
    #[test]
    fn a_release_leaves_no_lone_hidden_group() {
        type Case = (
            &'static [(&'static str, Option<&'static str>, u32)],
            i64,
            &'static [&'static str],
            bool,
        );
        let cases: &[Case] = &[
            (&[("a", Some("p"), 5), ("b", Some("p"), 9)], 5, &[], true),
            // A lone child below k takes the organisation's smallest shown team with it.
            (
                &[("a", Some("p"), 2), ("b", None, 9), ("c", None, 8)],
                5,
                &["a", "c"],
                true,
            ),
            // A whole parent below k: the same.
            (
                &[
                    ("a", Some("p"), 1),
                    ("b", Some("p"), 1),
                    ("c", Some("q"), 9),
                    ("d", Some("q"), 7),
                ],
                5,
                &["a", "b", "d"],
                true,
            ),
            // What the parents' rule hides already holds k in two cells: nothing more.
            (
                &[("a", Some("p"), 2), ("b", Some("p"), 6), ("c", None, 9)],
                5,
                &["a", "b"],
                true,
            ),
            // One team alone below k: the organisation is that team, hidden too.
            (&[("a", None, 3)], 5, &["a"], false),
            // Everyone small, and fewer than k in all.
            (
                &[("a", None, 1), ("b", Some("p"), 2)],
                5,
                &["a", "b"],
                false,
            ),
            // Everyone small, k between them: the total shows, no team does.
            (&[("a", None, 2), ("b", Some("p"), 4)], 5, &["a", "b"], true),
        ];
        for (teams, k_value, expected, total) in cases {
            let input: Vec<TeamCount<&str, &str>> = teams
                .iter()
                .map(|(team, parent, answered)| TeamCount {
                    team: *team,
                    parent: *parent,
                    answered: *answered,
                })
                .collect();
            let r = release(&input, k(*k_value));
            let got: Vec<&str> = input
                .iter()
                .zip(&r.hidden)
                .filter(|(_, h)| **h)
                .map(|(t, _)| t.team)
                .collect();
            assert_eq!(
                (got.as_slice(), r.total_shown),
                (*expected, *total),
                "{teams:?}"
            );
        }
    }
}
