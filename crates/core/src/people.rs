//! Values that describe organisations, teams and people, parsed once and trusted after.

use serde::{Deserialize, Serialize};

use crate::validation::{Invalid, one_line};

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                one_line($field, raw, $max).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(raw: String) -> Result<Self, Invalid> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// An organisation's display name.
    OrganisationName, "organisation_name", 120
);
text_newtype!(
    /// A team's name, unique within its organisation.
    TeamName, "team_name", 120
);
text_newtype!(
    /// A person's display name.
    PersonName, "name", 120
);

/// An email address, lower-cased so that one person has one address.
///
/// Deliberately loose: one `@`, a non-empty local part, a dotted domain. Deliverability
/// is proven by the invitation link, not by a regex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = one_line("email", raw, 254)?.to_lowercase();
        let bad = || Invalid::new("email", "must be an address like name@example.org");
        let (local, domain) = value.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty()
            || domain.contains('@')
            || !domain_ok
            || value.contains(char::is_whitespace)
        {
            return Err(bad());
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        Self::parse(&raw)
    }
}

impl From<Email> for String {
    fn from(v: Email) -> String {
        v.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password someone chose. Only its length is checked (NIST SP 800-63B): length
/// is what makes a password strong, composition rules mostly make it forgettable.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(Invalid::new(
                "password",
                format!("must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(Invalid::new(
                "password",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        let table = [
            ("Ana@Example.org", Some("ana@example.org")),
            ("  bo@x.io ", Some("bo@x.io")),
            ("no-at.example.org", None),
            ("a@b", None),
            ("a@@b.org", None),
            ("@b.org", None),
            ("a b@c.org", None),
            ("a@.org", None),
            ("a@org.", None),
            ("", None),
        ];
        for (raw, want) in table {
            assert_eq!(
                Email::parse(raw).ok().as_ref().map(Email::as_str),
                want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            PersonName::parse("  Ana Lima ").unwrap().as_str(),
            "Ana Lima"
        );
        assert_eq!(PersonName::parse("   ").unwrap_err().message, "is required");
        assert!(TeamName::parse(&"x".repeat(121)).is_err());
        assert!(TeamName::parse(&"x".repeat(120)).is_ok());
        assert!(OrganisationName::parse("a\u{0007}b").is_err());
    }

    #[test]
    fn passwords() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("twelve chars").is_ok());
        assert!(NewPassword::parse(&"p".repeat(257)).is_err());
        assert_eq!(
            format!("{:?}", NewPassword::parse("a secret phrase").unwrap()),
            "NewPassword(…)"
        );
    }
}
