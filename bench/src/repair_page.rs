//! The repair page under load, and start-up, on SQLite or PostgreSQL.
//!
//! A repair with 50 participants (two teams of 25), 200 updates and 100 commitments is built
//! through the API; then the server is restarted cold and timed to its first `/readyz`, its
//! idle memory read, and `wrk` loads the repair page as its facilitator beside the limit: a
//! static response (`/healthz`, and the 90 KB stylesheet) from the same server, in the same run.
//!
//! Run: `target/release/repair-page [sqlite|postgres] [SECONDS=10] [CONNECTIONS=8]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark is run by hand or by bench/run: a step that fails stops it with its message"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark builds its fixtures beside the application, not through it: fresh ids \
              and the real time, as the server it measures sees them"
)]

use std::time::Duration;

use kintsugi_bench::{Server, Target, fresh_postgres, info, row, wrk};
use serde_json::{Value, json};

const PASSWORD: &str = "a long bench password";
const EMAIL: &str = "bench@bench.example";

fn arg(n: usize) -> Option<String> {
    std::env::args().nth(n)
}

#[tokio::main]
async fn main() {
    let backend = arg(1).unwrap_or_else(|| "sqlite".into());
    let seconds: u32 = arg(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let connections: u32 = arg(3).and_then(|a| a.parse().ok()).unwrap_or(8);
    let dir = kintsugi_bench::data_dir();
    let (database_url, drop_db) = match backend.as_str() {
        "sqlite" => (None, None),
        "postgres" => {
            let (url, drop) = fresh_postgres().await;
            (Some(url), Some(drop))
        }
        other => panic!("backend {other:?}: sqlite or postgres"),
    };
    let db = database_url.as_deref();

    // First start: an empty database, migrations included.
    let first = Server::start(dir.path(), db);
    let fresh = first.ready_after;
    let repair = populate(&first).await;
    first.stop();

    // Cold start on the populated database: the figure.
    let server = Server::start(dir.path(), db);
    let cold = server.ready_after;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = server.rss_mb();

    let cookie = login(&server.url).await;
    let page_url = format!("{}/repairs/{repair}", server.url);
    let page = reqwest::Client::new()
        .get(&page_url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the facilitator sees the repair page");
    let html = page.text().await.unwrap();
    for needle in ["Member 49", "Commitment 99", "Update 199"] {
        assert!(html.contains(needle), "the page shows {needle}");
    }

    // Warm up, then the limit and the figure, each for the same time and connections.
    wrk(&page_url, Some(&cookie), 2, connections);
    let healthz = wrk(
        &format!("{}/healthz", server.url),
        None,
        seconds,
        connections,
    );
    // A second limit: the largest static asset, a response of the page's order of size, so
    // the ratio shows what the page costs beyond moving its bytes.
    let asset = wrk(
        &format!("{}/assets/app.css", server.url),
        None,
        seconds,
        connections,
    );
    let load = wrk(&page_url, Some(&cookie), seconds, connections);
    let after_rss = server.rss_mb();
    server.stop();
    if let Some(drop) = drop_db {
        drop().await;
    }

    println!(
        "repair page on {backend}: 50 participants, 200 updates, 100 commitments; page {} KB; \
         wrk {seconds} s, {connections} connections, 2 threads, loopback",
        html.len() / 1024
    );
    let b = &backend;
    row(
        &format!("repair page req/s vs /healthz req/s ({b})"),
        load.requests_per_s,
        healthz.requests_per_s,
        Target::AtLeast(0.30),
    );
    row(
        &format!("repair page p99 ms vs 20 ms ({b})"),
        load.p99_ms,
        20.0,
        Target::AtMost(1.0),
    );
    row(
        &format!("repair page req/s vs /assets/app.css (90 KB) req/s ({b})"),
        load.requests_per_s,
        asset.requests_per_s,
        Target::AtLeast(0.30),
    );
    info(&format!("repair page p50 ms ({b})"), load.p50_ms);
    info(&format!("/healthz p50 ms ({b})"), healthz.p50_ms);
    row(
        &format!("cold start to first /readyz, ms, vs 200 ms ({b})"),
        cold.as_secs_f64() * 1000.0,
        200.0,
        Target::AtMost(1.0),
    );
    info(
        &format!("first start on an empty database, ms, migrations included ({b})"),
        fresh.as_secs_f64() * 1000.0,
    );
    row(
        &format!("idle RSS MB vs 40 MB ({b})"),
        idle_rss,
        40.0,
        Target::AtMost(1.0),
    );
    info(&format!("RSS MB after the page benchmark ({b})"), after_rss);
}

/// Sets up the organisation and the repair through HTTP, as people would; returns its id.
async fn populate(server: &Server) -> String {
    let url = server.url.clone();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let setup = server.setup_link.clone().expect("a setup link");
    let page = http.get(&setup).send().await.unwrap().text().await.unwrap();
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let token = setup.split("token=").nth(1).unwrap();
    let done = http
        .post(format!("{url}/setup"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("token", token),
            ("organisation_name", "Bench"),
            ("name", "Bea Bench"),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303, "setup");
    let post = async |path: String, body: Value| -> Value {
        let r = http
            .post(format!("{url}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    };
    let team_a = post("/api/v1/teams".into(), json!({"name": "Platform"})).await;
    let team_b = post("/api/v1/teams".into(), json!({"name": "Support"})).await;
    let mut accountable = Vec::new();
    for i in 0..50 {
        let team = if i < 25 { &team_a } else { &team_b };
        let p = post(
            "/api/v1/people".into(),
            json!({"name": format!("Member {i}"), "email": format!("m{i}@bench.example"), "team_ids": [team["id"]]}),
        )
        .await;
        if i < 25 {
            accountable.push(p["id"].clone());
        }
    }
    let repair = post(
        "/api/v1/repairs".into(),
        json!({"title": "Platform and Support", "summary": "Releases moved without telling support, for a year.",
            "breach": "broken_promise", "scope": "team_team",
            "accountable_teams": [team_a["id"]], "affected_teams": [team_b["id"]]}),
    )
    .await;
    let id = repair["id"].as_str().unwrap().to_owned();
    for i in 0..200 {
        let body = if i % 10 == 0 {
            json!({"kind": "decision", "body": format!("Update {i}: we decided to ship on Tuesdays."), "reason": "Support staffing is highest then."})
        } else {
            json!({"kind": "progress", "body": format!("Update {i}: the release notes reached support two days early this week.")})
        };
        post(format!("/api/v1/repairs/{id}/updates"), body).await;
    }
    let today = time::OffsetDateTime::now_utc().date();
    for i in 0..100 {
        let owner = &accountable[i % accountable.len()];
        let first = today + time::Duration::days((i % 28) as i64);
        let body = if i % 3 == 0 {
            json!({"owner": owner, "statement": format!("Commitment {i}: a weekly release note"), "cadence": "weekly", "count": 8, "first_due": first.to_string()})
        } else {
            json!({"owner": owner, "statement": format!("Commitment {i}: review the support queue together"), "due": first.to_string()})
        };
        post(format!("/api/v1/repairs/{id}/commitments"), body).await;
    }
    id
}

/// A session cookie for the facilitator (the admin who opened the repair).
async fn login(url: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/session"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "login: {}", r.status());
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kintsugi_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}
