//! `kintsugi transfer`: a SQLite server with data moves to a fresh PostgreSQL database,
//! every table's count matches, and the same people log in and carry on there.

use std::process::Command;

use reqwest::StatusCode;
use sqlx::AssertSqlSafe;

use crate::harness::*;
use crate::rounds::{fetch_token, group, open_round, redeem};

fn transfer(from: &str, to: &str) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["transfer", "--from", from, "--to", to])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Every table's row count, read straight from each database.
async fn counts(sqlite: &std::path::Path, postgres: &str) -> Vec<(String, i64, i64)> {
    let lite = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(sqlite))
        .await
        .unwrap();
    let pg = sqlx::postgres::PgPoolOptions::new()
        .connect(postgres)
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&lite)
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let q = format!("SELECT COUNT(*) FROM {t}");
        let a: i64 = sqlx::query_scalar(AssertSqlSafe(q.clone()))
            .fetch_one(&lite)
            .await
            .unwrap();
        let b: i64 = sqlx::query_scalar(AssertSqlSafe(q))
            .fetch_one(&pg)
            .await
            .unwrap();
        out.push((t, a, b));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_copies_every_row_and_carries_on() {
    // A server on SQLite with people, a repair, an open round and anonymous answers.
    let g = group(Backend::Sqlite, 5).await;
    // k = 3, so most of the four answers below are sealed at the next epoch (they wait in
    // memory until then; one or more may be carried to a later batch, and a server stopped for
    // the move loses those to their clients' re-sends).
    g.admin
        .post_form("/admin/settings", &[("k_threshold", "3")])
        .await;
    let (round, public) = open_round(&g).await;
    let mut tokens = Vec::new();
    for b in &g.members {
        tokens.push(fetch_token(b, &g.repair, &round, &public).await.unwrap());
    }
    for t in tokens.iter().take(4) {
        let r = redeem(&g.app, &round, t, "communication", "We heard last.").await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    crate::rounds::wait_sealed(&g.app, &round, 3).await;
    let mut sealed = None;
    for t in tokens.iter().take(4) {
        if crate::rounds::is_sealed(&g.app, &round, t).await {
            sealed = Some(t.clone());
        }
    }
    let sealed = sealed.expect("a sealed answer");
    let spare = tokens.pop().unwrap();
    // A reference that points back (a team's parent team) is copied too.
    create_team(&g.admin, "Customer Operations").await;
    g.app
        .exec(
            "UPDATE teams SET parent_id = (SELECT id FROM teams WHERE name = 'Customer Operations') \
             WHERE name = 'Support'"
                .into(),
        )
        .await;
    let repair = g.repair.clone();
    let crate::rounds::Group { app, .. } = g;
    let (data_dir, _) = app.stop();
    let db = data_dir.path().join("kintsugi.db");
    let from = format!("sqlite://{}", db.display());
    let to = fresh_postgres().await;

    let (ok, out, err) = transfer(&from, &to);
    assert!(ok, "transfer failed: {err}\n{out}");
    assert!(out.contains("the counts match"), "{out}");
    assert!(
        out.contains("key-encryption key"),
        "the key-encryption key is mentioned: {out}"
    );

    let counts = counts(&db, &to).await;
    assert!(counts.len() > 20, "every table is compared: {counts:?}");
    for (table, lite, pg) in &counts {
        if table == "_sqlx_migrations" {
            continue;
        }
        assert_eq!(lite, pg, "{table}");
        let printed = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("{table} is printed: {out}"));
        assert!(printed.ends_with(&format!(" {lite}")), "{printed}");
    }
    for table in ["people", "repairs", "round_answers", "rounds", "audit_log"] {
        let (_, n, _) = counts
            .iter()
            .find(|(t, ..)| t == table)
            .unwrap_or_else(|| panic!("{table} exists"));
        assert!(*n > 0, "{table} had rows to copy");
    }

    let pg = sqlx::postgres::PgPoolOptions::new()
        .connect(&to)
        .await
        .unwrap();
    let parent: Option<String> = sqlx::query_scalar(
        "SELECT p.name FROM teams t JOIN teams p ON p.id = t.parent_id WHERE t.name = 'Support'",
    )
    .fetch_optional(&pg)
    .await
    .unwrap();
    assert_eq!(parent.as_deref(), Some("Customer Operations"));
    pg.close().await;

    // A second transfer into the same database is refused, and changes nothing.
    let (ok, _, err) = transfer(&from, &to);
    assert!(!ok);
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(counts_total(&db, &to).await, total(&counts));

    // The same data directory (its key store) over PostgreSQL: people log in and carry on.
    let app = App::launch(data_dir, Some(to.clone()), &[], &[]).await;
    assert!(app.setup_link.is_none(), "the organisation came across");
    let admin = app.browser();
    assert_eq!(
        admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let fay = app.browser();
    assert_eq!(
        fay.login("fay@acme.example", "a long enough password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let page = fay.get(&format!("/repairs/{repair}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Support was kept in the dark"));
    let late = redeem(&app, &round, &spare, "process", "Late but counted.").await;
    assert_eq!(
        late.status,
        StatusCode::ACCEPTED,
        "a token signed before the move is redeemed after it: {}",
        late.body
    );
    let again = redeem(&app, &round, &sealed, "process", "Twice.").await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "spent marks came across: {}",
        again.body
    );
}

fn total(counts: &[(String, i64, i64)]) -> i64 {
    counts.iter().map(|(_, _, pg)| pg).sum()
}

async fn counts_total(sqlite: &std::path::Path, postgres: &str) -> i64 {
    total(&counts(sqlite, postgres).await)
}

#[test]
fn transfer_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    let (ok, _, err) = transfer(&missing, "postgres://postgres@127.0.0.1:5432/x");
    assert!(!ok && err.contains("no SQLite database"), "{err}");
    let (ok, _, err) = transfer("postgres://a@b/c", "postgres://a@b/d");
    assert!(
        !ok && err.contains("--from must be a SQLite database"),
        "{err}"
    );
    let (ok, _, err) = transfer(&missing, "sqlite://other.db");
    assert!(
        !ok && err.contains("--to must be a PostgreSQL database"),
        "{err}"
    );
}
