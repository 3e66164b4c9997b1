//! The team health dashboard at scale: an organisation of 100,000 people in 5,000 teams with
//! two years of fortnightly checks (about 5 million anonymous answers), on SQLite and on
//! PostgreSQL. Reports the dashboard's render time, one team's trend and the server's peak
//! RSS, each beside a full scan of the answers measured in the same run.
//!
//! Run: `target/release/health-dashboard [sqlite|postgres|both] [TEAMS=5000] [PERIODS=52]`
//! (PostgreSQL at `KINTSUGI_BENCH_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432/postgres;
//! the benchmark creates and drops its own database there).
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
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;

const PEOPLE_PER_TEAM: i64 = 20;
/// Teams below this index are departments (top level); every other team sits under one.
const DEPARTMENT_SHARE: i64 = 20;

/// The benchmark's instrument: one item per dimension (one reversed), so ~5 million answers
/// are ~10 million rated items. The dashboard reads rollups either way.
const INSTRUMENT: &str = r#"id = "bench"
name = "Bench check"
[scale]
min = 1
max = 7
labels = ["1", "2", "3", "4", "5", "6", "7"]
[dimensions]
safety = "Psychological safety"
lead = "Trust in the team's lead"
[[item]]
id = "lead_1"
text = "I trust our lead."
dimension = "lead"
[[item]]
id = "safety_1"
text = "I keep problems to myself here."
dimension = "safety"
reverse = true
"#;

fn arg(n: usize) -> Option<String> {
    std::env::args().nth(n)
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// Everything the SQL needs to know.
struct Shape {
    org: String,
    instrument: String,
    teams: i64,
    periods: i64,
    now: i64,
}

impl Shape {
    fn departments(&self) -> i64 {
        (self.teams / DEPARTMENT_SHARE).max(1)
    }
    /// The epoch day of the first check; the last one opened 13 days ago, so none is due.
    fn first_day(&self) -> i64 {
        self.now / 86_400 - 13 - 14 * (self.periods - 1)
    }
}

/// The fixture as bulk SQL. `id(prefix, n)` writes a UUID-shaped id from a number; `Sqlite`
/// and `Postgres` differ only in how they count and format.
fn fixture_sql(s: &Shape, postgres: bool) -> Vec<String> {
    let id = |prefix: &str, n: &str| {
        if postgres {
            format!("'00000000-0000-4000-{prefix}-' || lpad(({n})::text, 12, '0')")
        } else {
            format!("printf('00000000-0000-4000-{prefix}-%012d', {n})")
        }
    };
    let nums = |below: String| {
        if postgres {
            format!(
                "(SELECT i FROM generate_series(0::bigint, ({below})::bigint - 1) AS g(i)) AS nums"
            )
        } else {
            format!("(SELECT i FROM nums WHERE i < ({below})) AS nums")
        }
    };
    let (org, instrument, t, p, d, now, first) = (
        &s.org,
        &s.instrument,
        s.teams,
        s.periods,
        s.departments(),
        s.now,
        s.first_day(),
    );
    let rounds = t * p;
    let most = rounds.max(t * PEOPLE_PER_TEAM);
    let mut sql = Vec::new();
    if !postgres {
        sql.push("CREATE TEMP TABLE nums (i INTEGER PRIMARY KEY)".into());
        sql.push(format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {most} - 1) INSERT INTO nums SELECT i FROM n"
        ));
    }
    // Departments first, so every team's parent exists when it arrives.
    sql.push(format!(
        "INSERT INTO teams (id, org_id, name, created_at, parent_id) SELECT {}, '{org}', 'Department ' || i, {now}, NULL FROM {}",
        id("8000", "i"),
        nums(d.to_string())
    ));
    sql.push(format!(
        "INSERT INTO teams (id, org_id, name, created_at, parent_id) SELECT {}, '{org}', 'Team ' || i, {now}, {} FROM {} WHERE i >= {d}",
        id("8000", "i"),
        id("8000", &format!("i % {d}")),
        nums(t.to_string())
    ));
    sql.push(format!(
        "INSERT INTO people (id, org_id, name, email, password_hash, is_admin, is_facilitator, active, created_at, deactivated_at) \
         SELECT {}, '{org}', 'Person ' || i, 'person' || i || '@bench.example', NULL, false, false, true, {now}, NULL FROM {}",
        id("9000", "i"),
        nums((t * PEOPLE_PER_TEAM).to_string())
    ));
    sql.push(format!(
        "INSERT INTO team_members (team_id, person_id) SELECT {}, {} FROM {}",
        id("8000", &format!("i / {PEOPLE_PER_TEAM}")),
        id("9000", "i"),
        nums((t * PEOPLE_PER_TEAM).to_string())
    ));
    // Round n is team n % T in period n / T; every check opened the same day and ran a week.
    let day = format!("({first} + 14 * (i / {t}))");
    sql.push(format!(
        "INSERT INTO rounds (id, repair_id, kind, public_key, fingerprint, status, closes_at, opened_at, closed_at, subject) \
         SELECT {}, NULL, 'team_health', 'bench', 'bench', 'closed', {day} * 86400 + 604800, {day} * 86400, {day} * 86400 + 604800, {} FROM {}",
        id("a000", "i"),
        id("8000", &format!("i % {t}")),
        nums(rounds.to_string())
    ));
    sql.push(format!(
        "INSERT INTO health_rounds (round_id, org_id, team_id, instrument_id, period) SELECT {}, '{org}', {}, '{instrument}', {day} FROM {}",
        id("a000", "i"),
        id("8000", &format!("i % {t}")),
        nums(rounds.to_string())
    ));
    // 18 to 20 of a team's 20 answer; one team in 97 has only 2 answers (hidden, with a sibling).
    let answered =
        format!("(CASE WHEN (i % {t}) % 97 = 5 THEN 2 ELSE 18 + ((i % {t}) + (i / {t})) % 3 END)");
    let answer_no = format!("(i * {PEOPLE_PER_TEAM} + a)");
    let seats = if postgres {
        format!("generate_series(0, {PEOPLE_PER_TEAM} - 1) AS s(a)")
    } else {
        format!("(SELECT i AS a FROM nums WHERE i < {PEOPLE_PER_TEAM}) AS s")
    };
    sql.push(format!(
        "INSERT INTO round_answers (id, round_id, category, comment, rating, reply_check) \
         SELECT {}, {}, NULL, NULL, NULL, NULL FROM {} CROSS JOIN {seats} WHERE a < {answered} ORDER BY i, a",
        id("b000", &answer_no),
        id("a000", "i"),
        nums(rounds.to_string())
    ));
    // Two rated items per answer, spread over the scale by two different mixes of its number.
    let items = if postgres {
        "(VALUES ('lead_1'), ('safety_1')) AS items(item)"
    } else {
        "(SELECT 'lead_1' AS item UNION ALL SELECT 'safety_1') AS items"
    };
    sql.push(format!(
        "INSERT INTO answer_items (answer_id, item, value) \
         SELECT {}, item, CASE item WHEN 'lead_1' THEN 1 + (({answer_no} * 40503 + 7) % 65521) % 7 \
         ELSE 1 + (({answer_no} * 2654435761) % 1000003) % 7 END \
         FROM {} CROSS JOIN {seats} CROSS JOIN {items} WHERE a < {answered} ORDER BY i, a, item",
        id("b000", &answer_no),
        nums(rounds.to_string())
    ));
    // The rollups, exactly as closing each check writes them (see `close_health_round`):
    // per round and dimension, the sum of scored values (reversed: n·(min+max) − Σv).
    sql.push(
        "INSERT INTO health_rollups (round_id, org_id, team_id, period, dimension, dimension_name, total, value_count, respondents, scale_min, scale_max) \
         SELECT a.round_id, h.org_id, h.team_id, h.period, \
         CASE i.item WHEN 'safety_1' THEN 'safety' ELSE 'lead' END, \
         CASE i.item WHEN 'safety_1' THEN 'Psychological safety' ELSE 'Trust in the team''s lead' END, \
         CAST(CASE i.item WHEN 'safety_1' THEN 8 * COUNT(*) - SUM(i.value) ELSE SUM(i.value) END AS BIGINT), COUNT(*), COUNT(*), 1, 7 \
         FROM answer_items i JOIN round_answers a ON a.id = i.answer_id JOIN health_rounds h ON h.round_id = a.round_id \
         GROUP BY a.round_id, h.org_id, h.team_id, h.period, i.item"
            .into(),
    );
    sql.push(
        "INSERT INTO health_org_rollups (org_id, period, dimension, dimension_name, total, value_count, respondents, scale_min, scale_max) \
         SELECT org_id, period, dimension, dimension_name, CAST(SUM(total) AS BIGINT), CAST(SUM(value_count) AS BIGINT), CAST(SUM(respondents) AS BIGINT), 1, 7 \
         FROM health_rollups GROUP BY org_id, period, dimension, dimension_name"
            .into(),
    );
    sql
}

/// The limit: one full scan of the answers' values.
const SCAN: &str = "SELECT CAST(COUNT(*) AS BIGINT), CAST(SUM(value) AS BIGINT) FROM answer_items";

/// The organisation's sums per period and dimension straight from the answers, to check the
/// rollups the dashboard reads are exact.
const FROM_ANSWERS: &str = "SELECT h.period, CASE i.item WHEN 'safety_1' THEN 'safety' ELSE 'lead' END AS d, \
    CAST(SUM(CASE i.item WHEN 'safety_1' THEN 8 - i.value ELSE i.value END) AS BIGINT), CAST(COUNT(*) AS BIGINT) \
    FROM answer_items i JOIN round_answers a ON a.id = i.answer_id JOIN health_rounds h ON h.round_id = a.round_id \
    GROUP BY h.period, d ORDER BY h.period, d";
const FROM_ROLLUPS: &str = "SELECT period, dimension, total, value_count FROM health_org_rollups ORDER BY period, dimension";

enum Db {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// Runs the same statement on whichever connection this is.
macro_rules! on {
    ($db:expr, |$c:ident| $body:expr) => {
        match $db {
            Db::Sqlite($c) => $body,
            Db::Postgres($c) => $body,
        }
    };
}

impl Db {
    async fn exec(&mut self, sql: &str) {
        let q = || sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()));
        on!(self, |c| q().execute(&mut *c).await.map(|_| ()))
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
    }
    async fn rows(&mut self, sql: &str) -> Vec<(i64, String, i64, i64)> {
        let q = || sqlx::AssertSqlSafe(sql.to_owned());
        on!(self, |c| sqlx::query_as(q()).fetch_all(&mut *c).await)
            .unwrap_or_else(|e| panic!("{e}: {sql}"))
    }
    async fn pair(&mut self, sql: &str) -> (i64, i64) {
        let q = || sqlx::AssertSqlSafe(sql.to_owned());
        on!(self, |c| sqlx::query_as(q()).fetch_one(&mut *c).await)
            .unwrap_or_else(|e| panic!("{e}: {sql}"))
    }
    async fn text(&mut self, sql: &str) -> String {
        let q = || sqlx::AssertSqlSafe(sql.to_owned());
        on!(self, |c| sqlx::query_scalar(q()).fetch_one(&mut *c).await)
            .unwrap_or_else(|e| panic!("{e}: {sql}"))
    }
}

struct Server {
    child: Child,
    url: String,
    setup: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str, dir: &std::path::Path, database_url: Option<&str>) -> Server {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .env_remove("KINTSUGI_DATABASE_URL")
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
        .and_then(Result::ok)
        .filter(|l| l.starts_with("Set up"))
        .map(|l| {
            l.trim_start_matches("Set up your organisation: ")
                .to_owned()
        });
    Server { child, url, setup }
}

/// Peak resident set size of a process, in MiB (Linux: VmHWM).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn timed_get(http: &reqwest::Client, url: &str, runs: usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let resp = http.get(url).send().await.unwrap();
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        bytes = resp.bytes().await.unwrap().len();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (median(times), bytes)
}

async fn login(http: &reqwest::Client, server: &Server) {
    let setup = server
        .setup
        .clone()
        .expect("a fresh server prints a setup link");
    let page = http.get(&setup).send().await.unwrap().text().await.unwrap();
    let token = setup.split("token=").nth(1).unwrap();
    let done = http
        .post(format!("{}/setup", server.url))
        .form(&[
            ("csrf_token", csrf_of(&page).as_str()),
            ("token", token),
            ("organisation_name", "Bench Works"),
            ("name", "Bea Bench"),
            ("email", "bench@bench.example"),
            ("password", "a long bench password"),
        ])
        .send()
        .await
        .unwrap();
    assert!(done.status().is_redirection(), "setup: {}", done.status());
}

async fn run(backend: &str, teams: i64, periods: i64) -> Vec<String> {
    let bin = std::env::var("KINTSUGI_BIN").unwrap_or_else(|_| "target/release/kintsugi".into());
    let dir = kintsugi_bench::data_dir();
    let postgres = backend == "postgres";
    let admin_url = std::env::var("KINTSUGI_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let database_url = postgres.then(|| {
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        format!("{base}/kintsugi_bench_health")
    });
    if postgres {
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::raw_sql("DROP DATABASE IF EXISTS kintsugi_bench_health")
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::raw_sql("CREATE DATABASE kintsugi_bench_health")
            .execute(&mut admin)
            .await
            .unwrap();
    }

    // The organisation, its admin and its instrument go through the server, as in real life.
    let server = start(&bin, dir.path(), database_url.as_deref());
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    login(&http, &server).await;
    let loaded = http
        .post(format!("{}/api/v1/admin/health/instrument", server.url))
        .json(&json!({ "toml": INSTRUMENT }))
        .send()
        .await
        .unwrap();
    assert_eq!(loaded.status(), reqwest::StatusCode::CREATED);
    let instrument = loaded.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut db = match &database_url {
        Some(url) => Db::Postgres(sqlx::PgConnection::connect(url).await.unwrap()),
        None => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(dir.path().join("kintsugi.db"))
                .busy_timeout(Duration::from_secs(60));
            Db::Sqlite(sqlx::SqliteConnection::connect_with(&opts).await.unwrap())
        }
    };
    let org = db
        .text("SELECT id FROM organisations WHERE NOT is_demo")
        .await;
    let shape = Shape {
        org,
        instrument,
        teams,
        periods,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    };

    // The fixture, in one transaction of bulk SQL.
    let started = Instant::now();
    if postgres {
        db.exec("SET synchronous_commit = off").await;
    }
    db.exec(if postgres { "BEGIN" } else { "BEGIN IMMEDIATE" })
        .await;
    for statement in fixture_sql(&shape, postgres) {
        let t = Instant::now();
        db.exec(&statement).await;
        eprintln!(
            "  {backend}: {:>6.1} s  {}",
            t.elapsed().as_secs_f64(),
            &statement[..statement.len().min(60)]
        );
    }
    db.exec("COMMIT").await;
    db.exec("ANALYZE").await;
    let generate_s = started.elapsed().as_secs_f64();
    let (answers, _) = db
        .pair("SELECT CAST(COUNT(*) AS BIGINT), CAST(0 AS BIGINT) FROM round_answers")
        .await;
    eprintln!("  {backend}: fixture ready in {generate_s:.0} s, {answers} answers");

    // Exact: the rollups equal the sums over every answer.
    let exact = db.rows(FROM_ANSWERS).await == db.rows(FROM_ROLLUPS).await;

    // The limit, measured now, on the same machine: one scan of every answer's values
    // (run three times; the median is taken, warm like the dashboard's).
    let mut scans = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let (n, _) = db.pair(SCAN).await;
        assert!(n >= answers);
        scans.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let scan_ms = median(scans);

    // The dashboard and one team's trend, over HTTP from the real server.
    let (dashboard_ms, dashboard_bytes) =
        timed_get(&http, &format!("{}/health/overview", server.url), 11).await;
    let team = format!("00000000-0000-4000-8000-{:012}", shape.departments() + 7);
    let (team_ms, _) = timed_get(&http, &format!("{}/health/teams/{team}", server.url), 21).await;
    let (csv_ms, csv_bytes) =
        timed_get(&http, &format!("{}/health/overview.csv", server.url), 3).await;
    let rss = peak_rss_mib(server.child.id());
    drop(server);
    if postgres {
        drop(db);
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        let _ = sqlx::raw_sql("DROP DATABASE IF EXISTS kintsugi_bench_health")
            .execute(&mut admin)
            .await;
    }

    let row = |what: &str, value: f64, unit: &str, target: f64, limit: Option<f64>| {
        let met = if value < target { "yes" } else { "no" };
        match limit {
            Some(l) => format!(
                "| {backend} | {what} | {value:.1} {unit} | {target:.0} {unit} | {met} | {:.3} of the scan ({l:.0} ms) |",
                value / l
            ),
            None => {
                format!("| {backend} | {what} | {value:.1} {unit} | {target:.0} {unit} | {met} | |")
            }
        }
    };
    vec![
        row(
            "dashboard (/health/overview)",
            dashboard_ms,
            "ms",
            200.0,
            Some(scan_ms),
        ),
        row("one team's trend", team_ms, "ms", 20.0, Some(scan_ms)),
        row("peak RSS of the server", rss, "MiB", 200.0, None),
        format!(
            "| {backend} | full scan of the answers (limit) | {scan_ms:.0} ms | | | {answers} answers, {} rated items |",
            answers * 2
        ),
        format!(
            "| {backend} | CSV of every team | {csv_ms:.0} ms | | | {} KiB |",
            csv_bytes / 1024
        ),
        format!(
            "| {backend} | page size, fixture | {} KiB | | | fixture {generate_s:.0} s; rollups exact: {} |",
            dashboard_bytes / 1024,
            if exact { "yes" } else { "NO" }
        ),
    ]
}

#[tokio::main]
async fn main() {
    let which = arg(1).unwrap_or_else(|| "both".into());
    let teams: i64 = arg(2).and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let periods: i64 = arg(3).and_then(|a| a.parse().ok()).unwrap_or(52);
    let backends: Vec<&str> = match which.as_str() {
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    };
    println!(
        "{} people in {teams} teams, {periods} fortnightly checks\n",
        teams * PEOPLE_PER_TEAM
    );
    println!("| backend | figure | value | target | met | against the limit |");
    println!("|---|---|---|---|---|---|");
    for backend in backends {
        for line in run(backend, teams, periods).await {
            println!("{line}");
        }
    }
}
