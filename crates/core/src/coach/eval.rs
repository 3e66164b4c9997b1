//! Measuring the coach on a labelled corpus with k-fold cross-validation.
//!
//! Each text is put in one of k folds by a hash of its id (stable, no random numbers). For
//! each fold, the coach is fitted on the other folds and scored on this one; the counts are
//! summed over the folds. The rules are hand-written data (`coach-rules.toml`) and have no
//! parameters, so their fitting step is the identity: every fold scores the same rules, and
//! the report says so. Anything learned must be fitted inside [`fit`], from the training
//! folds only.
//!
//! What is counted:
//! - non-apology detection, per text: a text is called a non-apology when any flag is raised;
//! - each component, per text: found when a span the coach reports overlaps a labelled span
//!   of that component (a component found elsewhere in the text is a false positive);
//! - false alarms: genuine apologies on which any flag was raised;
//! - per family: non-apologies on which the family's own rule was raised.

use std::fmt;

use super::corpus::{COMPONENTS, Corpus, Entry, FAMILIES};
use super::{Coach, Review, RuleError};

/// True and false positives and negatives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }
    /// False positives among the negatives.
    pub fn false_alarm_rate(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }
    fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
        self.tn += other.tn;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// A cross-validated report.
#[derive(Debug, Clone)]
pub struct Report {
    pub folds: usize,
    pub texts: usize,
    pub genuine: usize,
    pub non_apology: Counts,
    /// In [`COMPONENTS`] order.
    pub components: Vec<(&'static str, Counts)>,
    /// In [`FAMILIES`] order: (family, texts, raised by the family's own rule, raised by any).
    pub families: Vec<(&'static str, usize, usize, usize)>,
    /// How the coach was fitted on each fold, in words.
    pub fitting: &'static str,
    /// Texts the coach got wrong on non-apology detection: (id, what went wrong).
    pub misses: Vec<(String, String)>,
    /// Labelled components the coach did not point at: (id, component, the labelled words).
    pub missed_components: Vec<(String, &'static str, String)>,
}

/// The targets of issue 18, on the cross-validated figures.
pub const TARGET_NON_APOLOGY_ACCURACY: f64 = 0.95;
pub const TARGET_COMPONENT_RECALL: f64 = 0.90;
pub const TARGET_FALSE_ALARMS: f64 = 0.05;
/// The components whose recall has a target.
pub const TARGETED_COMPONENTS: &[&str] = &["responsibility", "repair", "impact"];

impl Report {
    /// Whether each target is met, with its name and figure.
    pub fn targets(&self) -> Vec<(String, f64, bool)> {
        let mut out = vec![
            (
                format!("non-apology accuracy ≥ {TARGET_NON_APOLOGY_ACCURACY:.2}"),
                self.non_apology.accuracy(),
                self.non_apology.accuracy() >= TARGET_NON_APOLOGY_ACCURACY,
            ),
            (
                format!("false alarms on genuine apologies ≤ {TARGET_FALSE_ALARMS:.2}"),
                self.non_apology.false_alarm_rate(),
                self.non_apology.false_alarm_rate() <= TARGET_FALSE_ALARMS,
            ),
        ];
        for (id, c) in &self.components {
            if TARGETED_COMPONENTS.contains(id) {
                out.push((
                    format!("{id} recall ≥ {TARGET_COMPONENT_RECALL:.2}"),
                    c.recall(),
                    c.recall() >= TARGET_COMPONENT_RECALL,
                ));
            }
        }
        out
    }

    pub fn all_targets_met(&self) -> bool {
        self.targets().iter().all(|t| t.2)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Apology coach: {} texts ({} genuine apologies, {} non-apologies), {}-fold cross-validation.",
            self.texts,
            self.genuine,
            self.texts - self.genuine,
            self.folds
        )?;
        writeln!(f, "Fitting: {}", self.fitting)?;
        writeln!(f)?;
        writeln!(
            f,
            "| measure | precision | recall | accuracy | false alarms |"
        )?;
        writeln!(f, "|---|---|---|---|---|")?;
        let n = &self.non_apology;
        writeln!(
            f,
            "| non-apology detection | {:.3} | {:.3} | {:.3} | {:.3} ({} of {} genuine) |",
            n.precision(),
            n.recall(),
            n.accuracy(),
            n.false_alarm_rate(),
            n.fp,
            n.fp + n.tn
        )?;
        for (id, c) in &self.components {
            writeln!(
                f,
                "| component {id} ({} labelled) | {:.3} | {:.3} | | |",
                c.tp + c.fn_,
                c.precision(),
                c.recall()
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "| family | texts | its own rule raised | any flag raised |"
        )?;
        writeln!(f, "|---|---|---|---|")?;
        for (family, total, own, any) in &self.families {
            writeln!(f, "| {family} | {total} | {own} | {any} |")?;
        }
        writeln!(f)?;
        writeln!(f, "Targets:")?;
        for (name, value, met) in self.targets() {
            writeln!(
                f,
                "  {name}: {value:.3} {}",
                if met { "met" } else { "NOT MET" }
            )?;
        }
        // `{:#}` lists what was got wrong, text by text.
        if f.alternate() && !self.misses.is_empty() {
            writeln!(f)?;
            writeln!(f, "Non-apology detection got these wrong:")?;
            for (id, what) in &self.misses {
                writeln!(f, "  {id}: {what}")?;
            }
        }
        if f.alternate() && !self.missed_components.is_empty() {
            writeln!(f)?;
            writeln!(f, "Labelled components the coach did not point at:")?;
            for (id, component, words) in &self.missed_components {
                writeln!(f, "  {id}: {component} {words:?}")?;
            }
        }
        Ok(())
    }
}

/// The fold of a text: FNV-1a of its id, modulo k.
fn fold_of(id: &str, k: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % k as u64) as usize
}

/// Fits the coach on the training texts. The rules are fixed data, so this compiles them and
/// looks at no text; a learned part would be trained here, from `train` alone.
fn fit(rules: &str, _train: &[&Entry]) -> Result<Coach, RuleError> {
    Coach::from_toml(rules)
}

const FITTING: &str = "none. The rules are fixed, hand-written data (coach-rules.toml); \
    nothing is learned from the training folds, so every fold scores the same rules. They were \
    written by the same hand as the corpus, so these figures are optimistic about text from \
    other writers.";

/// Scores one text: its counts for non-apology detection and per component, and a line if
/// non-apology detection got it wrong.
fn score(review: &Review, entry: &Entry, report: &mut Report) {
    let flagged = !review.flags.is_empty();
    let is_non = entry.non_apology.is_some();
    let mut c = Counts::default();
    match (is_non, flagged) {
        (true, true) => c.tp += 1,
        (true, false) => c.fn_ += 1,
        (false, true) => c.fp += 1,
        (false, false) => c.tn += 1,
    }
    report.non_apology.add(c);
    if is_non != flagged {
        let what = if flagged {
            let rules: Vec<String> = review
                .flags
                .iter()
                .map(|f| {
                    format!(
                        "{} at {:?}",
                        f.rule,
                        entry.text.get(f.start..f.end).unwrap_or_default()
                    )
                })
                .collect();
            format!("genuine, but flagged: {}", rules.join("; "))
        } else {
            format!(
                "{} not flagged: {:?}",
                entry.non_apology.as_deref().unwrap_or_default(),
                entry.text
            )
        };
        report.misses.push((entry.id.clone(), what));
    }
    if let Some(family) = &entry.non_apology
        && let Some(row) = report.families.iter_mut().find(|r| r.0 == family)
    {
        row.1 += 1;
        if review.flags.iter().any(|f| &f.rule == family) {
            row.2 += 1;
        }
        if flagged {
            row.3 += 1;
        }
    }
    for (id, counts) in report.components.iter_mut() {
        let labelled: Vec<_> = entry.components.iter().filter(|l| l.id == *id).collect();
        let found: Vec<_> = review.components.iter().filter(|c| c.id == *id).collect();
        let overlaps = labelled
            .iter()
            .any(|l| found.iter().any(|c| c.start < l.end && l.start < c.end));
        if !labelled.is_empty() && !overlaps {
            for l in &labelled {
                let words = entry.text.get(l.start..l.end).unwrap_or_default();
                report
                    .missed_components
                    .push((entry.id.clone(), id, words.to_owned()));
            }
        }
        let mut c = Counts::default();
        match (!labelled.is_empty(), overlaps, !found.is_empty()) {
            (true, true, _) => c.tp += 1,
            (true, false, true) => {
                c.fn_ += 1;
                c.fp += 1;
            }
            (true, false, false) => c.fn_ += 1,
            (false, _, true) => c.fp += 1,
            (false, _, false) => c.tn += 1,
        }
        counts.add(c);
    }
}

/// Cross-validates the rules in `rules` (a `coach-rules.toml`) on `corpus` with `k` folds
/// (at least 2; more folds than texts leaves some folds empty).
pub fn cross_validate(rules: &str, corpus: &Corpus, k: usize) -> Result<Report, RuleError> {
    let k = k.max(2);
    let mut report = Report {
        folds: k,
        texts: corpus.texts.len(),
        genuine: corpus
            .texts
            .iter()
            .filter(|t| t.non_apology.is_none())
            .count(),
        non_apology: Counts::default(),
        components: COMPONENTS.iter().map(|c| (*c, Counts::default())).collect(),
        families: FAMILIES.iter().map(|f| (*f, 0, 0, 0)).collect(),
        fitting: FITTING,
        misses: Vec::new(),
        missed_components: Vec::new(),
    };
    for fold in 0..k {
        let (test, train): (Vec<&Entry>, Vec<&Entry>) =
            corpus.texts.iter().partition(|t| fold_of(&t.id, k) == fold);
        let coach = fit(rules, &train)?;
        for entry in test {
            let review = coach.review(&entry.text, None, false);
            score(&review, entry, &mut report);
        }
    }
    report.misses.sort();
    report.missed_components.sort();
    Ok(report)
}
