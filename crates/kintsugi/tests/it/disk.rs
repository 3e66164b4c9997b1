//! A full disk under SQLite: the data directory sits on a small tmpfs that fills up. Writes
//! are refused with a clear problem (never a panic or a 500), the database stays intact
//! (`PRAGMA integrity_check`), and service resumes once space returns.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::crash::try_send;
use crate::harness::*;

/// A tmpfs mounted over a directory, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` when mounting is not permitted (it needs root or CAP_SYS_ADMIN).
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "disk: cannot mount a tmpfs ({}); this test needs root",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Writes until the filesystem refuses: the file that took the last byte.
fn fill(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = file.write_all(&chunk) {
            assert_eq!(e.raw_os_error(), Some(28), "ENOSPC, not {e}");
            break;
        }
    }
    // Whatever is left below a chunk, byte by byte in bigger steps down.
    for size in [4096usize, 512, 1] {
        while file.write_all(&chunk[..size]).is_ok() {}
    }
    path
}

async fn integrity(dir: &Path) -> String {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("kintsugi.db"))
        .read_only(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_disk() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = Tmpfs::mount(dir.path(), "24m") else {
        return;
    };
    let app = App::launch(dir, None, &[], &[]).await;
    let admin = app.setup().await;
    let mut stored = Vec::new();
    for i in 0..5 {
        let name = format!("Before {i}");
        let made = admin
            .json(Method::POST, "/api/v1/teams", Some(json!({"name": name})))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        stored.push(name);
    }

    let filler = fill(app.data_dir.path());
    let mut refused = 0;
    for i in 0..20 {
        let name = format!("Full {i} {}", "x".repeat(100));
        let sent = try_send(
            &admin,
            Method::POST,
            "/api/v1/teams",
            Some(json!({"name": name})),
        )
        .await
        .expect("the server answers on a full disk");
        match sent.0 {
            // A write that still fitted (SQLite reuses free pages) is a normal success.
            StatusCode::CREATED => stored.push(name),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::INSUFFICIENT_STORAGE => {
                refused += 1;
                assert!(
                    sent.1["detail"].as_str().is_some_and(|d| !d.is_empty()),
                    "a problem that says what is wrong: {}",
                    sent.1
                );
            }
            other => panic!("on a full disk: {other} {}", sent.1),
        }
    }
    eprintln!(
        "disk: on a full disk {refused} of 20 writes refused with a problem, the rest fitted"
    );
    assert!(refused > 0, "a full disk refuses writes");
    // A form post from a page, and a round key (a file beside the database), fail cleanly too.
    let page = admin
        .post_form("/admin/teams", &[("name", "From the page")])
        .await;
    assert!(
        matches!(
            page.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::INSUFFICIENT_STORAGE
        ),
        "the page says so: {} {}",
        page.status,
        page.body
    );
    assert_eq!(admin.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(
        integrity(app.data_dir.path()).await,
        "ok",
        "nothing corrupted"
    );

    // Space returns: service resumes without a restart.
    std::fs::remove_file(&filler).unwrap();
    let after = admin
        .json(
            Method::POST,
            "/api/v1/teams",
            Some(json!({"name": "After"})),
        )
        .await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.body);
    stored.push("After".into());
    assert_eq!(admin.get("/readyz").await.status, StatusCode::OK);

    let teams = admin.json(Method::GET, "/api/v1/teams", None).await.json();
    let names: Vec<&str> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for name in &stored {
        assert!(names.contains(&name.as_str()), "{name} was stored");
    }
    let log = app.log.lock().unwrap().join("\n");
    assert!(!log.contains("panicked"), "no panic: {log}");
    let (dir, _) = app.stop();
    assert_eq!(integrity(dir.path()).await, "ok", "intact after stopping");
    drop(mount);
}
