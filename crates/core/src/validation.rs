//! The one error a parse can give: which field was wrong, and why, in words a user reads.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    /// The form or JSON field that was wrong, as the user named it.
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl Invalid {
    /// The field of problems that concern a whole form, not one input.
    pub const FORM: &'static str = "form";

    /// "Team name is required": the field as a person names it, then the problem.
    pub fn message_for_people(&self) -> String {
        if self.field == Self::FORM {
            return self.message.clone();
        }
        let mut label = self.field.replace('_', " ");
        if let Some(first) = label.get(..1) {
            label.replace_range(..1, &first.to_uppercase());
        }
        format!("{label} {}", self.message)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Characters that show nothing or reorder what follows: bidirectional overrides, embeddings,
/// isolates and marks, zero-width spaces, word joiners, the byte-order mark, soft hyphens.
/// In a name or title they make one look like another, or turn the rest of a line around.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{180E}'
            | '\u{00AD}'
            | '\u{034F}'
    )
}

/// `raw` without its invisible characters ([`invisible`]). The zero-width joiner and
/// non-joiner stay only between two characters outside ASCII, where scripts such as Persian
/// or Devanagari and emoji sequences need them; between Latin letters they only disguise.
fn neutralise(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let joins =
        |c: Option<&char>| c.is_some_and(|c| !c.is_ascii() && !c.is_whitespace() && !invisible(*c));
    chars
        .iter()
        .enumerate()
        .filter(|(i, c)| match c {
            '\u{200C}' | '\u{200D}' => *i > 0 && joins(chars.get(i - 1)) && joins(chars.get(i + 1)),
            c => !invisible(**c),
        })
        .map(|(_, c)| *c)
        .collect()
}

/// Trims `raw`, drops its invisible characters ([`neutralise`]), and checks it is a one-line
/// text of `1..=max` characters.
pub(crate) fn one_line(field: &'static str, raw: &str, max: usize) -> Result<String, Invalid> {
    let neutralised = neutralise(raw);
    let value = neutralised.trim();
    if value.is_empty() {
        return Err(Invalid::new(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// Trims `raw` and checks it is a text of `1..=max` characters; line breaks and tabs are
/// allowed, other control characters are not.
pub(crate) fn text(field: &'static str, raw: &str, max: usize) -> Result<String, Invalid> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(Invalid::new(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(value.replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_what_hides_or_turns_text_around() {
        let name = |raw: &str| one_line("name", raw, 50);
        assert_eq!(name("Invoice\u{202E}fdp.exe").unwrap(), "Invoicefdp.exe");
        assert_eq!(name("ad\u{200B}min").unwrap(), "admin");
        assert_eq!(name("ad\u{200D}min\u{2066}").unwrap(), "admin");
        assert_eq!(name("\u{FEFF}Ana\u{00AD}\u{200F}").unwrap(), "Ana");
        assert_eq!(
            name(" \u{200B}\u{202E} ").unwrap_err().message,
            "is required"
        );
        // Where scripts and emoji need the joiners, they stay.
        assert_eq!(name("می\u{200C}خواهم").unwrap(), "می\u{200C}خواهم");
        assert_eq!(name("👩\u{200D}💻 Dev").unwrap(), "👩\u{200D}💻 Dev");
        assert_eq!(name("\u{200D}💻").unwrap(), "💻");
    }

    #[test]
    fn reads_as_a_sentence() {
        assert_eq!(
            Invalid::new("team_name", "is required").message_for_people(),
            "Team name is required"
        );
        assert_eq!(Invalid::new("email", "is bad").to_string(), "email: is bad");
        assert_eq!(
            Invalid::new(Invalid::FORM, "Try again.").message_for_people(),
            "Try again."
        );
    }
}
