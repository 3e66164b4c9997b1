//! A repair: one trust breakdown being worked through, its stages and the guardrails
//! between them (DESIGN.md section 2). Every refusal says exactly what is missing.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::validation::{Invalid, one_line, text};

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($variant:ident = $key:literal / $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored and API name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $key),+ }
            }
            /// The name people read.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                match raw.trim() {
                    $($key => Ok($name::$variant),)+
                    _ => Err(Invalid::new($field, format!(
                        "must be one of: {}", [$($key),+].join(", ")
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

named_enum!(
    /// Where a repair stands. "No surprises" is not a stage: it runs through all of them.
    Stage, "stage" {
        Acknowledge = "acknowledge" / "Acknowledge",
        Understand = "understand" / "Understand",
        Act = "act" / "Act",
        Rebuild = "rebuild" / "Rebuild",
        Rebuilt = "rebuilt" / "Rebuilt",
        Closed = "closed" / "Closed without repair",
    }
);

named_enum!(
    /// The kind of breach, which shapes the coach's advice.
    Breach, "breach" {
        MissedDeadline = "missed_deadline" / "Missed deadline",
        BrokenPromise = "broken_promise" / "Broken promise",
        LackOfRespect = "lack_of_respect" / "Perceived lack of respect",
        Other = "other" / "Other",
    }
);

named_enum!(
    /// Between whom trust broke.
    Scope, "scope" {
        PersonPerson = "person_person" / "Person ↔ person",
        LeaderTeam = "leader_team" / "Leader ↔ team",
        TeamTeam = "team_team" / "Team ↔ team",
    }
);

named_enum!(
    /// The accountable side's act broke trust; the affected side's trust was hit.
    Side, "side" {
        Accountable = "accountable" / "Accountable side",
        Affected = "affected" / "Affected side",
    }
);

named_enum!(
    /// What the facilitator names as a real cause (DESIGN.md 2.2).
    CauseCategory, "category" {
        Communication = "communication" / "Communication breakdown",
        Expectations = "expectations" / "Unmet expectations",
        Culture = "culture" / "Cultural gaps",
        Personality = "personality" / "Personality differences",
        Process = "process" / "Process or structure",
        Other = "other" / "Other",
    }
);

named_enum!(
    /// What an entry in the update log is. `Missed` is posted by Kintsugi itself.
    UpdateKind, "kind" {
        Progress = "progress" / "Progress",
        Decision = "decision" / "Decision",
        CheckIn = "check_in" / "Check-in",
        Withheld = "withheld" / "Withheld for confidentiality",
        Missed = "missed" / "Missed commitment",
    }
);

impl Stage {
    /// The stage an advance leads to, if any.
    pub fn next(self) -> Option<Stage> {
        match self {
            Stage::Acknowledge => Some(Stage::Understand),
            Stage::Understand => Some(Stage::Act),
            Stage::Act => Some(Stage::Rebuild),
            Stage::Rebuild => Some(Stage::Rebuilt),
            Stage::Rebuilt | Stage::Closed => None,
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(self, Stage::Rebuilt | Stage::Closed)
    }
}

impl UpdateKind {
    /// The kinds a person may post; `Missed` is Kintsugi's own.
    pub const POSTABLE: &'static [UpdateKind] = &[
        UpdateKind::Progress,
        UpdateKind::Decision,
        UpdateKind::CheckIn,
        UpdateKind::Withheld,
    ];

    pub fn parse_postable(raw: &str) -> Result<UpdateKind, Invalid> {
        match UpdateKind::parse(raw)? {
            UpdateKind::Missed => Err(Invalid::new(
                "kind",
                "is posted by Kintsugi itself, not by people",
            )),
            kind => Ok(kind),
        }
    }
}

/// What the guardrails look at, read in the same transaction as the move.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub stage: Option<Stage>,
    pub acknowledgments: usize,
    pub closed_listening_rounds: usize,
    /// The facilitator recorded why no listening round was possible.
    pub no_round_reason: bool,
    pub causes: usize,
    /// Commitments with an owner and a due date or a cadence.
    pub scheduled_commitments: usize,
    /// The recovery gate (practice 5); `None` until pulses are measured.
    pub gate_passes: Option<bool>,
}

/// A requested move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// To the next stage, if its guardrail holds.
    Advance,
    /// End the repair without repair, from any open stage.
    Close { reason: String },
    /// Into *rebuilt* past the recovery gate; every participant sees the reason.
    Override { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub message: String,
}

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal {
        message: message.into(),
    }
}

/// Checks a move against the guardrails; the stage it leads to, or what is missing.
pub fn check(facts: &Facts, transition: &Transition) -> Result<Stage, Refusal> {
    let stage = facts.stage.unwrap_or(Stage::Acknowledge);
    if !stage.is_open() {
        return Err(refuse(format!(
            "this repair is finished ({}); it cannot move again",
            stage.label()
        )));
    }
    match transition {
        Transition::Close { reason } => {
            reason_text(reason).map_err(|e| {
                refuse(format!(
                    "closing without repair needs a reason: it {}",
                    e.message
                ))
            })?;
            Ok(Stage::Closed)
        }
        Transition::Override { reason } => {
            if stage != Stage::Rebuild {
                return Err(refuse(
                    "the recovery gate can be overridden only in the rebuild stage",
                ));
            }
            reason_text(reason).map_err(|e| {
                refuse(format!(
                    "overriding the recovery gate needs a written reason: it {}",
                    e.message
                ))
            })?;
            Ok(Stage::Rebuilt)
        }
        Transition::Advance => {
            let missing = missing_to_leave(stage, facts);
            if missing.is_empty() {
                stage.next().ok_or_else(|| refuse("there is no next stage"))
            } else {
                Err(refuse(format!(
                    "{} cannot end yet: {}",
                    stage.label(),
                    missing.join("; ")
                )))
            }
        }
    }
}

/// What still keeps a stage from ending, in words; empty when it may end.
pub fn missing_to_leave(stage: Stage, facts: &Facts) -> Vec<String> {
    let mut missing = Vec::new();
    match stage {
        Stage::Acknowledge if facts.acknowledgments == 0 => {
            missing.push("someone on the accountable side must post an acknowledgment".into())
        }
        Stage::Understand => {
            if facts.closed_listening_rounds == 0 && !facts.no_round_reason {
                missing.push(
                    "a listening round must close, or the facilitator must record why none was possible".into(),
                );
            }
            if facts.causes == 0 {
                missing.push("at least one cause must be named".into());
            }
        }
        Stage::Act if facts.scheduled_commitments == 0 => {
            missing.push("at least one commitment needs an owner and a due date or a cadence".into())
        }
        Stage::Rebuild => match facts.gate_passes {
            Some(true) => {}
            Some(false) => missing.push("the recovery gate has not passed".into()),
            None => missing.push(
                "the recovery gate is not measured yet (trust pulses); a facilitator may override it with a written reason".into(),
            ),
        },
        _ => {}
    }
    missing
}

/// A repair's short title, one line.
pub fn title(raw: &str) -> Result<String, Invalid> {
    one_line("title", raw, 120)
}

/// What happened, as everyone in the repair reads it.
pub fn summary(raw: &str) -> Result<String, Invalid> {
    text("summary", raw, 4000)
}

/// What someone will do, in one line: "Send the weekly plan every Monday".
pub fn commitment_statement(raw: &str) -> Result<String, Invalid> {
    one_line("statement", raw, 300)
}

pub fn reason_text(raw: &str) -> Result<String, Invalid> {
    text("reason", raw, 2000)
}

/// Days between promised updates: 1 to 90, default 7.
pub fn update_cadence(days: i64) -> Result<u32, Invalid> {
    if !(1..=90).contains(&days) {
        return Err(Invalid::new(
            "update_cadence_days",
            "must be between 1 and 90 days",
        ));
    }
    Ok(days as u32)
}
pub const DEFAULT_UPDATE_CADENCE: u32 = 7;

/// The promised update is late: "last update 9 days ago, promised every 7".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Overdue {
    pub days_since: i64,
    pub promised_every: u32,
}

impl Overdue {
    pub fn describe(&self) -> String {
        format!(
            "last update {} days ago, promised every {}",
            self.days_since, self.promised_every
        )
    }
}

/// Whether the update log is behind its promise. A repair that just opened counts from its opening.
pub fn overdue(
    last_update: Option<OffsetDateTime>,
    opened: OffsetDateTime,
    every_days: u32,
    now: OffsetDateTime,
) -> Option<Overdue> {
    let since = last_update.unwrap_or(opened);
    let days_since = (now - since).whole_days();
    (days_since > i64::from(every_days)).then_some(Overdue {
        days_since,
        promised_every: every_days,
    })
}

/// Checks the sides of a repair, after teams were expanded into their people.
/// `accountable`/`affected` are person ids; `*_teams` count the teams named on each side.
pub fn check_sides<T: PartialEq>(
    scope: Scope,
    accountable: &[T],
    accountable_teams: usize,
    affected: &[T],
    affected_teams: usize,
) -> Result<(), Invalid> {
    if accountable.is_empty() {
        return Err(Invalid::new(
            "accountable",
            "needs at least one person (a named team may have no members yet)",
        ));
    }
    if affected.is_empty() {
        return Err(Invalid::new(
            "affected",
            "needs at least one person (a named team may have no members yet)",
        ));
    }
    if accountable.iter().any(|p| affected.contains(p)) {
        return Err(Invalid::new(
            "affected",
            "must not include anyone on the accountable side",
        ));
    }
    match scope {
        Scope::PersonPerson
            if accountable.len() != 1
                || affected.len() != 1
                || accountable_teams + affected_teams > 0 =>
        {
            Err(Invalid::new(
                "scope",
                "person ↔ person needs exactly one person on each side and no teams",
            ))
        }
        Scope::TeamTeam if accountable_teams == 0 || affected_teams == 0 => Err(Invalid::new(
            "scope",
            "team ↔ team needs a team on each side",
        )),
        Scope::LeaderTeam if affected_teams == 0 && affected.len() < 2 => Err(Invalid::new(
            "scope",
            "leader ↔ team needs a team, or several people, on the affected side",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(stage: Stage) -> Facts {
        Facts {
            stage: Some(stage),
            ..Facts::default()
        }
    }

    #[test]
    fn guardrails() {
        let ack = Facts {
            acknowledgments: 1,
            ..facts(Stage::Acknowledge)
        };
        let understood = Facts {
            no_round_reason: true,
            causes: 1,
            ..facts(Stage::Understand)
        };
        let round = Facts {
            closed_listening_rounds: 1,
            causes: 2,
            ..facts(Stage::Understand)
        };
        let acting = Facts {
            scheduled_commitments: 1,
            ..facts(Stage::Act)
        };
        let gate = Facts {
            gate_passes: Some(true),
            ..facts(Stage::Rebuild)
        };
        let advance = Transition::Advance;
        let close = |r: &str| Transition::Close { reason: r.into() };
        let over = |r: &str| Transition::Override { reason: r.into() };
        let table: Vec<(Facts, Transition, Result<Stage, &str>)> = vec![
            (
                facts(Stage::Acknowledge),
                advance.clone(),
                Err(
                    "Acknowledge cannot end yet: someone on the accountable side must post an acknowledgment",
                ),
            ),
            (ack, advance.clone(), Ok(Stage::Understand)),
            (
                facts(Stage::Understand),
                advance.clone(),
                Err(
                    "Understand cannot end yet: a listening round must close, or the facilitator must record why none was possible; at least one cause must be named",
                ),
            ),
            (
                Facts {
                    causes: 1,
                    ..facts(Stage::Understand)
                },
                advance.clone(),
                Err(
                    "Understand cannot end yet: a listening round must close, or the facilitator must record why none was possible",
                ),
            ),
            (
                Facts {
                    no_round_reason: true,
                    ..facts(Stage::Understand)
                },
                advance.clone(),
                Err("Understand cannot end yet: at least one cause must be named"),
            ),
            (understood, advance.clone(), Ok(Stage::Act)),
            (round, advance.clone(), Ok(Stage::Act)),
            (
                facts(Stage::Act),
                advance.clone(),
                Err(
                    "Act cannot end yet: at least one commitment needs an owner and a due date or a cadence",
                ),
            ),
            (acting, advance.clone(), Ok(Stage::Rebuild)),
            (
                facts(Stage::Rebuild),
                advance.clone(),
                Err(
                    "Rebuild cannot end yet: the recovery gate is not measured yet (trust pulses); a facilitator may override it with a written reason",
                ),
            ),
            (
                Facts {
                    gate_passes: Some(false),
                    ..facts(Stage::Rebuild)
                },
                advance.clone(),
                Err("Rebuild cannot end yet: the recovery gate has not passed"),
            ),
            (gate, advance.clone(), Ok(Stage::Rebuilt)),
            (
                facts(Stage::Rebuild),
                over("Pulses cannot run in a team of two; both agree."),
                Ok(Stage::Rebuilt),
            ),
            (
                facts(Stage::Rebuild),
                over("  "),
                Err("overriding the recovery gate needs a written reason: it is required"),
            ),
            (
                facts(Stage::Act),
                over("because"),
                Err("the recovery gate can be overridden only in the rebuild stage"),
            ),
            (
                facts(Stage::Understand),
                close("The team was dissolved."),
                Ok(Stage::Closed),
            ),
            (
                facts(Stage::Acknowledge),
                close(""),
                Err("closing without repair needs a reason: it is required"),
            ),
            (
                facts(Stage::Rebuilt),
                advance.clone(),
                Err("this repair is finished (Rebuilt); it cannot move again"),
            ),
            (
                facts(Stage::Closed),
                close("again"),
                Err("this repair is finished (Closed without repair); it cannot move again"),
            ),
        ];
        for (facts, transition, want) in table {
            let got = check(&facts, &transition).map_err(|r| r.message);
            assert_eq!(got, want.map_err(str::to_owned), "{facts:?} {transition:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Ok(*s));
        }
        for b in Breach::ALL {
            assert_eq!(Breach::parse(b.as_str()), Ok(*b));
        }
        assert_eq!(
            Scope::parse("nope").unwrap_err().message,
            "must be one of: person_person, leader_team, team_team"
        );
        assert!(UpdateKind::parse_postable("missed").is_err());
        assert_eq!(
            UpdateKind::parse_postable("decision"),
            Ok(UpdateKind::Decision)
        );
    }

    #[test]
    fn sides() {
        use Scope::*;
        type Case = (
            Scope,
            &'static [u8],
            usize,
            &'static [u8],
            usize,
            Option<&'static str>,
        );
        let table: Vec<Case> = vec![
            (PersonPerson, &[1], 0, &[2], 0, None),
            (PersonPerson, &[1], 0, &[2, 3], 0, Some("scope")),
            (PersonPerson, &[1], 0, &[2], 1, Some("scope")),
            (PersonPerson, &[1], 0, &[1], 0, Some("affected")),
            (LeaderTeam, &[1], 0, &[2, 3], 0, None),
            (LeaderTeam, &[1], 0, &[2], 1, None),
            (LeaderTeam, &[1], 0, &[2], 0, Some("scope")),
            (TeamTeam, &[1, 2], 1, &[3], 1, None),
            (TeamTeam, &[1, 2], 0, &[3], 1, Some("scope")),
            (TeamTeam, &[], 1, &[3], 1, Some("accountable")),
            (TeamTeam, &[1], 1, &[], 1, Some("affected")),
        ];
        for (scope, acc, acc_teams, aff, aff_teams, want) in table {
            let got = check_sides(scope, acc, acc_teams, aff, aff_teams)
                .err()
                .map(|e| e.field);
            assert_eq!(got, want, "{scope:?} {acc:?} {aff:?}");
        }
    }

    #[test]
    fn overdue_updates() {
        let t = |d: i64| OffsetDateTime::from_unix_timestamp(1_800_000_000 + d * 86_400).unwrap();
        assert_eq!(
            overdue(None, t(0), 7, t(7)),
            None,
            "on the day it is due, it is not late yet"
        );
        assert_eq!(
            overdue(None, t(0), 7, t(9)),
            Some(Overdue {
                days_since: 9,
                promised_every: 7
            })
        );
        assert_eq!(overdue(Some(t(5)), t(0), 7, t(9)), None);
        assert_eq!(
            overdue(Some(t(0)), t(0), 7, t(9)).unwrap().describe(),
            "last update 9 days ago, promised every 7"
        );
        assert!(
            update_cadence(0).is_err() && update_cadence(91).is_err() && update_cadence(7).is_ok()
        );
    }
}
