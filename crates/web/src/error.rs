//! The one error type of the HTTP edge, converted once into a response.
//!
//! Every error becomes an RFC 9457 problem document. Page routes pass through
//! [`crate::pages::html_errors`], which turns the same error into an HTML page
//! (or a redirect to the login page), so a handler never chooses a format itself.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kintsugi_core::{Forbidden, Invalid};
use kintsugi_store::StoreError;
use serde::Serialize;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
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
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; wait a minute and try again")]
    TooManyRequests,
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A body, path or query that could not be read, with the status axum chose (400, 415 or 422).
    #[error("{detail}")]
    Malformed { status: StatusCode, detail: String },
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("something went wrong on our side")]
    Internal,
    /// A server Kintsugi depends on (an identity provider) failed or cannot be reached.
    #[error("{0}")]
    BadGateway(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Malformed { status, .. } => *status,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
        }
    }

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

/// The JSON problem document (RFC 9457), with field errors when there are some.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem this is.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What was wrong, in words a person reads.
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let problem = Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: self.to_string(),
            errors: self
                .field_errors()
                .iter()
                .map(|e| FieldError {
                    field: e.field.into(),
                    message: e.message.clone(),
                })
                .collect(),
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/problem+json"),
        );
        response.extensions_mut().insert(self);
        response
    }
}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        Self::Invalid(vec![e])
    }
}

impl From<Forbidden> for AppError {
    fn from(e: Forbidden) -> Self {
        Self::Forbidden(e.to_string())
    }
}

impl From<StoreError> for AppError {
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

fn body_problem(status: StatusCode, text: String) -> AppError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge(format!(
            "the request body is larger than {} bytes",
            crate::BODY_LIMIT
        ))
    } else if status.is_client_error() {
        AppError::Malformed {
            status,
            detail: text,
        }
    } else {
        AppError::Malformed {
            status: StatusCode::BAD_REQUEST,
            detail: text,
        }
    }
}

impl From<FormRejection> for AppError {
    fn from(e: FormRejection) -> Self {
        body_problem(
            e.status(),
            format!("the form could not be read: {}", e.body_text()),
        )
    }
}

impl From<axum_extra::extract::FormRejection> for AppError {
    fn from(e: axum_extra::extract::FormRejection) -> Self {
        use axum::response::IntoResponse;
        let detail = format!("the form could not be read: {e}");
        body_problem(e.into_response().status(), detail)
    }
}

impl From<JsonRejection> for AppError {
    fn from(e: JsonRejection) -> Self {
        body_problem(
            e.status(),
            format!("the JSON body could not be read: {}", e.body_text()),
        )
    }
}

impl From<PathRejection> for AppError {
    fn from(e: PathRejection) -> Self {
        Self::NotFound(format!("no such record: {}", e.body_text()))
    }
}

impl From<QueryRejection> for AppError {
    fn from(e: QueryRejection) -> Self {
        Self::BadRequest(format!(
            "the query string could not be read: {}",
            e.body_text()
        ))
    }
}

/// Extractors whose failures are [`AppError`]s, so they read like every other error.
pub mod extract {
    use axum::extract::{FromRequest, FromRequestParts};

    use super::AppError;

    /// Forms, with repeated keys (multiple selects, checkboxes) read into lists.
    #[derive(FromRequest)]
    #[from_request(via(axum_extra::extract::Form), rejection(AppError))]
    pub struct Form<T>(pub T);

    #[derive(FromRequest)]
    #[from_request(via(axum::Json), rejection(AppError))]
    pub struct Json<T>(pub T);

    #[derive(FromRequestParts)]
    #[from_request(via(axum::extract::Path), rejection(AppError))]
    pub struct Path<T>(pub T);

    #[derive(FromRequestParts)]
    #[from_request(via(axum::extract::Query), rejection(AppError))]
    pub struct Query<T>(pub T);
}
