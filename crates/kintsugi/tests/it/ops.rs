//! What operators rely on: health, readiness, metrics, limits, and clear errors.

use reqwest::{Method, StatusCode};

use crate::harness::*;
use crate::on_both;

on_both!(health_readiness_and_metrics, |backend| async move {
    let app = App::start(backend).await;
    let b = app.browser();
    assert_eq!(b.get("/healthz").await.status, StatusCode::OK);
    let ready = b.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (StatusCode::OK, "ready\n")
    );
    let link = app.setup_link.clone().unwrap();
    b.get_abs(&link).await;
    let metrics = b.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.body.contains("http_requests_total"),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("route=\"/setup\""),
        "counted by route template"
    );
    assert!(metrics.body.contains("http_request_duration_seconds"));
    let token = link.split("token=").nth(1).unwrap();
    assert!(
        !metrics.body.contains(token),
        "no secret reaches a metric label"
    );
});

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
