//! Events go through a transactional outbox, and the server stops gracefully.
//!
//! - A change and its event are stored in one transaction. The server is killed after the
//!   changes and before any fan-out; after a restart every event reaches the receiver once
//!   (by its idempotency key), and none is lost.
//! - On SIGTERM the job worker stops claiming, lets a running job finish within its grace, or
//!   releases it for the next start (so it runs at once, not after its lease), and the process
//!   exits cleanly.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both;
use crate::webhooks::{Mode, Receiver, add_hook, allow_private, receiver};

/// A worker that, once idle, does not look for jobs again for an hour: events stay unsent.
const ASLEEP: &[(&str, &str)] = &[("KINTSUGI_JOB_POLL_MILLIS", "3600000")];
const AWAKE: &[(&str, &str)] = &[("KINTSUGI_JOB_POLL_MILLIS", "50")];

/// Waits for the worker's first periodic jobs to be done: after them it goes idle.
async fn until_idle(app: &App) {
    for _ in 0..200 {
        if app
            .scalar("SELECT COUNT(*) FROM jobs WHERE state = 'done'")
            .await
            >= 2
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the worker did not run its first periodic jobs");
}

/// Waits until the receiver has had `n` requests.
async fn received(rx: &Receiver, n: usize, within: Duration) {
    let started = std::time::Instant::now();
    while rx.got.lock().unwrap().len() < n {
        assert!(
            started.elapsed() < within,
            "the receiver had {} requests, not {n}",
            rx.got.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A facilitator, a repair between two people, and the webhook (every event) in place.
async fn repair(app: &App, rx: &Receiver) -> (Browser, String) {
    let admin = app.setup().await;
    allow_private(&admin, true).await;
    assert_eq!(add_hook(&admin, &rx.url).await.status, StatusCode::CREATED);
    let (_, fay) = member(
        app,
        &admin,
        "Fay Facilitator",
        "fay@acme.example",
        &["facilitator"],
    )
    .await;
    let (lee, _) = member(app, &admin, "Lee Lead", "lee@acme.example", &[]).await;
    let (ana, _) = member(app, &admin, "Ana Affected", "ana@acme.example", &[]).await;
    let opened = fay
        .post_form(
            "/repairs",
            &[
                ("title", "Missed launch date"),
                ("summary", "The launch slipped twice."),
                ("breach", "missed_deadline"),
                ("scope", "person_person"),
                ("accountable_people", &lee),
                ("affected_people", &ana),
                ("update_cadence_days", "7"),
            ],
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    (fay, opened.location.unwrap())
}

async fn post_update(fay: &Browser, repair: &str, body: &str) {
    let posted = fay
        .post_form(
            &format!("{repair}/updates"),
            &[("kind", "progress"), ("body", body)],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
}

on_both!(
    events_survive_a_crash_between_the_change_and_the_fan_out,
    |backend| async move {
        let rx = receiver(Mode::FailFirstN(0)).await;
        let app = App::start_with(backend, &[], ASLEEP).await;
        until_idle(&app).await;
        let (fay, repair) = repair(&app, &rx).await;
        for n in 1..=3 {
            post_update(&fay, &repair, &format!("Update {n}")).await;
        }
        let round = fay
            .post_form(&format!("{repair}/rounds"), &[("kind", "listening")])
            .await;
        assert_eq!(round.status, StatusCode::SEE_OTHER, "{}", round.body);

        // Each change stored its event and the job that fans it out, and nothing went out.
        assert_eq!(app.scalar("SELECT COUNT(*) FROM events").await, 4);
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM events WHERE fanned_out_at IS NULL")
                .await,
            4
        );
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'event' AND state = 'queued'")
                .await,
            4
        );
        assert!(rx.got.lock().unwrap().is_empty());

        // Killed (SIGKILL) between the changes and their fan-out, then started again.
        let (dir, db) = app.stop();
        let app = App::launch(dir, db, &[], AWAKE).await;
        received(&rx, 4, Duration::from_secs(60)).await;
        // Time for a duplicate to show, were one to come.
        tokio::time::sleep(Duration::from_secs(2)).await;

        let got = rx.got.lock().unwrap().clone();
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in &got {
            assert!(r.signature_ok, "{r:?}");
            by_key
                .entry(r.idempotency_key.clone())
                .or_default()
                .push(r.event.clone());
        }
        assert_eq!(
            by_key.len(),
            4,
            "every event, each under its own key: {got:?}"
        );
        let mut events: Vec<&str> = by_key.values().map(|e| e[0].as_str()).collect();
        events.sort_unstable();
        assert_eq!(
            events,
            [
                "repair.update",
                "repair.update",
                "repair.update",
                "round.opened"
            ]
        );
        assert_eq!(got.len(), 4, "each delivered once: {got:?}");
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM events WHERE fanned_out_at IS NULL")
                .await,
            0
        );
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'")
                .await,
            4
        );
    }
);

/// SIGTERM while a webhook is being sent: the job finishes within the grace, the process exits
/// cleanly, and nothing is sent again after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_job_finish() {
    let rx = receiver(Mode::SlowOnce(3)).await;
    let app = App::start_with(Backend::Sqlite, &[], AWAKE).await;
    let (fay, repair) = repair(&app, &rx).await;
    post_update(&fay, &repair, "Something to send").await;
    received(&rx, 1, Duration::from_secs(30)).await;

    let (status, dir, db) = app.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    let app = App::launch(dir, db, &[], AWAKE).await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'")
            .await,
        1,
        "the delivery finished before the server stopped"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 1, "and is not sent again");
}

/// SIGTERM while a webhook hangs past the grace: the job is released unfinished, the process
/// exits, and the next start sends it at once (not after its five-minute lease), under the
/// same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_a_job_that_does_not_finish() {
    let rx = receiver(Mode::HangOnce).await;
    let app = App::start_with(Backend::Sqlite, &[], AWAKE).await;
    let (fay, repair) = repair(&app, &rx).await;
    post_update(&fay, &repair, "Something to send").await;
    received(&rx, 1, Duration::from_secs(30)).await;

    let (status, dir, db) = app.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    let app = App::launch(dir, db, &[], AWAKE).await;
    received(&rx, 2, Duration::from_secs(30)).await;
    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got[0].idempotency_key, got[1].idempotency_key);
    for _ in 0..100 {
        if app
            .scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'")
            .await
            == 1
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the released delivery was not delivered");
}
