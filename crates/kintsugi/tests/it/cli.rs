//! The command line: help for every subcommand, layered settings, backup and restore.

use std::process::Command;

use reqwest::StatusCode;

use crate::harness::*;

fn kintsugi(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("KINTSUGI_DATABASE_URL")
        .env_remove("KINTSUGI_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn help_for_every_subcommand() {
    let (ok, top, _) = kintsugi(&["--help"], &[]);
    assert!(ok);
    for sub in ["serve", "migrate", "backup", "restore", "admin"] {
        assert!(top.contains(sub), "{sub} listed in --help");
        let (ok, help, _) = kintsugi(&[sub, "--help"], &[]);
        assert!(ok && help.contains("Usage: kintsugi"), "{sub} --help");
    }
    let (_, serve, _) = kintsugi(&["serve", "--help"], &[]);
    for flag in [
        "--listen",
        "--data-dir",
        "--database-url",
        "--demo",
        "KINTSUGI_LISTEN",
        "KINTSUGI_DATA_DIR",
        "KINTSUGI_DATABASE_URL",
    ] {
        assert!(serve.contains(flag), "serve --help mentions {flag}");
    }
    for sub in ["setup-link", "organisations", "set-password"] {
        assert!(kintsugi(&["admin", sub, "--help"], &[]).0);
    }
}

#[test]
fn bad_settings_name_the_value_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, _, err) = kintsugi(
        &["migrate", "--data-dir", d],
        &[("KINTSUGI_DATABASE_URL", "mysql://db/x")],
    );
    assert!(!ok);
    assert!(
        err.contains("database_url = \"mysql://db/x\"") && err.contains("KINTSUGI_"),
        "{err}"
    );

    let (ok, _, err) = kintsugi(
        &["serve", "--listen", "not-an-address", "--data-dir", d],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("listen") && err.contains("not-an-address"),
        "{err}"
    );

    let file = dir.path().join("kintsugi.toml");
    std::fs::write(&file, "login_free_failures = \"lots\"\n").unwrap();
    let (ok, _, err) = kintsugi(
        &[
            "migrate",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("login_free_failures") && err.contains("kintsugi.toml"),
        "{err}"
    );

    std::fs::write(&file, "lissen = \"127.0.0.1:1\"\n").unwrap();
    let (ok, _, err) = kintsugi(
        &[
            "migrate",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(
        !ok && err.contains("lissen"),
        "a misspelt key is an error: {err}"
    );
}

#[tokio::test]
async fn settings_layer_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kintsugi.toml");
    std::fs::write(
        &file,
        "public_url = \"http://from-file.example\"\nlogin_free_failures = 1\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    // The file sets public_url; the environment overrides it; a flag overrides both.
    let app = App::start_with(Backend::Sqlite, &["--config", config], &[]).await;
    assert!(
        app.setup_link
            .as_ref()
            .unwrap()
            .starts_with("http://from-file.example/")
    );
    let app = App::start_with(
        Backend::Sqlite,
        &["--config", config],
        &[("KINTSUGI_PUBLIC_URL", "http://from-env.example")],
    )
    .await;
    assert!(
        app.setup_link
            .as_ref()
            .unwrap()
            .starts_with("http://from-env.example/")
    );
    let app = App::start_with(
        Backend::Sqlite,
        &[
            "--config",
            config,
            "--public-url",
            "http://from-flag.example",
        ],
        &[("KINTSUGI_PUBLIC_URL", "http://from-env.example")],
    )
    .await;
    assert!(
        app.setup_link
            .as_ref()
            .unwrap()
            .starts_with("http://from-flag.example/")
    );
}

#[tokio::test]
async fn backup_while_serving_then_restore() {
    let app = App::start(Backend::Sqlite).await;
    let admin = app.setup().await;
    create_team(&admin, "Before Backup").await;
    let data = app.data_dir.path().to_str().unwrap().to_owned();
    let snap = tempfile::tempdir().unwrap();
    let file = snap.path().join("kintsugi-backup.db");
    let (ok, out, err) = kintsugi(
        &["backup", file.to_str().unwrap(), "--data-dir", &data],
        &[],
    );
    assert!(ok, "backup while the server runs: {err}");
    assert!(out.contains("Backed up"));
    create_team(&admin, "After Backup").await;

    let (ok, _, err) = kintsugi(
        &["restore", file.to_str().unwrap(), "--data-dir", &data],
        &[],
    );
    assert!(
        !ok && err.contains("in use by another kintsugi process"),
        "restore refuses under a running server: {err}"
    );

    let (dir, _) = app.stop();
    let (ok, _, err) = kintsugi(
        &[
            "restore",
            file.to_str().unwrap(),
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "{err}");
    let app = App::launch(dir, None, &[], &[]).await;
    let b = app.browser();
    assert_eq!(
        b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let teams = b.get("/admin/teams").await;
    assert!(teams.body.contains("Before Backup") && !teams.body.contains("After Backup"));

    let (ok, _, err) = kintsugi(
        &["backup", "x.db", "--database-url", "postgres://h/db"],
        &[],
    );
    assert!(!ok && err.contains("pg_dump"), "{err}");
}

#[tokio::test]
async fn admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, link, err) = kintsugi(
        &[
            "admin",
            "--data-dir",
            d,
            "setup-link",
            "--public-url",
            "https://k.example",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(link.starts_with("https://k.example/setup?token="));
    let (ok, out, _) = kintsugi(&["migrate", "--data-dir", d], &[]);
    assert!(ok && out.contains("up to date"));

    let app = App::launch(dir, None, &[], &[]).await;
    app.setup().await;
    let d = app.data_dir.path().to_str().unwrap().to_owned();
    let (ok, out, _) = kintsugi(&["admin", "--data-dir", &d, "organisations"], &[]);
    assert!(ok && out.contains("Acme Works"), "{out}");
    let (ok, _, err) = kintsugi(&["admin", "--data-dir", &d, "setup-link"], &[]);
    assert!(!ok && err.contains("already has an organisation"));

    let mut child = Command::new(BIN)
        .args(["admin", "--data-dir", &d, "set-password", ADMIN_EMAIL])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a brand new password\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        app.browser()
            .login(ADMIN_EMAIL, "a brand new password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn json_logs_on_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = out
        .next()
        .unwrap()
        .unwrap()
        .trim_start_matches("Kintsugi is serving at ")
        .to_owned();
    let mut ok = false;
    for _ in 0..100 {
        if reqwest::get(format!("{url}/healthz")).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ok);
    reqwest::get(format!("{url}/invite/secret-token-in-path"))
        .await
        .unwrap();
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["fields"]["route"] == "/invite/{token}")
        .unwrap_or_else(|| panic!("a request line: {stderr}"));
    assert_eq!(request["fields"]["status"], "404");
    assert!(
        !stderr.contains("secret-token-in-path"),
        "raw paths never reach the logs"
    );
}

#[test]
fn coach_from_the_command_line() {
    let mut child = Command::new(BIN)
        .args(["coach", "-", "--json", "--breach", "missed_deadline"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let draft = "I’m sorry if anyone was offended, but the deadline was unrealistic.";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(draft.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let review: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = review
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["components", "flags", "score"], "exactly this shape");
    let rules: Vec<&str> = review["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"conditional") && rules.contains(&"sorry-but"),
        "{rules:?}"
    );
    for f in review["flags"].as_array().unwrap() {
        let (start, end) = (
            f["start"].as_u64().unwrap() as usize,
            f["end"].as_u64().unwrap() as usize,
        );
        assert!(
            draft.get(start..end).is_some(),
            "byte offsets on char boundaries"
        );
        assert_eq!(
            f.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["end", "message", "rule", "start", "suggestion"]
        );
    }
    assert!(review["score"].as_u64().unwrap() < 40);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("draft.txt");
    std::fs::write(&file, "I missed the deadline and did not warn you. I am sorry. I will send the plan every Monday.").unwrap();
    let (ok, text, _) = kintsugi(&["coach", file.to_str().unwrap()], &[]);
    assert!(ok);
    assert!(
        text.contains("Score:") && text.contains("found responsibility"),
        "{text}"
    );
    assert!(
        text.contains("offer of repair, to track as a commitment: Send the plan every Monday"),
        "{text}"
    );

    let (ok, _, err) = kintsugi(&["coach", "-", "--breach", "felony"], &[]);
    assert!(
        !ok && err.contains("--breach") && err.contains("missed_deadline"),
        "{err}"
    );
    let (ok, _, err) = kintsugi(&["coach", "/no/such/draft.txt"], &[]);
    assert!(
        !ok && err.contains("cannot read /no/such/draft.txt"),
        "{err}"
    );
}
