//! The adversary suite (issue 14; docs/privacy.md): a real round of 20 members over HTTP,
//! tokens fetched in one random order and answers sent in another, some at once and some
//! seconds apart. The adversary plays the operator and holds everything an operator has:
//! the database (a dump in physical order, PostgreSQL's `xmin`, SQLite's `-wal` file read
//! while the round runs), the database polled every 50 ms, the server's log at `trace`, a
//! PostgreSQL statement log, `/metrics` polled with its token, the key files, and the moment
//! each member acted. Each attack reports how many answers it links to their authors, against
//! what chance gives, and must stay within a bound that chance explains. `scripts/adversary`
//! runs this module alone and prints the table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::Value;
use sqlx::{Column, Row};

use crate::harness::*;
use crate::on_both;
use crate::rounds::{close_round, fetch_token, group_in, marks, open_round};

const MEMBERS: usize = 20;
const METRICS_TOKEN: &str = "adversary-reads-the-metrics";

/// A fixed-seed permutation (xorshift), so each order is random but repeatable.
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

/// Gaps between answers: some at once, some a moment apart, some seconds apart.
fn gaps(n: usize, mut seed: u64) -> Vec<Duration> {
    const CHOICES: [u64; 6] = [0, 0, 60, 300, 900, 1800];
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            Duration::from_millis(CHOICES[(seed % CHOICES.len() as u64) as usize])
        })
        .collect()
}

/// The member an answer came from, read from the ground truth the test alone put in it.
fn truth(text: &str) -> Option<usize> {
    let rest = &text[text.find("truth:")? + 6..];
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// How many guesses are right: the attack's score.
fn right(guess: &[(usize, usize)]) -> usize {
    guess.iter().filter(|(a, b)| a == b).count()
}

/// The guess "the k-th in `observed` is the k-th in `reference`", scored.
fn by_position(observed: &[usize], reference: &[usize]) -> usize {
    right(
        &observed
            .iter()
            .zip(reference)
            .map(|(a, b)| (*a, *b))
            .collect::<Vec<_>>(),
    )
}

/// The best attack on batches seen in time order: whoever acted earliest and is not yet
/// placed wrote the earliest batch, in some order; within a batch the guess pairs the rows as
/// they lie with the senders in the order they acted. Chance gets about one right per batch.
fn by_batches(batches: &[Vec<usize>], sent_order: &[usize]) -> usize {
    let mut next = 0;
    let mut guess = Vec::new();
    for batch in batches {
        for &written in batch {
            if let Some(&sender) = sent_order.get(next) {
                guess.push((written, sender));
            }
            next += 1;
        }
    }
    right(&guess)
}

struct Attack {
    name: String,
    linked: usize,
    chance: String,
    bound: usize,
}

/// What the adversary watched while the round ran.
#[derive(Default)]
struct Watch {
    /// Answers as the database showed them, poll by poll: each poll's new ones.
    db_batches: Vec<Vec<usize>>,
    seen: HashSet<usize>,
    /// SQLite: the order in which answers first appeared in the `-wal` file.
    wal_order: Vec<usize>,
    /// `/metrics` series that name the anonymous path, and the sealed-answer counter's steps.
    anon_series: HashSet<String>,
    counter_steps: Vec<u64>,
    last_counter: u64,
}

/// Where the adversary looks: the server's address, and SQLite's `-wal` file.
#[derive(Clone)]
struct Probe {
    url: String,
    wal: Option<std::path::PathBuf>,
}

async fn poll_once(probe: &Probe, reader: &Reader, watch: &Mutex<Watch>, http: &reqwest::Client) {
    let rows = reader.answers().await;
    {
        let mut w = watch.lock().unwrap();
        let fresh: Vec<usize> = rows
            .iter()
            .filter_map(|c| truth(c))
            .filter(|t| !w.seen.contains(t))
            .collect();
        if !fresh.is_empty() {
            w.seen.extend(fresh.iter().copied());
            w.db_batches.push(fresh);
        }
    }
    if let Some(file) = &probe.wal {
        let wal = std::fs::read(file).unwrap_or_default();
        let text = String::from_utf8_lossy(&wal);
        let mut found: Vec<(usize, usize)> = text
            .match_indices("truth:")
            .filter_map(|(at, _)| truth(&text[at..]).map(|t| (at, t)))
            .collect();
        found.sort();
        let mut w = watch.lock().unwrap();
        for (_, t) in found {
            if !w.wal_order.contains(&t) {
                w.wal_order.push(t);
            }
        }
    }
    if let Ok(resp) = http
        .get(format!("{}/metrics", probe.url))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        && let Ok(text) = resp.text().await
    {
        let mut w = watch.lock().unwrap();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if line.contains("/anon") {
                w.anon_series.insert(line.to_owned());
            }
            if let Some(v) = line.strip_prefix("kintsugi_anon_answers_sealed_total ") {
                let v: u64 = v.trim().parse::<f64>().unwrap_or(0.0) as u64;
                if v > w.last_counter {
                    let step = v - w.last_counter;
                    w.counter_steps.push(step);
                    w.last_counter = v;
                }
            }
        }
    }
}

/// A read connection to the server's database, as the operator has one.
enum Reader {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Reader {
    async fn open(app: &App) -> Self {
        match &app.database_url {
            None => Reader::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(
                        sqlx::sqlite::SqliteConnectOptions::new()
                            .filename(app.data_dir.path().join("kintsugi.db"))
                            .read_only(true),
                    )
                    .await
                    .unwrap(),
            ),
            Some(url) => Reader::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .unwrap(),
            ),
        }
    }

    /// Every answer's comment, in physical order (SQLite's storage order, PostgreSQL's ctid).
    async fn answers(&self) -> Vec<String> {
        match self {
            Reader::Sqlite(pool) => sqlx::query_scalar("SELECT comment FROM round_answers")
                .fetch_all(pool)
                .await
                .unwrap_or_default(),
            Reader::Postgres(pool) => {
                sqlx::query_scalar("SELECT comment FROM round_answers ORDER BY ctid")
                    .fetch_all(pool)
                    .await
                    .unwrap_or_default()
            }
        }
    }

    /// Every table as rows of text, the way a dump gives them.
    async fn dump(&self) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
        let mut out = Vec::new();
        match self {
            Reader::Sqlite(pool) => {
                let tables: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                        .fetch_all(pool)
                        .await
                        .unwrap();
                for table in tables {
                    let rows =
                        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\"")))
                            .fetch_all(pool)
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
                                .map(|i| {
                                    r.try_get::<String, _>(i)
                                        .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                                        .or_else(|_| r.try_get::<Vec<u8>, _>(i).map(hex::encode))
                                        .unwrap_or_default()
                                })
                                .collect()
                        })
                        .collect();
                    out.push((table, cols, values));
                }
            }
            Reader::Postgres(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                )
                .fetch_all(pool)
                .await
                .unwrap();
                for table in tables {
                    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT row_to_json(t)::text FROM \"{table}\" t ORDER BY ctid"
                    )))
                    .fetch_all(pool)
                    .await
                    .unwrap();
                    let mut cols = Vec::new();
                    let mut values = Vec::new();
                    for j in rows {
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
}

/// PostgreSQL's own log, where `log_statement = 'all'` writes every statement: the Debian
/// location, or `KINTSUGI_TEST_PG_LOG`. None when it cannot be read here.
fn pg_log_file() -> Option<std::path::PathBuf> {
    if let Ok(path) = std::env::var("KINTSUGI_TEST_PG_LOG") {
        return Some(path.into());
    }
    let mut logs: Vec<_> = std::fs::read_dir("/var/log/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .filter(|p| std::fs::File::open(p).is_ok())
        .collect();
    logs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    logs.pop()
}

/// Starts the server as the adversary wants it: the most verbose log, `/metrics` readable
/// with a token, epochs of about two seconds; on PostgreSQL, every statement logged.
async fn start(backend: Backend) -> (App, Option<(std::path::PathBuf, u64, String)>) {
    let env = [
        ("RUST_LOG", "trace"),
        ("KINTSUGI_ANON_EPOCH_SECONDS", "2"),
        ("KINTSUGI_METRICS_TOKEN", METRICS_TOKEN),
    ];
    match backend {
        Backend::Sqlite => (App::start_with(backend, &[], &env).await, None),
        Backend::Postgres => {
            let url = fresh_postgres().await;
            let name = url.rsplit('/').next().unwrap().to_owned();
            let admin = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {name} SET log_statement = 'all'"
            )))
            .execute(&admin)
            .await
            .unwrap();
            admin.close().await;
            let log = pg_log_file().map(|p| {
                let at = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                (p, at, name)
            });
            let dir = tempfile::tempdir().unwrap();
            std::fs::set_permissions(
                dir.path(),
                std::os::unix::fs::PermissionsExt::from_mode(0o700),
            )
            .unwrap();
            (App::launch(dir, Some(url), &[], &env).await, log)
        }
    }
}

/// What a PostgreSQL statement log gives the adversary.
struct StatementLog {
    lines: usize,
    /// The answers in the order their inserts were logged.
    inserts: Vec<usize>,
    /// The answers in the order their marks first appear in any statement. The seal's insert
    /// of a mark into `round_spent` comes just before its answer's insert, which pairs them;
    /// a query that named the mark when the answer arrived would date the answer.
    marks_first_seen: Vec<usize>,
    /// Statements that carry a mark together with a person's id.
    mark_with_person: usize,
}

fn statement_log(
    file: &std::path::Path,
    from: u64,
    database: &str,
    marks: &[String],
    people: &[String],
) -> StatementLog {
    let all = std::fs::read(file).unwrap_or_default();
    let text = String::from_utf8_lossy(&all[(from as usize).min(all.len())..]).into_owned();
    let mut log = StatementLog {
        lines: 0,
        inserts: Vec::new(),
        marks_first_seen: Vec::new(),
        mark_with_person: 0,
    };
    let mut first_seen: Vec<&str> = Vec::new();
    let mut last_spent: Option<&str> = None;
    let mut answer_of: HashMap<&str, usize> = HashMap::new();
    let mut statement = String::new();
    for line in text.lines() {
        // A new entry starts with a timestamp; DETAIL lines continue the statement before.
        if !line.starts_with('\t') && !line.contains("DETAIL:") {
            statement.clear();
        }
        if !line.contains(&format!("@{database} ")) && !line.contains("DETAIL:") {
            continue;
        }
        log.lines += 1;
        statement.push_str(line);
        let named: Vec<&str> = marks
            .iter()
            .map(String::as_str)
            .filter(|m| line.contains(m))
            .collect();
        for m in &named {
            if !first_seen.contains(m) {
                first_seen.push(m);
            }
        }
        if line.contains("DETAIL:") && statement.contains("INSERT INTO round_spent") {
            last_spent = named.first().copied();
        }
        if statement.contains("INSERT INTO round_answers")
            && line.contains("DETAIL:")
            && let Some(t) = truth(line)
        {
            log.inserts.push(t);
            if let Some(m) = last_spent.take() {
                answer_of.insert(m, t);
            }
        }
        if marks.iter().any(|m| statement.contains(m.as_str()))
            && people.iter().any(|p| statement.contains(p.as_str()))
        {
            log.mark_with_person += 1;
        }
    }
    log.marks_first_seen = first_seen
        .iter()
        .filter_map(|m| answer_of.get(m).copied())
        .collect();
    log
}

on_both!(
    no_one_can_link_an_answer_to_a_person,
    |backend| async move {
        let (app, pg_log) = start(backend).await;
        let g = group_in(app, MEMBERS, "Support was kept in the dark").await;
        let (round, public) = open_round(&g).await;
        // members[0] is Lee, the accountable side; members[1..] answer.
        let answering: Vec<&Browser> = g.members.iter().skip(1).collect();
        let people: Vec<String> = {
            let listed = g
                .admin
                .json(Method::GET, "/api/v1/people", None)
                .await
                .json();
            listed
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["email"].as_str().unwrap().starts_with('m'))
                .map(|p| p["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(people.len(), MEMBERS);

        // Tokens are fetched in one random order (the adversary knows it, and when)...
        let fetch_order = permutation(MEMBERS, 0x0fe7_c4ed);
        let mut tokens = vec![None; MEMBERS];
        for &i in &fetch_order {
            tokens[i] = Some(
                fetch_token(answering[i], &g.repair, &round, &public)
                    .await
                    .unwrap(),
            );
        }
        let tokens: Vec<_> = tokens.into_iter().map(Option::unwrap).collect();

        // ...while the adversary watches the database, its files and /metrics...
        let watch = Arc::new(Mutex::new(Watch::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = Arc::new(Reader::open(&g.app).await);
        let poller = {
            let (watch, stop, reader) = (watch.clone(), stop.clone(), reader.clone());
            let probe = Probe {
                url: g.app.url.clone(),
                wal: g
                    .app
                    .database_url
                    .is_none()
                    .then(|| g.app.data_dir.path().join("kintsugi.db-wal")),
            };
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    poll_once(&probe, &reader, &watch, &http).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                poll_once(&probe, &reader, &watch, &http).await;
            })
        };

        // ...and answers are sent in another, independent random order, some at once, some
        // seconds apart. Each carries the ground truth only the test reads.
        let sent_order = permutation(MEMBERS, 0x5eed_cafe_f00d);
        let waits = gaps(MEMBERS, 0x9a95);
        let started = Instant::now();
        let mut at = Duration::ZERO;
        let mut sends = Vec::new();
        for (n, &i) in sent_order.iter().enumerate() {
            at += waits[n];
            let (url, round, token) = (g.app.url.clone(), round.clone(), tokens[i].clone());
            let when = started + at;
            sends.push(tokio::spawn(async move {
            tokio::time::sleep_until(when.into()).await;
            let body = serde_json::json!({
                "token": {"message": STANDARD.encode(&token.prepared), "signature": STANDARD.encode(&token.signature)},
                "answer": {"category": "communication", "comment": format!("truth:{i}")},
            });
            reqwest::Client::new()
                .post(format!("{url}/anon/rounds/{round}/answers"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }));
        }
        for s in sends {
            assert_eq!(s.await.unwrap(), reqwest::StatusCode::ACCEPTED);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        close_round(&g, &round).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        poller.await.unwrap();
        // Every member visits the repair page afterwards, as people do.
        for b in &answering {
            b.get(&format!("/repairs/{}", g.repair)).await;
        }

        let mut attacks = Vec::new();
        // What the poller saw; it has stopped, so the lock is the test's alone.
        let watch = std::mem::take(&mut *watch.lock().unwrap());
        let batches = watch.db_batches.len();
        let batch_bound = batches + 3;

        // 1. The dump: no row of the answers or marks holds anything that identifies a member,
        //    and no column could date an answer.
        let tables = reader.dump().await;
        let table = |name: &str| {
            tables
                .iter()
                .find(|(t, _, _)| t == name)
                .unwrap_or_else(|| panic!("no table {name}"))
        };
        let (_, answer_cols, answers) = table("round_answers");
        let (_, _, spent) = table("round_spent");
        assert_eq!(answers.len(), MEMBERS, "every answer sealed once");
        let identifying: Vec<String> = people
            .iter()
            .cloned()
            .chain((0..MEMBERS).map(|i| format!("m{i}@acme.example")))
            .collect();
        let holding = answers
            .iter()
            .chain(spent.iter())
            .filter(|row| {
                row.iter()
                    .any(|v| identifying.iter().any(|x| v.contains(x.as_str())))
            })
            .count();
        let dated = answer_cols
            .iter()
            .filter(|c| c.contains("person") || c.contains("_at") || c.contains("time"))
            .count();
        attacks.push(Attack {
            name: "dump: answer rows naming a person, or dated".into(),
            linked: holding + dated,
            chance: "0".into(),
            bound: 0,
        });
        let (_, issued_cols, _) = table("round_issued");
        let mut cols = issued_cols.clone();
        cols.sort();
        assert_eq!(
            cols,
            ["person_id", "replaced", "round_id"],
            "the issuance table knows who got a key, and nothing else: no time, no token"
        );

        // 2. Physical order (SQLite's pages after the checkpoint, PostgreSQL's ctid) against the
        //    order of arrival and of token fetches. Chance: about 1 of 20; P(≥ 6) < 0.001.
        let stored: Vec<usize> = reader
            .answers()
            .await
            .iter()
            .filter_map(|c| truth(c))
            .collect();
        attacks.push(Attack {
            name: "physical order vs arrival order".into(),
            linked: by_position(&stored, &sent_order),
            chance: "1".into(),
            bound: 5,
        });
        attacks.push(Attack {
            name: "physical order vs token fetch order".into(),
            linked: by_position(&stored, &fetch_order),
            chance: "1".into(),
            bound: 5,
        });

        // 3. Timing: the database polled every 50 ms, against when each member acted.
        attacks.push(Attack {
            name: format!("database polled every 50 ms + action times ({batches} batches seen)"),
            linked: by_batches(&watch.db_batches, &sent_order),
            chance: format!("~{batches} (1 a batch)"),
            bound: batch_bound,
        });
        let min_batch = 5;
        let small: Vec<usize> = watch.db_batches[..batches.saturating_sub(1)]
            .iter()
            .map(Vec::len)
            .filter(|&n| n < min_batch)
            .collect();
        assert!(
            small.is_empty(),
            "every batch before the close holds at least k answers: {:?}",
            watch.db_batches
        );

        // 4. The backend's own traces of a commit.
        if g.app.database_url.is_some() {
            let Reader::Postgres(pool) = reader.as_ref() else {
                unreachable!()
            };
            let rows: Vec<(String, String)> =
                sqlx::query_as("SELECT xmin::text, comment FROM round_answers")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            let mut by_xmin: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for (xmin, comment) in &rows {
                by_xmin
                    .entry(xmin.parse().unwrap())
                    .or_default()
                    .push(truth(comment).unwrap());
            }
            let xmin_batches: Vec<Vec<usize>> = by_xmin.into_values().collect();
            attacks.push(Attack {
                name: format!("xmin ({} transactions)", xmin_batches.len()),
                linked: by_batches(&xmin_batches, &sent_order),
                chance: format!("~{} (1 a batch)", xmin_batches.len()),
                bound: xmin_batches.len() + 3,
            });
            match &pg_log {
                Some((file, from, name)) => {
                    let marks: Vec<String> = tokens.iter().map(|t| t.spent_mark()).collect();
                    let log = statement_log(file, *from, name, &marks, &people);
                    if log.lines > 0 {
                        attacks.push(Attack {
                            name: format!("statement log: insert order ({} lines)", log.lines),
                            linked: by_position(&log.inserts, &sent_order),
                            chance: format!("~{batches} (1 a batch)"),
                            bound: batch_bound,
                        });
                        attacks.push(Attack {
                            name: format!(
                                "statement log: order each mark is first named ({} paired)",
                                log.marks_first_seen.len()
                            ),
                            linked: by_position(&log.marks_first_seen, &sent_order),
                            chance: format!("~{batches} (1 a batch)"),
                            bound: batch_bound,
                        });
                        attacks.push(Attack {
                            name: "statement log: a mark next to a person's id".into(),
                            linked: log.mark_with_person,
                            chance: "0".into(),
                            bound: 0,
                        });
                    } else {
                        eprintln!("adversary: the PostgreSQL log has no line for this database");
                    }
                }
                None => {
                    eprintln!("adversary: no PostgreSQL log readable here; that attack is skipped")
                }
            }
        } else {
            attacks.push(Attack {
                name: "-wal file read every 50 ms: order of appearance".into(),
                linked: by_position(&watch.wal_order, &sent_order),
                chance: format!("~{batches} (1 a batch)"),
                bound: batch_bound,
            });
        }

        // 5. The server's log at trace: nothing about the anonymous path, no client address, no
        //    token, mark or capability.
        let log = g.app.log.lock().unwrap().join("\n");
        assert!(
            log.contains("TRACE") || log.contains("DEBUG"),
            "the log was verbose"
        );
        let mut leaks = log
            .lines()
            .filter(|l| l.contains("/anon/") || l.contains("127.0.0.1:"))
            .count();
        for t in &tokens {
            let message = STANDARD.encode(&t.prepared);
            leaks += log
                .lines()
                .filter(|l| l.contains(&t.spent_mark()) || l.contains(&message[..40]))
                .count();
        }
        attacks.push(Attack {
            name: "trace log: lines with an /anon path, address, mark or token".into(),
            linked: leaks,
            chance: "0".into(),
            bound: 0,
        });

        // 6. /metrics, polled with its token: no series of the anonymous path, and the sealed
        //    counter moves only by whole batches.
        attacks.push(Attack {
            name: "/metrics: series naming the anonymous path".into(),
            linked: watch.anon_series.len(),
            chance: "0".into(),
            bound: 0,
        });
        let lone_steps = watch.counter_steps[..watch.counter_steps.len().saturating_sub(1)]
            .iter()
            .filter(|&&s| s < min_batch as u64)
            .count();
        attacks.push(Attack {
            name: format!(
                "/metrics: sealed counter steps below k (steps {:?})",
                watch.counter_steps
            ),
            linked: lone_steps,
            chance: "0".into(),
            bound: 0,
        });
        let unauthorised = reqwest::get(format!("{}/metrics", g.app.url))
            .await
            .unwrap();
        assert_ne!(
            unauthorised.status(),
            reqwest::StatusCode::OK,
            "/metrics without the token"
        );

        // 7. Key material after the close: no file, no row.
        let files = std::fs::read_dir(g.app.data_dir.path().join("keys"))
            .map(|d| d.count())
            .unwrap_or(0);
        let rows = g.app.scalar("SELECT COUNT(*) FROM round_keys").await as usize;
        attacks.push(Attack {
            name: "round keys left after the close (files and rows)".into(),
            linked: files + rows,
            chance: "0".into(),
            bound: 0,
        });

        // 8. Requests: no route takes a per-answer identifier, and the downloads are the same
        //    for everyone who asks.
        let mark = tokens[0].spent_mark();
        let old = reqwest::get(format!("{}/anon/rounds/{round}/spent/{mark}", g.app.url))
            .await
            .unwrap()
            .status();
        let thread = reqwest::Client::new()
            .post(format!("{}/anon/replies/thread", g.app.url))
            .json(&serde_json::json!({"capability": "0".repeat(64)}))
            .send()
            .await
            .unwrap()
            .status();
        let (a, b) = (marks(&g.app, &round).await, marks(&g.app, &round).await);
        let differs = usize::from(a != b);
        attacks.push(Attack {
            name: "routes taking a mark or capability to read; downloads that differ".into(),
            linked: usize::from(old.is_success()) + usize::from(thread.is_success()) + differs,
            chance: "0".into(),
            bound: 0,
        });

        report(&g.app, &attacks);
    }
);

/// Prints the table (scripts/adversary shows it) and holds every attack to its bound.
fn report(app: &App, attacks: &[Attack]) {
    let backend = if app.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mut table = format!(
        "\nadversary suite, {backend}, {MEMBERS} members\n{:<72} {:>6} {:>16} {:>6}\n",
        "attack", "linked", "chance", "bound"
    );
    for a in attacks {
        table.push_str(&format!(
            "{:<72} {:>6} {:>16} {:>6} {}\n",
            a.name,
            a.linked,
            a.chance,
            a.bound,
            if a.linked <= a.bound { "ok" } else { "FAILED" }
        ));
    }
    eprintln!("{table}");
    let failed: Vec<&str> = attacks
        .iter()
        .filter(|a| a.linked > a.bound)
        .map(|a| a.name.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "attacks beyond chance: {failed:?}{table}"
    );
}

#[test]
fn the_attacks_score_what_they_should() {
    // A perfect link scores everything; a batch attack on one batch of all scores its fixed points.
    let order: Vec<usize> = (0..10).collect();
    assert_eq!(by_position(&order, &order), 10);
    assert_eq!(by_batches(&[vec![0], vec![1], vec![2]], &[0, 1, 2]), 3);
    assert_eq!(by_batches(&[vec![2, 1, 0]], &[0, 1, 2]), 1);
    assert_eq!(truth("truth:17"), Some(17));
}
