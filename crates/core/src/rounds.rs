//! The kinds of anonymous rounds: who answers each, what its result shows, and the rules an
//! anonymous answer must meet before it is stored.
//!
//! The answer rules are checked after the token verified and before anything is written, so
//! they see only what the client sent and, for a team health check, the round's instrument.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::anonymity;
use crate::instrument::{self, Instrument};
use crate::repair::{CauseCategory, Side};
use crate::validation::Invalid;

/// What an anonymous round asks. Stored and sent as its `as_str` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundKind {
    /// Everyone in the repair says what went wrong: a cause category, a comment, or both.
    Listening,
    /// The affected side rates how genuine the acknowledgment felt, 1 to 7.
    Genuineness,
    /// The affected side says whether the named causes capture what went wrong.
    Causes,
    /// The affected side says whether one occurrence of a commitment happened.
    Confirmation,
    /// The affected side's trust pulse during *rebuild*: every item of [`PULSE_ITEMS`], 1 to 7.
    Pulse,
    /// A team's members rate every item of the organisation's instrument.
    TeamHealth,
}

/// Who may answer a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerers {
    /// Every participant of the repair, on either side.
    EveryoneInRepair,
    /// The repair's affected side only.
    AffectedSide,
    /// The members of the team whose check it is; the round belongs to no repair.
    TeamMembers,
}

impl Answerers {
    /// Whether a participant of a repair on `side` may answer.
    pub fn admits(self, side: Side) -> bool {
        match self {
            Answerers::EveryoneInRepair => true,
            Answerers::AffectedSide => side == Side::Affected,
            Answerers::TeamMembers => false,
        }
    }
}

/// What a closed round's result shows, when at least k answered (or to a pair's insiders).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shows {
    /// How many chose each cause category, and the comments shuffled and undated.
    CategoriesAndComments,
    /// The mean rating.
    MeanRating,
    /// How many agree and how many disagree.
    Agreement,
    /// Nothing: the round settles its occurrence's confirmations when it closes.
    Nothing,
    /// The mean of each item, and of all items together.
    MeanPerItem,
    /// Exact rollups per dimension of the instrument.
    DimensionRollups,
}

impl RoundKind {
    pub const ALL: &'static [RoundKind] = &[
        RoundKind::Listening,
        RoundKind::Genuineness,
        RoundKind::Causes,
        RoundKind::Confirmation,
        RoundKind::Pulse,
        RoundKind::TeamHealth,
    ];

    /// The stored and API name; never reworded, rows in the database hold it.
    pub fn as_str(self) -> &'static str {
        match self {
            RoundKind::Listening => "listening",
            RoundKind::Genuineness => "genuineness",
            RoundKind::Causes => "causes",
            RoundKind::Confirmation => "confirmation",
            RoundKind::Pulse => "pulse",
            RoundKind::TeamHealth => "team_health",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| {
                Invalid::new(
                    "kind",
                    "must be one of: listening, genuineness, causes, confirmation, pulse, team_health",
                )
            })
    }

    /// The kinds a facilitator opens by hand; the others Kintsugi opens on its schedule.
    /// No kind means a listening round.
    pub fn parse_openable(raw: Option<&str>) -> Result<Self, Invalid> {
        match raw.map(str::trim) {
            None | Some("") | Some("listening") => Ok(RoundKind::Listening),
            Some("genuineness") => Ok(RoundKind::Genuineness),
            Some("causes") => Ok(RoundKind::Causes),
            Some(_) => Err(Invalid::new(
                "kind",
                "must be listening, genuineness or causes",
            )),
        }
    }

    pub fn answered_by(self) -> Answerers {
        match self {
            RoundKind::Listening => Answerers::EveryoneInRepair,
            RoundKind::Genuineness
            | RoundKind::Causes
            | RoundKind::Confirmation
            | RoundKind::Pulse => Answerers::AffectedSide,
            RoundKind::TeamHealth => Answerers::TeamMembers,
        }
    }

    pub fn shows(self) -> Shows {
        match self {
            RoundKind::Listening => Shows::CategoriesAndComments,
            RoundKind::Genuineness => Shows::MeanRating,
            RoundKind::Causes => Shows::Agreement,
            RoundKind::Confirmation => Shows::Nothing,
            RoundKind::Pulse => Shows::MeanPerItem,
            RoundKind::TeamHealth => Shows::DimensionRollups,
        }
    }

    /// A closed round of this kind lives on only as its occurrence's confirmations, so it
    /// is not listed among the repair's rounds once closed.
    pub fn settles_occurrence(self) -> bool {
        self == RoundKind::Confirmation
    }
}

impl fmt::Display for RoundKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pulse items, in our own words: (key, what it asks).
pub const PULSE_ITEMS: &[(&str, &str)] = &[
    (
        "ability",
        "They are able to do what this work needs from them.",
    ),
    ("benevolence", "They look out for what matters to me."),
    ("integrity", "They do what they say they will do."),
    (
        "follow_through",
        "Since the breach, they have followed through on what they promised.",
    ),
];

/// The longest comment an answer may carry, in characters.
pub const MAX_COMMENT_CHARS: usize = 4000;

/// The token half of an answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// Base64 of the prepared message (32-byte randomizer, then the message).
    pub message: String,
    pub signature: String,
}

/// An answer as a client sends it, before any check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerContent {
    pub category: Option<String>,
    pub comment: Option<String>,
    /// 1 to 7, in genuineness rounds only.
    pub rating: Option<i64>,
    /// Trust pulses and team health checks only: each item rated.
    pub items: Option<BTreeMap<String, i64>>,
}

/// The whole body of `POST /anon/rounds/{round}/answers`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    pub token: TokenBody,
    pub answer: AnswerContent,
    /// hex(SHA-256(reply capability)); lets only the author answer a reply.
    pub reply_check: Option<String>,
}

/// An answer that met its kind's rules: texts trimmed, empty ones gone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckedAnswer {
    pub category: Option<String>,
    pub comment: Option<String>,
    pub rating: Option<i64>,
    /// Pulses in key order; team health checks in the instrument's item order.
    pub items: Vec<(String, i64)>,
}

fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// Checks an anonymous answer against its round's kind. `instrument` is the team health
/// check's instrument; `None` means the built-in one. The first rule broken is the error.
pub fn check_answer(
    kind: RoundKind,
    answer: &AnswerContent,
    instrument: Option<&Instrument>,
) -> Result<CheckedAnswer, Invalid> {
    use RoundKind::*;
    let category = match present(answer.category.as_deref()) {
        // Causes and confirmations answer with their own words, checked below.
        Some(c) if matches!(kind, Causes | Confirmation) => Some(c.to_owned()),
        Some(c) => Some(CauseCategory::parse(c)?.as_str().to_owned()),
        None => None,
    };
    let comment = present(answer.comment.as_deref()).map(str::to_owned);
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(Invalid::new("comment", "must be at most 4000 characters"));
    }
    let rating = match (kind, answer.rating) {
        (Genuineness, Some(r)) => Some(anonymity::rating(r)?),
        (Genuineness, None) => {
            return Err(Invalid::new(
                "rating",
                "is required: how genuine did it feel, from 1 to 7?",
            ));
        }
        (_, Some(_)) => return Err(Invalid::new("rating", "belongs only to rating rounds")),
        (_, None) => None,
    };
    if kind == Causes && !matches!(category.as_deref(), Some("agree" | "disagree")) {
        return Err(Invalid::new("category", "must be agree or disagree"));
    }
    let items = if kind == TeamHealth {
        // Ratings only: a comment or a category could tell who wrote it in a small team.
        if category.is_some() || comment.is_some() {
            return Err(Invalid::new(
                "answer",
                "a team health check takes ratings only, no category or comment",
            ));
        }
        health_items(answer.items.as_ref(), instrument)?
    } else {
        pulse_items(kind, answer.items.as_ref())?
    };
    if kind == Confirmation && !matches!(category.as_deref(), Some("happened" | "not_happened")) {
        return Err(Invalid::new("category", "must be happened or not_happened"));
    }
    if matches!(kind, Genuineness | Pulse) && category.is_some() {
        return Err(Invalid::new("category", "belongs only to listening rounds"));
    }
    if category.is_none() && comment.is_none() && rating.is_none() && items.is_empty() {
        return Err(Invalid::new(
            "answer",
            "needs a category, a comment, or both",
        ));
    }
    Ok(CheckedAnswer {
        category,
        comment,
        rating,
        items,
    })
}

/// A team health check's items: every item of the instrument, on its scale, nothing else.
fn health_items(
    items: Option<&BTreeMap<String, i64>>,
    instrument: Option<&Instrument>,
) -> Result<Vec<(String, i64)>, Invalid> {
    let Some(items) = items else {
        return Err(Invalid::new(
            "items",
            "a team health check rates every item",
        ));
    };
    match instrument {
        Some(i) => i.check_answer(items),
        None => instrument::default_instrument().check_answer(items),
    }
}

/// A pulse's items: every item, each 1 to 7, and nothing else; no items in other kinds.
fn pulse_items(
    kind: RoundKind,
    items: Option<&BTreeMap<String, i64>>,
) -> Result<Vec<(String, i64)>, Invalid> {
    match (kind, items) {
        (RoundKind::Pulse, Some(items)) => {
            if items.len() != PULSE_ITEMS.len()
                || PULSE_ITEMS.iter().any(|(k, _)| !items.contains_key(*k))
            {
                return Err(Invalid::new(
                    "items",
                    "must rate ability, benevolence, integrity and follow_through",
                ));
            }
            items
                .iter()
                .map(|(k, &v)| {
                    anonymity::rating(v)
                        .map_err(|e| Invalid::new("items", format!("{k}: {}", e.message)))
                        .map(|v| (k.clone(), v))
                })
                .collect()
        }
        (RoundKind::Pulse, None) => Err(Invalid::new(
            "items",
            "a pulse rates every item from 1 to 7",
        )),
        (_, Some(_)) => Err(Invalid::new("items", "belong only to trust pulses")),
        (_, None) => Ok(vec![]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RoundKind::*;

    /// Builds answers in the tables below.
    trait With {
        fn category(self, c: &str) -> Self;
        fn comment(self, c: &str) -> Self;
        fn rating(self, r: i64) -> Self;
        fn items(self, items: &[(&str, i64)]) -> Self;
    }

    impl With for AnswerContent {
        fn category(self, c: &str) -> Self {
            Self {
                category: Some(c.into()),
                ..self
            }
        }
        fn comment(self, c: &str) -> Self {
            Self {
                comment: Some(c.into()),
                ..self
            }
        }
        fn rating(self, r: i64) -> Self {
            Self {
                rating: Some(r),
                ..self
            }
        }
        fn items(self, items: &[(&str, i64)]) -> Self {
            Self {
                items: Some(items.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
                ..self
            }
        }
    }

    fn answer() -> AnswerContent {
        AnswerContent::default()
    }

    fn checked(
        category: Option<&str>,
        comment: Option<&str>,
        rating: Option<i64>,
        items: &[(&str, i64)],
    ) -> CheckedAnswer {
        CheckedAnswer {
            category: category.map(Into::into),
            comment: comment.map(Into::into),
            rating,
            items: items.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    /// (kind, answer, the checked answer or the (field, message) refusing it)
    type Case<'a> = (
        RoundKind,
        AnswerContent,
        Result<CheckedAnswer, (&'a str, &'a str)>,
    );

    fn check_all(cases: Vec<Case>, instrument: Option<&Instrument>) {
        for (kind, input, want) in cases {
            let got = check_answer(kind, &input, instrument).map_err(|e| (e.field, e.message));
            let want = want.map_err(|(f, m)| (f, m.to_owned()));
            assert_eq!(got, want, "{kind} {input:?}");
        }
    }

    const PULSE: &[(&str, i64)] = &[
        ("ability", 5),
        ("benevolence", 4),
        ("integrity", 6),
        ("follow_through", 3),
    ];
    /// In key order, as a checked pulse keeps them.
    const PULSE_SORTED: &[(&str, i64)] = &[
        ("ability", 5),
        ("benevolence", 4),
        ("follow_through", 3),
        ("integrity", 6),
    ];
    const CAUSE_CATEGORIES: &str =
        "must be one of: communication, expectations, culture, personality, process, other";

    /// Every item of the built-in instrument rated `value`, in its item order.
    fn rated_items(value: i64) -> Vec<(String, i64)> {
        instrument::default_instrument()
            .items
            .iter()
            .map(|i| (i.id.clone(), value))
            .collect()
    }

    fn rated(value: i64) -> AnswerContent {
        AnswerContent {
            items: Some(rated_items(value).into_iter().collect()),
            ..answer()
        }
    }

    #[test]
    fn kinds_round_trip_as_text() {
        let names = [
            (Listening, "listening"),
            (Genuineness, "genuineness"),
            (Causes, "causes"),
            (Confirmation, "confirmation"),
            (Pulse, "pulse"),
            (TeamHealth, "team_health"),
        ];
        assert_eq!(RoundKind::ALL.len(), names.len());
        for (kind, name) in names {
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(RoundKind::parse(name), Ok(kind));
            assert_eq!(RoundKind::parse(&format!(" {name} ")), Ok(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<RoundKind>(&format!("\"{name}\"")).unwrap(),
                kind
            );
        }
        for kind in RoundKind::ALL {
            assert_eq!(RoundKind::parse(kind.as_str()), Ok(*kind));
        }
        for bad in [
            "",
            "Listening",
            "team-health",
            "teamhealth",
            "health",
            "rating",
        ] {
            let err = RoundKind::parse(bad).unwrap_err();
            assert_eq!(err.field, "kind", "{bad:?}");
            assert_eq!(
                err.message,
                "must be one of: listening, genuineness, causes, confirmation, pulse, team_health"
            );
        }
        assert!(serde_json::from_str::<RoundKind>("\"TeamHealth\"").is_err());
    }

    #[test]
    fn a_facilitator_opens_listening_genuineness_and_causes_rounds() {
        let cases: &[(Option<&str>, Result<RoundKind, ()>)] = &[
            (None, Ok(Listening)),
            (Some(""), Ok(Listening)),
            (Some("  "), Ok(Listening)),
            (Some("listening"), Ok(Listening)),
            (Some(" genuineness "), Ok(Genuineness)),
            (Some("causes"), Ok(Causes)),
            (Some("confirmation"), Err(())),
            (Some("pulse"), Err(())),
            (Some("team_health"), Err(())),
            (Some("Listening"), Err(())),
            (Some("anything"), Err(())),
        ];
        for (raw, want) in cases {
            let got = RoundKind::parse_openable(*raw);
            match want {
                Ok(kind) => assert_eq!(got, Ok(*kind), "{raw:?}"),
                Err(()) => assert_eq!(
                    got,
                    Err(Invalid::new(
                        "kind",
                        "must be listening, genuineness or causes"
                    )),
                    "{raw:?}"
                ),
            }
        }
    }

    #[test]
    fn who_answers_each_kind() {
        // (kind, answerers, admits an accountable participant, admits an affected one)
        let cases = [
            (Listening, Answerers::EveryoneInRepair, true, true),
            (Genuineness, Answerers::AffectedSide, false, true),
            (Causes, Answerers::AffectedSide, false, true),
            (Confirmation, Answerers::AffectedSide, false, true),
            (Pulse, Answerers::AffectedSide, false, true),
            (TeamHealth, Answerers::TeamMembers, false, false),
        ];
        assert_eq!(cases.len(), RoundKind::ALL.len());
        for (kind, answerers, accountable, affected) in cases {
            assert_eq!(kind.answered_by(), answerers, "{kind}");
            assert_eq!(answerers.admits(Side::Accountable), accountable, "{kind}");
            assert_eq!(answerers.admits(Side::Affected), affected, "{kind}");
        }
    }

    #[test]
    fn what_each_kind_shows() {
        // (kind, what its result shows, settles its occurrence at close)
        let cases = [
            (Listening, Shows::CategoriesAndComments, false),
            (Genuineness, Shows::MeanRating, false),
            (Causes, Shows::Agreement, false),
            (Confirmation, Shows::Nothing, true),
            (Pulse, Shows::MeanPerItem, false),
            (TeamHealth, Shows::DimensionRollups, false),
        ];
        assert_eq!(cases.len(), RoundKind::ALL.len());
        for (kind, shows, settles) in cases {
            assert_eq!(kind.shows(), shows, "{kind}");
            assert_eq!(kind.settles_occurrence(), settles, "{kind}");
        }
    }

    #[test]
    fn pulse_items_keep_their_keys() {
        let keys: Vec<&str> = PULSE_ITEMS.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            ["ability", "benevolence", "integrity", "follow_through"]
        );
        assert!(PULSE_ITEMS.iter().all(|(_, text)| text.ends_with('.')));
    }

    #[test]
    fn listening_answers() {
        check_all(
            vec![
                (
                    Listening,
                    answer().category("communication"),
                    Ok(checked(Some("communication"), None, None, &[])),
                ),
                (
                    Listening,
                    answer()
                        .category("  process ")
                        .comment("  Nobody told us \n"),
                    Ok(checked(Some("process"), Some("Nobody told us"), None, &[])),
                ),
                (
                    Listening,
                    answer().comment("Only a comment"),
                    Ok(checked(None, Some("Only a comment"), None, &[])),
                ),
                // Empty texts count as absent.
                (
                    Listening,
                    answer().category("   ").comment("Words"),
                    Ok(checked(None, Some("Words"), None, &[])),
                ),
                (
                    Listening,
                    answer().category("").comment(" \t "),
                    Err(("answer", "needs a category, a comment, or both")),
                ),
                (
                    Listening,
                    answer(),
                    Err(("answer", "needs a category, a comment, or both")),
                ),
                (
                    Listening,
                    answer().category("agree"),
                    Err(("category", CAUSE_CATEGORIES)),
                ),
                (
                    Listening,
                    answer().category("Communication breakdown"),
                    Err(("category", CAUSE_CATEGORIES)),
                ),
                (
                    Listening,
                    answer().comment("x").rating(4),
                    Err(("rating", "belongs only to rating rounds")),
                ),
                (
                    Listening,
                    answer().comment("x").items(PULSE),
                    Err(("items", "belong only to trust pulses")),
                ),
            ],
            None,
        );
    }

    #[test]
    fn comments_are_trimmed_and_at_most_4000_characters() {
        let at_most = "é".repeat(MAX_COMMENT_CHARS);
        let too_long = "x".repeat(MAX_COMMENT_CHARS + 1);
        let padded = format!("  {at_most}\n");
        let too_long_err = || Err(("comment", "must be at most 4000 characters"));
        check_all(
            vec![
                // Characters, not bytes: 4000 two-byte characters pass.
                (
                    Listening,
                    answer().comment(&padded),
                    Ok(checked(None, Some(&at_most), None, &[])),
                ),
                (Listening, answer().comment(&too_long), too_long_err()),
                (
                    Causes,
                    answer().category("agree").comment(&too_long),
                    too_long_err(),
                ),
                (
                    Genuineness,
                    answer().rating(4).comment(&too_long),
                    too_long_err(),
                ),
                (
                    Confirmation,
                    answer().category("happened").comment(&too_long),
                    too_long_err(),
                ),
                (
                    Pulse,
                    answer().items(PULSE).comment(&too_long),
                    too_long_err(),
                ),
                // The length is checked before a team health check refuses comments at all.
                (TeamHealth, rated(4).comment(&too_long), too_long_err()),
            ],
            None,
        );
    }

    #[test]
    fn genuineness_rounds_take_a_rating_from_1_to_7() {
        check_all(
            vec![
                (
                    Genuineness,
                    answer().rating(1),
                    Ok(checked(None, None, Some(1), &[])),
                ),
                (
                    Genuineness,
                    answer().rating(7).comment(" It felt real "),
                    Ok(checked(None, Some("It felt real"), Some(7), &[])),
                ),
                (
                    Genuineness,
                    answer().rating(0),
                    Err(("rating", "must be a whole number from 1 to 7")),
                ),
                (
                    Genuineness,
                    answer().rating(8),
                    Err(("rating", "must be a whole number from 1 to 7")),
                ),
                (
                    Genuineness,
                    answer().rating(i64::MIN),
                    Err(("rating", "must be a whole number from 1 to 7")),
                ),
                (
                    Genuineness,
                    answer().comment("no rating"),
                    Err((
                        "rating",
                        "is required: how genuine did it feel, from 1 to 7?",
                    )),
                ),
                (
                    Genuineness,
                    answer().rating(4).category("communication"),
                    Err(("category", "belongs only to listening rounds")),
                ),
                // A category that is no cause category is refused as such first.
                (
                    Genuineness,
                    answer().rating(4).category("agree"),
                    Err(("category", CAUSE_CATEGORIES)),
                ),
                (
                    Genuineness,
                    answer().rating(4).items(PULSE),
                    Err(("items", "belong only to trust pulses")),
                ),
                (
                    Causes,
                    answer().category("agree").rating(4),
                    Err(("rating", "belongs only to rating rounds")),
                ),
                (
                    Confirmation,
                    answer().category("happened").rating(4),
                    Err(("rating", "belongs only to rating rounds")),
                ),
                (
                    Pulse,
                    answer().items(PULSE).rating(4),
                    Err(("rating", "belongs only to rating rounds")),
                ),
                (
                    TeamHealth,
                    rated(4).rating(4),
                    Err(("rating", "belongs only to rating rounds")),
                ),
            ],
            None,
        );
    }

    #[test]
    fn causes_rounds_take_agree_or_disagree() {
        check_all(
            vec![
                (
                    Causes,
                    answer().category("agree"),
                    Ok(checked(Some("agree"), None, None, &[])),
                ),
                (
                    Causes,
                    answer().category(" disagree ").comment("Not quite"),
                    Ok(checked(Some("disagree"), Some("Not quite"), None, &[])),
                ),
                (
                    Causes,
                    answer().category("Agree"),
                    Err(("category", "must be agree or disagree")),
                ),
                (
                    Causes,
                    answer().category("communication"),
                    Err(("category", "must be agree or disagree")),
                ),
                (
                    Causes,
                    answer().comment("only words"),
                    Err(("category", "must be agree or disagree")),
                ),
                (
                    Causes,
                    answer(),
                    Err(("category", "must be agree or disagree")),
                ),
                (
                    Causes,
                    answer().category("agree").items(PULSE),
                    Err(("items", "belong only to trust pulses")),
                ),
            ],
            None,
        );
    }

    #[test]
    fn confirmation_rounds_take_happened_or_not_happened() {
        check_all(
            vec![
                (
                    Confirmation,
                    answer().category("happened"),
                    Ok(checked(Some("happened"), None, None, &[])),
                ),
                (
                    Confirmation,
                    answer().category(" not_happened ").comment("Late again"),
                    Ok(checked(Some("not_happened"), Some("Late again"), None, &[])),
                ),
                (
                    Confirmation,
                    answer().category("agree"),
                    Err(("category", "must be happened or not_happened")),
                ),
                (
                    Confirmation,
                    answer().comment("only words"),
                    Err(("category", "must be happened or not_happened")),
                ),
                (
                    Confirmation,
                    answer(),
                    Err(("category", "must be happened or not_happened")),
                ),
                // Items are refused before the category is looked at.
                (
                    Confirmation,
                    answer().category("maybe").items(PULSE),
                    Err(("items", "belong only to trust pulses")),
                ),
            ],
            None,
        );
    }

    #[test]
    fn pulses_rate_every_item_from_1_to_7() {
        let missing = &PULSE[..3];
        let extra = &[
            ("ability", 5),
            ("benevolence", 4),
            ("integrity", 6),
            ("follow_through", 3),
            ("mood", 4),
        ];
        let renamed = &[
            ("ability", 5),
            ("benevolence", 4),
            ("integrity", 6),
            ("followthrough", 3),
        ];
        let every = "must rate ability, benevolence, integrity and follow_through";
        check_all(
            vec![
                (
                    Pulse,
                    answer().items(PULSE),
                    Ok(checked(None, None, None, PULSE_SORTED)),
                ),
                (
                    Pulse,
                    answer().items(PULSE).comment(" Better "),
                    Ok(checked(None, Some("Better"), None, PULSE_SORTED)),
                ),
                (Pulse, answer().items(missing), Err(("items", every))),
                (Pulse, answer().items(extra), Err(("items", every))),
                (Pulse, answer().items(renamed), Err(("items", every))),
                (Pulse, answer().items(&[]), Err(("items", every))),
                (
                    Pulse,
                    answer().items(&[
                        ("ability", 5),
                        ("benevolence", 0),
                        ("integrity", 9),
                        ("follow_through", 3),
                    ]),
                    Err(("items", "benevolence: must be a whole number from 1 to 7")),
                ),
                // Out of range items are reported in key order.
                (
                    Pulse,
                    answer().items(&[
                        ("ability", 5),
                        ("benevolence", 4),
                        ("integrity", 9),
                        ("follow_through", 8),
                    ]),
                    Err((
                        "items",
                        "follow_through: must be a whole number from 1 to 7",
                    )),
                ),
                (
                    Pulse,
                    answer(),
                    Err(("items", "a pulse rates every item from 1 to 7")),
                ),
                (
                    Pulse,
                    answer().comment("no items"),
                    Err(("items", "a pulse rates every item from 1 to 7")),
                ),
                (
                    Pulse,
                    answer().items(PULSE).category("communication"),
                    Err(("category", "belongs only to listening rounds")),
                ),
                (
                    Pulse,
                    answer().items(PULSE).category("agree"),
                    Err(("category", CAUSE_CATEGORIES)),
                ),
                // The items rule comes before the category rule.
                (
                    Pulse,
                    answer().category("communication"),
                    Err(("items", "a pulse rates every item from 1 to 7")),
                ),
            ],
            None,
        );
    }

    #[test]
    fn team_health_checks_take_ratings_only_on_the_instrument() {
        let all_fours = rated_items(4);
        let all_fours: Vec<(&str, i64)> = all_fours.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let first = all_fours[0].0;
        let mut missing = rated(4);
        missing.items.as_mut().unwrap().remove(first);
        let mut extra = rated(4);
        extra.items.as_mut().unwrap().insert("mood".into(), 4);
        let mut out_of_range = rated(4);
        out_of_range.items.as_mut().unwrap().insert(first.into(), 8);
        let only = "a team health check takes ratings only, no category or comment";
        let missing_msg = format!("'{first}' is not answered; rate every item");
        let range_msg = format!("'{first}' must be from 1 to 7");
        check_all(
            vec![
                (
                    TeamHealth,
                    rated(4),
                    Ok(checked(None, None, None, &all_fours)),
                ),
                (TeamHealth, rated(4).comment("hi"), Err(("answer", only))),
                (
                    TeamHealth,
                    rated(4).category("communication"),
                    Err(("answer", only)),
                ),
                // Empty texts are absent, so they pass.
                (
                    TeamHealth,
                    rated(4).category(" ").comment(""),
                    Ok(checked(None, None, None, &all_fours)),
                ),
                // A category that is no cause category is refused as such first.
                (
                    TeamHealth,
                    rated(4).category("agree"),
                    Err(("category", CAUSE_CATEGORIES)),
                ),
                (
                    TeamHealth,
                    answer().comment("no items"),
                    Err(("answer", only)),
                ),
                (
                    TeamHealth,
                    answer(),
                    Err(("items", "a team health check rates every item")),
                ),
                (
                    TeamHealth,
                    answer().items(PULSE),
                    Err(("items", "'ability' is not an item of this check")),
                ),
                (
                    TeamHealth,
                    extra,
                    Err(("items", "'mood' is not an item of this check")),
                ),
                (TeamHealth, missing, Err(("items", &missing_msg))),
                (TeamHealth, out_of_range, Err(("items", &range_msg))),
            ],
            None,
        );
    }

    #[test]
    fn team_health_checks_use_the_instrument_given() {
        let small = Instrument::parse(
            r#"
id = "small"
name = "Small check"
[scale]
min = 1
max = 5
labels = ["No", "Rather not", "In between", "Rather yes", "Yes"]
[[item]]
id = "speak"
text = "I can say what worries me."
dimension = "safety"
[[item]]
id = "lead_fair"
text = "Our lead is fair."
dimension = "lead"
"#,
        )
        .unwrap();
        check_all(
            vec![
                // Kept in the instrument's item order, not the key order.
                (
                    TeamHealth,
                    answer().items(&[("speak", 5), ("lead_fair", 1)]),
                    Ok(checked(None, None, None, &[("speak", 5), ("lead_fair", 1)])),
                ),
                (
                    TeamHealth,
                    answer().items(&[("speak", 6), ("lead_fair", 1)]),
                    Err(("items", "'speak' must be from 1 to 5")),
                ),
                (
                    TeamHealth,
                    rated(4),
                    Err(("items", "'ask_for_help' is not an item of this check")),
                ),
                (
                    TeamHealth,
                    answer(),
                    Err(("items", "a team health check rates every item")),
                ),
            ],
            Some(&small),
        );
    }

    #[test]
    fn the_first_rule_broken_is_the_error() {
        let too_long = "x".repeat(MAX_COMMENT_CHARS + 1);
        check_all(
            vec![
                // Category, then comment, then rating, then the kind's own rules.
                (
                    Listening,
                    answer().category("nope").comment(&too_long).rating(9),
                    Err(("category", CAUSE_CATEGORIES)),
                ),
                (
                    Listening,
                    answer().comment(&too_long).rating(9),
                    Err(("comment", "must be at most 4000 characters")),
                ),
                (
                    Genuineness,
                    answer().rating(9).items(PULSE).category("communication"),
                    Err(("rating", "must be a whole number from 1 to 7")),
                ),
                (
                    Causes,
                    answer().category("nope").items(PULSE),
                    Err(("category", "must be agree or disagree")),
                ),
                (
                    TeamHealth,
                    answer().comment("hi").rating(3),
                    Err(("rating", "belongs only to rating rounds")),
                ),
                (
                    Listening,
                    answer().items(PULSE),
                    Err(("items", "belong only to trust pulses")),
                ),
            ],
            None,
        );
    }

    #[test]
    fn answer_bodies_refuse_unknown_fields() {
        let token = r#""token": {"message": "bQ==", "signature": "cw=="}"#;
        let body = |rest: &str| serde_json::from_str::<AnswerBody>(&format!("{{{token}, {rest}}}"));
        let parsed =
            body(r#""answer": {"category": "communication", "items": {"ability": 3}}"#).unwrap();
        assert_eq!(parsed.token.message, "bQ==");
        assert_eq!(parsed.token.signature, "cw==");
        assert_eq!(parsed.reply_check, None);
        assert_eq!(
            parsed.answer,
            answer().category("communication").items(&[("ability", 3)])
        );
        assert!(
            body(r#""answer": {}, "reply_check": "ab""#)
                .unwrap()
                .reply_check
                .is_some()
        );
        for bad in [
            r#""answer": {"mood": 1}"#,
            r#""answer": {}, "extra": 1"#,
            r#""answer": {"rating": 2.5}"#,
            r#""answer": {"items": {"ability": "3"}}"#,
            r#""reply_check": null"#,
        ] {
            assert!(body(bad).is_err(), "{bad}");
        }
        assert!(
            serde_json::from_str::<AnswerBody>(
                r#"{"token": {"message": "", "signature": "", "nonce": 1}, "answer": {}}"#
            )
            .is_err()
        );
    }
}
