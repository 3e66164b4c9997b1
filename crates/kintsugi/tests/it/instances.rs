//! Several servers on one PostgreSQL database, each with its own data directory: round keys are
//! sealed in the database under the shared key-encryption key, so any server issues tokens for
//! a round another opened, and a close through one destroys the key for all.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;
use crate::rounds::{fetch_token, group, open_round};

/// How many round keys the database holds.
pub async fn round_keys(app: &App) -> i64 {
    let count = "SELECT COUNT(*) FROM round_keys";
    match &app.database_url {
        None => {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .connect_with(
                    sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(app.data_dir.path().join("kintsugi.db"))
                        .read_only(true),
                )
                .await
                .unwrap();
            let (n,): (i64,) = sqlx::query_as(count).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
        Some(url) => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .unwrap();
            let (n,): (i64,) = sqlx::query_as(count).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }
}

/// Every file under `dir` whose name says it holds a round key.
pub fn key_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("round-"))
            {
                found.push(path);
            }
        }
    }
    found
}

/// The same browser (its session lives in the shared database), talking to another server.
fn at(app: &App, b: &Browser) -> Browser {
    Browser {
        base: app.url.clone(),
        client: b.client.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_round_keys_and_a_close_destroys_them() {
    let g = group(Backend::Postgres, 3).await;
    // A made its key-encryption key at first start, in its data directory; B is given it.
    let kek = std::fs::read_to_string(g.app.data_dir.path().join("key-encryption-key")).unwrap();
    let env = [("KINTSUGI_KEY_ENCRYPTION_KEY", kek.trim())];
    let b = App::launch(
        tempfile::tempdir().unwrap(),
        g.app.database_url.clone(),
        &[],
        &env,
    )
    .await;
    assert!(
        !b.data_dir.path().join("key-encryption-key").exists(),
        "with the setting, no key file is made"
    );

    let (round, public) = open_round(&g).await;
    assert_eq!(round_keys(&g.app).await, 1, "the key is in the database");
    assert!(key_files(g.app.data_dir.path()).is_empty() && key_files(b.data_dir.path()).is_empty());

    // B issues a token for the round A opened; the token verifies under the round's key.
    let token = fetch_token(&at(&b, &g.members[1]), &g.repair, &round, &public)
        .await
        .expect("B signs for a round A opened");
    assert_eq!(token.round().unwrap(), round.parse::<uuid::Uuid>().unwrap());

    // A server with another key-encryption key cannot open it: a 503 that says why (never
    // "closed"), and it reports itself not ready, naming the problem.
    let wrong = App::launch(
        tempfile::tempdir().unwrap(),
        g.app.database_url.clone(),
        &[],
        &[],
    )
    .await;
    let refused = at(&wrong, &g.members[2])
        .json(
            Method::POST,
            &format!("/repairs/{}/rounds/{round}/token", g.repair),
            Some(json!({"blinded_message": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 256])})),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("key_encryption_key"),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains("closed"), "{}", refused.body);
    let ready = wrong.browser().get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.body.contains("key_encryption_key"), "{}", ready.body);
    assert_eq!(b.browser().get("/readyz").await.status, StatusCode::OK);
    // Nor does it seal a key that the others could not open: it opens no round.
    let opened = at(&wrong, &g.fay)
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{}/rounds", g.repair),
            Some(json!({"kind": "listening"})),
        )
        .await;
    assert_eq!(
        opened.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        opened.body
    );
    assert!(
        opened.body.contains("key_encryption_key"),
        "{}",
        opened.body
    );
    assert_eq!(round_keys(&g.app).await, 1, "no key was stored");
    drop(wrong);

    // Closed through A: B refuses as closed, and no key remains anywhere.
    crate::rounds::close_round(&g, &round).await;
    let late = fetch_token(&at(&b, &g.members[2]), &g.repair, &round, &public).await;
    assert_eq!(late.err(), Some(StatusCode::CONFLICT));
    let said = at(&b, &g.members[2])
        .json(
            Method::POST,
            &format!("/repairs/{}/rounds/{round}/token", g.repair),
            Some(json!({"blinded_message": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 256])})),
        )
        .await;
    assert!(said.body.contains("closed"), "{}", said.body);
    assert_eq!(round_keys(&g.app).await, 0, "no key in the database");
    assert!(key_files(g.app.data_dir.path()).is_empty() && key_files(b.data_dir.path()).is_empty());
}

/// A round key in a file, as an earlier release kept it, moves into the database at the next
/// start, and every key file is removed; the round goes on issuing tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_files_of_an_earlier_release_move_into_the_database() {
    let g = group(Backend::Sqlite, 2).await;
    let (round, public) = open_round(&g).await;
    let crate::rounds::Group {
        app,
        members,
        repair,
        ..
    } = g;
    let (dir, _) = app.stop();
    // Take the key out of the database into a file, as the earlier key store wrote it, with a
    // stale file for a round that does not exist beside it.
    let db = dir.path().join("kintsugi.db");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&db))
        .await
        .unwrap();
    let (sealed,): (String,) = sqlx::query_as("SELECT sealed FROM round_keys WHERE round_id = $1")
        .bind(&round)
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM round_keys")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let kek = std::fs::read_to_string(dir.path().join("key-encryption-key")).unwrap();
    let der = kintsugi_app::keys::Kek::from_base64(&kek)
        .unwrap()
        .open(round.parse().unwrap(), &sealed)
        .unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join(format!("round-{round}.der")), &der).unwrap();
    std::fs::write(
        keys.join(format!("round-{}.der", uuid::Uuid::new_v4())),
        b"stale",
    )
    .unwrap();

    let app = App::launch(dir, None, &[], &[]).await;
    assert_eq!(
        round_keys(&app).await,
        1,
        "the open round's key is in the database"
    );
    assert!(
        key_files(app.data_dir.path()).is_empty(),
        "no key file is left"
    );
    let token = fetch_token(&at(&app, &members[1]), &repair, &round, &public).await;
    assert!(
        token.is_ok(),
        "the round still issues tokens: {:?}",
        token.err()
    );
}
