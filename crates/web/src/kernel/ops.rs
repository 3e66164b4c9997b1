//! Operations endpoints and the middleware that measures every request.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use std::sync::OnceLock;

use kintsugi_app::Ctx;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// `/healthz`, `/readyz` and `/metrics`: public, for load balancers and Prometheus; `/metrics`
/// asks for the bearer token of the settings (`metrics_token`) and is off without one.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Ctx: axum::extract::FromRef<S>,
{
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The Prometheus recorder is process-wide, so it is installed once.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a test process with several servers).
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// How long `/readyz` waits for the database: well under a load balancer's probe timeout,
/// rather than the pool's whole acquire timeout.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// The metrics, for the bearer of the configured token; without one, there is no `/metrics`.
async fn metrics(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    let Some(expected) = ctx.settings().metrics_token.as_deref() else {
        return (
            StatusCode::NOT_FOUND,
            "no metrics_token is set, so /metrics is off\n",
        )
            .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same_secret(given.trim(), expected) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send the metrics_token as a bearer token\n",
        )
            .into_response();
    }
    metrics_handle().render().into_response()
}

/// Compares two secrets in constant time: their SHA-256 digests, so not even the length of
/// the expected one shows in the time taken.
fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::Digest;
    use subtle::ConstantTimeEq;
    let (a, b) = (sha2::Sha256::digest(given), sha2::Sha256::digest(expected));
    a[..].ct_eq(&b[..]).into()
}

/// Ready means the database answers, promptly, and this server can open the round keys in it.
async fn readyz(State(ctx): State<Ctx>) -> Response {
    match tokio::time::timeout(READY_WITHIN, ctx.store().ping()).await {
        Ok(Ok(())) => match ctx.keys().check().await {
            Ok(()) => (StatusCode::OK, "ready\n").into_response(),
            Err(why) => {
                tracing::warn!("not ready: {why}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: {why}\n"),
                )
                    .into_response()
            }
        },
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// Counts and times requests by route template, never by raw path: paths can carry
/// invitation tokens, and labels must not. The anonymous path (`/anon`, `/ohttp`) is neither counted
/// nor timed nor logged: a counter that moves when an answer arrives dates it.
pub async fn record_metrics(req: Request, next: Next) -> Response {
    if is_anonymous(req.uri().path()) {
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16().to_string();
    if !is_anonymous(&route) {
        tracing::info!(%method, %route, %status, ms = elapsed.as_secs_f64() * 1000.0, "request");
    }
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(elapsed.as_secs_f64());
    response
}

/// Whether a path (or route template) is on the anonymous path: `/anon` and the Oblivious
/// HTTP gateway in front of it (`/ohttp`).
fn is_anonymous(path: &str) -> bool {
    path == "/anon" || path.starts_with("/anon/") || path == "/ohttp" || path.starts_with("/ohttp/")
}

/// Refuses a body that announces itself as too large, after reading (a bounded amount of)
/// it: answering before the client has finished sending makes the connection reset, and
/// the client would see no answer at all instead of a clear 413.
pub async fn refuse_oversized(req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match announced {
        Some(n) if n > crate::kernel::BODY_LIMIT => {
            if n <= 16 * crate::kernel::BODY_LIMIT {
                let _ = axum::body::to_bytes(req.into_body(), n).await;
            }
            crate::kernel::error::HttpError::PayloadTooLarge(format!(
                "the request body is larger than {} bytes",
                crate::kernel::BODY_LIMIT
            ))
            .into_response()
        }
        _ => next.run(req).await,
    }
}

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: with it, browsers send `Origin: null` on form posts. `same-origin`
        // still keeps paths (which can hold invitation tokens) from other sites.
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

/// HSTS, only when people reach Kintsugi over https (`public_url`): sent over plain http
/// it would be ignored, and on a TLS-terminating proxy's behalf it is what browsers need.
pub async fn strict_transport(State(https): State<bool>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if https {
        response
            .headers_mut()
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static("max-age=31536000"));
    }
    response
}
