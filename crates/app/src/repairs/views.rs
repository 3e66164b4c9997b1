//! What a repair's rounds show, to whom: nothing while open; after close, only through
//! `kintsugi_core::anonymity` (nothing below k, except to a pair's insiders), and for the
//! accountable person of a pair, at most a coarse direction they were allowed to see.

use kintsugi_core::anonymity::{
    Audience, ListeningAnswer, ListeningResults, RatingResults, Shown, coarse_direction,
    group_mean, listening_results, rating_results,
};
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
}

pub fn views(
    org: &kintsugi_store::Organisation,
    access: &Access,
    rounds: &RoundsRead,
    commitments: &[kintsugi_store::Commitment],
) -> Vec<RoundView> {
    let pair = access.repair.scope == kintsugi_core::repair::Scope::PersonPerson;
    let insider =
        access.is_facilitator() || access.side() == Some(kintsugi_core::repair::Side::Affected);
    let audience = if pair && insider {
        Audience::PairInsider
    } else {
        Audience::Group
    };
    let accountable_in_pair =
        pair && access.side() == Some(kintsugi_core::repair::Side::Accountable);
    let mut out = Vec::new();
    for round in rounds.list.iter().cloned() {
        // A closed confirmation round lives on as its occurrence's status.
        if round.kind.settles_occurrence() && !round.open {
            continue;
        }
        let about = round
            .subject
            .as_deref()
            .and_then(|s| s.split_once(':'))
            .and_then(|(c, due)| {
                commitments
                    .iter()
                    .find(|x| x.id.to_string() == c)
                    .map(|x| format!("“{}” by {}, due {due}", x.statement, x.owner_name))
            });
        let (mut rating, mut suppressed_rating, mut agreement) = (None, None, None);
        if !round.open && round.kind == RoundKind::Causes {
            let answers = rounds.answers(round.id);
            let count = |v: &str| {
                answers
                    .iter()
                    .filter(|a| a.category.as_deref() == Some(v))
                    .count()
            };
            match kintsugi_core::anonymity::visible(
                answers.len(),
                org.k_threshold,
                audience,
                || Agreement {
                    answered: answers.len(),
                    agree: count("agree"),
                    disagree: count("disagree"),
                },
            ) {
                Shown::Shown(a) => agreement = Some(a),
                Shown::Suppressed { k } => {
                    suppressed_rating = Some(format!("Fewer than {k} answered; nothing is shown."))
                }
            }
        }
        let mut dimensions = Vec::new();
        if !round.open && matches!(round.kind, RoundKind::Genuineness | RoundKind::Pulse) {
            let answers = rounds.answers(round.id);
            // The accountable person of a pair gets only a direction derived from this (below).
            let shown_to = if pair {
                Audience::PairInsider
            } else {
                audience
            };
            if round.kind == RoundKind::Pulse {
                // Each item, under the same rule as the whole: k counts people.
                for (key, label) in PULSE_ITEMS {
                    if let Shown::Shown(m) = group_mean(
                        &pulses::item_values(answers, Some(key)),
                        org.k_threshold,
                        shown_to,
                    ) {
                        dimensions.push((label.to_string(), m.mean()));
                    }
                }
            }
            let overall = if round.kind == RoundKind::Pulse {
                group_mean(
                    &pulses::item_values(answers, None),
                    org.k_threshold,
                    shown_to,
                )
            } else {
                let ratings: Vec<i64> = answers.iter().filter_map(|a| a.rating).collect();
                rating_results(&ratings, org.k_threshold, shown_to)
            };
            match overall {
                Shown::Shown(r) => rating = Some(r),
                Shown::Suppressed { k } => {
                    suppressed_rating = Some(format!("Fewer than {k} answered; nothing is shown."))
                }
            }
        }
        let (results, suppressed) = if round.open || round.kind != RoundKind::Listening {
            (None, suppressed_rating)
        } else {
            let mut answers: Vec<ListeningAnswer> = rounds
                .answers(round.id)
                .iter()
                .map(|a| ListeningAnswer {
                    id: a.id.to_string(),
                    category: a.category.clone(),
                    comment: a.comment.clone(),
                })
                .collect();
            // Comments are shown shuffled and undated.
            answers.shuffle(&mut rand::rng());
            match listening_results(&answers, org.k_threshold, Audience::Group) {
                Shown::Shown(mut r) => {
                    for (category, _) in &mut r.categories {
                        if let Ok(c) = kintsugi_core::repair::CauseCategory::parse(category) {
                            *category = c.label().to_owned();
                        }
                    }
                    (Some(r), None)
                }
                Shown::Suppressed { k } => (
                    None,
                    Some(format!("Fewer than {k} answered; nothing is shown.")),
                ),
            }
        };
        out.push(RoundView {
            id: round.id,
            kind: round.kind,
            open: round.open,
            public_key: round.public_key,
            fingerprint: round.fingerprint,
            closes_at: round.closes_at.map(crate::text::date),
            replies: if access.is_facilitator() && !round.open {
                rounds.replies(round.id)
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
                        about,
            dimensions: if accountable_in_pair { vec![] } else { dimensions },
            direction: match (&rating, accountable_in_pair) {
                (Some(r), true) if access.repair.pair_consent => Some(coarse_direction(r.mean_tenths).to_owned()),
                _ => None,
            },
            suppressed: match (accountable_in_pair, round.open, round.kind) {
                (true, false, RoundKind::Genuineness | RoundKind::Causes) if !access.repair.pair_consent || round.kind == RoundKind::Causes => Some(
                    "The affected person's answers are theirs and the facilitator's; a coarse direction is shown only if they choose to share it."
                        .into(),
                ),
                _ => suppressed,
            },
            rating: if accountable_in_pair { None } else { rating },
            agreement: if accountable_in_pair { None } else { agreement },
            results,
        });
    }
    out
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
