//! The adversary test (DESIGN.md section 3): a real round of 20 members over HTTP, answered
//! in a random order. The adversary holds the whole database, every log line, and the order
//! in which members fetched their tokens, and tries to link answers to people. It must do no
//! better than chance.

use reqwest::Method;
use serde_json::Value;
use sqlx::{Column, Row};

use crate::harness::*;
use crate::on_both;
use crate::rounds::{fetch_token, group, open_round, redeem};

const MEMBERS: usize = 20;

/// A fixed-seed permutation (xorshift), so the answer order is random but repeatable.
fn permutation(n: usize, mut seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    order
}

/// Every table as rows of text, the way a dump gives them, in physical order where the
/// database has one (SQLite's storage order, PostgreSQL's ctid).
async fn dump(app: &App) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    match &app.database_url {
        None => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(app.data_dir.path().join("kintsugi.db"))
                .read_only(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .connect_with(opts)
                .await
                .unwrap();
            let tables: Vec<(String,)> =
                sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            for (table,) in tables {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\"")))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                let cols = rows
                    .first()
                    .map(|r| r.columns().iter().map(|c| c.name().to_owned()).collect())
                    .unwrap_or_default();
                let values = rows
                    .iter()
                    .map(|r| {
                        (0..r.columns().len())
                            .map(|i| text_of_sqlite(r, i))
                            .collect()
                    })
                    .collect();
                out.push((table, cols, values));
            }
        }
        Some(url) => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .connect(url)
                .await
                .unwrap();
            let tables: Vec<(String,)> =
                sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            for (table,) in tables {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT row_to_json(t)::text AS j FROM \"{table}\" t ORDER BY ctid"
                )))
                .fetch_all(&pool)
                .await
                .unwrap();
                let mut cols = Vec::new();
                let mut values = Vec::new();
                for r in rows {
                    let j: String = r.get("j");
                    let obj: serde_json::Map<String, Value> = serde_json::from_str(&j).unwrap();
                    cols = obj.keys().cloned().collect();
                    values.push(
                        obj.values()
                            .map(|v| {
                                v.as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| v.to_string())
                            })
                            .collect(),
                    );
                }
                out.push((table, cols, values));
            }
        }
    }
    out
}

fn text_of_sqlite(r: &sqlx::sqlite::SqliteRow, i: usize) -> String {
    r.try_get::<String, _>(i)
        .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
        .or_else(|_| r.try_get::<Vec<u8>, _>(i).map(hex::encode))
        .unwrap_or_default()
}

on_both!(
    no_one_can_link_an_answer_to_a_person,
    |backend| async move {
        let g = group(backend, MEMBERS - 1).await;
        let (round, public) = open_round(&g).await;
        let ids: Vec<String> = {
            let people = g
                .admin
                .json(Method::GET, "/api/v1/people", None)
                .await
                .json();
            g.members
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    let email = if i == 0 {
                        "lee@acme.example".to_owned()
                    } else {
                        format!("m{}@acme.example", i - 1)
                    };
                    people
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|p| p["email"] == email.as_str())
                        .unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect()
        };

        // Tokens are fetched in member order (the adversary knows this order and its times)...
        let mut tokens = Vec::new();
        for b in &g.members {
            tokens.push(fetch_token(b, &g.repair, &round, &public).await.unwrap());
        }
        // ...and answered in a random order. Each answer carries the ground truth the test alone reads.
        let order = permutation(MEMBERS, 0x5eed_cafe_f00d);
        for &i in &order {
            let r = redeem(
                &g.app,
                &round,
                &tokens[i],
                "communication",
                &format!("truth:{i}"),
            )
            .await;
            assert_eq!(r.status.as_u16(), 201);
        }
        g.fay
            .json(
                Method::POST,
                &format!("/api/v1/repairs/{}/rounds/{round}/close", g.repair),
                None,
            )
            .await;

        let tables = dump(&g.app).await;
        let table = |name: &str| {
            tables
                .iter()
                .find(|(t, _, _)| t == name)
                .unwrap_or_else(|| panic!("no table {name}"))
        };
        let (_, answer_cols, answers) = table("round_answers");
        let (_, _, spent) = table("round_spent");
        assert_eq!(answers.len(), MEMBERS);

        // 1. No column joins an answer to a person: no answer or spent row holds anything that
        //    identifies a member (id, email, name) or a row of the issuance table.
        let identifying: Vec<String> = ids
            .iter()
            .cloned()
            .chain((0..MEMBERS - 1).map(|i| format!("m{i}@acme.example")))
            .collect();
        for row in answers.iter().chain(spent.iter()) {
            for value in row {
                assert!(
                    !identifying.iter().any(|x| value.contains(x.as_str())),
                    "an answer row holds {value}"
                );
            }
        }
        for col in answer_cols {
            assert!(
                !col.contains("person") && !col.contains("_at") && !col.contains("time"),
                "round_answers.{col} could link or date an answer"
            );
        }
        // The issuance table knows who got a token, and nothing else: no time, no token.
        let (_, issued_cols, issued) = table("round_issued");
        assert_eq!(issued.len(), MEMBERS);
        let mut cols = issued_cols.clone();
        cols.sort();
        assert_eq!(cols, ["person_id", "round_id"]);

        // 2. Linking by storage order: guess that the k-th stored answer is the k-th member to
        //    fetch a token (or to appear in the issuance table). Chance gets about 1 of 20 right
        //    (the fixed points of a random permutation); P(≥ 6) < 0.001.
        let truth: Vec<usize> = answers
            .iter()
            .map(|row| {
                row.iter()
                    .find_map(|v| v.strip_prefix("truth:").and_then(|n| n.parse().ok()))
                    .expect("the comment")
            })
            .collect();
        let by_fetch_order = truth
            .iter()
            .enumerate()
            .filter(|(k, who)| *k == **who)
            .count();
        let issued_order: Vec<usize> = issued
            .iter()
            .map(|row| ids.iter().position(|id| row.contains(id)).unwrap())
            .collect();
        let by_issue_rows = truth
            .iter()
            .zip(&issued_order)
            .filter(|(a, b)| a == b)
            .count();
        let by_answer_time = truth.iter().zip(&order).filter(|(a, b)| a == b).count();
        assert!(
            by_fetch_order <= 5,
            "storage order matches token-fetch order for {by_fetch_order} of {MEMBERS}"
        );
        assert!(
            by_issue_rows <= 5,
            "storage order matches the issuance table for {by_issue_rows} of {MEMBERS}"
        );
        if g.app.database_url.is_none() {
            // SQLite keeps answers in random-key order: not even the arrival order shows.
            assert!(
                by_answer_time <= 5,
                "SQLite storage order matches arrival order for {by_answer_time} of {MEMBERS}"
            );
        }

        // 3. The logs: nothing about the anonymous path, no client address, no token.
        let log = g.app.log.lock().unwrap().join("\n");
        assert!(log.contains("route"), "the server did log requests: {log}");
        assert!(
            !log.contains("/anon/"),
            "the anonymous path leaves no log line"
        );
        for t in &tokens {
            assert!(!log.contains(&t.spent_mark()));
        }
        assert!(!log.contains("127.0.0.1:"), "no client address in the log");
    }
);
