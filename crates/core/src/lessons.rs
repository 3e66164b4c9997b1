//! The lessons library (practice 6): what a rebuilt repair teaches, with the people taken out,
//! and anonymous stories people want help with.
//!
//! A lesson is read by the whole organisation, so names must not survive into it. The
//! facilitator sees a preview with every participant's name, email and team replaced, and
//! only that text is ever stored (it is anonymised again when confirmed, so a name typed back
//! into the preview is replaced too).

use regex::Regex;

use crate::validation::{Invalid, one_line, text};

/// Someone whose name must not appear in a lesson.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub email: String,
}

/// What the replacement for a person or a team reads as.
fn person_label(i: usize) -> String {
    format!("Person {}", letter(i))
}

fn team_label(i: usize) -> String {
    format!("Team {}", letter(i))
}

fn letter(i: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if i < letters.len() {
        (letters[i] as char).to_string()
    } else {
        format!(
            "{}{}",
            letter(i / letters.len() - 1),
            letter(i % letters.len())
        )
    }
}

/// Replaces, case-insensitively and as whole words only, each person's full name, then each
/// part of it (first and last names) and the local part of their email, and each team's name;
/// and every email address at all. The same person always gets the same label ("Person A"),
/// so the text still reads as a story. Parts shorter than 2 letters are left alone (an initial
/// would replace every "A").
pub fn anonymise(input: &str, people: &[Named], teams: &[String]) -> String {
    // Every email address goes first: one contains names that the rules below would split.
    let mut words: Vec<(String, String)> = Vec::new();
    for (i, p) in people.iter().enumerate() {
        let label = person_label(i);
        words.push((p.name.trim().to_owned(), label.clone()));
        for part in p.name.split_whitespace() {
            words.push((part.to_owned(), label.clone()));
        }
        if let Some(local) = p.email.split('@').next() {
            for part in local.split(['.', '_', '-', '+']) {
                words.push((part.to_owned(), label.clone()));
            }
        }
    }
    for (i, t) in teams.iter().enumerate() {
        words.push((t.trim().to_owned(), team_label(i)));
    }
    words.retain(|(w, _)| w.chars().filter(|c| c.is_alphanumeric()).count() >= 2);
    // Longest first, so "Ana Lopez" is replaced whole before "Ana" alone would be; the first
    // person to claim a word keeps it.
    words.sort_by_key(|w| std::cmp::Reverse(w.0.chars().count()));
    let mut seen = std::collections::HashSet::new();
    words.retain(|(w, _)| seen.insert(w.to_lowercase()));

    let mut out = email_pattern()
        .replace_all(input, "[email address]")
        .into_owned();
    if words.is_empty() {
        return out;
    }
    // Whole words: no letter, digit or underscore on either side where the word itself
    // starts or ends with one (the regex crate's \b is Unicode-aware, so "Zoë" is a word).
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let alternatives: Vec<String> = words
        .iter()
        .map(|(w, _)| {
            let before = if is_word(w.chars().next()) { r"\b" } else { "" };
            let after = if is_word(w.chars().last()) { r"\b" } else { "" };
            format!("{before}{}{after}", regex::escape(w))
        })
        .collect();
    let Ok(pattern) = Regex::new(&format!("(?i)(?:{})", alternatives.join("|"))) else {
        return out;
    };
    out = pattern
        .replace_all(&out, |c: &regex::Captures| {
            let hit = c[0].to_lowercase();
            words
                .iter()
                .find(|(w, _)| w.to_lowercase() == hit)
                .map(|(_, label)| label.clone())
                // Case folding that lower-casing does not mirror: still not a name.
                .unwrap_or_else(|| "[name]".to_owned())
        })
        .into_owned();
    out
}

#[allow(
    clippy::expect_used,
    reason = "a constant, valid pattern, compiled by every test that anonymises a lesson"
)]
fn email_pattern() -> &'static Regex {
    static EMAIL: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    EMAIL.get_or_init(|| {
        Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+").expect("valid")
    })
}

/// A lesson as the facilitator writes it; every field goes through [`anonymise`] before it
/// is shown or stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonText {
    pub title: String,
    pub what_broke: String,
    pub causes: String,
    pub what_worked: String,
    pub figures: String,
}

impl LessonText {
    /// Checks each field (what worked is required: it is the point of a lesson).
    pub fn parse(
        title: &str,
        what_broke: &str,
        causes: &str,
        what_worked: &str,
        figures: &str,
    ) -> Result<Self, Vec<Invalid>> {
        let fields = (
            one_line("title", title, 200),
            text("what_broke", what_broke, 4000),
            text("causes", causes, 4000),
            text("what_worked", what_worked, 4000),
            optional_text("figures", figures, 1000),
        );
        match fields {
            (Ok(title), Ok(what_broke), Ok(causes), Ok(what_worked), Ok(figures)) => Ok(Self {
                title,
                what_broke,
                causes,
                what_worked,
                figures,
            }),
            (a, b, c, d, e) => Err([a.err(), b.err(), c.err(), d.err(), e.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    pub fn anonymised(&self, people: &[Named], teams: &[String]) -> Self {
        let a = |t: &str| anonymise(t, people, teams);
        Self {
            title: a(&self.title),
            what_broke: a(&self.what_broke),
            causes: a(&self.causes),
            what_worked: a(&self.what_worked),
            figures: a(&self.figures),
        }
    }
}

fn optional_text(field: &'static str, raw: &str, max: usize) -> Result<String, Invalid> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        text(field, raw, max)
    }
}

/// An anonymous story: a trust scenario someone wants help with.
pub fn story_title(raw: &str) -> Result<String, Invalid> {
    one_line("title", raw, 200)
}

pub fn story_body(raw: &str) -> Result<String, Invalid> {
    text("body", raw, 4000)
}

/// A facilitator's answer to a story.
pub fn story_answer(raw: &str) -> Result<String, Invalid> {
    text("body", raw, 4000)
}

/// The LIKE pattern for a library search: lower case, with `%`, `_` and `\` taken literally
/// (the query uses `ESCAPE '\'`). `None` for an empty search.
pub fn search_pattern(raw: &str) -> Option<String> {
    let q = raw.trim().to_lowercase();
    if q.is_empty() {
        return None;
    }
    let mut out = String::from("%");
    for c in q.chars().take(200) {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> Vec<Named> {
        vec![
            Named {
                name: "Ana Lopez".into(),
                email: "ana.lopez@acme.example".into(),
            },
            Named {
                name: "Lee Park".into(),
                email: "lpark@acme.example".into(),
            },
            Named {
                name: "Zoë Renée Dubois".into(),
                email: "zoe@acme.example".into(),
            },
            Named {
                name: "J Smith".into(),
                email: "j@acme.example".into(),
            },
        ]
    }

    #[test]
    fn names_emails_and_teams_are_replaced() {
        let teams = vec!["Platform Team".to_owned(), "Sales".to_owned()];
        let table: &[(&str, &str)] = &[
            // Full names, either case.
            ("Ana Lopez missed it.", "Person A missed it."),
            ("ANA LOPEZ missed it.", "Person A missed it."),
            ("ana lopez missed it.", "Person A missed it."),
            // First and last names alone, and possessives.
            (
                "Ana told Lopez's manager",
                "Person A told Person A's manager",
            ),
            ("Lee and Park", "Person B and Person B"),
            // Whole words only: "Leeds", "Anatomy", "parked" stay.
            (
                "Leeds, anatomy and parked cars",
                "Leeds, anatomy and parked cars",
            ),
            // Emails, the participants' and anyone else's.
            (
                "Write to ana.lopez@acme.example",
                "Write to [email address]",
            ),
            ("cc someone@else.example.org", "cc [email address]"),
            // The local part of an email as a handle.
            ("lpark said so", "Person B said so"),
            // Accents are letters: whole words still.
            ("Zoë and Renée agreed", "Person C and Person C agreed"),
            ("zoë dubois", "Person C Person C"),
            ("Zoë Renée Dubois left", "Person C left"),
            // An initial alone is not replaced (it would hit every "J" or "A").
            ("J Smith and Smith", "Person D and Person D"),
            ("Plan A, step J", "Plan A, step J"),
            // Teams, whole names.
            (
                "The Platform Team and sales disagreed",
                "The Team A and Team B disagreed",
            ),
            ("Salesforce stays", "Salesforce stays"),
            ("Nothing to replace.", "Nothing to replace."),
        ];
        for (input, want) in table {
            assert_eq!(anonymise(input, &people(), &teams), *want, "{input:?}");
        }
    }

    #[test]
    fn anonymising_twice_changes_nothing_more() {
        let once = anonymise("Ana Lopez and Lee Park", &people(), &[]);
        assert_eq!(anonymise(&once, &people(), &[]), once);
    }

    #[test]
    fn regex_characters_in_names_are_literal() {
        let odd = vec![Named {
            name: "Dr. (Who)".into(),
            email: "who+tag@x.example".into(),
        }];
        assert_eq!(
            anonymise("Dr. (Who) and who", &odd, &[]),
            "Person A and Person A"
        );
        assert_eq!(anonymise("a.b.c", &odd, &[]), "a.b.c");
    }

    #[test]
    fn labels_run_past_z() {
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "AA");
        assert_eq!(letter(27), "AB");
    }

    #[test]
    fn lesson_fields_are_checked() {
        assert!(LessonText::parse("T", "broke", "causes", "worked", "").is_ok());
        let errs = LessonText::parse(" ", "", "c", "", "").unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["title", "what_broke", "what_worked"]);
    }

    #[test]
    fn search_patterns() {
        let table: &[(&str, Option<&str>)] = &[
            ("", None),
            ("   ", None),
            ("Deadline", Some("%deadline%")),
            ("50%", Some("%50\\%%")),
            ("a_b", Some("%a\\_b%")),
            ("back\\slash", Some("%back\\\\slash%")),
        ];
        for (raw, want) in table {
            assert_eq!(search_pattern(raw).as_deref(), *want, "{raw:?}");
        }
    }
}
