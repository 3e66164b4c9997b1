//! The coach's labelled corpus (`coach-corpus/corpus.toml`): texts with what they are (a
//! genuine apology or a non-apology of a named family), the components they contain with
//! their spans, the kind of breach and the scope they fit, and where they came from.
//!
//! Parsing checks every label against the text, so a corpus that loads is one whose spans
//! quote the words they point at.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use super::BreachKind;
use crate::repair::Scope;

/// The component ids a corpus may label.
pub const COMPONENTS: &[&str] = &[
    "responsibility",
    "repair",
    "regret",
    "explanation",
    "repentance",
    "impact",
    "forgiveness",
];

/// The non-apology families a corpus may label; each is also the id of the flag rule that
/// answers it. `none` marks a genuine apology.
pub const FAMILIES: &[&str] = &[
    "conditional",
    "feelings-not-actions",
    "agentless-passive",
    "sorry-but",
    "minimising",
    "blame-shifting",
    "hedged-audience",
    "demands-forgiveness",
    "intent-over-impact",
    "vague",
];

/// The corpus, as loaded.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub texts: Vec<Entry>,
}

/// One labelled text.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub text: String,
    /// The non-apology family, or `None` for a genuine apology.
    pub non_apology: Option<String>,
    pub breach: BreachKind,
    pub scope: Scope,
    pub voice: String,
    pub provenance: String,
    pub components: Vec<Labelled>,
}

/// A component found by the person who labelled the text: byte offsets and the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    pub id: String,
    pub start: usize,
    pub end: usize,
}

/// A corpus that cannot be used: which text and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusError {
    pub text: Option<String>,
    pub problem: String,
}

impl fmt::Display for CorpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Some(id) => write!(f, "corpus text `{id}`: {}", self.problem),
            None => write!(f, "corpus: {}", self.problem),
        }
    }
}

impl std::error::Error for CorpusError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    text: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    text: String,
    non_apology: String,
    breach: String,
    scope: String,
    voice: String,
    provenance: String,
    #[serde(default)]
    components: Vec<RawSpan>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpan {
    id: String,
    start: usize,
    end: usize,
    quote: String,
}

impl Corpus {
    /// Parses a corpus file and checks every label (see the module's documentation).
    pub fn from_toml(source: &str) -> Result<Corpus, CorpusError> {
        let raw: RawFile = toml::from_str(source).map_err(|e| CorpusError {
            text: None,
            problem: e.message().trim().to_owned(),
        })?;
        let mut ids = BTreeSet::new();
        let mut texts = Vec::with_capacity(raw.text.len());
        for r in raw.text {
            let err = |problem: String| CorpusError {
                text: Some(r.id.clone()),
                problem,
            };
            if !ids.insert(r.id.clone()) {
                return Err(err("another text already has this id".into()));
            }
            if r.text.trim().is_empty() {
                return Err(err("the text is empty".into()));
            }
            if r.provenance.trim().is_empty() {
                return Err(err(
                    "no provenance: say it was written for the corpus, or cite its source".into(),
                ));
            }
            let non_apology = match r.non_apology.as_str() {
                "none" => None,
                f if FAMILIES.contains(&f) => Some(f.to_owned()),
                other => {
                    return Err(err(format!(
                        "non_apology `{other}` is not `none` or one of: {}",
                        FAMILIES.join(", ")
                    )));
                }
            };
            let breach = BreachKind::parse(&r.breach)
                .ok_or_else(|| err(format!("breach `{}`: competence or integrity", r.breach)))?;
            let scope = Scope::parse(&r.scope).map_err(|e| err(format!("scope {}", e.message)))?;
            let mut components = Vec::with_capacity(r.components.len());
            for s in &r.components {
                if !COMPONENTS.contains(&s.id.as_str()) {
                    return Err(err(format!("unknown component `{}`", s.id)));
                }
                match r.text.get(s.start..s.end) {
                    Some(words) if words == s.quote && s.start < s.end => {}
                    Some(words) => {
                        return Err(err(format!(
                            "{} span {}..{} holds {words:?}, not the quote {:?}",
                            s.id, s.start, s.end, s.quote
                        )));
                    }
                    None => {
                        return Err(err(format!(
                            "{} span {}..{} is outside the text or splits a character",
                            s.id, s.start, s.end
                        )));
                    }
                }
                components.push(Labelled {
                    id: s.id.clone(),
                    start: s.start,
                    end: s.end,
                });
            }
            texts.push(Entry {
                id: r.id,
                text: r.text,
                non_apology,
                breach,
                scope,
                voice: r.voice,
                provenance: r.provenance,
                components,
            });
        }
        if texts.is_empty() {
            return Err(CorpusError {
                text: None,
                problem: "the file has no [[text]]".into(),
            });
        }
        Ok(Corpus { texts })
    }
}
