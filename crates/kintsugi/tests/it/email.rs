//! Email against a real SMTP server on loopback (aiosmtpd, started per test by
//! `tests/smtp/server.py`): invitations by email, retries while the server is down, the
//! dead letters and their retry, and a refused SMTP host at start-up.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use mail_parser::MessageParser;
use reqwest::{Method, StatusCode};

use crate::harness::{self, App, Backend};
use crate::on_both;

/// The Python that has aiosmtpd: `scripts/ensure-smtp` makes it (once, idempotent).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new(root.join("scripts/ensure-smtp"))
            .status()
            .expect("run scripts/ensure-smtp");
        assert!(status.success(), "scripts/ensure-smtp failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        target.join("smtp-venv/bin/python")
    })
}

/// A real SMTP server that saves every message it accepts as a file.
pub struct Smtp {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port, for a server that starts later.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Smtp {
    pub fn start() -> Smtp {
        Self::start_on(0, tempfile::tempdir().unwrap())
    }

    /// Starts on `port` (0: any), saving into `dir`.
    pub fn start_on(port: u16, dir: tempfile::TempDir) -> Smtp {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/server.py");
        let mut child = Command::new(python())
            .arg(&script)
            .arg(dir.path())
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("SMTP server did not start: {line:?}"))
            .parse()
            .unwrap();
        Smtp { port, dir, child }
    }

    /// The settings that point a server at this SMTP server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        mail_env(self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        received_in(self.dir.path())
    }

    /// The messages whose subject contains `subject`, in the order they arrived.
    pub fn received_about(&self, subject: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| m.subject().contains(subject))
            .collect()
    }

    /// Waits until at least `n` invitations arrived (other mail, such as the weekly digest,
    /// may come and go meanwhile); returns them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        self.wait_for_about(INVITATION, n, within).await
    }

    /// Waits until `n` messages about `subject` arrived, and two seconds more for any extra
    /// one; returns their recipients, sorted.
    pub async fn recipients_of(&self, subject: &str, n: usize) -> Vec<String> {
        self.wait_for_about(subject, n, Duration::from_secs(20))
            .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut to: Vec<_> = self
            .received_about(subject)
            .into_iter()
            .map(|m| m.envelope_to)
            .collect();
        to.sort();
        to
    }

    /// Waits until at least `n` messages about `subject` arrived; returns them all.
    pub async fn wait_for_about(&self, subject: &str, n: usize, within: Duration) -> Vec<Received> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let got = self.received_about(subject);
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} emails within {within:?}, got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What every invitation's subject says.
pub const INVITATION: &str = "Your invitation to Kintsugi";

/// Settings for a server whose mail goes to 127.0.0.1:`port`, with quick retries.
pub fn mail_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("KINTSUGI_SMTP_HOST", "127.0.0.1".into()),
        ("KINTSUGI_SMTP_PORT", port.to_string()),
        ("KINTSUGI_SMTP_TLS", "none".into()),
        (
            "KINTSUGI_MAIL_FROM",
            "Kintsugi <kintsugi@acme.example>".into(),
        ),
        ("KINTSUGI_JOB_RETRY_BASE_SECONDS", "1".into()),
        ("KINTSUGI_JOB_RETRY_CAP_SECONDS", "2".into()),
        ("KINTSUGI_JOB_POLL_MILLIS", "100".into()),
    ]
}

pub async fn start_app(backend: Backend, env: &[(&'static str, String)]) -> App {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    App::start_with(backend, &[], &env).await
}

/// One message as the SMTP server received it.
pub struct Received {
    pub raw: Vec<u8>,
    pub envelope_to: String,
}

impl Received {
    fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(&self.raw)
            .expect("a parseable email")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let raw = String::from_utf8_lossy(&self.raw);
        let (head, _) = raw.split_once("\r\n\r\n")?;
        // Unfold continuation lines, then find the header.
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    /// The first http(s) link in the plain-text part that contains `part`.
    pub fn link(&self, part: &str) -> String {
        self.text()
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains(part))
            .unwrap_or_else(|| panic!("no link with {part:?} in {}", self.text()))
            .to_owned()
    }
}

pub fn received_in(dir: &Path) -> Vec<Received> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map_while(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let raw = std::fs::read(p).unwrap();
            let text = String::from_utf8_lossy(&raw);
            let (first, rest) = text.split_once("\r\n").unwrap();
            let envelope_to = first
                .strip_prefix("X-Envelope-To: ")
                .unwrap_or_default()
                .to_owned();
            Received {
                raw: rest.as_bytes().to_vec(),
                envelope_to,
            }
        })
        .collect()
}

/// Waits until the admin's job list shows a job in `state` whose key starts with `key`.
pub async fn wait_for_job(
    admin: &harness::Browser,
    state: &str,
    key: &str,
    within: Duration,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let page = admin
            .json(Method::GET, &format!("/api/v1/jobs?state={state}"), None)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        if let Some(job) = page.json()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["idempotency_key"].as_str().unwrap().starts_with(key))
        {
            return job.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {state} job {key}… within {within:?}: {}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

on_both!(invitation_by_email, |backend| async move {
    let smtp = Smtp::start();
    let app = start_app(backend, &smtp.env()).await;
    let admin = app.setup().await;
    let id = harness::add_person(&admin, "Bea Member", "bea@acme.example", "", &[]).await;

    // The button on the person page.
    let sent = admin
        .post_form(&format!("/admin/people/{id}/invitation/email"), &[])
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.body.contains("bea@acme.example"), "{}", sent.body);

    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.envelope_to, "bea@acme.example");
    assert!(mail.subject().contains("Acme Works"), "{}", mail.subject());
    assert!(mail.text().contains("Hello Bea Member"), "{}", mail.text());
    assert!(
        mail.html().contains("Sign in to Kintsugi"),
        "{}",
        mail.html()
    );
    let message_id = mail.header("Message-ID").expect("a Message-ID");
    assert!(message_id.ends_with("@acme.example>"), "{message_id}");
    assert!(mail.header("X-Idempotency-Key").is_some());
    assert!(
        mail.header("List-Unsubscribe").is_none(),
        "invitations are essential: no unsubscribe"
    );

    // Bea follows the link from the email and signs in.
    let link = mail.link("/invite/");
    assert!(link.starts_with(&app.url), "{link}");
    let bea = app.browser();
    let page = bea.get_abs(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Bea Member"), "{}", page.body);
    let path = link.trim_start_matches(&app.url).to_owned();
    let done = bea
        .post_form(
            &format!("{path}/password"),
            &[("password", "a long enough password")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let me = bea.json(Method::GET, "/api/v1/me", None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["person"]["email"], "bea@acme.example");

    // The API does the same; a second invitation is a second email with a new link.
    let api = send_invitation(&admin, &id).await;
    assert_eq!(api.status, StatusCode::ACCEPTED, "{}", api.body);
    assert_eq!(api.json()["sent_to"], "bea@acme.example");
    let mails = smtp.wait_for(2, Duration::from_secs(20)).await;
    assert_ne!(mails[1].link("/invite/"), link);
    assert_ne!(mails[1].header("Message-ID"), Some(message_id));

    // Someone unknown gets a 404, not an email.
    let none = admin
        .json(
            Method::POST,
            &format!("/api/v1/people/{}/invitation/email", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_an_email_invitation_is_refused_clearly() {
    let app = App::start(Backend::Sqlite).await;
    let admin = app.setup().await;
    let id = harness::add_person(&admin, "Bea Member", "bea@acme.example", "", &[]).await;
    let api = send_invitation(&admin, &id).await;
    assert_eq!(api.status, StatusCode::CONFLICT, "{}", api.body);
    assert!(api.body.contains("smtp_host"), "{}", api.body);
}

/// Asks the API to email a person an invitation.
pub async fn send_invitation(admin: &harness::Browser, person: &str) -> harness::Page {
    admin
        .json(
            Method::POST,
            &format!("/api/v1/people/{person}/invitation/email"),
            None,
        )
        .await
}

/// An organisation whose mail goes to `port`, and an email invitation for Bea, queued
/// through the API; the server and the admin's browser.
async fn invite_bea(
    backend: Backend,
    port: u16,
    max_attempts: &str,
) -> (App, harness::Browser, Vec<(&'static str, String)>) {
    let mut env = mail_env(port);
    env.push(("KINTSUGI_JOB_MAX_ATTEMPTS", max_attempts.into()));
    let app = start_app(backend, &env).await;
    let admin = app.setup().await;
    let id = harness::add_person(&admin, "Bea Member", "bea@acme.example", "", &[]).await;
    let api = send_invitation(&admin, &id).await;
    assert_eq!(api.status, StatusCode::ACCEPTED, "{}", api.body);
    (app, admin, env)
}

// The mail server is down: the job fails and is retried; the server restarts meanwhile;
// when the mail server comes up, the email arrives, once.
on_both!(
    down_smtp_retries_and_survives_a_restart,
    |backend| async move {
        let port = free_port();
        let (app, admin, env) = invite_bea(backend, port, "50").await;
        let job = wait_for_job(&admin, "queued", "invitation:", Duration::from_secs(20)).await;
        // Wait for a failed attempt to be recorded.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let failed = loop {
            let jobs = admin
                .json(Method::GET, "/api/v1/jobs?state=queued", None)
                .await
                .json();
            let j = jobs["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|j| j["id"] == job["id"])
                .cloned();
            if let Some(j) = j.filter(|j| j["attempts"].as_u64() >= Some(1)) {
                break j;
            }
            assert!(std::time::Instant::now() < deadline, "no failed attempt");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            failed["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("mail server")),
            "{failed}"
        );

        // Restart the Kintsugi server while the mail server is still down.
        let (dir, db) = app.stop();
        let env2: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let app = App::launch(dir, db, &[], &env2).await;
        let smtp = Smtp::start_on(port, tempfile::tempdir().unwrap());
        let mails = smtp.wait_for(1, Duration::from_secs(30)).await;
        assert_eq!(mails[0].envelope_to, "bea@acme.example");
        // Give a would-be duplicate time to arrive, then check there is none.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(smtp.received_about(INVITATION).len(), 1, "sent once");
        let admin = app.browser();
        admin
            .login(harness::ADMIN_EMAIL, harness::ADMIN_PASSWORD)
            .await;
        wait_for_job(&admin, "done", "invitation:", Duration::from_secs(10)).await;
    }
);

// Too many failures: the job is dead, the admin sees it, retries it, and it is delivered.
on_both!(dead_letters_and_admin_retry, |backend| async move {
    let port = free_port();
    let (app, admin, _) = invite_bea(backend, port, "2").await;
    let dead = wait_for_job(&admin, "dead", "invitation:", Duration::from_secs(30)).await;
    assert_eq!(dead["attempts"], 2, "{dead}");

    let page = admin.get("/admin/jobs").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Dead letters"), "{}", page.body);
    assert!(page.body.contains("invitation:"), "{}", page.body);
    let job_id = dead["id"].as_str().unwrap().to_owned();

    // Members cannot see or retry jobs.
    let (_, member) = harness::member(&app, &admin, "Cy Member", "cy@acme.example", &[]).await;
    let refused = member
        .json(Method::POST, &format!("/api/v1/jobs/{job_id}/retry"), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(
        member.get("/admin/jobs").await.status,
        StatusCode::FORBIDDEN
    );

    let smtp = Smtp::start_on(port, tempfile::tempdir().unwrap());
    let retried = admin
        .post_form(&format!("/admin/jobs/{job_id}/retry"), &[])
        .await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER, "{}", retried.body);
    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails[0].envelope_to, "bea@acme.example");
    // A job that is not dead cannot be retried.
    let again = admin
        .json(Method::POST, &format!("/api/v1/jobs/{job_id}/retry"), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    let bad = admin
        .json(Method::GET, "/api/v1/jobs?state=sleeping", None)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let audit = admin.get("/admin/audit").await;
    assert!(audit.body.contains("job.retry"), "{}", audit.body);
});

#[test]
fn an_smtp_host_that_does_not_resolve_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(harness::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("KINTSUGI_DATABASE_URL")
        .env("KINTSUGI_SMTP_HOST", "mail.nowhere.invalid")
        .env("KINTSUGI_MAIL_FROM", "kintsugi@acme.example")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("smtp_host") && err.contains("mail.nowhere.invalid"),
        "{err}"
    );

    let out = Command::new(harness::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("KINTSUGI_DATABASE_URL")
        .env("KINTSUGI_SMTP_HOST", "127.0.0.1")
        .env("KINTSUGI_SMTP_TLS", "sometimes")
        .env("KINTSUGI_MAIL_FROM", "kintsugi@acme.example")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("smtp_tls"), "{err}");

    let out = Command::new(harness::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("KINTSUGI_DATABASE_URL")
        .env("KINTSUGI_SMTP_HOST", "127.0.0.1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mail_from"), "{err}");
}

/// Settings for the reminder tests: scans every second, notices batched every 2 seconds.
fn reminder_env(smtp: &Smtp) -> Vec<(&'static str, String)> {
    let mut env = smtp.env();
    env.push(("KINTSUGI_REMINDER_SCAN_SECONDS", "1".into()));
    env.push(("KINTSUGI_NOTICE_BATCH_SECONDS", "2".into()));
    env
}

// Reminders by email: a commitment due tomorrow and one missed (to Lee, its owner), an
// overdue update (to Fay, who facilitates), round notices, weekly digests; each once.
// Lee unsubscribes from one kind with the one-click link, without logging in.
on_both!(
    reminders_by_email_and_one_click_unsubscribe,
    |backend| async move {
        let smtp = Smtp::start();
        let app = start_app(backend, &reminder_env(&smtp)).await;
        let admin = app.setup().await;
        let (_, fay) = harness::member(
            &app,
            &admin,
            "Fay Facilitator",
            "fay@acme.example",
            &["facilitator"],
        )
        .await;
        let (lee_id, lee) =
            harness::member(&app, &admin, "Lee Lead", "lee@acme.example", &[]).await;
        let (ana_id, ana) =
            harness::member(&app, &admin, "Ana Affected", "ana@acme.example", &[]).await;
        let opened = fay
            .json(
                Method::POST,
                "/api/v1/repairs",
                Some(serde_json::json!({"title": "Missed launch date",
                "summary": "The launch slipped twice without warning.",
                "breach": "missed_deadline", "scope": "person_person",
                "accountable_people": [lee_id], "affected_people": [ana_id],
                "update_cadence_days": 7})),
            )
            .await;
        assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
        let repair = opened.json()["id"].as_str().unwrap().to_owned();
        let r = format!("/repairs/{repair}");
        for fields in [
            vec![
                ("owner", lee_id.as_str()),
                ("statement", "Share the revised plan"),
                ("due", &harness::day(1)),
            ],
            vec![
                ("owner", lee_id.as_str()),
                ("statement", "Send the release notes weekly"),
                ("cadence", "weekly"),
                ("count", "4"),
                ("first_due", &harness::day(-7)),
            ],
        ] {
            let added = lee.post_form(&format!("{r}/commitments"), &fields).await;
            assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        }
        // The repair opened nine days ago and has had no update since.
        app.exec(format!(
            "UPDATE repairs SET created_at = created_at - {} WHERE id = '{repair}'",
            9 * 86_400
        ))
        .await;

        let due = smtp
            .wait_for_about(
                "Due tomorrow: Share the revised plan",
                1,
                Duration::from_secs(20),
            )
            .await;
        assert_eq!(due[0].envelope_to, "lee@acme.example");
        assert!(
            due[0].text().contains(&harness::day(1)),
            "{}",
            due[0].text()
        );
        let missed = smtp
            .wait_for_about(
                "Missed: Send the release notes weekly",
                1,
                Duration::from_secs(20),
            )
            .await;
        assert_eq!(missed[0].envelope_to, "lee@acme.example");
        let late = smtp
            .wait_for_about("Update due: Missed launch date", 1, Duration::from_secs(20))
            .await;
        assert_eq!(late[0].envelope_to, "fay@acme.example");
        assert!(late[0].text().contains("9 days ago"), "{}", late[0].text());
        let digests = smtp
            .wait_for_about("Your week in Kintsugi", 4, Duration::from_secs(20))
            .await;
        // Sent at the first scan of the week, whatever stood then; never anything anonymous.
        assert!(
            digests
                .iter()
                .all(|m| m.text().contains("this week") && !m.text().contains("answer")),
            "{}",
            digests[0].text()
        );

        // RFC 8058 one-click unsubscribe on every non-essential email.
        let header = due[0].header("List-Unsubscribe").expect("List-Unsubscribe");
        assert_eq!(
            due[0].header("List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        let url = header
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned();
        assert!(
            url.starts_with(&format!("{}/unsubscribe/", app.url)),
            "{url}"
        );
        assert!(due[0].text().contains(&url), "the text part links it too");
        // A scanner following the link (GET) changes nothing.
        let shown = reqwest::get(&url).await.unwrap();
        assert_eq!(shown.status(), StatusCode::OK);
        let prefs = lee
            .json(Method::GET, "/api/v1/me/email-preferences", None)
            .await
            .json();
        assert_eq!(prefs["kinds"]["commitment_due"], true, "{prefs}");
        // The mail provider's POST, with no cookie and no CSRF token.
        let posted = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), StatusCode::OK);
        let prefs = lee
            .json(Method::GET, "/api/v1/me/email-preferences", None)
            .await
            .json();
        assert_eq!(prefs["kinds"]["commitment_due"], false, "{prefs}");
        assert_eq!(prefs["kinds"]["commitment_missed"], true, "{prefs}");
        let forged = reqwest::Client::new()
            .post(format!("{}/unsubscribe/not-a-real-link", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::NOT_FOUND);

        // Round notices: opened goes to everyone who may answer; "closing soon" only to those
        // who have not fetched a token.
        let round = fay
            .json(
                Method::POST,
                &format!("/api/v1/repairs/{repair}/rounds"),
                Some(serde_json::json!({"kind": "listening", "closes_in_days": 2})),
            )
            .await;
        assert_eq!(round.status, StatusCode::CREATED, "{}", round.body);
        let round_id = round.json()["id"].as_str().unwrap().to_owned();
        let public = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            round.json()["public_key"].as_str().unwrap(),
        )
        .unwrap();
        crate::rounds::fetch_token(&lee, &repair, &round_id, &public)
            .await
            .unwrap();
        assert_eq!(
            smtp.recipients_of("Now open: an anonymous round", 2).await,
            ["ana@acme.example", "lee@acme.example"]
        );
        // Time passes: the closing notice's slot (a day before closing) arrives.
        run_now(&app, &format!("round_closing:{round_id}")).await;
        assert_eq!(
            smtp.recipients_of("Closing soon", 1).await,
            ["ana@acme.example"],
            "Lee fetched a token: no reminder"
        );
        drop(ana);

        // Each reminder went out once, though the scan ran every second.
        for (subject, n) in [
            ("Due tomorrow", 1),
            ("Missed: Send the release notes weekly", 1),
            ("Update due", 1),
            ("Now open: an anonymous round", 2),
        ] {
            assert_eq!(smtp.received_about(subject).len(), n, "{subject}");
        }
        assert_eq!(smtp.received_about("Your week in Kintsugi").len(), 4);
    }
);

/// Waits for the scan to schedule the job with this key, then brings its slot forward to now.
async fn run_now(app: &App, key: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app
        .scalar(&format!(
            "SELECT COUNT(*) FROM jobs WHERE idempotency_key = '{key}'"
        ))
        .await
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no job {key} scheduled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.exec(format!(
        "UPDATE jobs SET run_at = 0 WHERE idempotency_key = '{key}'"
    ))
    .await;
}

// Team health checks have no repair: their notices go to the team's active members, and
// "closing soon" only to the members who have not fetched a token.
on_both!(
    team_health_checks_are_announced_to_their_team,
    |backend| async move {
        let smtp = Smtp::start();
        let app = start_app(backend, &reminder_env(&smtp)).await;
        let admin = app.setup().await;
        let alpha = harness::create_team(&admin, "Alpha").await;
        let beta = harness::create_team(&admin, "Beta").await;
        let al = crate::health::in_team(&app, &admin, "Al", &alpha).await;
        crate::health::in_team(&app, &admin, "Bo", &alpha).await;
        let gone = harness::add_person(&admin, "Gil", "gil@acme.example", &alpha, &[]).await;
        let left = admin
            .post_form(&format!("/admin/people/{gone}/deactivate"), &[])
            .await;
        assert_eq!(left.status, StatusCode::SEE_OTHER, "{}", left.body);
        harness::add_person(&admin, "Cy", "cy@acme.example", &beta, &[]).await;
        // Any page of team health opens the organisation's first checks.
        assert_eq!(admin.get("/health").await.status, StatusCode::OK);

        let about_alpha = "the anonymous team health check for Alpha";
        assert_eq!(
            smtp.recipients_of(&format!("Now open: {about_alpha}"), 2)
                .await,
            ["al@acme.example", "bo@acme.example"],
            "not Gil, who left"
        );
        let opened = &smtp.received_about("Now open")[0];
        assert!(
            opened.link("/health").ends_with("/health"),
            "{}",
            opened.text()
        );
        assert_eq!(
            smtp.recipients_of("Now open: the anonymous team health check for Beta", 1)
                .await,
            ["cy@acme.example"]
        );

        let check = crate::health::my_check(&al).await;
        crate::health::token(&al, &check).await.unwrap();
        run_now(
            &app,
            &format!("round_closing:{}", check["round"].as_str().unwrap()),
        )
        .await;
        assert_eq!(
            smtp.recipients_of("Closing soon", 1).await,
            ["bo@acme.example"],
            "Al fetched a token: no reminder"
        );
        assert!(
            smtp.received_about("Closing soon")[0]
                .subject()
                .contains(about_alpha)
        );
        assert_eq!(smtp.received_about("Now open").len(), 3, "each notice once");
    }
);

// The preferences page and its API: untick a kind; only non-essential kinds exist there.
on_both!(preferences_page_and_api, |backend| async move {
    let smtp = Smtp::start();
    let app = start_app(backend, &smtp.env()).await;
    let admin = app.setup().await;
    let page = admin.get("/preferences").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("pref-weekly_digest"), "{}", page.body);
    assert!(page.body.contains(" checked"), "everything is on at first");
    let saved = admin
        .post_form(
            "/preferences",
            &[("on", "commitment_due"), ("on", "round_opened")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let prefs = admin
        .json(Method::GET, "/api/v1/me/email-preferences", None)
        .await
        .json();
    assert_eq!(prefs["kinds"]["commitment_due"], true);
    assert_eq!(prefs["kinds"]["weekly_digest"], false);
    let bad = admin
        .post_form("/preferences", &[("on", "invitation")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let put = admin
        .json(
            Method::PUT,
            "/api/v1/me/email-preferences",
            Some(serde_json::json!({"kinds": {"weekly_digest": true, "spam": false}})),
        )
        .await;
    assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", put.body);
    let put = admin
        .json(
            Method::PUT,
            "/api/v1/me/email-preferences",
            Some(serde_json::json!({"kinds": {"weekly_digest": true}})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.json()["kinds"]["weekly_digest"], true);
    assert_eq!(put.json()["kinds"]["round_closing"], false);
});
