//! Logging in and out: sessions, rotation, cookie flags, rate limits and CSRF.

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

on_both!(login_is_rate_limited, |backend| async move {
    let app = App::start_with(backend, &[], &[("KINTSUGI_LOGIN_ATTEMPTS_PER_MINUTE", "3")]).await;
    app.setup().await;
    let b = app.browser();
    for _ in 0..3 {
        assert_eq!(
            b.login(ADMIN_EMAIL, "wrong password 123").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(blocked.body.contains("Too many attempts"));
    let api = b
        .json(
            reqwest::Method::POST,
            "/api/v1/session",
            Some(serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
});

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
