//! Security headers and sessions, as a browser meets them: a strict CSP that every page can
//! live with (no inline script, handler or style), framing refused, the referrer kept home,
//! HSTS over https, cross-site requests refused, fixation and logout, and a login burst.
//! (Rotation at login and the CSRF token itself are also covered in `auth.rs`.)

use reqwest::{Method, StatusCode};

use crate::harness::*;
use crate::on_both;

/// The directives of a Content-Security-Policy header, by name.
fn directives(csp: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    csp.split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            let name = words.next()?.to_owned();
            Some((name, words.map(str::to_owned).collect()))
        })
        .collect()
}

fn assert_headers(page: &Page, what: &str) {
    let csp = page
        .headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    let d = directives(csp);
    let only_self = vec!["'self'".to_owned()];
    assert_eq!(d.get("script-src"), Some(&only_self), "{what}: {csp}");
    assert_eq!(d.get("style-src"), Some(&only_self), "{what}: {csp}");
    assert_eq!(d.get("default-src"), Some(&only_self), "{what}: {csp}");
    assert_eq!(
        d.get("frame-ancestors"),
        Some(&vec!["'none'".to_owned()]),
        "{what}"
    );
    assert_eq!(
        d.get("object-src"),
        Some(&vec!["'none'".to_owned()]),
        "{what}"
    );
    assert!(!csp.contains("unsafe"), "{what}: {csp}");
    assert_eq!(page.headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(page.headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(page.headers["referrer-policy"], "same-origin", "{what}");
}

/// What the CSP above would block: inline scripts, event-handler attributes, style attributes
/// and `<style>` elements, and `javascript:` URLs.
fn assert_no_inline_code(html: &str, what: &str) {
    let lower = html.to_ascii_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag = &lower[at..at + lower[at..].find('>').unwrap_or(0)];
        assert!(tag.contains(" src="), "{what}: inline script {tag}");
    }
    assert!(!lower.contains("<style"), "{what}: a <style> element");
    assert!(
        !lower.contains("=\"javascript:") && !lower.contains("='javascript:"),
        "{what}: a javascript: URL"
    );
    // Attributes: ` style="`, ` onclick="` and the like, inside tags only.
    for tag in lower.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        for attr in tag.split_whitespace().skip(1) {
            let name = attr.split('=').next().unwrap_or_default();
            assert!(
                name != "style" && !(name.starts_with("on") && attr.contains('=')),
                "{what}: attribute {attr} in <{tag}>"
            );
        }
    }
}

on_both!(
    every_page_is_served_under_a_strict_csp,
    |backend| async move {
        let c = crate::repairs::cast(backend).await;
        let r = format!("/repairs/{}", c.repair);
        // Give the repair page something in every section.
        c.fay
            .post_form(
                &format!("{r}/updates"),
                &[("kind", "progress"), ("body", "Met with support.")],
            )
            .await;

        let anon = c.app.browser();
        let mut pages = vec![("anonymous /login", anon.get("/login").await)];
        for (method, path, access) in crate::roles::PAGE_ROUTES {
            // Single sign-on answers 404 where no provider is set up (tests/it/oidc.rs covers it).
            if *method == "GET"
                && !path.contains('{')
                && *path != "/setup"
                && !path.starts_with("/login/oidc")
            {
                let who = match access {
                    crate::roles::Access::Admin => &c.admin,
                    _ => &c.fay,
                };
                pages.push((path, who.get(path).await));
            }
        }
        let source = crate::tidy::REPAIR_PAGE_ROUTES;
        for (method, path) in crate::tidy::routes_in(source) {
            if method == "GET" && !path.replace("{id}", "").contains('{') {
                let path = path.replace("{id}", &c.repair);
                let page = c.fay.get(&path).await;
                pages.push((Box::leak(path.into_boxed_str()), page));
            }
        }
        let mut html_pages = 0;
        for (what, page) in &pages {
            assert!(
                page.status.is_success() || page.status.is_redirection(),
                "{what}: {}",
                page.status
            );
            assert_headers(page, what);
            let html = page
                .headers
                .get("content-type")
                .is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
            if html {
                assert_no_inline_code(&page.body, what);
                html_pages += 1;
            }
        }
        assert!(html_pages >= 10, "{html_pages} pages checked");
        // Error pages and problem documents carry the same headers.
        assert_headers(&c.fay.get("/no/such/page").await, "404");
        assert_headers(
            &c.fay.json(Method::GET, "/api/v1/me", None).await,
            "/api/v1/me",
        );
    }
);

#[test]
fn the_inline_code_check_can_fail() {
    for bad in [
        "<p><script>alert(1)</script></p>",
        "<button onclick=\"go()\">x</button>",
        "<div style=\"color:red\">x</div>",
        "<style>p{}</style>",
        "<a href=\"javascript:go()\">x</a>",
        "<form action='javascript:go()'></form>",
    ] {
        let caught = std::panic::catch_unwind(|| assert_no_inline_code(bad, "sample"));
        assert!(caught.is_err(), "{bad} is caught");
    }
    assert_no_inline_code(
        "<script src=\"/assets/app.js\" defer></script><p data-on=\"x\" class=\"online\">Needs JavaScript: yes</p>",
        "clean",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_only_when_people_arrive_over_https() {
    let plain = App::start(Backend::Sqlite).await;
    let page = plain.browser().get("/login").await;
    assert!(
        page.headers.get("strict-transport-security").is_none(),
        "not over plain http"
    );
    drop(plain);
    let tls = App::start_with(
        Backend::Sqlite,
        &["--public-url", "https://kintsugi.acme.example"],
        &[],
    )
    .await;
    for path in ["/login", "/healthz", "/assets/app.css", "/nowhere"] {
        let page = tls.browser().get(path).await;
        let hsts = page
            .headers
            .get("strict-transport-security")
            .unwrap_or_else(|| panic!("{path}: HSTS over https"))
            .to_str()
            .unwrap()
            .to_owned();
        let age: u64 = hsts
            .strip_prefix("max-age=")
            .and_then(|a| a.split(';').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("{hsts}"));
        assert!(age >= 180 * 24 * 3600, "at least half a year: {hsts}");
    }
}

on_both!(cross_site_requests_are_refused, |backend| async move {
    let app = App::start(backend).await;
    let admin = app.setup().await;
    let token = admin.csrf_token().await;
    let url = format!("{}/admin/teams", app.url);
    let post = |site: Option<&'static str>, origin: Option<&'static str>, csrf: Option<&str>| {
        let mut req = admin.client.post(&url);
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let mut form = vec![("name", "Sneaky".to_owned())];
        if let Some(t) = csrf {
            form.push(("csrf_token", t.to_owned()));
        }
        req.form(&form).send()
    };
    // Without a valid token, refused; with it but from another site, refused too.
    for (site, origin, csrf, why) in [
        (None, None, None, "no token"),
        (None, None, Some("x".repeat(43)), "a made-up token"),
        (
            Some("cross-site"),
            None,
            Some(token.clone()),
            "fetch metadata: cross-site",
        ),
        (
            Some("same-site"),
            None,
            Some(token.clone()),
            "fetch metadata: a sibling site",
        ),
        (
            None,
            Some("https://evil.example"),
            Some(token.clone()),
            "another origin",
        ),
    ] {
        let resp = post(site, origin, csrf.as_deref()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{why}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("another site"), "{why}: {body}");
    }
    // JSON needs no token (no browser sends it cross-site without a preflight), but a
    // browser that says the request is cross-site is refused anyway.
    let json = admin
        .client
        .post(format!("{}/api/v1/teams", app.url))
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({"name": "Sneaky JSON"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::FORBIDDEN);
    let teams = admin.get("/admin/teams").await;
    assert!(!teams.body.contains("Sneaky"), "nothing refused was stored");
    // The same request from our own page goes through.
    let own = admin
        .client
        .post(&url)
        .header("sec-fetch-site", "same-origin")
        .header("origin", app.url.as_str())
        .form(&[("name", "Ours"), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
    assert!(admin.get("/admin/teams").await.body.contains("Ours"));

    // Pages are compressed, so each embeds the token masked afresh (BREACH): two pages, two
    // different values, both good; one changed character is refused.
    let other = admin.csrf_token().await;
    assert_ne!(
        other, token,
        "the page's token is masked anew for every response"
    );
    let cookie = admin
        .client
        .get(format!("{}/admin/teams", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(cookie.status(), StatusCode::OK);
    for (value, name, expected) in [
        (other.clone(), "Ours two", StatusCode::SEE_OTHER),
        (
            format!(
                "{}{}",
                &other[..other.len() - 1],
                if other.ends_with('A') { 'B' } else { 'A' }
            ),
            "Tampered",
            StatusCode::FORBIDDEN,
        ),
    ] {
        let sent = admin
            .client
            .post(&url)
            .form(&[("name", name), ("csrf_token", value.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), expected, "{name}");
    }
    let teams = admin.get("/admin/teams").await.body;
    assert!(teams.contains("Ours two") && !teams.contains("Tampered"));
});

/// `name=value` of the cookie `name` that a response sets.
fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

fn session_cookie(page: &Page) -> Option<String> {
    set_cookie(&page.headers, "kintsugi_session")
}

on_both!(
    a_planted_session_id_is_not_the_one_after_login,
    |backend| async move {
        let app = App::start(backend).await;
        app.setup().await;
        // A session id the attacker knows (their own), planted in the victim's browser.
        let attacker = app.browser();
        let planted = session_cookie(&attacker.login(ADMIN_EMAIL, ADMIN_PASSWORD).await).unwrap();
        let raw = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login_page = raw
            .get(format!("{}/login", app.url))
            .header("cookie", planted.clone())
            .send()
            .await
            .unwrap();
        // Logged in already, /login redirects; the CSRF cookie it sets is the token to submit.
        let csrf = set_cookie(login_page.headers(), "kintsugi_csrf").expect("a CSRF cookie");
        let csrf = csrf.trim_start_matches("kintsugi_csrf=").to_owned();
        let cookies = format!("{planted}; kintsugi_csrf={csrf}");
        let login = raw
            .post(format!("{}/login", app.url))
            .header("cookie", cookies)
            .form(&[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::SEE_OTHER);
        let issued =
            set_cookie(login.headers(), "kintsugi_session").expect("a new session cookie at login");
        assert_ne!(issued, planted, "login issues a fresh id");
        let me = |cookie: String| {
            raw.get(format!("{}/api/v1/me", app.url))
                .header("cookie", cookie)
                .send()
        };
        assert_eq!(
            me(planted).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "the planted id is worthless after login"
        );
        assert_eq!(me(issued).await.unwrap().status(), StatusCode::OK);
    }
);

on_both!(
    logout_kills_the_session_on_the_server,
    |backend| async move {
        let app = App::start(backend).await;
        app.setup().await;
        let b = app.browser();
        let login = b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let stolen = session_cookie(&login).unwrap();
        let raw = reqwest::Client::new();
        let me = || {
            raw.get(format!("{}/api/v1/me", app.url))
                .header("cookie", stolen.clone())
                .send()
        };
        assert_eq!(me().await.unwrap().status(), StatusCode::OK);
        let sessions_before = app.scalar("SELECT COUNT(*) FROM sessions").await;
        assert_eq!(
            b.post_form("/logout", &[]).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            me().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "a copy of the cookie no longer works"
        );
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM sessions").await,
            sessions_before - 1,
            "the session row is gone"
        );
        // The API's logout does the same.
        let api = app.browser();
        let started = api
            .json(
                Method::POST,
                "/api/v1/session",
                Some(serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
            )
            .await;
        let cookie = session_cookie(&started).expect("a session from the API");
        let ended = api.json(Method::DELETE, "/api/v1/session", None).await;
        assert!(ended.status.is_success(), "{}", ended.status);
        let after = raw
            .get(format!("{}/api/v1/me", app.url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    }
);

on_both!(login_rate_limit_holds_under_a_burst, |backend| async move {
    let app = App::start_with(backend, &[], &[("KINTSUGI_LOGIN_FREE_FAILURES", "4")]).await;
    app.setup().await;
    // 40 guesses at once, for one account, from as many fresh browsers (no shared cookie).
    // An attempt counts as a failure from the moment it is let through, so they cannot all
    // pass the check before the first one fails.
    let mut burst = Vec::new();
    for i in 0..40 {
        let b = app.browser();
        let password = format!("guess number {i:04}");
        burst.push(tokio::spawn(async move {
            b.login(ADMIN_EMAIL, &password).await.status
        }));
    }
    let mut by_status = std::collections::BTreeMap::new();
    for h in burst {
        *by_status.entry(h.await.unwrap().as_u16()).or_insert(0) += 1;
    }
    let limited = by_status.get(&429).copied().unwrap_or(0);
    let tried = 40 - limited;
    assert!(
        tried <= 6,
        "four free failures, a fifth, and at most one more once the first second's wait is over: {by_status:?}"
    );
    assert!(
        by_status.keys().all(|s| [303, 401, 429].contains(s)),
        "nothing else, no 5xx: {by_status:?}"
    );
});

/// A form whose text is not UTF-8 (a Latin-1 "é", escaped or raw) is refused with 400; it used
/// to be stored with a replacement character in its place.
#[tokio::test]
async fn a_form_that_is_not_utf8_is_refused() {
    let app = App::start(Backend::Sqlite).await;
    let admin = app.setup().await;
    let token = admin.csrf_token().await;
    let post = |body: Vec<u8>| {
        admin
            .client
            .post(format!("{}/admin/teams", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    for name in [&b"Caf%E9"[..], b"Caf\xe9"] {
        let mut body = format!("csrf_token={token}&name=").into_bytes();
        body.extend_from_slice(name);
        let refused = Browser::page(post(body).await.unwrap()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(refused.body.contains("UTF-8"), "{}", refused.body);
    }
    let body = format!("csrf_token={token}&name=Caf%C3%A9").into_bytes();
    let made = Browser::page(post(body).await.unwrap()).await;
    assert!(made.status.is_redirection(), "{}", made.body);
    let teams = admin.get("/admin/teams").await.body;
    assert!(teams.contains("Café"), "{teams}");
    assert!(
        !teams.contains('\u{FFFD}'),
        "no replacement character stored"
    );
}

/// Names and titles lose bidirectional overrides and zero-width characters, which made one
/// name look like another or turned the rest of a line around; joiners stay where a script
/// or an emoji needs them, and a name of nothing but such characters is refused.
#[tokio::test]
async fn names_lose_characters_that_hide_or_reverse_text() {
    let app = App::start(Backend::Sqlite).await;
    let admin = app.setup().await;
    let team = |name: &str| {
        admin.json(
            Method::POST,
            "/api/v1/teams",
            Some(serde_json::json!({ "name": name })),
        )
    };
    let made = team("Pay\u{202E}lorr\u{200B}").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.json()["name"], "Paylorr");
    let made = team("👩\u{200D}💻 Dev").await;
    assert_eq!(made.json()["name"], "👩\u{200D}💻 Dev");
    let refused = team("\u{200B}\u{2066}").await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    let page = admin.get("/admin/teams").await.body;
    assert!(!page.contains('\u{202E}') && !page.contains('\u{200B}'));
}

/// An `Origin` with the right host but another scheme is another origin: a page served over
/// plain `http://` cannot post to a site people reach over `https://` (it used to pass).
#[tokio::test]
async fn the_origin_check_minds_the_scheme() {
    let mut app = App::start_with(
        Backend::Sqlite,
        &["--public-url", "https://kintsugi.acme.example"],
        &[],
    )
    .await;
    // The setup link names the public URL, which does not resolve here.
    app.setup_link = app
        .setup_link
        .take()
        .map(|link| link.replace("https://kintsugi.acme.example", &app.url));
    app.setup().await;
    let host = app.url.trim_start_matches("http://").to_owned();
    let login_from = |origin: String| {
        let b = app.browser();
        async move {
            let resp = b
                .client
                .post(format!("{}/api/v1/session", b.base))
                .header("origin", origin)
                .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
                .send()
                .await
                .unwrap();
            resp.status()
        }
    };
    assert_eq!(
        login_from(format!("http://{host}")).await,
        StatusCode::FORBIDDEN,
        "http:// is not the https:// site's origin"
    );
    assert_eq!(
        login_from(format!("https://{host}")).await,
        StatusCode::OK,
        "the same host over the public URL's scheme"
    );
    assert_eq!(
        login_from("https://kintsugi.acme.example".into()).await,
        StatusCode::OK
    );
}
