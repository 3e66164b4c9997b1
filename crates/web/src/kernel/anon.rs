//! The guard in front of the anonymous path (`/anon`): applied once, to the whole group.

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kintsugi_app::Error;

use crate::kernel::error::HttpError;

/// A cookie could tie an answer to a session; the anonymous path takes none.
pub async fn refuse_cookies(req: Request, next: Next) -> Response {
    if req.headers().contains_key(header::COOKIE) {
        return HttpError::from(Error::BadRequest(
            "the anonymous path takes no cookies: send answers without credentials, so nothing can tie them to a session".into(),
        ))
        .into_response();
    }
    next.run(req).await
}
