//! What operators rely on: health, readiness, metrics, limits, and clear errors.

use reqwest::{Method, StatusCode};

use crate::harness::*;
use crate::on_both;

/// The bearer token `/metrics` asks for in these tests.
const METRICS_TOKEN: &str = "metrics-token-for-the-tests";

/// `/metrics` with a bearer token, or none.
async fn scrape(app: &App, token: Option<&str>) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().get(format!("{}/metrics", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

on_both!(health_readiness_and_metrics, |backend| async move {
    let app = App::start_with(backend, &[], &[("KINTSUGI_METRICS_TOKEN", METRICS_TOKEN)]).await;
    let b = app.browser();
    assert_eq!(b.get("/healthz").await.status, StatusCode::OK);
    let ready = b.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (StatusCode::OK, "ready\n")
    );
    let link = app.setup_link.clone().unwrap();
    b.get_abs(&link).await;
    // Requests on the anonymous path, refused or not, are neither counted nor timed.
    let anon = reqwest::Client::new()
        .get(format!(
            "{}/anon/rounds/{}/marks",
            app.url,
            uuid::Uuid::nil()
        ))
        .send()
        .await
        .unwrap();
    assert!(anon.status().as_u16() < 500);
    assert_eq!(scrape(&app, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scrape(&app, Some("metrics-token-for-the-test")).await.0,
        StatusCode::UNAUTHORIZED,
        "a wrong token is refused"
    );
    let (status, metrics) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert!(
        metrics.contains("route=\"/setup\""),
        "counted by route template"
    );
    assert!(metrics.contains("http_request_duration_seconds"));
    assert!(
        !metrics.contains("anon"),
        "no count of the anonymous path: {metrics}"
    );
    let token = link.split("token=").nth(1).unwrap();
    assert!(!metrics.contains(token), "no secret reaches a metric label");
});

/// Without a `metrics_token`, there is no `/metrics` at all.
#[tokio::test]
async fn metrics_are_off_without_a_token() {
    let app = App::start(Backend::Sqlite).await;
    let (status, body) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("metrics_token"), "{body}");
}

/// A too-short token is refused at start-up, by name, without echoing it.
#[test]
fn a_short_metrics_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("KINTSUGI_METRICS_TOKEN", "short-secret")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("metrics_token") && err.contains("at least 16"),
        "{err}"
    );
    assert!(
        !err.contains("short-secret"),
        "the token is not echoed: {err}"
    );
}

// At the most verbose level a person can ask for, no line carries a client address, a
// statement, or what a request to the anonymous path sent.
on_both!(
    trace_logs_carry_no_address_and_no_statement,
    |backend| async move {
        let app = App::start_with(
            backend,
            &[],
            &[(
                "RUST_LOG",
                "trace,hyper_util=trace,axum::serve=trace,sqlx::query=trace",
            )],
        )
        .await;
        let b = app.setup().await;
        b.get("/").await;
        let client = reqwest::Client::new();
        let mark = "a-mark-that-must-not-be-logged";
        let sent = client
            .get(format!(
                "{}/anon/rounds/{}/marks?mark={mark}",
                app.url,
                uuid::Uuid::nil()
            ))
            .send()
            .await
            .unwrap();
        assert!(sent.status().as_u16() < 500);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let log = app.log.lock().unwrap().join("\n");
        assert!(
            log.contains("the libraries' logs are capped"),
            "the log is at trace level"
        );
        assert!(log.contains("route"), "requests are logged");
        let port = app.url.rsplit(':').next().unwrap().to_owned();
        for line in log.lines() {
            // The server's own address may appear; another one on this host is a client's.
            let addresses = line.match_indices("127.0.0.1:").filter(|(at, _)| {
                let rest = &line[at + "127.0.0.1:".len()..];
                !rest.starts_with(&port) && !rest.starts_with("5432")
            });
            assert_eq!(addresses.count(), 0, "a client address in the log: {line}");
        }
        assert!(!log.contains(mark), "an /anon parameter in the log");
        assert!(!log.contains("/anon"), "the anonymous path is not logged");
        assert!(!log.contains("SELECT"), "no statement is logged");
        assert!(!log.contains("sqlx::query"), "no statement is logged");
    }
);

#[tokio::test]
async fn readyz_fails_when_the_database_is_gone() {
    let db = fresh_postgres().await;
    let app = App::launch(tempfile::tempdir().unwrap(), Some(db.clone()), &[], &[]).await;
    assert_eq!(app.browser().get("/readyz").await.status, StatusCode::OK);
    // Drop the database under the running server.
    let (base, name) = db.rsplit_once('/').unwrap();
    let admin = sqlx::postgres::PgPoolOptions::new()
        .connect(&format!("{base}/postgres"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
    let ready = app.browser().get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body, "database unavailable\n");
    let login = app.browser().login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(
        login.status == StatusCode::SERVICE_UNAVAILABLE || login.status.is_client_error(),
        "{}",
        login.status
    );
}

on_both!(
    oversized_and_malformed_bodies_get_clear_4xx,
    |backend| async move {
        let app = App::start(backend).await;
        app.setup().await;
        let b = app.browser();
        b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let huge = "x".repeat(200 * 1024);
        let token = b.csrf_token().await;
        let page = b
            .client
            .post(format!("{}/admin/teams", app.url))
            .form(&[("csrf_token", token.as_str()), ("name", huge.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("larger than 65536 bytes")
        );
        let api = b
            .json(
                Method::POST,
                "/api/v1/teams",
                Some(serde_json::json!({ "name": huge })),
            )
            .await;
        assert_eq!(api.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(api.json()["status"], 413);
        let long_name = "y".repeat(121);
        let too_long = b
            .json(
                Method::POST,
                "/api/v1/teams",
                Some(serde_json::json!({ "name": long_name })),
            )
            .await;
        assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(too_long.body.contains("at most 120 characters"));
        assert!(
            b.json(Method::GET, "/api/v1/teams", None)
                .await
                .json()
                .as_array()
                .unwrap()
                .is_empty(),
            "nothing stored"
        );
        let wrong_type = b
            .client
            .post(format!("{}/api/v1/teams", app.url))
            .header("content-type", "text/plain")
            .header("x-csrf-token", token)
            .body("name=x")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
);

#[tokio::test]
async fn pages_send_security_headers() {
    let app = App::start(Backend::Sqlite).await;
    let page = app.browser().get("/login").await;
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(
        page.headers["referrer-policy"], "same-origin",
        "no-referrer makes browsers send Origin: null on forms"
    );
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let css = app.browser().get("/assets/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.len() > 1000, "the embedded stylesheet is served");
    assert!(
        app.browser()
            .get("/assets/app.js")
            .await
            .body
            .contains("htmx")
    );
}
