//! Logging in and out: sessions, rotation, cookie flags, rate limits and CSRF.

use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both;

fn cookie<'a>(page: &'a Page, name: &str) -> Option<&'a str> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
}

on_both!(
    login_failures_say_nothing_about_which_part_was_wrong,
    |backend| async move {
        let app = App::start(backend).await;
        app.setup().await;
        let b = app.browser();
        let wrong_password = b.login(ADMIN_EMAIL, "not the password at all").await;
        let unknown_email = b.login("nobody@acme.example", ADMIN_PASSWORD).await;
        for page in [&wrong_password, &unknown_email] {
            assert_eq!(page.status, StatusCode::UNAUTHORIZED);
            assert!(page.body.contains("Email or password is incorrect."));
        }
        let strip = |p: &Page| {
            p.body
                .replace(&p.csrf(), "")
                .replace("nobody@acme.example", ADMIN_EMAIL)
        };
        assert_eq!(
            strip(&wrong_password),
            strip(&unknown_email),
            "the two failures look the same"
        );
    }
);

on_both!(
    session_is_rotated_at_login_and_ended_at_logout,
    |backend| async move {
        let app = App::start(backend).await;
        app.setup().await;
        let b = app.browser();
        let first = b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(first.status, StatusCode::SEE_OTHER);
        let c1 = cookie(&first, "kintsugi_session")
            .expect("session cookie")
            .to_owned();
        assert!(
            c1.contains("HttpOnly") && c1.contains("SameSite=Lax") && c1.contains("Path=/"),
            "{c1}"
        );
        assert!(
            !c1.contains("Secure"),
            "plain http here; Secure is set when public_url is https"
        );
        let id1 = c1.split(';').next().unwrap().to_owned();

        // Logging in again from the same browser issues a new id and kills the old one.
        let second = b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let id2 = cookie(&second, "kintsugi_session")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert_ne!(id1, id2);
        let stale = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let with = |id: &str| {
            stale
                .get(format!("{}/api/v1/me", app.url))
                .header("cookie", id.to_owned())
                .send()
        };
        assert_eq!(
            with(&id1).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "old session id is dead"
        );
        assert_eq!(with(&id2).await.unwrap().status(), StatusCode::OK);

        let out = b.post_form("/logout", &[]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(out.location.as_deref(), Some("/login"));
        assert_eq!(
            with(&id2).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "logout ends the session server-side"
        );
        let home = b.get("/").await;
        assert_eq!(home.location.as_deref(), Some("/login"));
    }
);

on_both!(secure_cookies_over_https_public_url, |backend| async move {
    let app = App::start_with(
        backend,
        &["--public-url", "https://kintsugi.acme.example"],
        &[],
    )
    .await;
    let link = app.setup_link.clone().unwrap();
    assert!(
        link.starts_with("https://kintsugi.acme.example/setup?token="),
        "{link}"
    );
    let page = app.browser().get("/login").await;
    let csrf = cookie(&page, "kintsugi_csrf").unwrap();
    assert!(
        csrf.contains("Secure") && csrf.contains("SameSite=Strict") && csrf.contains("HttpOnly"),
        "{csrf}"
    );
});

/// The whole seconds of a 429's `Retry-After`, which it must carry.
fn retry_after(page: &Page) -> u64 {
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    let value = page
        .headers
        .get("retry-after")
        .expect("429 carries Retry-After");
    value
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

// Ten wrong passwords used to lock the owner out even with the right one. Now each failure
// beyond a small allowance makes the next attempt wait longer (up to a cap), the wait is told
// in `Retry-After`, and once it has passed the right password logs in.
on_both!(
    wrong_passwords_slow_an_account_but_never_lock_it,
    |backend| async move {
        let app = App::start_with(
            backend,
            &[],
            &[
                ("KINTSUGI_LOGIN_FREE_FAILURES", "2"),
                ("KINTSUGI_LOGIN_BACKOFF_CAP_SECONDS", "2"),
            ],
        )
        .await;
        app.setup().await;
        let b = app.browser();
        let mut failures = 0;
        let mut waits = 0;
        while failures < 10 {
            let page = b.login(ADMIN_EMAIL, "wrong password 123").await;
            if page.status == StatusCode::UNAUTHORIZED {
                failures += 1;
                continue;
            }
            let seconds = retry_after(&page);
            assert!((1..=2).contains(&seconds), "within the cap: {seconds}");
            assert!(
                page.body.contains("Too many attempts. Wait"),
                "the form says why: {}",
                page.body
            );
            waits += 1;
            tokio::time::sleep(Duration::from_secs(seconds)).await;
        }
        assert!(
            waits >= 7,
            "each failure beyond the two free ones waits: {waits}"
        );
        let blocked = b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let seconds = retry_after(&blocked);
        assert!(
            blocked.body.contains("Too many attempts"),
            "even the right password waits out the back-off"
        );
        let api = b
            .json(
                reqwest::Method::POST,
                "/api/v1/session",
                Some(serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
            )
            .await;
        assert!(retry_after(&api) <= seconds);
        assert!(api.body.contains("try again in"), "{}", api.body);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let logged_in = b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(
            logged_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            logged_in.body
        );
        assert_eq!(logged_in.location.as_deref(), Some("/"));
    }
);

/// A JSON login from a fresh client, saying it was forwarded for `from`.
async fn login_from(app: &App, from: &str, email: &str, password: &str) -> Page {
    let req = app
        .browser()
        .client
        .post(format!("{}/api/v1/session", app.url))
        .header("x-forwarded-for", from)
        .json(&serde_json::json!({"email": email, "password": password}));
    Browser::page(req.send().await.unwrap()).await
}

/// Fails logins to unknown accounts from `from` until that address must wait four seconds.
async fn slow_down(app: &App, from: &str) {
    for i in 0..40 {
        let page = login_from(app, from, &format!("nobody{i}@acme.example"), "guess 12345").await;
        if page.status == StatusCode::UNAUTHORIZED {
            continue;
        }
        match retry_after(&page) {
            seconds if seconds >= 4 => return,
            seconds => tokio::time::sleep(Duration::from_secs(seconds)).await,
        }
    }
    panic!("forty failed logins from {from} and no back-off");
}

/// Behind a proxy every request came from the proxy, so one stranger's failures slowed every
/// password login. With the proxy trusted, each forwarded address has its own back-off; the
/// left-most (client-chosen) entries of `X-Forwarded-For` are not believed; and without the
/// setting the header is ignored. (The back-off lives in memory, so one backend suffices.)
#[tokio::test]
async fn behind_a_trusted_proxy_each_address_has_its_own_back_off() {
    let free = ("KINTSUGI_LOGIN_FREE_FAILURES", "1");
    let trusted = App::start_with(
        Backend::Sqlite,
        &[],
        &[
            free,
            ("KINTSUGI_TRUSTED_PROXIES", "10.9.0.0/16, 127.0.0.1/32"),
        ],
    )
    .await;
    trusted.setup().await;
    slow_down(&trusted, "203.0.113.1").await;
    let blocked = login_from(&trusted, "203.0.113.1", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(retry_after(&blocked) >= 1);
    let spoofed = login_from(
        &trusted,
        "203.0.113.2, 203.0.113.1",
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
    )
    .await;
    retry_after(&spoofed);
    let other = login_from(&trusted, "203.0.113.2", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    let via_two = login_from(
        &trusted,
        "198.51.100.7, 203.0.113.3, 10.9.4.4",
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(via_two.status, StatusCode::OK, "{}", via_two.body);

    let untrusted = App::start_with(Backend::Sqlite, &[], &[free]).await;
    untrusted.setup().await;
    slow_down(&untrusted, "203.0.113.1").await;
    let other = login_from(&untrusted, "203.0.113.2", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(
        retry_after(&other) >= 1,
        "without trusted_proxies the header is ignored: every request is the peer's"
    );
    for app in [&trusted, &untrusted] {
        let log = app.log.lock().unwrap().join("\n");
        assert!(
            !log.contains("203.0.113") && !log.contains("198.51.100"),
            "no client address in the log: {log}"
        );
    }
}

on_both!(
    forms_without_the_csrf_token_are_refused,
    |backend| async move {
        let app = App::start(backend).await;
        app.setup().await;
        let b = app.browser();
        b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let url = format!("{}/admin/teams", app.url);
        let no_token = b
            .client
            .post(&url)
            .form(&[("name", "Sneaky")])
            .send()
            .await
            .unwrap();
        assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
        assert!(no_token.text().await.unwrap().contains("reload the page"));
        let token = b.csrf_token().await;
        let wrong = b
            .client
            .post(&url)
            .form(&[("csrf_token", "x".repeat(43).as_str()), ("name", "Sneaky")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let cross_site = b
            .client
            .post(&url)
            .header("origin", "https://evil.example")
            .form(&[("csrf_token", token.as_str()), ("name", "Sneaky")])
            .send()
            .await
            .unwrap();
        assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
        let teams = b.get("/admin/teams").await;
        assert!(!teams.body.contains("Sneaky"), "nothing refused was stored");
        let header = b
            .client
            .post(&url)
            .header("x-csrf-token", token)
            .form(&[("name", "Via htmx")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            header.status(),
            StatusCode::SEE_OTHER,
            "htmx sends the token as a header"
        );
    }
);
