//! Single sign-on against a real OpenID provider (`oidc-provider` from npm, started here on a
//! free loopback port from `crates/kintsugi/tests/oidc/provider.mjs`). The flow is driven the
//! way a browser drives it: redirects followed by hand, the provider's login form filled in,
//! cookies kept per site.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both;

pub struct Provider {
    pub issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    pub fn start() -> Provider {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc");
        assert!(
            std::path::Path::new(dir)
                .join("node_modules/oidc-provider")
                .exists(),
            "run `npm ci` in {dir} first (scripts/test does)"
        );
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the test OpenID provider");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let issuer = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the OpenID provider starts");
            if let Some(i) = line.strip_prefix("READY ") {
                break i.to_owned();
            }
        };
        Provider { issuer, child }
    }

    /// The settings that point Kintsugi at this provider.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("KINTSUGI_OIDC_ISSUER", self.issuer.clone()),
            ("KINTSUGI_OIDC_CLIENT_ID", "kintsugi-test".into()),
            ("KINTSUGI_OIDC_CLIENT_SECRET", "kintsugi-test-secret".into()),
            ("KINTSUGI_OIDC_SCOPES", "openid email profile groups".into()),
            ("KINTSUGI_OIDC_NAME", "Acme ID".into()),
            ("KINTSUGI_OIDC_GROUPS_CLAIM", "groups".into()),
        ]
    }
}

pub async fn start_with_provider(
    backend: Backend,
    provider: &Provider,
    extra: &[(&str, &str)],
) -> App {
    let env = provider.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    App::start_with(backend, &[], &all).await
}

fn absolute(base: &str, location: &str) -> String {
    reqwest::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// Follows redirects from `url` until the provider sends the browser back to Kintsugi's
/// callback; returns that callback URL (not yet visited).
async fn to_callback(app: &App, b: &Browser, login: &str) -> String {
    let start = b.get("/login/oidc").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let mut url = start.location.unwrap();
    for _ in 0..10 {
        if url.starts_with(&format!("{}/login/oidc/callback", app.url)) {
            return url;
        }
        let page = b.get_abs(&url).await;
        if let Some(next) = &page.location {
            url = absolute(&url, next);
            continue;
        }
        // The provider's login form: any password is accepted for its test users.
        assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.body);
        let at = page.body.find("action=\"").expect("a login form") + 8;
        let action = &page.body[at..at + page.body[at..].find('"').unwrap()];
        let resp = b
            .client
            .post(absolute(&url, action))
            .form(&[("prompt", "login"), ("login", login), ("password", "any")])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_redirection(), "{}", resp.status());
        url = absolute(&url, resp.headers()["location"].to_str().unwrap());
    }
    panic!("the provider never sent the browser back (last at {url})");
}

/// Signs in through the provider as `login`; Kintsugi's answer to the callback.
pub async fn sign_in(app: &App, b: &Browser, login: &str) -> Page {
    let callback = to_callback(app, b, login).await;
    b.get_abs(&callback).await
}

async fn home_name(b: &Browser) -> String {
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK, "signed in: {}", home.body);
    home.body
}

on_both!(
    first_sign_in_provisions_links_and_maps_groups,
    |backend| async move {
        let provider = Provider::start();
        let app = start_with_provider(backend, &provider, &[]).await;
        let admin = app.setup().await;
        let platform = create_team(&admin, "Platform").await;
        // Bob was invited before single sign-on: his sign-in finds him by email.
        let bob = add_person(&admin, "Bob Invited", "bob@acme.example", "", &[]).await;

        let login = app.browser().get("/login").await;
        assert!(
            login.body.contains("Sign in with Acme ID"),
            "{}",
            login.body
        );

        let ann = app.browser();
        let back = sign_in(&app, &ann, "ann").await;
        assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
        assert_eq!(back.location.as_deref(), Some("/"));
        assert!(home_name(&ann).await.contains("Ann Oidc"));

        // Created just in time, in the organisation, in the team its group names (the unknown
        // group is ignored), with no roles and no password.
        let people = admin.get("/admin/people").await;
        assert!(people.body.contains("ann@acme.example"), "{}", people.body);
        let ann_id = app
        .scalar("SELECT COUNT(*) FROM people WHERE email = 'ann@acme.example' AND password_hash IS NULL AND NOT is_admin")
        .await;
        assert_eq!(ann_id, 1);
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) FROM team_members m JOIN people p ON p.id = m.person_id \
             WHERE p.email = 'ann@acme.example' AND m.team_id = '{platform}'"
            ))
            .await,
            1
        );

        // A second sign-in is the same person, not a new one.
        let again = app.browser();
        assert_eq!(
            sign_in(&app, &again, "ann").await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM people WHERE email = 'ann@acme.example'")
                .await,
            1
        );

        // The invited person is matched by email and linked to the provider's account.
        let b = app.browser();
        assert_eq!(sign_in(&app, &b, "bob").await.status, StatusCode::SEE_OTHER);
        assert!(home_name(&b).await.contains("Bob Invited"));
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) FROM identities WHERE person_id = '{bob}' AND subject = 'bob'"
            ))
            .await,
            1
        );
        let audit = admin.get("/admin/audit").await;
        assert!(
            audit.body.contains("person.sso_create") || audit.body.contains("ann@acme.example")
        );
    }
);

/// Each forged or broken answer is refused with a clear 4xx page, and nobody is signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_callbacks_are_refused() {
    let provider = Provider::start();
    let app = start_with_provider(Backend::Sqlite, &provider, &[]).await;
    app.setup().await;

    let refused = |page: &Page, words: &str| {
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(
            page.body.contains(words),
            "expected {words:?} in {}",
            page.body
        );
    };
    let signed_out = |b: Browser| async move {
        assert_eq!(b.get("/").await.location.as_deref(), Some("/login"));
    };

    // A state this browser was never given.
    let b = app.browser();
    let stray = b
        .get("/login/oidc/callback?code=abc&state=made-up-state")
        .await;
    refused(&stray, "state does not match");
    signed_out(b).await;

    // The right answer, replayed: the state is spent on first use.
    let b = app.browser();
    let callback = to_callback(&app, &b, "ann").await;
    assert_eq!(b.get_abs(&callback).await.status, StatusCode::SEE_OTHER);
    let b2 = app.browser();
    // The replaying browser carries the same state cookie, as an attacker who stole it would.
    let state = callback
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let replay = b2
        .client
        .get(&callback)
        .header("cookie", format!("kintsugi_oidc_state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(
        replay
            .text()
            .await
            .unwrap()
            .contains("already used or expired")
    );

    // An answer that names another issuer (RFC 9207 mix-up).
    let b = app.browser();
    let callback = to_callback(&app, &b, "ann").await;
    let wrong = callback.replace(
        &format!("iss={}", urlencode(&provider.issuer)),
        "iss=https%3A%2F%2Fevil.example",
    );
    assert_ne!(wrong, callback, "the provider names itself in its answer");
    refused(&b.get_abs(&wrong).await, "another issuer");
    signed_out(b).await;

    // ID tokens that the provider signed with its real key but with a claim changed.
    for (login, words) in [
        ("forge-issuer", "wrong issuer"),
        ("forge-nonce", "wrong nonce"),
        ("forge-expired", "expired"),
        ("forge-audience", "wrong audience"),
        ("unverified", "not verified this email"),
    ] {
        let b = app.browser();
        refused(&sign_in(&app, &b, login).await, words);
        signed_out(b).await;
    }
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM people WHERE email LIKE 'forge-%' OR email LIKE 'unverified%'"
        )
        .await,
        0
    );

    // An error from the provider (the person cancelled) is shown, not a 5xx.
    let b = app.browser();
    let start = b.get("/login/oidc").await;
    let state = start
        .location
        .unwrap()
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    refused(
        &b.get(&format!(
            "/login/oidc/callback?error=access_denied&state={state}"
        ))
        .await,
        "access_denied",
    );
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('/', "%2F")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_login_can_be_switched_off() {
    let provider = Provider::start();
    let app = start_with_provider(
        Backend::Sqlite,
        &provider,
        &[("KINTSUGI_LOCAL_LOGIN", "false")],
    )
    .await;
    let admin = app.setup().await;
    drop(admin);
    let b = app.browser();
    let login = b.get("/login").await;
    assert!(login.body.contains("Sign in with Acme ID"));
    assert!(!login.body.contains("type=\"password\""), "{}", login.body);
    let tried = b
        .post_form(
            "/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(tried.status, StatusCode::FORBIDDEN, "{}", tried.body);
    assert!(tried.body.contains("password login is switched off"));
    assert_eq!(sign_in(&app, &b, "ann").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_single_sign_on_there_is_no_button_and_no_route() {
    let app = App::start(Backend::Sqlite).await;
    let b = app.browser();
    assert!(!b.get("/login").await.body.contains("Sign in with"));
    assert_eq!(b.get("/login/oidc").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        b.get("/login/oidc/callback?code=a&state=b").await.status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn an_issuer_that_is_not_https_is_a_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    for (issuer, words) in [
        ("http://id.example.com", "must be https"),
        ("not a url", "not a URL"),
    ] {
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env_remove("KINTSUGI_DATABASE_URL")
            .env("KINTSUGI_OIDC_ISSUER", issuer)
            .env("KINTSUGI_OIDC_CLIENT_ID", "x")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("oidc_issuer") && err.contains(words), "{err}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("KINTSUGI_DATABASE_URL")
        .env("KINTSUGI_LOCAL_LOGIN", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("local_login"));
}
