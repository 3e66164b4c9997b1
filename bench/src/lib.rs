//! What the benchmarks share: starting the real server and timing it to `/readyz`, its
//! resident memory, driving `wrk`, and the one table format `bench/run` collects.
//!
//! A benchmark's result rows are the lines of its output that start with `| `, in the
//! columns of [`HEADER`]; anything else it prints is context for a person.
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

pub const HEADER: &str =
    "| figure | value | limit | ratio | target | met |\n|---|---|---|---|---|---|";

/// Which way a figure should go against its limit.
#[derive(Clone, Copy)]
pub enum Target {
    /// value / limit must be at least this (throughput).
    AtLeast(f64),
    /// value / limit must be at most this (time, memory).
    AtMost(f64),
}

/// One result row: `value` against `limit`, both in the unit the figure names.
pub fn row(figure: &str, value: f64, limit: f64, target: Target) -> bool {
    let ratio = value / limit;
    let (met, target) = match target {
        Target::AtLeast(t) => (ratio >= t, format!("≥ {t:.2}")),
        Target::AtMost(t) => (ratio <= t, format!("≤ {t:.2}")),
    };
    println!(
        "| {figure} | {} | {} | {ratio:.2} | {target} | {} |",
        number(value),
        number(limit),
        if met { "yes" } else { "no" }
    );
    met
}

/// A figure reported without a target (a limit's own measurement, say).
pub fn info(figure: &str, value: f64) {
    println!("| {figure} | {} | | | | |", number(value));
}

fn number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The `kintsugi` binary to benchmark: `KINTSUGI_BIN`, or the release build.
pub fn binary() -> String {
    std::env::var("KINTSUGI_BIN").unwrap_or_else(|_| "target/release/kintsugi".into())
}

/// A running `kintsugi serve`.
pub struct Server {
    child: Child,
    pub url: String,
    pub setup_link: Option<String>,
    /// From spawning the process to the first `200` from `/readyz`.
    pub ready_after: Duration,
}

/// A data directory for a server: private (0700), as the server insists.
pub fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    dir
}

impl Server {
    /// Starts the server on a free loopback port and waits for `/readyz`, polling it every
    /// millisecond with a bare HTTP/1.1 request (no client start-up cost in the figure).
    pub fn start(data_dir: &std::path::Path, database_url: Option<&str>) -> Server {
        let bin = binary();
        let mut cmd = Command::new(&bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("KINTSUGI_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start {bin}: {e} (build it with cargo build --release)")
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server printed its address")
            .trim_start_matches("Kintsugi is serving at ")
            .to_owned();
        let addr = url.trim_start_matches("http://").to_owned();
        while !ready(&addr) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "not ready in 30 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let ready_after = started.elapsed();
        // Everything it prints (the setup link, say) comes before it answers.
        let setup_link = rx.try_iter().find_map(|line| {
            line.strip_prefix("Set up your organisation: ")
                .map(str::to_owned)
        });
        Server {
            child,
            url,
            setup_link,
            ready_after,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size now, in MB (Linux).
    pub fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc is readable");
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kb / 1024.0
    }

    /// Stops the server the way a service manager does (SIGTERM), and waits.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ready(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

/// What `wrk` measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// `wrk` against `url` for `seconds` with `connections` open, on two threads. Panics if any
/// response was not 2xx/3xx or a socket failed: a fast error is not a result.
pub fn wrk(url: &str, cookie: Option<&str>, seconds: u32, connections: u32) -> Load {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "--latency",
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
    ]);
    if let Some(c) = cookie {
        cmd.args(["-H", &format!("Cookie: {c}")]);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk is installed (bench/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "errors under load:\n{text}"
    );
    let after = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("{key} in wrk's output:\n{text}"))
    };
    Load {
        requests_per_s: after("Requests/sec:").parse().unwrap(),
        p50_ms: millis(&after("50%")),
        p99_ms: millis(&after("99%")),
    }
}

fn millis(v: &str) -> f64 {
    let (n, unit) = v
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| v.split_at(i))
        .unwrap_or((v, "s"));
    let n: f64 = n.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

/// A fresh database on the PostgreSQL server at `KINTSUGI_BENCH_POSTGRES_URL` (default
/// `postgres://postgres@127.0.0.1:5432/postgres`), and a way to drop it afterwards.
pub async fn fresh_postgres() -> (String, impl AsyncFnOnce()) {
    use sqlx::Executor;
    let admin = std::env::var("KINTSUGI_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .expect("PostgreSQL runs (KINTSUGI_BENCH_POSTGRES_URL)");
    let name = format!("kintsugi_bench_{}", uuid::Uuid::new_v4().simple());
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    let drop = async move || {
        let _ = pool
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await;
    };
    (url, drop)
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_units() {
        assert_eq!(super::millis("812.00us"), 0.812);
        assert_eq!(super::millis("3.50ms"), 3.5);
        assert_eq!(super::millis("1.20s"), 1200.0);
    }
}
