//! Outgoing webhooks against a real HTTP receiver on loopback (axum, in this process) that
//! checks every signature with its own HMAC, answers 500 or hangs when told to, and records
//! what it was sent. Delivery goes through the real job queue of the real server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::Sha256;

use crate::harness::*;
use crate::on_both;

pub const SECRET: &str = "a-receiver-secret-of-more-than-32-bytes";

#[derive(Clone, Debug)]
pub struct Received {
    pub body: String,
    pub idempotency_key: String,
    pub event: String,
    pub signature_ok: bool,
    pub timestamp_age: i64,
}

#[derive(Clone, Copy)]
pub enum Mode {
    /// Answers 500 to the first `n` requests, then 200.
    FailFirstN(usize),
    /// Does not answer the first request for a minute, then answers 200.
    HangOnce,
    /// Answers the first request after this many seconds, then at once.
    SlowOnce(u64),
}

pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

/// Checks the signature the way a receiver's own code would: HMAC-SHA256 over
/// "timestamp.body", hex, with the `v1=` prefix.
fn signature_ok(headers: &HeaderMap, body: &[u8]) -> (bool, i64) {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ts = h("x-kintsugi-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let want = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    let age = time::OffsetDateTime::now_utc().unix_timestamp() - ts.parse::<i64>().unwrap_or(0);
    (want == h("x-kintsugi-signature"), age)
}

pub async fn receiver(mode: Mode) -> Receiver {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                let (signature_ok, timestamp_age) = signature_ok(&headers, &body);
                let n = {
                    let mut list = seen.lock().unwrap();
                    list.push(Received {
                        body: String::from_utf8_lossy(&body).into_owned(),
                        idempotency_key: headers
                            .get("idempotency-key")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default(),
                        event: headers
                            .get("x-kintsugi-event")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default(),
                        signature_ok,
                        timestamp_age,
                    });
                    list.len()
                };
                match mode {
                    Mode::FailFirstN(k) if n <= k => AxStatus::INTERNAL_SERVER_ERROR,
                    Mode::HangOnce if n == 1 => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        AxStatus::OK
                    }
                    Mode::SlowOnce(secs) if n == 1 => {
                        tokio::time::sleep(Duration::from_secs(secs)).await;
                        AxStatus::OK
                    }
                    _ => AxStatus::OK,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, got }
}

/// A server whose job queue retries after a second (then two, four…).
async fn app(backend: Backend) -> App {
    App::start_with(
        backend,
        &[],
        &[
            ("KINTSUGI_JOB_RETRY_BASE_SECONDS", "1"),
            ("KINTSUGI_JOB_POLL_MILLIS", "50"),
        ],
    )
    .await
}

pub async fn add_hook(admin: &Browser, url: &str) -> Page {
    admin
        .json(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({
                "url": url,
                "secret": SECRET,
                "events": ["repair.update", "repair.stage", "round.opened", "commitment.missed"],
            })),
        )
        .await
}

pub async fn allow_private(admin: &Browser, allow: bool) {
    let set = admin
        .json(
            Method::PUT,
            "/api/v1/webhooks/settings",
            Some(json!({ "allow_private": allow })),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
}

async fn deliveries(admin: &Browser) -> Vec<serde_json::Value> {
    let list = admin
        .json(Method::GET, "/api/v1/webhooks/deliveries", None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    list.json().as_array().unwrap().clone()
}

/// Waits until the deliveries API shows every delivery settled (delivered or failed).
async fn settled(admin: &Browser, want: usize) -> Vec<serde_json::Value> {
    for _ in 0..600 {
        let list = deliveries(admin).await;
        if list.len() >= want
            && list
                .iter()
                .all(|d| d["status"] == "delivered" || d["status"] == "failed")
        {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deliveries did not settle: {:?}", deliveries(admin).await);
}

/// Opens a repair (its facilitator, Fay) and posts an update with words that must never
/// leave the server.
async fn repair_with_update(app: &App, admin: &Browser) -> String {
    let (_, fay) = member(
        app,
        admin,
        "Fay Facilitator",
        "fay@acme.example",
        &["facilitator"],
    )
    .await;
    let (lee, _) = member(app, admin, "Lee Lead", "lee@acme.example", &[]).await;
    let (ana, _) = member(app, admin, "Ana Affected", "ana@acme.example", &[]).await;
    let opened = fay
        .post_form(
            "/repairs",
            &[
                ("title", "Missed launch date"),
                ("summary", "CONFIDENTIAL-SUMMARY the launch slipped twice."),
                ("breach", "missed_deadline"),
                ("scope", "person_person"),
                ("accountable_people", &lee),
                ("affected_people", &ana),
                ("update_cadence_days", "7"),
            ],
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let repair = opened.location.unwrap();
    let posted = fay
        .post_form(
            &format!("{repair}/updates"),
            &[
                ("kind", "progress"),
                ("body", "CONFIDENTIAL-UPDATE Lee told Ana the real reason."),
            ],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    repair
}

on_both!(
    signed_deliveries_are_retried_until_the_receiver_takes_them,
    |backend| async move {
        let rx = receiver(Mode::FailFirstN(2)).await;
        let app = app(backend).await;
        let admin = app.setup().await;

        // The SSRF guard: a loopback receiver is refused until an admin allows private targets.
        let refused = add_hook(&admin, &rx.url).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("127.0.0.1, a loopback address"),
            "{}",
            refused.body
        );
        // A short secret is refused, naming the setting.
        let short = admin
        .json(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({ "url": "https://example.com/hook", "secret": "too short", "events": ["repair.stage"] })),
        )
        .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            short.body.contains("\"secret\"") && short.body.contains("at least 32 bytes"),
            "{}",
            short.body
        );

        allow_private(&admin, true).await;
        let added = add_hook(&admin, &rx.url).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        assert_eq!(
            added.json()["secret"],
            SECRET,
            "the secret is shown once, at creation"
        );
        let listed = admin.json(Method::GET, "/api/v1/webhooks", None).await;
        assert!(!listed.body.contains(SECRET), "and never again");

        repair_with_update(&app, &admin).await;
        let done = settled(&admin, 1).await;
        assert_eq!(done.len(), 1, "{done:?}");
        assert_eq!(done[0]["status"], "delivered");
        assert_eq!(done[0]["attempts"], 3, "two 500s, then a 200");
        assert_eq!(done[0]["last_http_status"], 200);

        let got = rx.got.lock().unwrap().clone();
        assert_eq!(got.len(), 3, "{got:?}");
        for r in &got {
            assert!(r.signature_ok, "every attempt is signed: {r:?}");
            assert!(
                r.timestamp_age.abs() < 60,
                "and re-signed with a fresh timestamp"
            );
            assert_eq!(
                r.idempotency_key, got[0].idempotency_key,
                "one key for every retry"
            );
            assert_eq!(r.body, got[0].body, "the same bytes every time");
            assert_eq!(r.event, "repair.update");
        }
        let body: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .contains("Missed launch date")
        );
        assert_eq!(body["blocks"][0]["type"], "section");
        // Nothing anyone wrote leaves the server.
        assert!(!got[0].body.contains("CONFIDENTIAL"), "{}", got[0].body);

        // The admin page lists the webhook and its deliveries; the private-targets switch was audited.
        let page = admin.get("/admin/webhooks").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains(&rx.url) && page.body.contains("delivered"),
            "{}",
            page.body
        );
        let audit = admin.get("/admin/audit").await;
        assert!(
            audit.body.contains("webhook.private_targets"),
            "{}",
            audit.body
        );
    }
);

/// Allowing private targets (for a receiver inside the company) never allows the cloud's
/// metadata service, which hands out the server's credentials, however it is written.
#[tokio::test]
async fn cloud_metadata_is_never_a_target_even_with_private_targets_allowed() {
    let app = app(Backend::Sqlite).await;
    let admin = app.setup().await;
    allow_private(&admin, true).await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[fd00:ec2::254]/latest/api/token",
    ] {
        let refused = add_hook(&admin, url).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            refused.body
        );
        assert!(
            refused.body.contains("a cloud metadata address"),
            "{url}: {}",
            refused.body
        );
    }
    // Another link-local address is private, allowed here like the rest.
    assert_eq!(
        add_hook(&admin, "http://169.254.1.1:9/").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_hangs_is_timed_out_and_tried_again() {
    let rx = receiver(Mode::HangOnce).await;
    let app = app(Backend::Sqlite).await;
    let admin = app.setup().await;
    allow_private(&admin, true).await;
    assert_eq!(add_hook(&admin, &rx.url).await.status, StatusCode::CREATED);
    repair_with_update(&app, &admin).await;
    let done = settled(&admin, 1).await;
    assert_eq!(done[0]["status"], "delivered", "{done:?}");
    assert_eq!(done[0]["attempts"], 2, "{done:?}");
    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].idempotency_key, got[1].idempotency_key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_became_private_is_refused_at_delivery() {
    let rx = receiver(Mode::FailFirstN(0)).await;
    let app = app(Backend::Sqlite).await;
    let admin = app.setup().await;
    allow_private(&admin, true).await;
    assert_eq!(add_hook(&admin, &rx.url).await.status, StatusCode::CREATED);
    // The admin takes the permission back: the guard runs again at every attempt.
    allow_private(&admin, false).await;
    repair_with_update(&app, &admin).await;
    let done = settled(&admin, 1).await;
    assert_eq!(done[0]["status"], "failed", "{done:?}");
    assert!(
        done[0]["last_error"].as_str().unwrap().contains("loopback"),
        "{done:?}"
    );
    assert!(
        rx.got.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );

    // Removing the webhook removes it and its history.
    let id = admin
        .json(Method::GET, "/api/v1/webhooks", None)
        .await
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gone = admin
        .json(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert!(deliveries(&admin).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_adds_and_refuses_with_form_errors() {
    let app = App::start(Backend::Sqlite).await;
    let admin = app.setup().await;
    let page = admin.get("/admin/webhooks").await;
    assert_eq!(page.status, StatusCode::OK);
    let bad = admin
        .post_form(
            "/admin/webhooks",
            &[
                ("url", "http://169.254.169.254/latest"),
                ("secret", "short"),
                ("events", "repair.stage"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("cloud metadata address"), "{}", bad.body);
    assert!(bad.body.contains("at least 32 bytes"), "{}", bad.body);
    let ok = admin
        .post_form(
            "/admin/webhooks",
            &[
                ("url", "http://[::ffff:8.8.8.8]:9/hook"),
                ("secret", ""),
                ("events", "repair.stage"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert!(
        ok.body.contains("id=\"new-secret\""),
        "a secret was made and shown once"
    );
    let mapped = admin
        .post_form(
            "/admin/webhooks",
            &[
                ("url", "http://[::ffff:127.0.0.1]/hook"),
                ("events", "repair.stage"),
            ],
        )
        .await;
    assert_eq!(mapped.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mapped.body.contains("loopback"), "{}", mapped.body);
}
