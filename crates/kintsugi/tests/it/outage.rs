//! A PostgreSQL outage under load: requests fail fast with a 503 problem that says what is
//! wrong (a bounded acquire timeout, no hang), `/readyz` goes red and comes back, and nothing
//! acknowledged is lost. The test runs its own throwaway cluster, so stopping it disturbs
//! nobody else's database.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::crash::try_send;
use crate::harness::*;

/// How long the database is away.
const OUTAGE: Duration = Duration::from_secs(10);
/// The longest a request may take while the database is away: the pool's acquire timeout
/// (5 s) plus slack for a busy machine. Anything longer is a hang.
const SLOWEST: Duration = Duration::from_secs(9);

/// A PostgreSQL cluster in a temporary directory, on its own port, stopped when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// initdb and postgres refuse to run as root: run them as the `postgres` user then.
    as_postgres: bool,
}

impl Cluster {
    pub fn start() -> Cluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server programs in /usr/lib/postgresql (scripts/ensure-postgres installs them)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout)
            .unwrap()
            .trim()
            == "0";
        if as_postgres {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster.ctl("start");
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl start` or `stop` (fast: connections are cut, as in a real outage).
    pub fn ctl(&self, action: &str) {
        let data = self.data();
        let log = self.dir.path().join("log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let mut args = vec![
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-m",
            "fast",
            "-o",
            &options,
        ];
        args.push(action);
        self.run("pg_ctl", &args);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = Command::new(self.bin.join("pg_ctl"))
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
        if self.as_postgres {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage() {
    let cluster = Cluster::start();
    let app = App::launch(tempfile::tempdir().unwrap(), Some(cluster.url()), &[], &[]).await;
    let admin = app.setup().await;
    assert_eq!(
        admin.get("/readyz").await.status,
        StatusCode::OK,
        "ready before the outage"
    );

    // Load: an admin creating teams, one at a time, for the whole test.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (admin, stop) = (admin.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut outcomes = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("Team {i}");
                let started = Instant::now();
                let sent = try_send(
                    &admin,
                    Method::POST,
                    "/api/v1/teams",
                    Some(json!({"name": name})),
                )
                .await;
                let took = started.elapsed();
                match &sent {
                    Some((StatusCode::CREATED, _)) => acked.push(name),
                    Some((StatusCode::SERVICE_UNAVAILABLE, problem)) => assert_eq!(
                        problem["detail"], "the database is unavailable; try again shortly",
                        "a clear problem document"
                    ),
                    other => panic!("creating {name}: {other:?} after {took:?}"),
                }
                outcomes.push((sent.unwrap().0, took));
                i += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (acked, outcomes)
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;

    cluster.ctl("stop");
    let down = Instant::now();
    let mut red = None;
    while down.elapsed() < OUTAGE {
        let started = Instant::now();
        let ready = admin.get("/readyz").await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "/readyz answers within its own 2 s budget, not the pool's"
        );
        if ready.status == StatusCode::SERVICE_UNAVAILABLE {
            red.get_or_insert(down.elapsed());
            assert_eq!(ready.body, "database unavailable\n");
        }
        // An anonymous answer and a page both fail cleanly too.
        let page = admin.get("/").await;
        assert!(
            page.status == StatusCode::SERVICE_UNAVAILABLE || page.status.is_success(),
            "a page during the outage: {} {}",
            page.status,
            page.body
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let red = red.expect("/readyz went red while the database was down");
    cluster.ctl("start");
    let up = Instant::now();
    loop {
        if admin.get("/readyz").await.status == StatusCode::OK {
            break;
        }
        assert!(
            up.elapsed() < Duration::from_secs(20),
            "/readyz came back after the database did"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let green = up.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, outcomes) = load.await.unwrap();

    let failed: Vec<_> = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let slowest = outcomes.iter().map(|(_, t)| *t).max().unwrap();
    eprintln!(
        "outage: {} requests, {} acknowledged, {} refused with 503; slowest {slowest:?}; /readyz red after {red:?}, green {green:?} after restart",
        outcomes.len(),
        acked.len(),
        failed.len()
    );
    assert!(!failed.is_empty(), "writes during the outage were refused");
    assert!(
        slowest < SLOWEST,
        "no request hung: slowest took {slowest:?}"
    );
    assert!(
        outcomes.last().unwrap().0 == StatusCode::CREATED,
        "writes succeed again after the outage"
    );
    // Everything acknowledged, before, during or after, is stored.
    let teams = admin.json(Method::GET, "/api/v1/teams", None).await.json();
    let names: Vec<&str> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for name in &acked {
        assert!(
            names.contains(&name.as_str()),
            "acknowledged {name} is stored"
        );
    }
    drop(app);
}
