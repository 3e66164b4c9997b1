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

/// Trims `raw` and checks it is a one-line text of `1..=max` characters.
pub(crate) fn one_line(field: &'static str, raw: &str, max: usize) -> Result<String, Invalid> {
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
