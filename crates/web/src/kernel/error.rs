//! The one error type of the HTTP edge, converted once into a response.
//!
//! Every error becomes an RFC 9457 problem document. Page routes pass through
//! [`crate::kernel::page::html_errors`], which turns the same error into an HTML page
//! (or a redirect to the login page), so a handler never chooses a format itself.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kintsugi_app::Error;
use kintsugi_core::{Forbidden, Invalid};
use kintsugi_store::StoreError;
use serde::Serialize;

/// What a handler returns when it fails: the application's error, or a request the edge could
/// not read. Converted into a response once, here.
#[derive(Debug, Clone)]
pub enum HttpError {
    App(Error),
    /// A body, path or query that could not be read, with the status axum chose (400, 415 or 422).
    Malformed {
        status: StatusCode,
        detail: String,
    },
    PayloadTooLarge(String),
}

/// A handler's result.
pub type Reply<T = Response> = Result<T, HttpError>;

impl HttpError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::App(e) => status_of(e),
            Self::Malformed { status, .. } => *status,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    pub fn app(&self) -> Option<&Error> {
        match self {
            Self::App(e) => Some(e),
            _ => None,
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::App(e) => e.fmt(f),
            Self::Malformed { detail, .. } | Self::PayloadTooLarge(detail) => f.write_str(detail),
        }
    }
}

impl From<Error> for HttpError {
    fn from(e: Error) -> Self {
        Self::App(e)
    }
}

impl From<Invalid> for HttpError {
    fn from(e: Invalid) -> Self {
        Self::App(e.into())
    }
}

impl From<Forbidden> for HttpError {
    fn from(e: Forbidden) -> Self {
        Self::App(e.into())
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> Self {
        Self::App(e.into())
    }
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::Unauthenticated => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable | Error::Unready(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Error::BadGateway(_) => StatusCode::BAD_GATEWAY,
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

impl IntoResponse for HttpError {
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
                .app()
                .map(Error::field_errors)
                .unwrap_or_default()
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
        if let Some(Error::TooManyRequests(seconds)) = self.app() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, (*seconds).into());
        }
        response.extensions_mut().insert(self);
        response
    }
}

fn body_problem(status: StatusCode, text: String) -> HttpError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        HttpError::PayloadTooLarge(format!(
            "the request body is larger than {} bytes",
            crate::kernel::BODY_LIMIT
        ))
    } else if status.is_client_error() {
        HttpError::Malformed {
            status,
            detail: text,
        }
    } else {
        HttpError::Malformed {
            status: StatusCode::BAD_REQUEST,
            detail: text,
        }
    }
}

impl From<FormRejection> for HttpError {
    fn from(e: FormRejection) -> Self {
        body_problem(
            e.status(),
            format!("the form could not be read: {}", e.body_text()),
        )
    }
}

impl From<axum_extra::extract::FormRejection> for HttpError {
    fn from(e: axum_extra::extract::FormRejection) -> Self {
        use axum::response::IntoResponse;
        let detail = format!("the form could not be read: {e}");
        body_problem(e.into_response().status(), detail)
    }
}

impl From<JsonRejection> for HttpError {
    fn from(e: JsonRejection) -> Self {
        body_problem(
            e.status(),
            format!("the JSON body could not be read: {}", e.body_text()),
        )
    }
}

impl From<PathRejection> for HttpError {
    fn from(e: PathRejection) -> Self {
        Error::NotFound(format!("no such record: {}", e.body_text())).into()
    }
}

impl From<QueryRejection> for HttpError {
    fn from(e: QueryRejection) -> Self {
        Error::BadRequest(format!(
            "the query string could not be read: {}",
            e.body_text()
        ))
        .into()
    }
}

/// Extractors whose failures are [`AppError`]s, so they read like every other error.
pub mod extract {
    use axum::extract::{FromRequest, FromRequestParts};

    use super::HttpError;

    /// Forms, with repeated keys (multiple selects, checkboxes) read into lists. A form whose
    /// names or values are not UTF-8 once decoded is refused (400), never read with
    /// replacement characters in their place.
    pub struct Form<T>(pub T);

    impl<T, S> FromRequest<S> for Form<T>
    where
        T: serde::de::DeserializeOwned,
        S: Send + Sync,
    {
        type Rejection = HttpError;

        async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, HttpError> {
            let not_utf8 = || HttpError::Malformed {
                status: axum::http::StatusCode::BAD_REQUEST,
                detail: "the form could not be read: it is not valid UTF-8".into(),
            };
            let req = if req.method() == axum::http::Method::GET
                || req.method() == axum::http::Method::HEAD
            {
                if !form_is_utf8(req.uri().query().unwrap_or("").as_bytes()) {
                    return Err(not_utf8());
                }
                req
            } else {
                let (parts, body) = req.into_parts();
                let (method, uri, headers) = (
                    parts.method.clone(),
                    parts.uri.clone(),
                    parts.headers.clone(),
                );
                let bytes = axum::body::Bytes::from_request(
                    axum::extract::Request::from_parts(parts, body),
                    state,
                )
                .await
                .map_err(|e| super::body_problem(e.status(), e.body_text()))?;
                if !form_is_utf8(&bytes) {
                    return Err(not_utf8());
                }
                let mut rebuilt = axum::extract::Request::new(axum::body::Body::from(bytes));
                *rebuilt.method_mut() = method;
                *rebuilt.uri_mut() = uri;
                *rebuilt.headers_mut() = headers;
                rebuilt
            };
            let axum_extra::extract::Form(value) =
                axum_extra::extract::Form::<T>::from_request(req, state).await?;
            Ok(Form(value))
        }
    }

    /// Whether every name and value of an `application/x-www-form-urlencoded` body is UTF-8
    /// once its `+` and `%XX` escapes are decoded.
    pub(crate) fn form_is_utf8(body: &[u8]) -> bool {
        body.split(|b| *b == b'&').all(|pair| {
            let mut decoded = Vec::with_capacity(pair.len());
            let mut i = 0;
            while i < pair.len() {
                let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
                match pair[i] {
                    b'%' if i + 2 < pair.len() => match (hex(pair[i + 1]), hex(pair[i + 2])) {
                        (Some(h), Some(l)) => {
                            decoded.push(h << 4 | l);
                            i += 3;
                            continue;
                        }
                        _ => decoded.push(b'%'),
                    },
                    b'+' => decoded.push(b' '),
                    b'=' => {
                        if std::str::from_utf8(&decoded).is_err() {
                            return false;
                        }
                        decoded.clear();
                    }
                    b => decoded.push(b),
                }
                i += 1;
            }
            std::str::from_utf8(&decoded).is_ok()
        })
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn forms_decode_to_utf8_or_are_refused() {
            for ok in [
                &b""[..],
                b"name=Caf%C3%A9&x=1+2",
                b"a=%zz&b=100%",
                b"a=%E2%9C%93",
                "name=Café".as_bytes(),
            ] {
                assert!(super::form_is_utf8(ok), "{}", String::from_utf8_lossy(ok));
            }
            for bad in [
                &b"name=Caf%E9"[..],
                b"n%FF=1",
                b"a=%C3",
                b"a=\xff",
                b"a=1&b=%ED%A0%80",
            ] {
                assert!(
                    !super::form_is_utf8(bad),
                    "{}",
                    String::from_utf8_lossy(bad)
                );
            }
        }
    }

    #[derive(FromRequest)]
    #[from_request(via(axum::Json), rejection(HttpError))]
    pub struct Json<T>(pub T);

    #[derive(FromRequestParts)]
    #[from_request(via(axum::extract::Path), rejection(HttpError))]
    pub struct Path<T>(pub T);

    #[derive(FromRequestParts)]
    #[from_request(via(axum::extract::Query), rejection(HttpError))]
    pub struct Query<T>(pub T);
}
