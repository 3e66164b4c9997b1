//! The one error of the application layer. It says what kind of failure happened, in words
//! a person reads; the HTTP edge turns it into a status and a problem document once, and the
//! CLI prints it.

use kintsugi_core::{Forbidden, Invalid};
use kintsugi_store::StoreError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Input the person can fix, field by field.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Invalid>),
    #[error("{0}")]
    BadRequest(String),
    #[error("you need to log in first")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is fine but the state refuses it (a guardrail, something already done).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts: the whole seconds to wait (`Retry-After`).
    #[error("too many attempts; try again in {0} seconds")]
    TooManyRequests(u64),
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    /// The server cannot do this until its operator fixes something; the text says what.
    #[error("{0}")]
    Unready(String),
    #[error("something went wrong on our side")]
    Internal,
    /// A server Kintsugi depends on (an identity provider) failed or cannot be reached.
    #[error("{0}")]
    BadGateway(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![Invalid::new(field, message)])
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("no such {what}"))
    }

    /// The field-level problems, for forms that show them beside their inputs.
    pub fn field_errors(&self) -> &[Invalid] {
        match self {
            Self::Invalid(list) => list,
            _ => &[],
        }
    }
}

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Self {
        Self::Invalid(vec![e])
    }
}

impl From<Forbidden> for Error {
    fn from(e: Forbidden) -> Self {
        Self::Forbidden(e.to_string())
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Refused(why) => Self::Conflict(why),
            StoreError::Unavailable(why) => {
                tracing::warn!(%why, "database unavailable");
                Self::Unavailable
            }
            StoreError::Internal(why) => {
                tracing::error!(%why, "database error");
                Self::Internal
            }
        }
    }
}

/// Collects every field's problem, so a form shows them all at once.
pub fn all_valid<T>(results: Vec<Result<T, Invalid>>) -> Result<Vec<T>> {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() {
        Ok(ok)
    } else {
        Err(Error::Invalid(bad))
    }
}
