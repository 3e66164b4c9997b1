//! Two servers on one PostgreSQL database, each holding the answers sent to it until its own
//! epoch's seal (issue 14, item 2): each seals only batches of more than the round's minimum,
//! and a close by hand through one gives the other a moment to seal what it holds, so nothing
//! either server accepted is lost.

use reqwest::StatusCode;

use crate::harness::*;
use crate::rounds::{close_round, fetch_token, group, is_sealed, marks, open_round, redeem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_seal_in_batches_and_a_close_drains_both() {
    let g = group(Backend::Postgres, 10).await;
    let kek = std::fs::read_to_string(g.app.data_dir.path().join("key-encryption-key")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let b = App::launch(
        dir,
        g.app.database_url.clone(),
        &[],
        &[("KINTSUGI_KEY_ENCRYPTION_KEY", kek.trim())],
    )
    .await;

    let (round, public) = open_round(&g).await;
    let mut tokens = Vec::new();
    for m in &g.members[1..] {
        tokens.push(fetch_token(m, &g.repair, &round, &public).await.unwrap());
    }
    // Four answers to each server: k = 5, so neither seals (a batch needs more than k waiting).
    for (i, t) in tokens[..8].iter().enumerate() {
        let server = if i % 2 == 0 { &g.app } else { &b };
        let sent = redeem(server, &round, t, "process", &format!("answer {i}")).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    }
    let running = marks(&g.app, &round).await["running"].clone();
    assert_eq!(
        running.as_array().unwrap().len(),
        2,
        "both servers say they run: {running}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        marks(&b, &round).await["sealed"],
        serde_json::json!([]),
        "four waiting at each server: nothing sealed"
    );

    // Two more to A: it holds six, more than k, and seals at least five of them at its epoch.
    for (i, t) in tokens[8..].iter().enumerate() {
        let sent = redeem(&g.app, &round, t, "process", &format!("late {i}")).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    }
    crate::rounds::wait_sealed(&g.app, &round, 5).await;
    for (i, t) in tokens[..8].iter().enumerate() {
        if i % 2 == 1 {
            assert!(
                !is_sealed(&g.app, &round, t).await,
                "B's answers wait for B's own batch"
            );
        }
    }
    let sealed = marks(&g.app, &round).await["sealed"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        (5..6).contains(&sealed),
        "A sealed at least k and kept one or more for later: {sealed}"
    );

    // Closed through A: B seals what it holds before the close, A the rest.
    let started = std::time::Instant::now();
    close_round(&g, &round).await;
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(3),
        "the close waited for the other server"
    );
    let after = marks(&b, &round).await;
    assert_eq!(after["open"], false);
    assert_eq!(
        after["sealed"].as_array().unwrap().len(),
        10,
        "every answer either server accepted is sealed: {after}"
    );
    assert_eq!(g.app.scalar("SELECT COUNT(*) FROM round_answers").await, 10);
}
