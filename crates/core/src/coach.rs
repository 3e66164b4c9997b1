//! The apology coach (design 2.1): reads a draft acknowledgment and gives advice.
//!
//! The advice never blocks posting. Every rule is data, in `coach-rules.toml` (embedded at
//! compile time, so the core still does no I/O): which parts of an apology were found
//! (components), which non-apology patterns were used (flags), a score, advice by kind of
//! breach, and each offer of repair as a draft commitment.
//!
//! Matching uses the `regex` crate, which runs in time linear in the text, and every rule
//! stops after [`MAX_HITS_PER_RULE`] matches, so a pasted novel cannot stall a request.
//! Spans are byte offsets into the text, on char boundaries, sorted by start.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// The rules shipped with Kintsugi.
const DEFAULT_RULES: &str = include_str!("../coach-rules.toml");

/// A rule reports at most this many matches; the rest of a very long text is not searched.
pub const MAX_HITS_PER_RULE: usize = 100;

/// A "sentence" longer than this (a text without full stops) is cut at a space.
const MAX_SENTENCE_BYTES: usize = 2000;

/// How much text one search looks at, at least (it always reaches the end of a sentence).
const WINDOW_BYTES: usize = 4096;

/// The name of the capture group whose text becomes a draft commitment.
const ACTION_GROUP: &str = "action";

/// The kinds of breach: the repair's own, whose advice differs by kind.
pub use crate::repair::Breach;
/// Between whom trust broke: the examples the coach shows fit it.
pub use crate::repair::Scope;

pub mod corpus;
pub mod eval;

/// The kind of trust a breach calls into question (Kim et al. 2004): a lapse of competence,
/// which an apology repairs best, or of integrity, which needs action as well as words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreachKind {
    Competence,
    Integrity,
}

impl BreachKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BreachKind::Competence => "competence",
            BreachKind::Integrity => "integrity",
        }
    }

    pub fn parse(raw: &str) -> Option<BreachKind> {
        match raw.trim() {
            "competence" => Some(BreachKind::Competence),
            "integrity" => Some(BreachKind::Integrity),
            _ => None,
        }
    }

    /// The kind a repair's breach is read as: a missed deadline questions competence; a
    /// broken promise or a lack of respect questions integrity; "other" says neither.
    pub fn of(breach: Breach) -> Option<BreachKind> {
        match breach {
            Breach::MissedDeadline => Some(BreachKind::Competence),
            Breach::BrokenPromise | Breach::LackOfRespect => Some(BreachKind::Integrity),
            Breach::Other => None,
        }
    }
}

/// A part of an apology found in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// `responsibility`, `repair`, `regret`, `explanation`, `repentance`, `forgiveness` or `impact`.
    pub id: String,
    pub start: usize,
    pub end: usize,
}

/// A non-apology pattern found in the text, with a suggested rewrite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    pub rule: String,
    pub start: usize,
    pub end: usize,
    pub message: String,
    pub suggestion: String,
}

/// What the coach says about one draft. As JSON: `components`, `flags` and `score` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    /// Sorted by start, then end.
    pub components: Vec<Component>,
    /// Sorted by start, then end, then rule.
    pub flags: Vec<Flag>,
    /// 0..=100: components weighted by importance, minus a penalty per flag.
    pub score: u8,
    /// Advice for the kind of breach (and for deception), in the rule file's order.
    #[serde(skip)]
    pub advice: Vec<String>,
    /// Each offer of repair, as a draft commitment: "Send the weekly plan every Monday".
    #[serde(skip)]
    pub offers_of_repair: Vec<String>,
    /// For each component that was not found, what adding it would look like, most
    /// important first. Components whose rule has no `suggestion` (forgiveness) give none.
    #[serde(skip)]
    pub hints: Vec<String>,
}

/// A rule file that cannot be used: which rule (or line) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule's id, when it has one.
    pub rule: Option<String>,
    /// The 1-based line in the rule file where the rule (or the problem) starts.
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule, self.line) {
            (Some(id), Some(line)) => write!(f, "coach rule `{id}` (line {line}): ")?,
            (Some(id), None) => write!(f, "coach rule `{id}`: ")?,
            (None, Some(line)) => write!(f, "coach rules, line {line}: ")?,
            (None, None) => write!(f, "coach rules: ")?,
        }
        f.write_str(&self.problem)
    }
}

impl std::error::Error for RuleError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Component,
    Flag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Warning,
    Suggestion,
    Info,
}

/// One rule, compiled.
#[derive(Debug)]
struct Rule {
    id: String,
    kind: Kind,
    level: Level,
    /// Components only: how much finding it adds to the score.
    weight: u8,
    /// All patterns as one alternation, so the text is scanned once per rule.
    regex: Regex,
    /// Capture groups (one per pattern that has one) holding the offered action.
    action_groups: Vec<usize>,
    /// Where an action ends, if before the end of its sentence.
    action_end: Option<Regex>,
    /// An action starting like this is not an offer ("not do this again").
    action_unless: Vec<Regex>,
    /// Any of these in the same sentence vetoes the match.
    unless: Vec<Regex>,
    /// Any of these matching the matched words themselves vetoes the match.
    match_unless: Vec<Regex>,
    message: String,
    suggestion: String,
    examples_pass: Vec<String>,
    examples_fail: Vec<String>,
}

#[derive(Debug)]
struct Advice {
    /// `None` means deception.
    breach: Option<Breach>,
    /// Shown only in repairs of this scope (a text with examples for that scope).
    scope: Option<Scope>,
    /// Shown only if this component was not found.
    when_missing: Option<String>,
    text: String,
}

/// A rule's suggestion for one scope (and, optionally, one kind of breach), whose example
/// fits that repair: a leader↔team repair never sees a person↔person example.
#[derive(Debug)]
struct Hint {
    rule: String,
    scope: Scope,
    kind: Option<BreachKind>,
    text: String,
}

/// The repair a draft is written for: what the coach's advice and examples fit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fit {
    pub breach: Option<Breach>,
    /// `None` reads as person↔person, the scope of the rules' own suggestions.
    pub scope: Option<Scope>,
    pub deception: bool,
}

/// The parsed rule set.
#[derive(Debug)]
pub struct Coach {
    rules: Vec<Rule>,
    advice: Vec<Advice>,
    hints: Vec<Hint>,
    penalty_warning: u8,
    penalty_suggestion: u8,
    penalty_info: u8,
}

impl Coach {
    /// The shipped rules, parsed once. A test proves the shipped file parses.
    #[allow(
        clippy::panic,
        reason = "the rules are compiled in and the test `the_shipped_rules_parse` parses them: \
                  this cannot fail in a build whose tests pass, and every caller would \
                  otherwise carry an error that never happens"
    )]
    pub fn default_rules() -> &'static Coach {
        static RULES: OnceLock<Coach> = OnceLock::new();
        RULES.get_or_init(|| match Coach::from_toml(DEFAULT_RULES) {
            Ok(coach) => coach,
            Err(e) => panic!("the shipped coach-rules.toml is broken: {e}"),
        })
    }

    /// Parses and compiles a rule file (see the comments at the top of `coach-rules.toml`).
    pub fn from_toml(text: &str) -> Result<Coach, RuleError> {
        parse::coach(text)
    }

    /// Reviews a draft for a person↔person repair (see [`Coach::review_for`]).
    pub fn review(&self, text: &str, breach: Option<Breach>, deception: bool) -> Review {
        self.review_for(
            text,
            Fit {
                breach,
                scope: None,
                deception,
            },
        )
    }

    /// The suggestion a rule gives in this repair: the hint for its scope and kind of breach,
    /// else for its scope, else (person↔person only) the rule's own suggestion.
    fn suggestion<'a>(&'a self, rule: &'a Rule, fit: Fit) -> &'a str {
        let scope = fit.scope.unwrap_or(Scope::PersonPerson);
        let kind = fit.breach.and_then(BreachKind::of);
        let for_scope = |h: &&Hint| h.rule == rule.id && h.scope == scope;
        self.hints
            .iter()
            .filter(for_scope)
            .find(|h| h.kind.is_some() && h.kind == kind)
            .or_else(|| {
                self.hints
                    .iter()
                    .filter(for_scope)
                    .find(|h| h.kind.is_none())
            })
            .map(|h| h.text.as_str())
            .unwrap_or(if scope == Scope::PersonPerson {
                rule.suggestion.as_str()
            } else {
                ""
            })
    }

    /// The examples (the words between “ and ”, four words or more: “if” is a word quoted,
    /// not an example) in every suggestion, hint and piece of advice written for one scope;
    /// the rules' own suggestions are person↔person.
    pub fn examples(&self, scope: Scope) -> Vec<String> {
        let mut texts: Vec<&str> = self
            .hints
            .iter()
            .filter(|h| h.scope == scope)
            .map(|h| h.text.as_str())
            .collect();
        texts.extend(
            self.advice
                .iter()
                .filter(|a| a.scope == Some(scope))
                .map(|a| a.text.as_str()),
        );
        if scope == Scope::PersonPerson {
            texts.extend(self.rules.iter().map(|r| r.suggestion.as_str()));
        }
        let mut out = Vec::new();
        for text in texts {
            let mut rest = text;
            while let Some(open) = rest.find('“') {
                let after = &rest[open + '“'.len_utf8()..];
                let Some(close) = after.find('”') else {
                    break;
                };
                let quoted = &after[..close];
                if quoted.split_whitespace().count() >= 4 {
                    out.push(quoted.to_owned());
                }
                rest = &after[close..];
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Reviews a draft written for a repair of this breach and scope. Never fails: an empty
    /// draft scores 0 and finds nothing.
    pub fn review_for(&self, text: &str, fit: Fit) -> Review {
        let Fit {
            breach, deception, ..
        } = fit;
        let regions = sentence_regions(text);
        let mut components = Vec::new();
        let mut flags = Vec::new();
        let mut offers: Vec<String> = Vec::new();
        let mut found = BTreeSet::new();
        let mut penalty: u32 = 0;
        for rule in &self.rules {
            for hit in scan(rule, text, &regions) {
                match rule.kind {
                    Kind::Component => {
                        found.insert(rule.id.as_str());
                        components.push(Component {
                            id: rule.id.clone(),
                            start: hit.span.start,
                            end: hit.span.end,
                        });
                        if let Some(offer) = hit.offer
                            && !offers.contains(&offer)
                        {
                            offers.push(offer);
                        }
                    }
                    Kind::Flag => {
                        penalty += u32::from(self.penalty(rule.level));
                        flags.push(Flag {
                            rule: rule.id.clone(),
                            start: hit.span.start,
                            end: hit.span.end,
                            message: rule.message.clone(),
                            suggestion: self.suggestion(rule, fit).to_owned(),
                        });
                    }
                }
            }
        }
        components.sort_by(|a, b| (a.start, a.end, &a.id).cmp(&(b.start, b.end, &b.id)));
        flags.sort_by(|a, b| (a.start, a.end, &a.rule).cmp(&(b.start, b.end, &b.rule)));

        let gained: u32 = self
            .rules
            .iter()
            .filter(|r| r.kind == Kind::Component && found.contains(r.id.as_str()))
            .map(|r| u32::from(r.weight))
            .sum();
        let score = gained.saturating_sub(penalty).min(100) as u8;

        let advice = self
            .advice
            .iter()
            .filter(|a| match a.breach {
                Some(b) => breach == Some(b),
                None => deception,
            })
            .filter(|a| {
                a.scope
                    .is_none_or(|s| s == fit.scope.unwrap_or(Scope::PersonPerson))
            })
            .filter(|a| {
                a.when_missing
                    .as_deref()
                    .is_none_or(|id| !found.contains(id))
            })
            .map(|a| a.text.clone())
            .collect();

        let mut missing: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.kind == Kind::Component)
            .filter(|r| !found.contains(r.id.as_str()) && !r.suggestion.is_empty())
            .collect();
        missing.sort_by_key(|r| std::cmp::Reverse(r.weight));
        let hints = missing
            .into_iter()
            .map(|r| self.suggestion(r, fit).to_owned())
            .filter(|h| !h.is_empty())
            .collect();

        Review {
            components,
            flags,
            score,
            advice,
            offers_of_repair: offers,
            hints,
        }
    }

    /// Reviews every rule's examples as the rule file documents them: a component must be
    /// found in each `examples_pass` and not in any `examples_fail`; a flag must be raised on
    /// each `examples_fail` and not on any `examples_pass`. Returns how many examples there
    /// are, or one line per failure naming the rule and the example.
    pub fn check_examples(&self) -> Result<usize, Vec<String>> {
        let mut failures = Vec::new();
        let mut count = 0;
        for rule in &self.rules {
            let found = |text: &str| {
                let review = self.review(text, None, false);
                match rule.kind {
                    Kind::Component => review.components.iter().any(|c| c.id == rule.id),
                    Kind::Flag => review.flags.iter().any(|f| f.rule == rule.id),
                }
            };
            let (must, must_not) = match rule.kind {
                Kind::Component => (&rule.examples_pass, &rule.examples_fail),
                Kind::Flag => (&rule.examples_fail, &rule.examples_pass),
            };
            for text in must {
                if !found(text) {
                    failures.push(format!("rule `{}` should match: {text:?}", rule.id));
                }
            }
            for text in must_not {
                if found(text) {
                    failures.push(format!("rule `{}` should not match: {text:?}", rule.id));
                }
            }
            count += must.len() + must_not.len();
        }
        if failures.is_empty() {
            Ok(count)
        } else {
            Err(failures)
        }
    }

    /// What a rule (component or flag) means, for labels in the page and the CLI.
    pub fn message(&self, rule_id: &str) -> Option<&str> {
        self.rules
            .iter()
            .find(|r| r.id == rule_id)
            .map(|r| r.message.as_str())
    }

    /// The ids of the component rules, most important first.
    pub fn component_ids(&self) -> Vec<&str> {
        let mut rules: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.kind == Kind::Component)
            .collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.weight));
        rules.into_iter().map(|r| r.id.as_str()).collect()
    }

    fn penalty(&self, level: Level) -> u8 {
        match level {
            Level::Warning => self.penalty_warning,
            Level::Suggestion => self.penalty_suggestion,
            Level::Info => self.penalty_info,
        }
    }
}

/// One accepted match of a rule.
#[derive(Debug)]
struct Hit {
    span: Range<usize>,
    offer: Option<String>,
}

/// Splits the text into contiguous regions, one per sentence, covering all of it.
///
/// A sentence ends after a run of `.`, `!`, `?` or `…` (and any closing quotes or brackets)
/// that is followed by whitespace or the end, and at every line break. "3.5" and "e.g.x" do
/// not end a sentence; "e.g. this" does, which only makes a rule's context shorter.
fn sentence_regions(text: &str) -> Vec<Range<usize>> {
    let mut regions = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = if c == '\n' {
            Some(i + 1)
        } else if matches!(c, '.' | '!' | '?' | '…') {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if matches!(
                    d,
                    '.' | '!' | '?' | '…' | '"' | '\'' | '”' | '’' | ')' | ']' | '»'
                ) {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            match chars.peek() {
                None => Some(end),
                Some(&(_, d)) if d.is_whitespace() => Some(end),
                _ => None,
            }
        } else {
            None
        };
        if let Some(end) = end {
            regions.push(start..end);
            start = end;
        }
    }
    if start < text.len() || regions.is_empty() {
        regions.push(start..text.len());
    }
    if regions.iter().any(|r| r.len() > MAX_SENTENCE_BYTES) {
        regions = regions
            .into_iter()
            .flat_map(|r| split_long(text, r))
            .collect();
    }
    regions
}

/// Cuts a region longer than [`MAX_SENTENCE_BYTES`] at spaces (or anywhere, on a char
/// boundary, if it has none), so that checking `unless` stays cheap on text with no full stops.
fn split_long(text: &str, region: Range<usize>) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut start = region.start;
    while region.end - start > MAX_SENTENCE_BYTES {
        let mut cut = start + MAX_SENTENCE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(space) = text[start..cut].rfind(char::is_whitespace)
            && space > 0
        {
            cut = start + space + 1;
        }
        parts.push(start..cut);
        start = cut;
    }
    parts.push(start..region.end);
    parts
}

/// Every accepted match of one rule, at most [`MAX_HITS_PER_RULE`].
///
/// Each search looks at a window of whole sentences (about [`WINDOW_BYTES`]) rather than the
/// rest of the text, so a pattern ending in `[^.!?\n]*` costs a window, not the whole text,
/// on a text without full stops. Every step moves forward, so the loop ends.
fn scan(rule: &Rule, text: &str, regions: &[Range<usize>]) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut locs = rule.regex.capture_locations();
    // The last sentence checked against `unless`, and whether it vetoed.
    let mut vetoed: Option<(usize, bool)> = None;
    let mut pos = 0;
    while pos < text.len() && hits.len() < MAX_HITS_PER_RULE {
        let window = window_end(regions, pos);
        let Some(m) = rule.regex.captures_read_at(&mut locs, &text[..window], pos) else {
            pos = window;
            continue;
        };
        let (mut start, mut end) = (m.start(), m.end());
        let si = regions
            .partition_point(|r| r.end <= start)
            .min(regions.len() - 1);
        let region = regions[si].clone();
        if end > region.end {
            // The match runs into the next sentence: look again within this one only.
            let from = pos.max(region.start);
            match rule
                .regex
                .captures_read_at(&mut locs, &text[..region.end], from)
            {
                Some(m) => (start, end) = (m.start(), m.end()),
                None => {
                    pos = region.end;
                    continue;
                }
            }
        }
        let mut next = end;

        let veto = match vetoed {
            Some((checked, v)) if checked == si => v,
            _ => {
                let sentence = &text[region.clone()];
                let v = rule.unless.iter().any(|u| u.is_match(sentence));
                vetoed = Some((si, v));
                v
            }
        } || rule
            .match_unless
            .iter()
            .any(|u| u.is_match(&text[start..end]));
        let action = rule
            .action_groups
            .iter()
            .find_map(|&g| locs.get(g))
            .filter(|(s, e)| e > s);
        match action {
            _ if veto => {}
            None => hits.push(Hit {
                span: start..end,
                offer: None,
            }),
            Some((a_start, a_end)) => {
                // Go on after the action's first clause, which may be followed by another
                // offer: "I won't let it happen again, and I will call you every Friday."
                let a_end = action_end(rule, text, a_start, a_end);
                next = a_end;
                let action_text = &text[a_start..a_end];
                if !action_text.is_empty()
                    && !rule.action_unless.iter().any(|u| u.is_match(action_text))
                {
                    hits.push(Hit {
                        span: start..a_end,
                        offer: Some(capitalise(action_text)),
                    });
                }
            }
        }
        pos = if next > pos {
            next
        } else {
            next_char(text, pos)
        };
    }
    hits
}

/// The end of the sentence holding `pos`, or of a later one, so that the window from `pos`
/// is at least [`WINDOW_BYTES`] long (or reaches the end of the text).
fn window_end(regions: &[Range<usize>], pos: usize) -> usize {
    let first = regions.partition_point(|r| r.end <= pos);
    let wanted = pos.saturating_add(WINDOW_BYTES);
    let last = first + regions[first..].partition_point(|r| r.end < wanted);
    regions[last.min(regions.len() - 1)].end
}

/// Where the action that starts at `start` really ends: at the rule's `action_end`, and
/// without trailing spaces or punctuation.
fn action_end(rule: &Rule, text: &str, start: usize, end: usize) -> usize {
    let mut end = end;
    if let Some(stop) = &rule.action_end
        && let Some(m) = stop.find(&text[start..end])
    {
        end = start + m.start();
    }
    let trimmed = text[start..end].trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '…' | '-' | '—' | '–')
    });
    start + trimmed.len()
}

/// The position after the char at `at` (a char boundary), or past the end.
fn next_char(text: &str, at: usize) -> usize {
    text.get(at..)
        .and_then(|rest| rest.chars().next())
        .map_or(text.len() + 1, |c| at + c.len_utf8())
}

/// "send the plan" → "Send the plan".
fn capitalise(action: &str) -> String {
    let mut chars = action.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The rule file: its raw shape, its checks and its compilation.
mod parse {
    use super::*;
    use toml::Spanned;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawFile {
        #[serde(default)]
        vars: BTreeMap<String, String>,
        #[serde(default)]
        score: RawScore,
        #[serde(default)]
        rule: Vec<Spanned<RawRule>>,
        #[serde(default)]
        advice: Vec<Spanned<RawAdvice>>,
        #[serde(default)]
        hint: Vec<Spanned<RawHint>>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawHint {
        rule: String,
        scope: String,
        kind: Option<String>,
        text: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawScore {
        warning: u8,
        suggestion: u8,
        info: u8,
    }

    impl Default for RawScore {
        fn default() -> Self {
            Self {
                warning: 12,
                suggestion: 5,
                info: 0,
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawRule {
        id: Option<String>,
        kind: Option<String>,
        level: Option<String>,
        weight: Option<u8>,
        #[serde(default)]
        patterns: Vec<String>,
        #[serde(default)]
        unless: Vec<String>,
        #[serde(default)]
        match_unless: Vec<String>,
        action_end: Option<String>,
        #[serde(default)]
        action_unless: Vec<String>,
        message: Option<String>,
        suggestion: Option<String>,
        #[serde(default)]
        examples_pass: Vec<String>,
        #[serde(default)]
        examples_fail: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawAdvice {
        breach: String,
        scope: Option<String>,
        when_missing: Option<String>,
        text: String,
    }

    fn line_of(text: &str, offset: usize) -> usize {
        text[..offset.min(text.len())].matches('\n').count() + 1
    }

    pub(super) fn coach(text: &str) -> Result<Coach, RuleError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| RuleError {
            rule: None,
            line: e.span().map(|s| line_of(text, s.start)),
            problem: e.message().trim().to_owned(),
        })?;
        let vars = expand_vars(&raw.vars)?;

        let mut rules: Vec<Rule> = Vec::new();
        for spanned in raw.rule {
            let line = line_of(text, spanned.span().start);
            let rule = compile_rule(spanned.into_inner(), line, &vars)?;
            if rules.iter().any(|r| r.id == rule.id) {
                return Err(RuleError {
                    rule: Some(rule.id),
                    line: Some(line),
                    problem: "another rule already has this id".into(),
                });
            }
            rules.push(rule);
        }
        if rules.is_empty() {
            return Err(RuleError {
                rule: None,
                line: None,
                problem: "the file has no [[rule]]".into(),
            });
        }

        let mut advice = Vec::new();
        for spanned in raw.advice {
            let line = line_of(text, spanned.span().start);
            let raw = spanned.into_inner();
            let err = |problem: String| RuleError {
                rule: Some(format!("advice for {}", raw.breach)),
                line: Some(line),
                problem,
            };
            let breach = match raw.breach.as_str() {
                "deception" => None,
                other => Some(Breach::parse(other).map_err(|e| {
                    err(format!(
                        "breach {} (or deception, for advice given on deception)",
                        e.message
                    ))
                })?),
            };
            if let Some(id) = &raw.when_missing
                && !rules
                    .iter()
                    .any(|r| &r.id == id && r.kind == Kind::Component)
            {
                return Err(err(format!(
                    "when_missing names `{id}`, which is not a component rule"
                )));
            }
            if raw.text.trim().is_empty() {
                return Err(err("the advice text is empty".into()));
            }
            let scope = match &raw.scope {
                Some(s) => Some(Scope::parse(s).map_err(|e| err(format!("scope {}", e.message)))?),
                None => None,
            };
            advice.push(Advice {
                breach,
                scope,
                when_missing: raw.when_missing,
                text: raw.text.trim().to_owned(),
            });
        }

        let mut hints = Vec::new();
        for spanned in raw.hint {
            let line = line_of(text, spanned.span().start);
            let raw = spanned.into_inner();
            let err = |problem: String| RuleError {
                rule: Some(format!("hint for {}", raw.rule)),
                line: Some(line),
                problem,
            };
            if !rules.iter().any(|r| r.id == raw.rule) {
                return Err(err(format!("`{}` is not a rule", raw.rule)));
            }
            let scope =
                Scope::parse(&raw.scope).map_err(|e| err(format!("scope {}", e.message)))?;
            let kind = match &raw.kind {
                Some(k) => Some(BreachKind::parse(k).ok_or_else(|| {
                    err(format!(
                        "kind `{k}`: expected \"competence\" or \"integrity\""
                    ))
                })?),
                None => None,
            };
            if raw.text.trim().is_empty() {
                return Err(err("the hint text is empty".into()));
            }
            hints.push(Hint {
                rule: raw.rule,
                scope,
                kind,
                text: raw.text.trim().to_owned(),
            });
        }

        Ok(Coach {
            rules,
            advice,
            hints,
            penalty_warning: raw.score.warning,
            penalty_suggestion: raw.score.suggestion,
            penalty_info: raw.score.info,
        })
    }

    /// Vars may use other vars, in any order, as long as there is no cycle.
    fn expand_vars(raw: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, RuleError> {
        let mut done: BTreeMap<String, String> = BTreeMap::new();
        let mut todo: Vec<(&String, &String)> = raw.iter().collect();
        while !todo.is_empty() {
            let before = todo.len();
            let mut left = Vec::new();
            for (name, value) in todo {
                match substitute(value, &done) {
                    Ok(v) => {
                        done.insert(name.clone(), v);
                    }
                    Err(_) => left.push((name, value)),
                }
            }
            if left.len() == before {
                let names: Vec<&str> = left.iter().map(|(n, _)| n.as_str()).collect();
                return Err(RuleError {
                    rule: None,
                    line: None,
                    problem: format!(
                        "[vars] {} use an unknown var or each other in a cycle",
                        names.join(", ")
                    ),
                });
            }
            todo = left;
        }
        Ok(done)
    }

    /// Replaces every `{{name}}` by its var; the error is the unknown name.
    fn substitute(pattern: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::with_capacity(pattern.len());
        let mut rest = pattern;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(format!("`{{{{` without `}}}}` in {pattern:?}"));
            };
            let name = after[..close].trim();
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => return Err(name.to_owned()),
            }
            rest = &after[close + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Makes every `\\b` an ASCII word boundary. The rules are English, and a Unicode word
    /// boundary stops the fast (lazy DFA) engine at the first non-ASCII character, which
    /// made a megabyte of text with curly quotes take seconds instead of milliseconds.
    fn ascii_word_boundaries(pattern: &str) -> String {
        let mut out = String::with_capacity(pattern.len() + 16);
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('b') => out.push_str("(?-u:\\b)"),
                Some(next) => {
                    out.push(c);
                    out.push(next);
                }
                None => out.push(c),
            }
        }
        out
    }

    fn build(pattern: &str) -> Result<Regex, regex::Error> {
        RegexBuilder::new(&ascii_word_boundaries(pattern))
            .case_insensitive(true)
            .size_limit(32 * (1 << 20))
            // The lazy DFA's cache: a rule's patterns are one alternation, and the impact rule's
            // outgrew the default 2 MiB, after which the engine falls back to a slower one (a
            // megabyte of text took 1.5 s in a release build, against 3 ms with this). It grows
            // only as far as a rule needs.
            .dfa_size_limit(8 * (1 << 20))
            .build()
    }

    fn compile_rule(
        raw: RawRule,
        line: usize,
        vars: &BTreeMap<String, String>,
    ) -> Result<Rule, RuleError> {
        let Some(id) = raw
            .id
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
        else {
            return Err(RuleError {
                rule: None,
                line: Some(line),
                problem: "this [[rule]] has no id".into(),
            });
        };
        let err = |problem: String| RuleError {
            rule: Some(id.clone()),
            line: Some(line),
            problem,
        };
        if !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(err(
                "an id is lowercase letters, digits and hyphens only".into()
            ));
        }
        let kind = match raw.kind.as_deref() {
            Some("component") => Kind::Component,
            Some("flag") => Kind::Flag,
            Some(other) => {
                return Err(err(format!(
                    "unknown kind `{other}`: expected \"component\" or \"flag\""
                )));
            }
            None => return Err(err("no kind: expected \"component\" or \"flag\"".into())),
        };
        let level = match raw.level.as_deref() {
            Some("warning") => Level::Warning,
            Some("suggestion") => Level::Suggestion,
            Some("info") => Level::Info,
            Some(other) => {
                return Err(err(format!(
                    "unknown level `{other}`: expected \"warning\", \"suggestion\" or \"info\""
                )));
            }
            None => {
                return Err(err(
                    "no level: expected \"warning\", \"suggestion\" or \"info\"".into(),
                ));
            }
        };
        let message = raw.message.unwrap_or_default().trim().to_owned();
        if message.is_empty() {
            return Err(err("no message".into()));
        }
        let suggestion = raw.suggestion.unwrap_or_default().trim().to_owned();
        let weight = match (kind, raw.weight) {
            (Kind::Component, Some(w)) if w <= 100 => w,
            (Kind::Component, Some(w)) => {
                return Err(err(format!("weight {w} is above 100")));
            }
            (Kind::Component, None) => return Err(err("a component needs a weight".into())),
            (Kind::Flag, Some(_)) => {
                return Err(err(
                    "a flag has no weight: its level sets its penalty ([score])".into(),
                ));
            }
            (Kind::Flag, None) => 0,
        };
        if kind == Kind::Flag && suggestion.is_empty() {
            return Err(err("a flag needs a suggestion (a rewrite)".into()));
        }
        if raw.patterns.is_empty() {
            return Err(err("no patterns".into()));
        }

        // A pattern with its vars substituted, and compiled.
        let expand = |what: &str, n: usize, pattern: &str| -> Result<(String, Regex), RuleError> {
            let expanded = substitute(pattern, vars)
                .map_err(|name| err(format!("{what} {n} uses unknown var `{{{{{name}}}}}`")))?;
            let compiled = build(&expanded)
                .map_err(|e| err(format!("{what} {n} is not a valid regular expression: {e}")))?;
            Ok((expanded, compiled))
        };

        let mut alternatives = Vec::new();
        for (i, pattern) in raw.patterns.iter().enumerate() {
            let (expanded, compiled) = expand("pattern", i + 1, pattern)?;
            if compiled.is_match("") {
                return Err(err(format!("pattern {} matches empty text", i + 1)));
            }
            // Group names must be unique in the alternation: `action` becomes `action_<n>`.
            let renamed = expanded
                .replace("(?P<action>", &format!("(?P<{ACTION_GROUP}_{i}>"))
                .replace("(?<action>", &format!("(?P<{ACTION_GROUP}_{i}>"));
            alternatives.push(format!("(?:{renamed})"));
        }
        let regex = build(&alternatives.join("|"))
            .map_err(|e| err(format!("the patterns together do not compile: {e}")))?;
        let action_groups: Vec<usize> = regex
            .capture_names()
            .enumerate()
            .filter(|(_, name)| name.is_some_and(|n| n.starts_with(ACTION_GROUP)))
            .map(|(i, _)| i)
            .collect();
        if !action_groups.is_empty() && kind != Kind::Component {
            return Err(err(
                "only a component can capture an `action` (an offer of repair)".into(),
            ));
        }
        if action_groups.is_empty() && (raw.action_end.is_some() || !raw.action_unless.is_empty()) {
            return Err(err(
                "action_end and action_unless need a pattern with an `(?P<action>…)` group".into(),
            ));
        }

        let mut unless = Vec::new();
        for (i, pattern) in raw.unless.iter().enumerate() {
            unless.push(expand("unless", i + 1, pattern)?.1);
        }
        let mut match_unless = Vec::new();
        for (i, pattern) in raw.match_unless.iter().enumerate() {
            match_unless.push(expand("match_unless", i + 1, pattern)?.1);
        }
        let mut action_unless = Vec::new();
        for (i, pattern) in raw.action_unless.iter().enumerate() {
            action_unless.push(expand("action_unless", i + 1, pattern)?.1);
        }
        let action_end = match &raw.action_end {
            Some(p) => Some(expand("action_end", 1, p)?.1),
            None => None,
        };

        Ok(Rule {
            id,
            kind,
            level,
            weight,
            regex,
            action_groups,
            action_end,
            action_unless,
            unless,
            match_unless,
            message,
            suggestion,
            examples_pass: raw.examples_pass,
            examples_fail: raw.examples_fail,
        })
    }
}

#[cfg(test)]
mod tests;
