//! `kintsugi relay`: an Oblivious HTTP relay (RFC 9458 §6.2) for a party other than the
//! Kintsugi operator. It sees the member's address but only an encrypted request; the
//! gateway decrypts the request but sees only the relay's address.
//!
//! It takes only `POST /` with a `message/ohttp-req` body of bounded size, and forwards it to
//! the one gateway it was started with, carrying none of the client's headers or its address.
//! Each request is held for a random delay up to `--delay-max` and forwarded with the others
//! whose delay ran out in the same tick, in shuffled order. Each client address may send a
//! bounded number of requests per minute (counted in memory only). Nothing is logged per
//! request and nothing is written to disk: a crash loses only the requests in flight.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;
use rand::seq::SliceRandom;
use tokio::sync::oneshot;
use tokio::time::Instant;

const REQUEST_TYPE: &str = "message/ohttp-req";
const RESPONSE_TYPE: &str = "message/ohttp-res";
/// How often held requests whose delay ran out are forwarded, as one shuffled batch.
const TICK: Duration = Duration::from_millis(100);

#[derive(clap::Args, Debug)]
pub struct RelayArgs {
    /// Address to listen on, e.g. 0.0.0.0:8443 (put TLS in front of it).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The Kintsugi gateway, e.g. https://trust.example.org/ohttp/gateway: the only place
    /// requests are forwarded to.
    #[arg(long, value_name = "URL")]
    pub gateway: String,
    /// Each request is held for a random delay up to this many seconds (0: forwarded at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub delay_max: f64,
    /// Requests one client address may send per minute.
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub per_minute: u32,
    /// The largest request body taken, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    pub max_body: usize,
}

/// A request waiting for its delay, and where its answer goes.
struct Held {
    due: Instant,
    body: Bytes,
    reply: oneshot::Sender<Response>,
}

struct Relay {
    gateway: String,
    client: reqwest::Client,
    delay_max: Duration,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    held: Mutex<Vec<Held>>,
}

pub async fn run(args: &RelayArgs) -> anyhow::Result<()> {
    let gateway = reqwest::Url::parse(&args.gateway)
        .with_context(|| format!("--gateway {}: not a URL", args.gateway))?;
    if !matches!(gateway.scheme(), "http" | "https") {
        anyhow::bail!("--gateway {}: must be an http or https URL", args.gateway);
    }
    if !(args.delay_max.is_finite() && (0.0..=60.0).contains(&args.delay_max)) {
        anyhow::bail!("--delay-max {}: must be 0 to 60 seconds", args.delay_max);
    }
    let per_minute = NonZeroU32::new(args.per_minute).context("--per-minute must be at least 1")?;
    let relay = Arc::new(Relay {
        gateway: gateway.to_string(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?,
        delay_max: Duration::from_secs_f64(args.delay_max),
        limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
        held: Mutex::new(Vec::new()),
    });
    tokio::spawn(forward_batches(relay.clone()));
    let app = Router::new()
        .route("/", post(relay_request))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "this relay takes POST / only\n") })
        .layer(DefaultBodyLimit::max(args.max_body))
        .with_state(relay);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "relay listening on {}, forwarding to {gateway} only",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, format!("{why}\n")).into_response()
}

async fn relay_request(
    State(relay): State<Arc<Relay>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The address is used for this check only, and kept only inside the limiter's counts.
    if relay.limiter.check_key(&peer.ip()).is_err() {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests from this address; wait a minute",
        );
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !media.eq_ignore_ascii_case(REQUEST_TYPE) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "this relay forwards only message/ohttp-req",
        );
    }
    if relay.delay_max.is_zero() {
        return forward(&relay, body).await;
    }
    let delay = rand::rng().random_range(Duration::ZERO..=relay.delay_max);
    let (reply, answer) = oneshot::channel();
    if let Ok(mut held) = relay.held.lock() {
        held.push(Held {
            due: Instant::now() + delay,
            body,
            reply,
        });
    } else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "the relay failed");
    }
    answer.await.unwrap_or_else(|_| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the relay is stopping; send again",
        )
    })
}

/// Every tick: the held requests whose delay ran out, shuffled, each forwarded on its own task.
async fn forward_batches(relay: Arc<Relay>) {
    let mut tick = tokio::time::interval(TICK);
    let mut forgotten = 0u32;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let mut batch = match relay.held.lock() {
            Ok(mut held) => {
                let (due, waiting): (Vec<Held>, Vec<Held>) =
                    held.drain(..).partition(|h| h.due <= now);
                *held = waiting;
                due
            }
            Err(_) => Vec::new(),
        };
        batch.shuffle(&mut rand::rng());
        for h in batch {
            let relay = relay.clone();
            tokio::spawn(async move {
                let answer = forward(&relay, h.body).await;
                let _ = h.reply.send(answer);
            });
        }
        // The limiter's counts for addresses not seen lately are dropped once a minute.
        forgotten += 1;
        if forgotten >= 600 {
            forgotten = 0;
            relay.limiter.retain_recent();
        }
    }
}

/// Sends the body to the gateway and returns its status, media type and body, nothing else.
async fn forward(relay: &Relay, body: Bytes) -> Response {
    let sent = relay
        .client
        .post(&relay.gateway)
        .header(header::CONTENT_TYPE, REQUEST_TYPE)
        .body(body)
        .send()
        .await;
    let Ok(resp) = sent else {
        return refuse(StatusCode::BAD_GATEWAY, "the gateway could not be reached");
    };
    let status = resp.status();
    let media = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(RESPONSE_TYPE)
        .to_owned();
    match resp.bytes().await {
        Ok(bytes) => (
            status,
            [
                (header::CONTENT_TYPE, media),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => refuse(
            StatusCode::BAD_GATEWAY,
            "the gateway's answer was cut short",
        ),
    }
}
