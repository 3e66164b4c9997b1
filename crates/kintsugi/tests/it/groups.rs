//! Every route sits in the group its security needs (crates/web/src/lib.rs builds three):
//! - **session**: pages and the API, under the CSRF check (a form without its token is refused,
//!   and a read hands out the CSRF cookie);
//! - **anon**: `/anon/...` and the OHTTP gateway `/ohttp/...`, where a request with a cookie is
//!   refused before any handler;
//! - **public**: operations, assets, feeds and unsubscribe links (the URL holds the secret):
//!   no CSRF cookie, no CSRF check.
//!
//! The routes come from the source (every `.route(…)`) and the OpenAPI document, so a new one is
//! checked as soon as it exists; each is then asked over HTTP how it behaves.

use reqwest::{Method, StatusCode};

use crate::harness::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Session,
    Anon,
    Public,
}

/// The public routes, each with why it needs neither a session nor a form token.
const PUBLIC: &[(&str, &str)] = &[
    ("/healthz", "load balancers probe it"),
    ("/readyz", "load balancers probe it"),
    (
        "/metrics",
        "Prometheus scrapes it with its bearer token (off without one); it says nothing about any person",
    ),
    ("/assets/app.js", "static"),
    ("/assets/app.css", "static"),
    (
        "/feeds/{token}/commitments.ics",
        "calendar apps send no cookie; the URL's secret is the credential",
    ),
    (
        "/feeds/{token}/repairs/{id}/updates.atom",
        "feed readers send no cookie; the URL's secret is the credential",
    ),
    (
        "/unsubscribe/{token}",
        "mail providers POST to it (RFC 8058); the link's secret is the authority",
    ),
];

fn group_of(path: &str) -> Group {
    // The Oblivious HTTP gateway in front of `/anon` is on the anonymous path too.
    if path.starts_with("/anon/") || path.starts_with("/ohttp/") {
        Group::Anon
    } else if PUBLIC.iter().any(|(p, _)| *p == path) {
        Group::Public
    } else {
        Group::Session
    }
}

/// A path with its parameters filled with values of the right shape.
fn concrete(path: &str) -> String {
    let id = "00000000-0000-4000-8000-000000000000";
    let mut out = String::new();
    for part in path.split('/').skip(1) {
        out.push('/');
        out.push_str(match part {
            "{token}" => "not-a-real-token",
            "{due}" => "2026-01-01",
            "{mark}" => "0000000000000000000000000000000000000000000000000000000000000000",
            p if p.starts_with('{') => id,
            p => p,
        });
    }
    out
}

fn csrf_cookie(page: &Page) -> bool {
    page.headers
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap_or("").starts_with("kintsugi_csrf="))
}

#[tokio::test]
async fn every_route_is_in_the_group_its_security_needs() {
    let app = App::start(Backend::Sqlite).await;
    let mut routes: Vec<(String, String)> = crate::tidy::web_sources()
        .iter()
        .flat_map(|s| crate::tidy::routes_in(s))
        .collect();
    let doc = app
        .browser()
        .json(Method::GET, "/api/v1/openapi.json", None)
        .await
        .json();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.clone()));
        }
    }
    routes.sort();
    routes.dedup();
    assert!(routes.len() > 120, "{routes:?}");
    for (public, _) in PUBLIC {
        assert!(
            routes.iter().any(|(_, p)| p == public),
            "{public} is listed as public but served nowhere"
        );
    }

    let mut seen = [0; 3];
    for (method, path) in &routes {
        let group = group_of(path);
        seen[group as usize] += 1;
        let url = format!("{}{}", app.url, concrete(path));
        let method: Method = method.parse().unwrap();
        // A fresh client each time: no cookie of an earlier answer.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let bare = client
            .request(method.clone(), &url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("x=1")
            .send()
            .await
            .unwrap();
        let bare = Browser::page(bare).await;
        let with_cookie = client
            .request(method.clone(), &url)
            .header("cookie", "kintsugi_session=anything")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let with_cookie = Browser::page(with_cookie).await;
        let what = format!("{method} {path} (expected {group:?})");
        match group {
            // A read hands out the form token; a write without it is refused.
            Group::Session if method == Method::GET => {
                assert!(csrf_cookie(&bare), "{what}: no CSRF cookie handed out");
            }
            Group::Session => {
                assert_eq!(bare.status, StatusCode::FORBIDDEN, "{what}: {}", bare.body);
                assert!(bare.body.contains("out of date"), "{what}: {}", bare.body);
            }
            Group::Anon => {
                assert_eq!(with_cookie.status, StatusCode::BAD_REQUEST, "{what}");
                assert!(
                    with_cookie.body.contains("takes no cookies"),
                    "{what}: {}",
                    with_cookie.body
                );
                assert!(
                    !csrf_cookie(&bare),
                    "{what}: a CSRF cookie on the anonymous path"
                );
            }
            Group::Public => {
                assert!(
                    !csrf_cookie(&bare),
                    "{what}: a CSRF cookie on a public route"
                );
                assert_ne!(bare.status, StatusCode::FORBIDDEN, "{what}: {}", bare.body);
                assert!(bare.status.as_u16() < 500, "{what}: {}", bare.status);
            }
        }
    }
    assert!(
        seen.iter().all(|n| *n > 0),
        "routes of every group were asked: {seen:?}"
    );
}
