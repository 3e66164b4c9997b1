//! Anonymous answers sealed per second on SQLite, end to end over HTTP on loopback with the
//! mixer on (epochs of about a second, batches of at least k, the close sealing the rest),
//! beside the two limits measured in the same run: token verification alone, and raw inserts
//! of the same rows in batches through the same storage code. Also the cost of one blind
//! signature.
//!
//! Run: `cargo run --release -p kintsugi-bench --bin anon-answers [ANSWERS] [CONCURRENCY]`
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

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_anon::{RoundKey, Token, client};
use kintsugi_store::{Answer, Redemption, RoundStore};
use serde_json::{Value, json};

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// The round's secret key, as the server sealed it in its SQLite database.
async fn round_key(dir: &std::path::Path, round_id: uuid::Uuid) -> Vec<u8> {
    let kek = std::fs::read_to_string(dir.join("key-encryption-key")).unwrap();
    let kek = kintsugi_app::keys::Kek::from_base64(&kek).unwrap();
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(dir.join("kintsugi.db"))
                .read_only(true),
        )
        .await
        .unwrap();
    let (sealed,): (String,) = sqlx::query_as("SELECT sealed FROM round_keys WHERE round_id = $1")
        .bind(round_id.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    kek.open(round_id, &sealed).unwrap()
}

#[tokio::main]
async fn main() {
    let answers = arg(1, 20_000);
    let concurrency = arg(2, 64);
    let bin = kintsugi_bench::binary();
    let dir = kintsugi_bench::data_dir();

    // A real server on SQLite, synced to disk before acknowledging.
    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        // Short epochs: the figure is the mixer's throughput, not its waiting.
        .env("KINTSUGI_ANON_EPOCH_SECONDS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {bin}: {e} (build it with cargo build --release)")
        });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .next()
        .unwrap()
        .unwrap()
        .trim_start_matches("Kintsugi is serving at ")
        .to_owned();
    let setup = lines
        .next()
        .unwrap()
        .unwrap()
        .trim_start_matches("Set up your organisation: ")
        .to_owned();

    // Set up an organisation, two people and a repair with an open round, through HTTP.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(&setup).send().await.unwrap().text().await.unwrap();
    let token = setup.split("token=").nth(1).unwrap();
    http.post(format!("{url}/setup"))
        .form(&[
            ("csrf_token", csrf_of(&page).as_str()),
            ("token", token),
            ("organisation_name", "Bench"),
            ("name", "Bea Bench"),
            ("email", "bench@bench.example"),
            ("password", "a long bench password"),
        ])
        .send()
        .await
        .unwrap();
    let person = |name: &str, email: &str, facilitator: bool| json!({"name": name, "email": email, "roles": {"facilitator": facilitator}});
    let post = |path: &str, body: Value| {
        let http = http.clone();
        let url = url.clone();
        let path = path.to_owned();
        async move {
            http.post(format!("{url}{path}"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let a = post("/api/v1/people", person("Al", "al@bench.example", false)).await;
    let b = post("/api/v1/people", person("Bo", "bo@bench.example", false)).await;
    let repair = post(
        "/api/v1/repairs",
        json!({"title": "Bench", "summary": "A benchmark.", "breach": "other", "scope": "person_person", "accountable_people": [a["id"]], "affected_people": [b["id"]]}),
    )
    .await;
    let round = post(
        &format!("/api/v1/repairs/{}/rounds", repair["id"].as_str().unwrap()),
        json!({"kind": "listening"}),
    )
    .await;
    let round_id: uuid::Uuid = round["id"].as_str().unwrap().parse().unwrap();
    let public = STANDARD
        .decode(round["public_key"].as_str().unwrap())
        .unwrap();

    // Mint the tokens with the round's key, opened from the database with the server's
    // key-encryption key: issuance is one per member and is measured on its own below; this
    // benchmark is about answers.
    let secret = round_key(dir.path(), round_id).await;
    let key = Arc::new(RoundKey::from_secret_der(&secret).unwrap());
    let started = Instant::now();
    let tokens: Vec<Token> = {
        let per = answers.div_ceil(2);
        let jobs: Vec<_> = (0..2)
            .map(|t| {
                let (key, public) = (key.clone(), public.clone());
                std::thread::spawn(move || {
                    (0..per)
                        .map(|i| {
                            let mut s = [0u8; 32];
                            s[..8].copy_from_slice(&((t * per + i) as u64).to_le_bytes());
                            rand::RngCore::fill_bytes(&mut rand::rng(), &mut s[8..]);
                            let (pending, blinded) =
                                client::Pending::start(round_id, &public, s).unwrap();
                            pending
                                .finish(&key.sign_blinded(&blinded).unwrap())
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        jobs.into_iter()
            .flat_map(|j| j.join().unwrap())
            .take(answers)
            .collect()
    };
    let mint = started.elapsed();

    // Blind signing alone, per token.
    let (_, blinded) = client::Pending::start(round_id, &public, [1u8; 32]).unwrap();
    let started = Instant::now();
    for _ in 0..200 {
        key.sign_blinded(&blinded).unwrap();
    }
    let sign_ms = started.elapsed().as_secs_f64() * 1000.0 / 200.0;

    // Limit 1: verification alone, on both cores.
    let started = Instant::now();
    let tokens = Arc::new(tokens);
    let verifiers: Vec<_> = (0..2)
        .map(|t| {
            let (tokens, public) = (tokens.clone(), public.clone());
            std::thread::spawn(move || {
                for tok in tokens.iter().skip(t).step_by(2) {
                    tok.verify(round_id, &public).unwrap();
                }
            })
        })
        .collect();
    verifiers.into_iter().for_each(|v| v.join().unwrap());
    let verify_rate = answers as f64 / started.elapsed().as_secs_f64();

    // The figure: answers over HTTP, `concurrency` at a time, each accepted to wait for its
    // epoch; then the round closes, which seals what still waits. Sealed answers over the
    // whole time, from the first answer sent to the close's return.
    let anon = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (anon, next, tokens) = (anon.clone(), next.clone(), tokens.clone());
            let target = format!("{url}/anon/rounds/{round_id}/answers");
            tokio::spawn(async move {
                let mut ok = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(t) = tokens.get(i) else { break ok };
                    let body = json!({
                        "token": {"message": STANDARD.encode(&t.prepared), "signature": STANDARD.encode(&t.signature)},
                        "answer": {"category": "process", "comment": format!("answer {i}")},
                    });
                    if anon.post(&target).json(&body).send().await.map(|r| r.status().as_u16() == 202).unwrap_or(false) {
                        ok += 1;
                    }
                }
            })
        })
        .collect();
    let mut accepted = 0;
    for w in workers {
        accepted += w.await.unwrap();
    }
    let closed = http
        .post(format!(
            "{url}/api/v1/repairs/{}/rounds/{round_id}/close",
            repair["id"].as_str().unwrap()
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(closed.status().is_success(), "closing: {}", closed.status());
    let http_secs = started.elapsed().as_secs_f64();
    let marks: Value = anon
        .get(format!("{url}/anon/rounds/{round_id}/marks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = marks["sealed"].as_array().unwrap().len();
    assert_eq!(stored, accepted, "every accepted answer was sealed");
    let http_rate = stored as f64 / http_secs;
    let _ = child.kill();
    let _ = child.wait();

    // Limit 2: the same rows through the same storage code, in batches of `concurrency`.
    let raw_dir = tempfile::tempdir().unwrap();
    let store = kintsugi_store_sqlite::SqliteStore::open(&raw_dir.path().join("raw.db"))
        .await
        .unwrap();
    let rows: Vec<Redemption> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| Redemption {
            round_id,
            mark: t.spent_mark(),
            answer: Answer {
                id: uuid::Uuid::new_v4(),
                category: Some("process".into()),
                comment: Some(format!("answer {i}")),
                rating: None,
                items: vec![],
                reply_check: None,
            },
        })
        .collect();
    // The raw table needs the round row its answers point to.
    seed_round(&store, round_id).await;
    let started = Instant::now();
    for chunk in rows.chunks(concurrency) {
        store.redeem(chunk).await.unwrap();
    }
    let insert_rate = answers as f64 / started.elapsed().as_secs_f64();

    let slower = verify_rate.min(insert_rate);
    println!(
        "anonymous answers, SQLite, synchronous=FULL, mixer on (epochs of about 1 s, batches of \
         at least k); {answers} answers, {concurrency} at a time; {stored} sealed; minting the \
         tokens took {:.1} s",
        mint.as_secs_f64()
    );
    use kintsugi_bench::{Target, info, row};
    row(
        "answers sealed/s over HTTP vs the slower limit",
        http_rate,
        slower,
        Target::AtLeast(0.5),
    );
    row(
        "answers sealed/s over HTTP vs 5,000/s",
        http_rate,
        5000.0,
        Target::AtLeast(1.0),
    );
    info("limit 1: token verifications/s (2 threads)", verify_rate);
    info(
        "limit 2: raw inserts/s (same rows, same batches)",
        insert_rate,
    );
    info("blind signature, ms per token", sign_ms);
}

/// An organisation, two people, a repair and the round, so the raw rows have what they reference.
async fn seed_round(store: &kintsugi_store_sqlite::SqliteStore, round_id: uuid::Uuid) {
    use kintsugi_core::repair::{Breach, Scope, Side};
    use kintsugi_core::{Email, KThreshold, OrganisationName, PersonName, Roles};
    use kintsugi_store::{
        Audit, NewEvent, NewJob, NewOrganisation, NewPerson, NewRepair, NewRound,
        OrganisationStore, PeopleStore, RepairStore,
    };
    let now = time::OffsetDateTime::now_utc();
    let org = NewOrganisation {
        id: uuid::Uuid::new_v4(),
        name: OrganisationName::parse("Raw").unwrap(),
        is_demo: false,
        k_threshold: KThreshold::DEFAULT,
        created_at: now,
    };
    let person = |email: &str| NewPerson {
        id: uuid::Uuid::new_v4(),
        org_id: org.id,
        name: PersonName::parse("Raw").unwrap(),
        email: Email::parse(email).unwrap(),
        roles: Roles::ADMIN,
        team_ids: vec![],
        password_hash: None,
        created_at: now,
    };
    let (a, b) = (person("a@raw.example"), person("b@raw.example"));
    store.create_organisation(&org, &a).await.unwrap();
    store.create_person(&b).await.unwrap();
    let audit = Audit {
        id: uuid::Uuid::new_v4(),
        org_id: org.id,
        actor_id: None,
        action: "bench".into(),
        subject: "bench".into(),
        detail: String::new(),
        at: now,
    };
    let repair = NewRepair {
        id: uuid::Uuid::new_v4(),
        org_id: org.id,
        title: "Raw".into(),
        summary: "Raw".into(),
        breach: Breach::Other,
        scope: Scope::PersonPerson,
        facilitator_id: a.id,
        update_cadence_days: 7,
        deception: false,
        participants: vec![(a.id, Side::Accountable), (b.id, Side::Affected)],
        notification_ids: vec![uuid::Uuid::new_v4(), uuid::Uuid::new_v4()],
        teams: vec![],
        created_at: now,
    };
    store.create_repair(&repair, "bench", &audit).await.unwrap();
    let round = NewRound {
        id: round_id,
        repair_id: Some(repair.id),
        kind: kintsugi_store::RoundKind::Listening,
        public_key: String::new(),
        fingerprint: String::new(),
        closes_at: None,
        opened_at: now,
        subject: None,
        k: kintsugi_core::KThreshold::DEFAULT,
    };
    let fan_out = NewJob {
        id: uuid::Uuid::new_v4(),
        org_id: Some(org.id),
        kind: "event".into(),
        payload: "{}".into(),
        idempotency_key: format!("event:{round_id}"),
        max_attempts: 1,
        run_at: now,
        created_at: now,
    };
    let event = NewEvent {
        id: uuid::Uuid::new_v4(),
        repair_id: repair.id,
        event: "round.opened".into(),
        round_id: Some(round_id),
        at: now,
        fan_out,
    };
    store
        .open_round(
            &round,
            &Audit {
                id: uuid::Uuid::new_v4(),
                ..audit
            },
            &event,
        )
        .await
        .unwrap();
}
