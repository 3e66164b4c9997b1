//! The release auditor: plays someone who holds everything a team health period publishes
//! and asks how much they can work out about each hidden cell.
//!
//! Each cell (a team's answers in one period) has an unknown count `c` and an unknown sum `s`
//! of its answers' scores. What is known becomes linear constraints: every published
//! aggregate fixes `Σ c` and `Σ s` over its cells (a shown cell is an aggregate of one; the
//! organisation's total is an aggregate of all), each answer scores within a range
//! (`lo·c ≤ s ≤ hi·c`), and a cell holds no more answers than its team has members, when that
//! is known. Minimising and maximising `c` and `s` of a cell over those constraints, with
//! both integer, gives the range an observer cannot narrow further with arithmetic: a small
//! integer program, solved with `microlp`. A cell is *determined* when its count is pinned and,
//! if anyone answered, its sum too (so its mean is known).
//!
//! Only the tests use it (the `audit` feature), so the server carries no solver.

use microlp::{ComparisonOp, OptimizationDirection, Problem, SolveOutcome, Variable};

/// A published aggregate: the exact number of answers, and the exact sum of their scores,
/// over a set of cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub cells: Vec<usize>,
    pub count: u32,
    pub sum: i64,
}

/// What an observer knows about one period's cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Knowledge {
    /// Per cell, the most answers it can hold (its team's members), when that is known.
    pub caps: Vec<Option<u32>>,
    /// The lowest and highest score one answer can add to a cell's sum.
    pub answer_range: (i64, i64),
    pub published: Vec<Aggregate>,
}

/// The feasible range of one cell's count and sum (both ends included; `None`: unbounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feasible {
    pub count: (i64, Option<i64>),
    pub sum: (i64, Option<i64>),
}

impl Feasible {
    pub fn count_pinned(&self) -> bool {
        self.count.1 == Some(self.count.0)
    }

    pub fn sum_pinned(&self) -> bool {
        self.sum.1 == Some(self.sum.0)
    }

    /// How many answered is known and, if anyone did, what they said on average.
    pub fn determined(&self) -> bool {
        self.count_pinned() && (self.count.0 == 0 || self.sum_pinned())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuditError {
    #[error("the published aggregates contradict each other")]
    Infeasible,
    #[error("the solver failed: {0}")]
    Solver(String),
}

/// A cell's count without a known cap: far above any team, and well inside `i32`.
const NO_CAP: i32 = 100_000;

#[derive(Clone, Copy)]
enum Goal {
    Count,
    Sum,
}

/// The feasible ranges of `cell`'s count and sum, from everything in `known`.
pub fn feasible(known: &Knowledge, cell: usize) -> Result<Feasible, AuditError> {
    use OptimizationDirection::{Maximize, Minimize};
    let count = (
        bound(known, cell, Goal::Count, Minimize)?.unwrap_or(0),
        bound(known, cell, Goal::Count, Maximize)?,
    );
    let sum = (
        bound(known, cell, Goal::Sum, Minimize)?.unwrap_or(i64::MIN),
        bound(known, cell, Goal::Sum, Maximize)?,
    );
    Ok(Feasible { count, sum })
}

/// One end of one range: the optimum of a small integer program; `None` when unbounded.
fn bound(
    known: &Knowledge,
    cell: usize,
    goal: Goal,
    direction: OptimizationDirection,
) -> Result<Option<i64>, AuditError> {
    let (lo, hi) = known.answer_range;
    let mut problem = Problem::new(direction);
    let mut vars: Vec<(Variable, Variable)> = Vec::with_capacity(known.caps.len());
    for (i, cap) in known.caps.iter().enumerate() {
        let cap = cap.map_or(NO_CAP, |c| i32::try_from(c).unwrap_or(NO_CAP).min(NO_CAP));
        let (on_count, on_sum) = match (i == cell, goal) {
            (true, Goal::Count) => (1.0, 0.0),
            (true, Goal::Sum) => (0.0, 1.0),
            (false, _) => (0.0, 0.0),
        };
        let c = problem.add_integer_var(on_count, (0, cap));
        let reach = |v: i64| (v * i64::from(cap)).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
        let low = reach(lo).min(0) as i32;
        let high = reach(hi).max(0) as i32;
        let s = problem.add_integer_var(on_sum, (low, high));
        problem.add_constraint([(s, 1.0), (c, -(lo as f64))], ComparisonOp::Ge, 0.0);
        problem.add_constraint([(s, 1.0), (c, -(hi as f64))], ComparisonOp::Le, 0.0);
        vars.push((c, s));
    }
    for a in &known.published {
        let counts: Vec<(Variable, f64)> = a.cells.iter().map(|&i| (vars[i].0, 1.0)).collect();
        let sums: Vec<(Variable, f64)> = a.cells.iter().map(|&i| (vars[i].1, 1.0)).collect();
        problem.add_constraint(counts, ComparisonOp::Eq, f64::from(a.count));
        problem.add_constraint(sums, ComparisonOp::Eq, a.sum as f64);
    }
    let solution = match problem.solve() {
        Ok(SolveOutcome::Solution(s)) => s,
        Ok(SolveOutcome::Interrupted(_)) => return Err(AuditError::Solver("interrupted".into())),
        Err(microlp::Error::Infeasible) => return Err(AuditError::Infeasible),
        Err(microlp::Error::Unbounded) => return Ok(None),
        Err(e) => return Err(AuditError::Solver(format!("{e:?}"))),
    };
    let value = solution.objective().round() as i64;
    // A count at the stand-in cap is no bound at all.
    let unbounded =
        matches!(goal, Goal::Count) && known.caps[cell].is_none() && value >= i64::from(NO_CAP);
    Ok((!unbounded).then_some(value))
}

/// The aggregates a period releases under `release`, with each cell's true count and sum.
pub fn published(truth: &[(u32, i64)], release: &crate::health::Release) -> Vec<Aggregate> {
    let mut out: Vec<Aggregate> = truth
        .iter()
        .zip(&release.hidden)
        .enumerate()
        .filter(|(_, (_, hidden))| !**hidden)
        .map(|(i, ((count, sum), _))| Aggregate {
            cells: vec![i],
            count: *count,
            sum: *sum,
        })
        .collect();
    if release.total_shown {
        out.push(Aggregate {
            cells: (0..truth.len()).collect(),
            count: truth.iter().map(|(c, _)| c).sum(),
            sum: truth.iter().map(|(_, s)| s).sum(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KThreshold;
    use crate::health::{Release, TeamCount, release, suppressed};
    use proptest::prelude::*;

    const SCORE: (i64, i64) = (1, 7);

    fn knowledge(caps: Vec<Option<u32>>, published: Vec<Aggregate>) -> Knowledge {
        Knowledge {
            caps,
            answer_range: SCORE,
            published,
        }
    }

    #[test]
    fn a_lone_hidden_cell_is_read_off_the_total() {
        // Shown: b (9 answers, sum 50); total 12 answers, sum 60. Hidden: a.
        let known = knowledge(
            vec![None, None],
            vec![
                Aggregate {
                    cells: vec![1],
                    count: 9,
                    sum: 50,
                },
                Aggregate {
                    cells: vec![0, 1],
                    count: 12,
                    sum: 60,
                },
            ],
        );
        let a = feasible(&known, 0).unwrap();
        assert_eq!((a.count, a.sum), ((3, Some(3)), (10, Some(10))));
        assert!(a.determined());
    }

    #[test]
    fn two_hidden_cells_share_a_range() {
        let known = knowledge(
            vec![None, None, None],
            vec![
                Aggregate {
                    cells: vec![2],
                    count: 9,
                    sum: 50,
                },
                Aggregate {
                    cells: vec![0, 1, 2],
                    count: 17,
                    sum: 90,
                },
            ],
        );
        let a = feasible(&known, 0).unwrap();
        assert_eq!(a.count, (0, Some(8)));
        assert!(!a.count_pinned() && !a.determined());
        // With the members known and everyone answering, the counts are pinned; the sums
        // are not, unless every hidden answer was the same extreme.
        let full = knowledge(vec![Some(2), Some(6), None], known.published.clone());
        let a = feasible(&full, 0).unwrap();
        assert!(a.count_pinned());
        assert!(!a.determined(), "{a:?}");
        let extreme = knowledge(
            vec![Some(2), Some(6), None],
            vec![
                Aggregate {
                    cells: vec![2],
                    count: 9,
                    sum: 50,
                },
                Aggregate {
                    cells: vec![0, 1, 2],
                    count: 17,
                    sum: 50 + 8 * 7,
                },
            ],
        );
        assert!(feasible(&extreme, 0).unwrap().determined());
    }

    #[test]
    fn nothing_published_pins_nothing() {
        let a = feasible(&knowledge(vec![None], vec![]), 0).unwrap();
        assert_eq!(a.count, (0, None));
    }

    #[test]
    fn contradictions_are_reported() {
        let known = knowledge(
            vec![None],
            vec![Aggregate {
                cells: vec![0],
                count: 2,
                sum: 100,
            }],
        );
        assert_eq!(feasible(&known, 0), Err(AuditError::Infeasible));
    }

    /// A team in one period: its parent (a label: the parent need not have a check of its
    /// own), how many answered, its members, and the sum of its answers' scores.
    type Team = (Option<u8>, u32, u32, i64);

    /// A random organisation, a forest of up to 8 teams, and k. Every team has a member: a
    /// team without one gets no check.
    fn organisation() -> impl Strategy<Value = (Vec<Team>, i64)> {
        let team = (
            proptest::option::of(0u8..12),
            0u32..12,
            0u32..3,
            0.0f64..=1.0,
        )
            .prop_map(|(parent, answered, spare, at)| {
                let (lo, hi) = (SCORE.0 * i64::from(answered), SCORE.1 * i64::from(answered));
                let sum = lo + ((hi - lo) as f64 * at).round() as i64;
                (parent, answered, (answered + spare).max(1), sum)
            });
        let forest = proptest::collection::vec(team, 1..9).prop_map(|mut teams| {
            // A parent is an earlier team (a tree, which a check may or may not ask too), or
            // a team without a check of its own (a label past the last team).
            for (i, t) in teams.iter_mut().enumerate() {
                t.0 = t.0.filter(|p| usize::from(*p) < i || usize::from(*p) >= 8);
            }
            teams
        });
        (forest, 3i64..7)
    }

    fn cells(teams: &[Team]) -> Vec<TeamCount<usize, u8>> {
        teams
            .iter()
            .enumerate()
            .map(|(i, (parent, answered, _, _))| TeamCount {
                team: i,
                parent: *parent,
                answered: *answered,
            })
            .collect()
    }

    /// Whether every hidden answer was the same extreme score: then any group's mean is
    /// known, however large (the limit of every threshold rule, not of this one).
    fn homogeneous(teams: &[Team], r: &Release) -> bool {
        let (count, sum) = teams
            .iter()
            .zip(&r.hidden)
            .filter(|(_, h)| **h)
            .fold((0i64, 0i64), |(c, s), (t, _)| (c + i64::from(t.1), s + t.3));
        sum == count * SCORE.0 || sum == count * SCORE.1
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// No hidden cell below k has its count pinned, from the published cells and
        /// total alone; with every team's members known too, none is determined (count
        /// and mean), unless every hidden answer was the same extreme.
        #[test]
        fn no_hidden_cell_below_k_is_determined((teams, k) in organisation()) {
            let k = KThreshold::new(k).unwrap();
            let r = release(&cells(&teams), k);
            let truth: Vec<(u32, i64)> = teams.iter().map(|t| (t.1, t.3)).collect();
            let published = published(&truth, &r);
            let blind = knowledge(vec![None; teams.len()], published.clone());
            let members = knowledge(teams.iter().map(|t| Some(t.2)).collect(), published);
            for (i, t) in teams.iter().enumerate() {
                if !r.hidden[i] || t.1 >= k.get() {
                    continue;
                }
                let f = feasible(&blind, i).unwrap();
                prop_assert!(!f.count_pinned(), "team {i} of {teams:?}, k {k:?}: {f:?}");
                if !homogeneous(&teams, &r) {
                    let f = feasible(&members, i).unwrap();
                    prop_assert!(!f.determined(), "team {i} of {teams:?}, k {k:?}: {f:?}");
                }
            }
        }

        /// Two periods published with their own layouts are separate answers: the auditor
        /// over both at once finds nothing the periods did not show alone.
        #[test]
        fn periods_released_in_their_own_layouts_stay_closed(
            (first, k) in organisation(),
            moves in proptest::collection::vec(proptest::option::of(0u8..4), 8),
        ) {
            let k = KThreshold::new(k).unwrap();
            // The second period: the same answers, every team under a new parent.
            let second: Vec<Team> = first
                .iter()
                .enumerate()
                .map(|(i, t)| (moves[i], t.1, t.2, t.3))
                .collect();
            let (r1, r2) = (release(&cells(&first), k), release(&cells(&second), k));
            let truth: Vec<(u32, i64)> = first.iter().map(|t| (t.1, t.3)).collect();
            let n = first.len();
            let mut all = published(&truth, &r1);
            for a in published(&truth, &r2) {
                all.push(Aggregate { cells: a.cells.iter().map(|c| c + n).collect(), ..a });
            }
            let known = knowledge(vec![None; 2 * n], all);
            for (i, t) in first.iter().enumerate() {
                if r1.hidden[i] && t.1 < k.get() {
                    prop_assert!(!feasible(&known, i).unwrap().count_pinned());
                }
                if r2.hidden[i] && t.1 < k.get() {
                    prop_assert!(!feasible(&known, n + i).unwrap().count_pinned());
                }
            }
        }
    }

    /// The rule before issue 14 hid a lone child alone: the organisation's total gave it
    /// away. The auditor finds that, so the property above can fail.
    #[test]
    fn the_old_rule_leaks_a_lone_child() {
        // a (3 answers) is the only team under parent 0; c and d are at the top.
        let teams: [Team; 3] = [(Some(0), 3, 3, 14), (None, 9, 9, 50), (None, 8, 8, 40)];
        let k = KThreshold::DEFAULT;
        let old = Release {
            hidden: suppressed(&cells(&teams), k),
            total_shown: true,
        };
        let truth: Vec<(u32, i64)> = teams.iter().map(|t| (t.1, t.3)).collect();
        let known = knowledge(vec![None; 3], published(&truth, &old));
        assert!(feasible(&known, 0).unwrap().determined());
        let new = release(&cells(&teams), k);
        assert_eq!(new.hidden, [true, false, true]);
        let known = knowledge(vec![None; 3], published(&truth, &new));
        assert!(!feasible(&known, 0).unwrap().count_pinned(), "{new:?}");
    }

    /// The same period published again in a new layout (what finding 6 saw) gives a
    /// hidden cell away: why a period is released once, in the layout it closed in.
    #[test]
    fn republishing_a_period_in_a_new_layout_leaks() {
        // a (2) and b (10) under parent 0; c and d at the top. Then b moves to the top:
        // a is hidden with d, and b is shown, which the first layout hid with a.
        let before: [Team; 4] = [
            (Some(0), 2, 2, 9),
            (Some(0), 10, 10, 50),
            (None, 9, 9, 50),
            (None, 8, 8, 40),
        ];
        let mut after = before;
        after[1].0 = None;
        let k = KThreshold::DEFAULT;
        let truth: Vec<(u32, i64)> = before.iter().map(|t| (t.1, t.3)).collect();
        let each = |teams: &[Team]| published(&truth, &release(&cells(teams), k));
        let known = knowledge(vec![None; 4], each(&before));
        assert!(!feasible(&known, 0).unwrap().count_pinned());
        // Published twice over the same answers, once per layout: a is worked out.
        let mut both = each(&before);
        both.extend(each(&after));
        let known = knowledge(vec![None; 4], both);
        assert!(feasible(&known, 0).unwrap().determined());
    }
}
