//! The job queue across processes: two `kintsugi serve` instances on one PostgreSQL
//! database share the queue and deliver each job exactly once, counted at a real SMTP server.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::email::Smtp;
use crate::harness::{self, App, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_run_each_job_once() {
    const PEOPLE: usize = 40;
    let smtp = Smtp::start();
    let mut env = smtp.env();
    // Both poll often and claim few at a time, so they race for the same rows.
    env.push(("KINTSUGI_JOB_POLL_MILLIS", "20".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let one = App::start_with(Backend::Postgres, &[], &env).await;
    let two = App::launch(
        tempfile::tempdir().unwrap(),
        one.database_url.clone(),
        &[],
        &env,
    )
    .await;
    let admin = one.setup().await;

    let mut ids = Vec::new();
    for i in 0..PEOPLE {
        let created = admin
            .json(
                Method::POST,
                "/api/v1/people",
                Some(serde_json::json!({
                    "name": format!("Person {i}"),
                    "email": format!("p{i}@acme.example"),
                })),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        ids.push(created.json()["id"].as_str().unwrap().to_owned());
    }
    // Half the invitations through each server.
    let admin_two = harness::Browser {
        base: two.url.clone(),
        client: admin.client.clone(),
    };
    for (i, id) in ids.iter().enumerate() {
        let via = if i % 2 == 0 { &admin } else { &admin_two };
        let sent = crate::email::send_invitation(via, id).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    }

    smtp.wait_for(PEOPLE, Duration::from_secs(60)).await;
    // Let any duplicate arrive before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = smtp.received_about(crate::email::INVITATION);
    assert_eq!(mails.len(), PEOPLE, "each job delivered once, none twice");
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut by_person: HashMap<String, usize> = HashMap::new();
    for m in &mails {
        *by_key
            .entry(m.header("X-Idempotency-Key").unwrap())
            .or_default() += 1;
        *by_person.entry(m.envelope_to.clone()).or_default() += 1;
    }
    assert_eq!(by_key.len(), PEOPLE, "exactly once per idempotency key");
    assert!(by_person.values().all(|&n| n == 1), "{by_person:?}");

    // Both servers did some of the work.
    let done_by = |app: &App| {
        app.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("job done") && l.contains("email"))
            .count()
    };
    let (a, b) = (done_by(&one), done_by(&two));
    // (At least: a weekly digest may have gone out too.)
    assert!(a + b >= PEOPLE, "one: {a}, two: {b}");
    assert!(
        a > 0 && b > 0,
        "both servers claimed jobs (one: {a}, two: {b})"
    );
    let counts = admin.json(Method::GET, "/api/v1/jobs", None).await.json();
    assert_eq!(counts["counts"]["dead"], 0, "{counts}");
}
