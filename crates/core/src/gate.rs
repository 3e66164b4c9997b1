//! The recovery gate (DESIGN.md 2.5): nobody declares trust restored; the affected side's
//! own pulses, the commitments they confirmed and the time that has passed decide it.

use serde::Serialize;

use crate::commitments::FollowThrough;
use crate::validation::Invalid;

/// An organisation's gate settings, with sane bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GateSettings {
    /// R: consecutive pulses at or above the target.
    pub pulses_required: u32,
    /// The target is at most this (tenths: 55 is 5.5 of 7)...
    pub target_cap_tenths: u32,
    /// ...and otherwise the baseline plus this minimum detectable change (tenths).
    pub min_change_tenths: u32,
    pub follow_through_percent: u8,
    pub min_weeks: u32,
    /// Added to `min_weeks` when the coach noted deception: words alone do not restore trust then.
    pub deception_extra_weeks: u32,
}

impl Default for GateSettings {
    fn default() -> Self {
        Self {
            pulses_required: 3,
            target_cap_tenths: 55,
            min_change_tenths: 5,
            follow_through_percent: 90,
            min_weeks: 6,
            deception_extra_weeks: 6,
        }
    }
}

impl GateSettings {
    /// Checks every bound; the first problem names its field.
    pub fn check(self) -> Result<Self, Invalid> {
        let bad = |field: &'static str, msg: &str| Err(Invalid::new(field, msg.to_owned()));
        if !(1..=12).contains(&self.pulses_required) {
            return bad("pulses_required", "must be between 1 and 12");
        }
        if !(40..=70).contains(&self.target_cap_tenths) {
            return bad("target_cap", "must be between 4.0 and 7.0");
        }
        if !(1..=20).contains(&self.min_change_tenths) {
            return bad("min_change", "must be between 0.1 and 2.0");
        }
        if !(50..=100).contains(&self.follow_through_percent) {
            return bad("follow_through_percent", "must be between 50 and 100");
        }
        if !(1..=52).contains(&self.min_weeks) {
            return bad("min_weeks", "must be between 1 and 52");
        }
        if self.deception_extra_weeks > 52 {
            return bad("deception_extra_weeks", "must be at most 52");
        }
        Ok(self)
    }
}

/// What the gate looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateInput {
    /// Each closed pulse's mean in tenths, oldest first; `None` when it was suppressed
    /// (fewer than k answered), which can never count as at target.
    pub pulses: Vec<Option<u32>>,
    pub follow_through: FollowThrough,
    /// Whole days since the repair entered *rebuild*.
    pub days_in_rebuild: i64,
    pub deception: bool,
}

/// One line of the checklist every participant sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub met: bool,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateReport {
    pub passes: bool,
    pub conditions: Vec<Condition>,
}

fn tenths(t: u32) -> String {
    format!("{}.{}", t / 10, t % 10)
}

/// Evaluates the gate. It passes only when every condition is met.
pub fn evaluate(settings: &GateSettings, input: &GateInput) -> GateReport {
    // The baseline is the first pulse; the target is the baseline plus the minimum
    // detectable change, or the cap, whichever is lower.
    let target = match input.pulses.first().copied().flatten() {
        Some(baseline) => (baseline + settings.min_change_tenths).min(settings.target_cap_tenths),
        None => settings.target_cap_tenths,
    };
    let run = input
        .pulses
        .iter()
        .rev()
        .take_while(|p| p.is_some_and(|m| m >= target))
        .count() as u32;
    let pulses = Condition {
        met: run >= settings.pulses_required,
        text: format!(
            "{} of {} pulses in a row at target ({} of 7)",
            run.min(settings.pulses_required),
            settings.pulses_required,
            tenths(target)
        ),
    };
    let follow = match input.follow_through.rate() {
        Some(rate) => Condition {
            met: rate >= settings.follow_through_percent,
            text: format!(
                "follow-through {rate}% of {}%",
                settings.follow_through_percent
            ),
        },
        None => Condition {
            met: false,
            text: format!(
                "follow-through: no commitment due yet ({}% needed)",
                settings.follow_through_percent
            ),
        },
    };
    let weeks_required = settings.min_weeks
        + if input.deception {
            settings.deception_extra_weeks
        } else {
            0
        };
    let weeks = (input.days_in_rebuild.max(0) / 7) as u32;
    let time = Condition {
        met: input.days_in_rebuild >= i64::from(weeks_required) * 7,
        text: format!(
            "{} of {weeks_required} weeks{}",
            weeks.min(weeks_required),
            if input.deception {
                " (longer, because deception was involved)"
            } else {
                ""
            }
        ),
    };
    let conditions = vec![pulses, follow, time];
    GateReport {
        passes: conditions.iter().all(|c| c.met),
        conditions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ft(due: u32, kept: u32) -> FollowThrough {
        FollowThrough {
            due,
            kept,
            on_time: kept,
            longest_run: kept,
            current_run: kept,
        }
    }

    fn input(
        pulses: &[Option<u32>],
        follow: FollowThrough,
        days: i64,
        deception: bool,
    ) -> GateInput {
        GateInput {
            pulses: pulses.to_vec(),
            follow_through: follow,
            days_in_rebuild: days,
            deception,
        }
    }

    #[test]
    fn the_gate() {
        let s = GateSettings::default();
        let table: Vec<(GateInput, bool, [&str; 3])> = vec![
            (
                input(
                    &[Some(40), Some(46), Some(47), Some(50)],
                    ft(10, 10),
                    43,
                    false,
                ),
                true,
                [
                    "3 of 3 pulses in a row at target (4.5 of 7)",
                    "follow-through 100% of 90%",
                    "6 of 6 weeks",
                ],
            ),
            (
                input(
                    &[Some(40), Some(46), Some(44), Some(50)],
                    ft(10, 10),
                    43,
                    false,
                ),
                false,
                [
                    "1 of 3 pulses in a row at target (4.5 of 7)",
                    "follow-through 100% of 90%",
                    "6 of 6 weeks",
                ],
            ),
            (
                input(
                    &[Some(52), Some(56), Some(55), Some(60)],
                    ft(10, 9),
                    50,
                    false,
                ),
                true,
                [
                    "3 of 3 pulses in a row at target (5.5 of 7)",
                    "follow-through 90% of 90%",
                    "6 of 6 weeks",
                ],
            ),
            (
                input(
                    &[Some(40), Some(50), None, Some(50), Some(50)],
                    ft(7, 6),
                    35,
                    false,
                ),
                false,
                [
                    "2 of 3 pulses in a row at target (4.5 of 7)",
                    "follow-through 85% of 90%",
                    "5 of 6 weeks",
                ],
            ),
            (
                input(&[None, Some(60), Some(60), Some(60)], ft(0, 0), 90, false),
                false,
                [
                    "3 of 3 pulses in a row at target (5.5 of 7)",
                    "follow-through: no commitment due yet (90% needed)",
                    "6 of 6 weeks",
                ],
            ),
            (
                input(
                    &[Some(40), Some(50), Some(50), Some(50)],
                    ft(4, 4),
                    60,
                    true,
                ),
                false,
                [
                    "3 of 3 pulses in a row at target (4.5 of 7)",
                    "follow-through 100% of 90%",
                    "8 of 12 weeks (longer, because deception was involved)",
                ],
            ),
            (
                input(&[], ft(1, 1), 0, false),
                false,
                [
                    "0 of 3 pulses in a row at target (5.5 of 7)",
                    "follow-through 100% of 90%",
                    "0 of 6 weeks",
                ],
            ),
        ];
        for (i, (inp, passes, texts)) in table.into_iter().enumerate() {
            let report = evaluate(&s, &inp);
            assert_eq!(report.passes, passes, "case {i}");
            let got: Vec<&str> = report.conditions.iter().map(|c| c.text.as_str()).collect();
            assert_eq!(got, texts, "case {i}");
        }
    }

    #[test]
    fn settings_bounds() {
        assert!(GateSettings::default().check().is_ok());
        for (s, field) in [
            (
                GateSettings {
                    pulses_required: 0,
                    ..Default::default()
                },
                "pulses_required",
            ),
            (
                GateSettings {
                    target_cap_tenths: 71,
                    ..Default::default()
                },
                "target_cap",
            ),
            (
                GateSettings {
                    follow_through_percent: 40,
                    ..Default::default()
                },
                "follow_through_percent",
            ),
            (
                GateSettings {
                    min_weeks: 0,
                    ..Default::default()
                },
                "min_weeks",
            ),
        ] {
            assert_eq!(s.check().unwrap_err().field, field);
        }
    }
}
