//! The data directory and its files are the server's user's alone: the directory 0700, the
//! database, its journal and the key-encryption key 0600; a directory others can read is refused.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_database_and_the_keys_are_private() {
    let app = App::start(Backend::Sqlite).await;
    let admin = app.setup().await;
    create_team(&admin, "Files").await;
    let dir = app.data_dir.path();
    for name in [
        "kintsugi.db",
        "kintsugi.db-wal",
        "kintsugi.db-shm",
        "key-encryption-key",
        "kintsugi.lock",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    app.stop();
}

#[test]
fn a_new_data_directory_is_private() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("new").join("data");
    let out = Command::new(BIN)
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .env_remove("KINTSUGI_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("kintsugi.db")), 0o600);
}

/// Starts `serve` on `dir` and waits for it to give up, up to 30 s.
fn refused(dir: &std::path::Path) -> String {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("KINTSUGI_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success());
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the server started on {}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    err
}

#[test]
fn a_data_directory_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = refused(dir.path());
    let shown = dir.path().display().to_string();
    assert!(
        err.contains(&format!(
            "data directory {shown} is readable by others (mode 0755); run chmod 700 {shown}"
        )),
        "{err}"
    );
    assert!(
        !dir.path().join("kintsugi.db").exists(),
        "nothing was opened"
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o730)).unwrap();
    assert!(refused(dir.path()).contains("writable by others (mode 0730)"));
}

/// A key-encryption key that is not 32 bytes of base64 is refused at start-up, by name, and
/// not echoed.
#[test]
fn a_bad_key_encryption_key_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env_remove("KINTSUGI_DATABASE_URL")
        .env("KINTSUGI_KEY_ENCRYPTION_KEY", "c2hvcnQtc2VjcmV0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("key_encryption_key") && err.contains("must be 32 bytes"),
        "{err}"
    );
    assert!(
        !err.contains("c2hvcnQtc2VjcmV0"),
        "the key is not echoed: {err}"
    );
    assert!(!dir.path().join("data").exists(), "nothing was made");
}
