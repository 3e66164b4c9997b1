//! Starts the real binary on a free port with a fresh database, and talks to it like a browser.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::redirect::Policy;

pub const BIN: &str = env!("CARGO_BIN_EXE_kintsugi");

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::harness::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::harness::Backend::Postgres).await
            }
        }
    };
}

pub struct App {
    pub url: String,
    pub setup_link: Option<String>,
    pub stdout: Vec<String>,
    pub data_dir: tempfile::TempDir,
    pub database_url: Option<String>,
    child: Child,
    /// Every line the server wrote to stderr (its log).
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            for line in self.log.lock().unwrap().iter() {
                eprintln!("server: {line}");
            }
        }
    }
}

/// A fresh PostgreSQL database on the test server (`KINTSUGI_TEST_POSTGRES_URL`).
pub async fn fresh_postgres() -> String {
    use sqlx::Executor;
    let admin = std::env::var("KINTSUGI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .expect("PostgreSQL must run for these tests (scripts/ensure-postgres starts it)");
    let name = format!("kintsugi_test_{}", uuid::Uuid::new_v4().simple());
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

impl App {
    pub async fn start(backend: Backend) -> App {
        Self::start_with(backend, &[], &[]).await
    }

    pub async fn start_with(backend: Backend, args: &[&str], env: &[(&str, &str)]) -> App {
        let data_dir = tempfile::tempdir().unwrap();
        // The server refuses a data directory others can read.
        std::fs::set_permissions(
            data_dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres().await),
        };
        Self::launch(data_dir, database_url, args, env).await
    }

    /// Starts a server over an existing data directory and database.
    pub async fn launch(
        data_dir: tempfile::TempDir,
        database_url: Option<String>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> App {
        // The server refuses a data directory others can read (tempfile makes them 0755).
        std::fs::set_permissions(
            data_dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path());
        if let Some(url) = &database_url {
            cmd.args(["--database-url", url]);
        }
        cmd.args(args)
            .env_remove("KINTSUGI_DATABASE_URL")
            .env("RUST_LOG", "info")
            // Epochs of about a second (the default is minutes), so answers are sealed while a
            // test waits; a test that needs the default sets it back.
            .env("KINTSUGI_ANON_EPOCH_SECONDS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start kintsugi");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut stdout = Vec::new();
        let url = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    stdout.push(line.clone());
                    if let Some(u) = line.strip_prefix("Kintsugi is serving at ") {
                        break u.to_owned();
                    }
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(200));
                    panic!(
                        "server did not start; printed {stdout:?}, logged {:?}",
                        log.lock().unwrap()
                    )
                }
            }
        };
        // Everything the server prints at start-up comes before it answers.
        let probe = reqwest::Client::new();
        for _ in 0..300 {
            if probe
                .get(format!("{url}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The thread reading the pipe can lag behind under load: take lines until it is quiet.
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(250)) {
            stdout.push(line);
        }
        let setup_link = stdout
            .iter()
            .find_map(|l| l.strip_prefix("Set up your organisation: "))
            .map(str::to_owned);
        App {
            url,
            setup_link,
            stdout,
            data_dir,
            database_url,
            child,
            log,
        }
    }

    /// Asks the server to stop (SIGTERM) and waits for it, up to `within`; its exit status and
    /// what it leaves, to start it again.
    pub fn terminate(
        mut self,
        within: Duration,
    ) -> (std::process::ExitStatus, tempfile::TempDir, Option<String>) {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < within,
                "the server did not stop within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap());
        (status, dir, self.database_url.take())
    }

    pub fn stop(mut self) -> (tempfile::TempDir, Option<String>) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap());
        (dir, self.database_url.take())
    }

    pub fn browser(&self) -> Browser {
        Browser {
            base: self.url.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// Completes first-run setup through the setup page; returns the admin's browser.
    pub async fn setup(&self) -> Browser {
        let b = self.browser();
        let link = self.setup_link.clone().expect("a setup link");
        let page = b.get_abs(&link).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let done = b
            .post_form(
                "/setup",
                &[
                    ("token", token.as_str()),
                    ("organisation_name", "Acme Works"),
                    ("name", "Ada Admin"),
                    ("email", ADMIN_EMAIL),
                    ("password", ADMIN_PASSWORD),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        b
    }
}

pub const ADMIN_EMAIL: &str = "ada@acme.example";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first `name="csrf_token"` field, as a browser would submit it.
    pub fn csrf(&self) -> String {
        field_value(&self.body, "csrf_token").expect("page has a CSRF field")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// The `value` of the input named `name` in `html`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].replace("&#38;", "&").replace("&amp;", "&"))
}

/// The `value` of the element with `id`.
pub fn value_by_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_owned())
}

#[derive(Clone)]
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
}

impl Browser {
    pub async fn page(resp: reqwest::Response) -> Page {
        let status = resp.status();
        let headers = resp.headers().clone();
        let location = headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        Page {
            status,
            location,
            headers,
            body: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.get_abs(&format!("{}{path}", self.base)).await
    }

    pub async fn get_abs(&self, url: &str) -> Page {
        Self::page(self.client.get(url).send().await.unwrap()).await
    }

    /// Submits a form the way a browser does: with the CSRF token the site gave it.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf_token().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        Self::page(
            self.client
                .post(format!("{}{path}", self.base))
                .form(&all)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The CSRF token from a page of the site (any page carries it in its layout).
    pub async fn csrf_token(&self) -> String {
        let page = self.get("/login").await;
        let body = if page.status.is_redirection() {
            self.get("/").await.body
        } else {
            page.body
        };
        field_value(&body, "csrf_token")
            .or_else(|| {
                let at = body.find("name=\"csrf-token\" content=\"")? + 27;
                Some(body[at..at + body[at..].find('"')?].to_owned())
            })
            .expect("a CSRF token on the page")
    }

    pub async fn login(&self, email: &str, password: &str) -> Page {
        self.post_form("/login", &[("email", email), ("password", password)])
            .await
    }

    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Page {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        req = match body {
            Some(b) => req.json(&b),
            None => req.header("content-type", "application/json"),
        };
        Self::page(req.send().await.unwrap()).await
    }
}

/// Creates a team through the admin page; returns its id from the people form.
pub async fn create_team(admin: &Browser, name: &str) -> String {
    let page = admin.post_form("/admin/teams", &[("name", name)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let people = admin.get("/admin/people").await;
    let at = people
        .body
        .find(&format!(">{name}</option>"))
        .expect("team in the people form");
    let before = &people.body[..at];
    let v = before.rfind("value=\"").unwrap() + 7;
    before[v..v + 36].to_owned()
}

/// Adds a person through the admin page; returns their id.
pub async fn add_person(
    admin: &Browser,
    name: &str,
    email: &str,
    team: &str,
    roles: &[&str],
) -> String {
    let mut fields = vec![("name", name), ("email", email), ("team", team)];
    for r in roles {
        fields.push((r, "on"));
    }
    let page = admin.post_form("/admin/people", &fields).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.location
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// Creates an invitation link through the person page.
pub async fn invitation_link(admin: &Browser, person_id: &str) -> String {
    let page = admin
        .post_form(&format!("/admin/people/{person_id}/invitation"), &[])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    value_by_id(&page.body, "invite-link").expect("the page shows the link")
}

/// Adds a person, invites them, and signs them in with a password; their id and browser.
pub async fn member(
    app: &App,
    admin: &Browser,
    name: &str,
    email: &str,
    roles: &[&str],
) -> (String, Browser) {
    let id = add_person(admin, name, email, "", roles).await;
    let link = invitation_link(admin, &id).await;
    let b = app.browser();
    b.get_abs(&link).await;
    let path = link.trim_start_matches(&app.url).to_owned();
    let done = b
        .post_form(
            &format!("{path}/password"),
            &[("password", "a long enough password")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    (id, b)
}

/// Today's date as the server sees it (UTC), shifted by `days`.
pub fn day(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

impl App {
    /// Runs one statement against the server's own database: how tests make time pass.
    pub async fn exec(&self, statement: String) {
        let statement = sqlx::AssertSqlSafe(statement);
        match &self.database_url {
            Some(url) => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .connect(url)
                    .await
                    .unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            None => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(self.data_dir.path().join("kintsugi.db"));
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .connect_with(opts)
                    .await
                    .unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
        }
    }

    /// One number from the server's own database.
    pub async fn scalar(&self, query: &str) -> i64 {
        let query = sqlx::AssertSqlSafe(query.to_owned());
        match &self.database_url {
            Some(url) => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .connect(url)
                    .await
                    .unwrap();
                sqlx::query_scalar::<_, i64>(query)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
            None => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(self.data_dir.path().join("kintsugi.db"));
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .connect_with(opts)
                    .await
                    .unwrap();
                sqlx::query_scalar::<_, i64>(query)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        }
    }
}

impl App {
    /// The server's process id, for measuring it (resident memory in the soak).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}
