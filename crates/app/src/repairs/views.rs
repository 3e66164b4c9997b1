//! What a repair's rounds show, to whom: nothing while open; after close, only through
//! `kintsugi_core::anonymity` (nothing below k, except to a pair's insiders), and for the
//! accountable person of a pair, at most a coarse direction they were allowed to see.

use kintsugi_core::anonymity::{
    Audience, KThreshold, ListeningAnswer, ListeningResults, RatingResults, Shown,
    coarse_direction, group_mean, listening_results, rating_results,
};
use kintsugi_core::repair::{CauseCategory, Scope, Side};
use kintsugi_core::rounds::Shows;
use kintsugi_store::{Answer, Commitment, Round};
use rand::seq::SliceRandom;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::repairs::access::Access;
use crate::repairs::pulses;
use crate::repairs::reads::RoundsRead;
use crate::rounds::{PULSE_ITEMS, RoundKind};

/// A round as a page or the API shows it: while open, nothing about answers at all.
#[derive(Serialize, ToSchema)]
pub struct RoundView {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub kind: RoundKind,
    pub open: bool,
    /// Base64 DER of the round's public key.
    pub public_key: String,
    /// What members compare to know they answer the right round.
    pub fingerprint: String,
    pub closes_at: Option<String>,
    /// After close: the results, or null when fewer than k answered (nothing is shown then).
    #[schema(value_type = Option<Object>)]
    pub results: Option<ListeningResults>,
    /// The facilitator's view of the threads under comments (empty for everyone else: a
    /// thread is between the facilitator and the comment's anonymous author).
    pub replies: Vec<ReplyView>,
    /// After close of a genuineness round with at least k answers: the mean rating.
    #[schema(value_type = Option<Object>)]
    pub rating: Option<RatingResults>,
    /// After close of a causes round with at least k answers: how many agree and disagree.
    #[schema(value_type = Option<Object>)]
    pub agreement: Option<Agreement>,
    /// Person↔person repairs: the coarse direction the accountable person may see, with consent.
    pub direction: Option<String>,
    /// What a confirmation round asks about: "“statement”, due DATE".
    pub about: Option<String>,
    /// A closed pulse's mean per item: (what it asks, mean of 7).
    pub dimensions: Vec<(String, String)>,
    /// After close with fewer than k answers: "fewer than k answered; nothing is shown".
    pub suppressed: Option<String>,
    /// k, fixed when the round opened: results are shown when at least this many answer.
    /// A later change of the organisation's k does not move it.
    pub k: u32,
    /// After close: "2 keys were replaced; at most 2 answers may be from someone who answered
    /// twice". None when no key was replaced (and while open).
    pub replaced: Option<String>,
}

/// What a replacement key permits, said with the results: a member who lost their first key
/// got a second, and nobody can tell whether the first was used too.
pub fn replaced_note(replaced: u32) -> Option<String> {
    match replaced {
        0 => None,
        1 => Some(
            "1 key was replaced; at most 1 answer may be from someone who answered twice.".into(),
        ),
        n => Some(format!(
            "{n} keys were replaced; at most {n} answers may be from someone who answered twice."
        )),
    }
}

/// What the accountable person of a pair sees of a round the affected person answered.
const PAIR_NOTE: &str = "The affected person's answers are theirs and the facilitator's; a coarse direction is shown only if they choose to share it.";

/// Who is looking, as the results' rules need it.
struct Viewer {
    /// A person↔person repair: no group, so the pair's insiders see their own answers.
    pair: bool,
    audience: Audience,
    accountable_in_pair: bool,
    facilitator: bool,
    /// The affected person of a pair lets the accountable person see a coarse direction.
    consent: bool,
}

impl Viewer {
    fn of(access: &Access) -> Self {
        let pair = access.repair.scope == Scope::PersonPerson;
        let insider = access.is_facilitator() || access.side() == Some(Side::Affected);
        Self {
            pair,
            audience: if pair && insider {
                Audience::PairInsider
            } else {
                Audience::Group
            },
            accountable_in_pair: pair && access.side() == Some(Side::Accountable),
            facilitator: access.is_facilitator(),
            consent: access.repair.pair_consent,
        }
    }
}

/// What a closed round's answers show; nothing while it is open.
#[derive(Default)]
struct Results {
    listening: Option<ListeningResults>,
    rating: Option<RatingResults>,
    agreement: Option<Agreement>,
    dimensions: Vec<(String, String)>,
    suppressed: Option<String>,
}

pub fn views(access: &Access, rounds: &RoundsRead, commitments: &[Commitment]) -> Vec<RoundView> {
    let viewer = Viewer::of(access);
    rounds
        .list
        .iter()
        // A closed confirmation round lives on as its occurrence's status.
        .filter(|round| round.open || !round.kind.settles_occurrence())
        .map(|round| {
            let shown = if round.open {
                Results::default()
            } else {
                results(round.k, &viewer, round.kind, rounds.answers(round.id))
            };
            view(&viewer, round, shown, rounds, commitments)
        })
        .collect()
}

fn view(
    viewer: &Viewer,
    round: &Round,
    shown: Results,
    rounds: &RoundsRead,
    commitments: &[Commitment],
) -> RoundView {
    let hidden = viewer.accountable_in_pair;
    RoundView {
        id: round.id,
        kind: round.kind,
        open: round.open,
        public_key: round.public_key.clone(),
        fingerprint: round.fingerprint.clone(),
        closes_at: round.closes_at.map(crate::text::date),
        replies: if viewer.facilitator && !round.open {
            rounds
                .replies(round.id)
                .iter()
                .map(|r| ReplyView {
                    answer_id: r.answer_id.to_string(),
                    from_author: r.from_author,
                    body: r.body.clone(),
                })
                .collect()
        } else {
            vec![]
        },
        about: about(round, commitments),
        direction: match (&shown.rating, hidden) {
            (Some(r), true) if viewer.consent => Some(coarse_direction(r.mean_tenths).to_owned()),
            _ => None,
        },
        suppressed: match (hidden, round.open, round.kind) {
            (true, false, RoundKind::Causes) => Some(PAIR_NOTE.into()),
            (true, false, RoundKind::Genuineness) if !viewer.consent => Some(PAIR_NOTE.into()),
            _ => shown.suppressed,
        },
        dimensions: if hidden { vec![] } else { shown.dimensions },
        rating: if hidden { None } else { shown.rating },
        agreement: if hidden { None } else { shown.agreement },
        results: shown.listening,
        k: round.k.get(),
        replaced: (!round.open)
            .then(|| replaced_note(round.replaced_keys))
            .flatten(),
    }
}

/// What a confirmation round asks about: "“statement” by owner, due DATE".
fn about(round: &Round, commitments: &[Commitment]) -> Option<String> {
    let (c, due) = round.subject.as_deref()?.split_once(':')?;
    commitments
        .iter()
        .find(|x| x.id.to_string() == c)
        .map(|x| format!("“{}” by {}, due {due}", x.statement, x.owner_name))
}

/// A closed round's results, by what its kind shows.
fn results(k: KThreshold, viewer: &Viewer, kind: RoundKind, answers: &[Answer]) -> Results {
    match kind.shows() {
        Shows::CategoriesAndComments => listening(k, answers),
        Shows::Agreement => agreement(k, viewer.audience, answers),
        Shows::MeanRating | Shows::MeanPerItem => rating(k, viewer, kind, answers),
        Shows::Nothing | Shows::DimensionRollups => Results::default(),
    }
}

fn too_few(k: u32) -> Option<String> {
    Some(format!("Fewer than {k} answered; nothing is shown."))
}

fn listening(k: KThreshold, answers: &[Answer]) -> Results {
    let mut answers: Vec<ListeningAnswer> = answers
        .iter()
        .map(|a| ListeningAnswer {
            id: a.id.to_string(),
            category: a.category.clone(),
            comment: a.comment.clone(),
        })
        .collect();
    // Comments are shown shuffled and undated.
    answers.shuffle(&mut rand::rng());
    match listening_results(&answers, k, Audience::Group) {
        Shown::Shown(mut r) => {
            for (category, _) in &mut r.categories {
                if let Ok(c) = CauseCategory::parse(category) {
                    *category = c.label().to_owned();
                }
            }
            Results {
                listening: Some(r),
                ..Results::default()
            }
        }
        Shown::Suppressed { k } => Results {
            suppressed: too_few(k),
            ..Results::default()
        },
    }
}

fn agreement(k: KThreshold, audience: Audience, answers: &[Answer]) -> Results {
    let count = |v: &str| {
        answers
            .iter()
            .filter(|a| a.category.as_deref() == Some(v))
            .count()
    };
    let shown = kintsugi_core::anonymity::visible(answers.len(), k, audience, || Agreement {
        answered: answers.len(),
        agree: count("agree"),
        disagree: count("disagree"),
    });
    match shown {
        Shown::Shown(a) => Results {
            agreement: Some(a),
            ..Results::default()
        },
        Shown::Suppressed { k } => Results {
            suppressed: too_few(k),
            ..Results::default()
        },
    }
}

/// A genuineness round's mean rating, or a pulse's mean overall and per item.
fn rating(k: KThreshold, viewer: &Viewer, kind: RoundKind, answers: &[Answer]) -> Results {
    // The accountable person of a pair gets only a direction derived from this.
    let shown_to = if viewer.pair {
        Audience::PairInsider
    } else {
        viewer.audience
    };
    let mut dimensions = Vec::new();
    let overall = if kind == RoundKind::Pulse {
        // Each item, under the same rule as the whole: k counts people.
        for (key, label) in PULSE_ITEMS {
            if let Shown::Shown(m) =
                group_mean(&pulses::item_values(answers, Some(key)), k, shown_to)
            {
                dimensions.push((label.to_string(), m.mean()));
            }
        }
        group_mean(&pulses::item_values(answers, None), k, shown_to)
    } else {
        let ratings: Vec<i64> = answers.iter().filter_map(|a| a.rating).collect();
        rating_results(&ratings, k, shown_to)
    };
    match overall {
        Shown::Shown(r) => Results {
            rating: Some(r),
            dimensions,
            ..Results::default()
        },
        Shown::Suppressed { k } => Results {
            suppressed: too_few(k),
            dimensions,
            ..Results::default()
        },
    }
}

#[derive(Serialize, Clone, ToSchema)]
pub struct Agreement {
    pub answered: usize,
    pub agree: usize,
    pub disagree: usize,
}

#[derive(Serialize, ToSchema)]
pub struct ReplyView {
    pub answer_id: String,
    /// True when the comment's author wrote it.
    pub from_author: bool,
    pub body: String,
}
