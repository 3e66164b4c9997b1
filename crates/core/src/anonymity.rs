//! The minimum group size k: the one place that knows its bounds.

use serde::{Deserialize, Serialize};

use crate::validation::Invalid;

/// Below k answers nothing is shown. An admin may raise or lower it, never below 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct KThreshold(u32);

impl KThreshold {
    pub const MIN: u32 = 3;
    pub const MAX: u32 = 100;
    pub const DEFAULT: KThreshold = KThreshold(5);

    pub fn new(k: i64) -> Result<Self, Invalid> {
        if k < i64::from(Self::MIN) {
            return Err(Invalid::new(
                "k_threshold",
                format!(
                    "must be at least {}: smaller groups can be worked out",
                    Self::MIN
                ),
            ));
        }
        if k > i64::from(Self::MAX) {
            return Err(Invalid::new(
                "k_threshold",
                format!("must be at most {}", Self::MAX),
            ));
        }
        Ok(Self(k as u32))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for KThreshold {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<i64> for KThreshold {
    type Error = Invalid;
    fn try_from(k: i64) -> Result<Self, Invalid> {
        Self::new(k)
    }
}

impl From<KThreshold> for i64 {
    fn from(k: KThreshold) -> i64 {
        i64::from(k.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        for (k, ok) in [
            (-1, false),
            (0, false),
            (2, false),
            (3, true),
            (5, true),
            (100, true),
            (101, false),
        ] {
            assert_eq!(KThreshold::new(k).is_ok(), ok, "k={k}");
        }
        assert_eq!(KThreshold::default().get(), 5);
    }
}

/// A result that may be shown, or is held back because fewer than k answered. Analytics
/// return this, so no layer above can display a group smaller than k by mistake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Shown<T> {
    Shown(T),
    /// Nothing about the group: not its answers, not even how many there were.
    Suppressed {
        k: u32,
    },
}

impl<T> Shown<T> {
    pub fn shown(&self) -> Option<&T> {
        match self {
            Shown::Shown(v) => Some(v),
            Shown::Suppressed { .. } => None,
        }
    }
}

/// Who is looking at a group's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone the results are for: the k rule applies.
    Group,
    /// The affected person or the facilitator of a person↔person repair. A pair can never
    /// reach k; there the affected person's own answers are theirs and the facilitator's to see.
    PairInsider,
}

/// `value()` when at least k answered (or for a pair's insiders); suppressed otherwise.
pub fn visible<T>(
    answered: usize,
    k: KThreshold,
    audience: Audience,
    value: impl FnOnce() -> T,
) -> Shown<T> {
    match audience {
        Audience::PairInsider if answered > 0 => Shown::Shown(value()),
        _ => at_least_k(answered, k, value),
    }
}

/// A pair's coarse direction, for the accountable person, and only with the affected
/// person's consent: "it felt genuine" from a mean of 5 of 7, otherwise "not yet".
pub fn coarse_direction(mean_tenths: u32) -> &'static str {
    if mean_tenths >= 50 {
        "felt genuine"
    } else {
        "not yet"
    }
}

/// `value()` when at least k answered; suppressed otherwise.
pub fn at_least_k<T>(answered: usize, k: KThreshold, value: impl FnOnce() -> T) -> Shown<T> {
    if answered >= k.get() as usize {
        Shown::Shown(value())
    } else {
        Shown::Suppressed { k: k.get() }
    }
}

/// One anonymous answer of a listening round, as the results read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListeningAnswer {
    /// The answer's random id: lets the facilitator reply without knowing who wrote it.
    pub id: String,
    pub category: Option<String>,
    pub comment: Option<String>,
}

/// A comment as results show it: its text and the random id replies attach to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub id: String,
    pub text: String,
}

/// What a closed listening round shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListeningResults {
    pub answered: usize,
    /// Each cause category with how many chose it, most chosen first.
    pub categories: Vec<(String, usize)>,
    /// Non-empty comments, in the order given (the caller shuffles them).
    pub comments: Vec<Comment>,
}

/// Results of a listening round from its answers.
pub fn listening_results(
    answers: &[ListeningAnswer],
    k: KThreshold,
    audience: Audience,
) -> Shown<ListeningResults> {
    visible(answers.len(), k, audience, || {
        let mut categories: Vec<(String, usize)> = Vec::new();
        for category in answers.iter().filter_map(|a| a.category.as_ref()) {
            match categories.iter_mut().find(|(c, _)| c == category) {
                Some((_, n)) => *n += 1,
                None => categories.push((category.clone(), 1)),
            }
        }
        categories.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let comments = answers
            .iter()
            .filter_map(|a| {
                a.comment
                    .as_ref()
                    .filter(|c| !c.trim().is_empty())
                    .map(|c| Comment {
                        id: a.id.clone(),
                        text: c.clone(),
                    })
            })
            .collect();
        ListeningResults {
            answered: answers.len(),
            categories,
            comments,
        }
    })
}

#[cfg(test)]
mod results_tests {
    use super::*;

    fn answers(n: usize) -> Vec<ListeningAnswer> {
        (0..n)
            .map(|i| ListeningAnswer {
                id: i.to_string(),
                category: Some(
                    if i % 3 == 0 {
                        "process"
                    } else {
                        "communication"
                    }
                    .to_owned(),
                ),
                comment: Some(format!("comment {i}")),
            })
            .collect()
    }

    #[test]
    fn nothing_below_k() {
        let k = KThreshold::new(5).unwrap();
        for (n, shown) in [(0, false), (1, false), (4, false), (5, true), (20, true)] {
            let r = listening_results(&answers(n), k, Audience::Group);
            assert_eq!(r.shown().is_some(), shown, "{n} answers");
            if !shown {
                assert_eq!(r, Shown::Suppressed { k: 5 }, "not even a count below k");
            }
        }
        let r = listening_results(&answers(6), k, Audience::Group);
        let r = r.shown().unwrap();
        assert_eq!(
            r.categories,
            vec![("communication".to_owned(), 4), ("process".to_owned(), 2)]
        );
        assert_eq!((r.answered, r.comments.len()), (6, 6));
    }
}

/// What a closed rating round shows: how genuine the acknowledgment felt, 1 to 7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RatingResults {
    pub answered: usize,
    /// The mean in tenths (54 is 5.4), so it needs no float to compare.
    pub mean_tenths: u32,
}

impl RatingResults {
    pub fn mean(&self) -> String {
        format!("{}.{}", self.mean_tenths / 10, self.mean_tenths % 10)
    }
}

/// The mean of 1–7 ratings, rounded to a tenth, when at least k answered (or for a pair's insiders).
pub fn rating_results(ratings: &[i64], k: KThreshold, audience: Audience) -> Shown<RatingResults> {
    visible(ratings.len(), k, audience, || {
        let sum: i64 = ratings.iter().sum();
        let tenths = (sum * 10 * 2 + ratings.len() as i64) / (2 * ratings.len() as i64);
        RatingResults {
            answered: ratings.len(),
            mean_tenths: tenths.max(0) as u32,
        }
    })
}

/// The mean of everything a group rated when each person rated several items (a trust
/// pulse): k counts people, never rated values.
pub fn group_mean(
    values_per_person: &[Vec<i64>],
    k: KThreshold,
    audience: Audience,
) -> Shown<RatingResults> {
    let people = values_per_person.iter().filter(|v| !v.is_empty()).count();
    let values: Vec<i64> = values_per_person.iter().flatten().copied().collect();
    visible(people, k, audience, || {
        let sum: i64 = values.iter().sum();
        let tenths = (sum * 20 + values.len() as i64) / (2 * values.len() as i64);
        RatingResults {
            answered: people,
            mean_tenths: tenths.max(0) as u32,
        }
    })
}

/// A rating on the 1–7 scale.
pub fn rating(value: i64) -> Result<i64, crate::Invalid> {
    if (1..=7).contains(&value) {
        Ok(value)
    } else {
        Err(crate::Invalid::new(
            "rating",
            "must be a whole number from 1 to 7",
        ))
    }
}

#[cfg(test)]
mod rating_tests {
    use super::*;

    #[test]
    fn ratings() {
        let k = KThreshold::new(3).unwrap();
        assert_eq!(
            rating_results(&[7, 7], k, Audience::Group),
            Shown::Suppressed { k: 3 }
        );
        assert_eq!(
            rating_results(&[6], k, Audience::PairInsider)
                .shown()
                .unwrap()
                .mean(),
            "6.0",
            "a pair's insiders see it"
        );
        assert_eq!(
            rating_results(&[], k, Audience::PairInsider),
            Shown::Suppressed { k: 3 }
        );
        assert_eq!(
            (coarse_direction(50), coarse_direction(49)),
            ("felt genuine", "not yet")
        );
        let table: &[(&[i64], &str)] = &[
            (&[7, 7, 7], "7.0"),
            (&[1, 2, 3], "2.0"),
            (&[5, 6, 6], "5.7"),
            (&[4, 4, 5], "4.3"),
            (&[1, 1, 2, 2], "1.5"),
        ];
        for (values, mean) in table {
            assert_eq!(
                rating_results(values, k, Audience::Group)
                    .shown()
                    .unwrap()
                    .mean(),
                *mean,
                "{values:?}"
            );
        }
        assert!(rating(0).is_err() && rating(8).is_err() && rating(1).is_ok() && rating(7).is_ok());
        // Two people rating four items each are two people, not eight answers.
        let two = [vec![5, 5, 6, 6], vec![4, 4, 5, 5]];
        assert_eq!(
            group_mean(&two, k, Audience::Group),
            Shown::Suppressed { k: 3 }
        );
        assert_eq!(
            group_mean(&two, k, Audience::PairInsider)
                .shown()
                .unwrap()
                .mean(),
            "5.0"
        );
        let three = [vec![5, 5, 6, 6], vec![4, 4, 5, 5], vec![7, 7, 7, 7]];
        let r = group_mean(&three, k, Audience::Group);
        assert_eq!(
            (r.shown().unwrap().answered, r.shown().unwrap().mean()),
            (3, "5.7".to_owned())
        );
    }
}
