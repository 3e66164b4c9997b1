//! Walks every route as every role: who gets in, who gets 401/403, and nobody gets a 5xx.

use reqwest::{Method, StatusCode};

use crate::harness::*;

/// Every page route, with who may use it. `tidy::every_page_route_is_walked` keeps this list whole.
pub const PAGE_ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/", Access::Anyone),
    ("GET", "/setup", Access::Anyone),
    ("POST", "/setup", Access::Anyone),
    ("GET", "/login", Access::Anyone),
    ("POST", "/login", Access::Anyone),
    ("POST", "/logout", Access::Anyone),
    ("GET", "/admin/teams", Access::Admin),
    ("POST", "/admin/teams", Access::Admin),
    ("GET", "/admin/people", Access::Admin),
    ("POST", "/admin/people", Access::Admin),
    ("GET", "/admin/people/{id}", Access::Admin),
    ("POST", "/admin/people/{id}/invitation", Access::Admin),
    ("POST", "/admin/people/{id}/roles", Access::Admin),
    ("POST", "/admin/people/{id}/teams", Access::Admin),
    ("POST", "/admin/people/{id}/deactivate", Access::Admin),
    ("GET", "/invite/{token}", Access::Anyone),
    ("POST", "/invite/{token}/password", Access::Anyone),
    ("POST", "/invite/{token}/continue", Access::Anyone),
    ("GET", "/admin/audit", Access::Admin),
    ("GET", "/admin/settings", Access::Admin),
    ("POST", "/admin/settings", Access::Admin),
    ("POST", "/admin/settings/gate", Access::Admin),
    ("GET", "/me/feeds", Access::Member),
    ("POST", "/me/feeds", Access::Member),
    ("POST", "/me/feeds/revoke", Access::Member),
    ("GET", "/feeds/{token}/commitments.ics", Access::Anyone),
    (
        "GET",
        "/feeds/{token}/repairs/{id}/updates.atom",
        Access::Anyone,
    ),
    // Team health (health.rs).
    ("GET", "/health", Access::Member),
    ("POST", "/health/rounds/{round}/token", Access::Member),
    ("GET", "/health/overview", Access::Dashboard),
    ("GET", "/health/overview.csv", Access::Dashboard),
    ("GET", "/health/teams/{team}", Access::Dashboard),
    ("GET", "/admin/health", Access::Admin),
    ("POST", "/admin/health/settings", Access::Admin),
    ("POST", "/admin/health/instrument", Access::Admin),
    ("POST", "/admin/health/parents", Access::Admin),
    ("GET", "/dashboard", Access::Dashboard),
    ("GET", "/dashboard/repairs.csv", Access::Dashboard),
    ("GET", "/dashboard/follow-through.csv", Access::Dashboard),
    ("GET", "/dashboard/overdue.csv", Access::Dashboard),
    // Single sign-on (crates/web/src/oidc.rs): 404 where it is not set up.
    ("GET", "/login/oidc", Access::Anyone),
    ("GET", "/login/oidc/callback", Access::Anyone),
    // Outgoing webhooks (crates/web/src/webhooks.rs).
    ("GET", "/admin/webhooks", Access::Admin),
    ("POST", "/admin/webhooks", Access::Admin),
    ("POST", "/admin/webhooks/{id}/delete", Access::Admin),
    ("POST", "/admin/webhooks/private", Access::Admin),
    // Jobs, reminders and email (issue 6).
    ("GET", "/admin/jobs", Access::Admin),
    ("POST", "/admin/jobs/{id}/retry", Access::Admin),
    ("POST", "/admin/people/{id}/invitation/email", Access::Admin),
    ("GET", "/preferences", Access::Member),
    ("POST", "/preferences", Access::Member),
    ("GET", "/unsubscribe/{token}", Access::Anyone),
    ("POST", "/unsubscribe/{token}", Access::Anyone),
    // The lessons library (web/src/lessons.rs).
    ("GET", "/library", Access::Member),
    ("GET", "/library/lessons/{lesson}", Access::Member),
    ("GET", "/library/stories/new", Access::Member),
    ("GET", "/library/stories/mine", Access::Member),
    ("POST", "/library/stories/{story}/answers", Access::Member),
    ("POST", "/library/stories/{story}/hide", Access::Member),
    ("GET", "/repairs/{id}/lesson", Access::Member),
    ("POST", "/repairs/{id}/lesson", Access::Member),
    ("POST", "/repairs/{id}/lesson/preview", Access::Member),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    Anyone,
    Member,
    Admin,
    /// Admins and facilitators (the dashboard).
    Dashboard,
}

/// Who may call an API operation: the session endpoints are open, `/me` needs a login,
/// everything else is admin work.
fn api_access(path: &str) -> Access {
    match path {
        "/api/v1/session" => Access::Anyone,
        p if p.starts_with("/api/v1/me")
            || p.starts_with("/api/v1/repairs")
            || p.starts_with("/api/v1/health") =>
        {
            Access::Member
        }
        _ => Access::Admin,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Anonymous,
    Member,
    Facilitator,
    Admin,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_as_every_role() {
    let app = App::start(Backend::Sqlite).await;
    let admin = app.setup().await;
    let team = create_team(&admin, "Walkers").await;
    let target = add_person(&admin, "Target Person", "target@acme.example", &team, &[]).await;
    let mut browsers = vec![(Who::Anonymous, app.browser()), (Who::Admin, admin.clone())];
    for (who, email, roles) in [
        (Who::Member, "member@acme.example", vec![]),
        (Who::Facilitator, "fac@acme.example", vec!["facilitator"]),
    ] {
        let id = add_person(&admin, "Someone", email, &team, &roles).await;
        let link = invitation_link(&admin, &id).await;
        let b = app.browser();
        b.get_abs(&link).await;
        let path = link.trim_start_matches(&app.url).to_owned();
        assert_eq!(
            b.post_form(
                &format!("{path}/password"),
                &[("password", "a long enough password")]
            )
            .await
            .status,
            StatusCode::SEE_OTHER
        );
        browsers.push((who, b));
    }

    let openapi = app
        .browser()
        .json(Method::GET, "/api/v1/openapi.json", None)
        .await
        .json();
    let mut api_routes = Vec::new();
    for (path, ops) in openapi["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            api_routes.push((method.to_uppercase(), path.clone()));
        }
    }
    assert!(api_routes.len() >= 12, "{api_routes:?}");

    let fill = |p: &str| {
        p.replace("{id}", &target)
            .replace("{team}", &team)
            .replace("{token}", "no-such-token")
            .replace("{team}", &team)
    };
    for (who, b) in &browsers {
        for (method, path, access) in PAGE_ROUTES {
            if *path == "/logout"
                || (*who == Who::Admin && path.ends_with("/deactivate"))
                || path.starts_with("/feeds/") && *who != Who::Anonymous
            {
                continue; // would end the session this walk needs
            }
            let url = fill(path);
            let page = if *method == "GET" {
                b.get(&url).await
            } else {
                b.post_form(&url, &[]).await
            };
            assert!(
                page.status.as_u16() < 500,
                "{who:?} {method} {url}: {}",
                page.status
            );
            match (access, who) {
                (Access::Admin, Who::Anonymous) => {
                    assert_eq!(
                        page.location.as_deref(),
                        Some("/login"),
                        "{who:?} {method} {url}"
                    )
                }
                (Access::Admin, Who::Member | Who::Facilitator) => {
                    assert_eq!(page.status, StatusCode::FORBIDDEN, "{who:?} {method} {url}");
                    assert!(page.body.contains("this needs the admin role"));
                }
                (Access::Admin, Who::Admin) => {
                    assert!(
                        page.status != StatusCode::FORBIDDEN
                            && page.status != StatusCode::UNAUTHORIZED,
                        "{method} {url}"
                    )
                }
                (Access::Dashboard, Who::Anonymous) => {
                    assert_eq!(page.location.as_deref(), Some("/login"), "{method} {url}")
                }
                (Access::Dashboard, Who::Member) => {
                    assert_eq!(page.status, StatusCode::FORBIDDEN, "{method} {url}");
                    assert!(
                        page.body
                            .contains("this needs the admin or facilitator role")
                    );
                }
                (Access::Dashboard, Who::Admin | Who::Facilitator) => {
                    assert_eq!(page.status, StatusCode::OK, "{who:?} {method} {url}")
                }
                _ => {}
            }
        }
        for (method, path) in &api_routes {
            if path == "/api/v1/session" && method == "DELETE"
                || path.ends_with("/deactivate") && *who == Who::Admin
            {
                continue;
            }
            let url = fill(path);
            let page = b
                .json(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &url,
                    Some(serde_json::json!({})),
                )
                .await;
            assert!(
                page.status.as_u16() < 500,
                "{who:?} {method} {url}: {} {}",
                page.status,
                page.body
            );
            assert!(
                page.status == StatusCode::NO_CONTENT
                    || page
                        .headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.contains("json")),
                "{who:?} {method} {url}: the API always answers JSON ({})",
                page.status
            );
            match (api_access(path), who) {
                (Access::Admin | Access::Member, Who::Anonymous) => {
                    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{method} {url}");
                    assert_eq!(page.json()["status"], 401);
                }
                (Access::Admin, Who::Member | Who::Facilitator) => {
                    assert_eq!(page.status, StatusCode::FORBIDDEN, "{who:?} {method} {url}")
                }
                (Access::Admin | Access::Member, Who::Admin) => {
                    assert!(
                        page.status != StatusCode::FORBIDDEN
                            && page.status != StatusCode::UNAUTHORIZED,
                        "{method} {url}"
                    )
                }
                _ => {}
            }
        }
    }
}

/// Repair B's routes, walked by people of repair A and by an admin outside B: the repair does
/// not exist for them (404), pages and API alike; the admin may see B's title and stage only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_routes_as_every_role() {
    use crate::repairs::{cast, commitment_id};
    let c = cast(Backend::Sqlite).await;
    // Repair B: between two other people, facilitated by a second facilitator.
    let (_, gil) = member(
        &c.app,
        &c.admin,
        "Gil Facilitator",
        "gil@acme.example",
        &["facilitator"],
    )
    .await;
    let (bea_id, bea) = member(&c.app, &c.admin, "Bea", "bea@acme.example", &[]).await;
    let (cal_id, _) = member(&c.app, &c.admin, "Cal", "cal@acme.example", &[]).await;
    let b = gil
        .post_form(
            "/repairs",
            &[
                ("title", "Repair B"),
                ("summary", "Private to B."),
                ("breach", "other"),
                ("scope", "person_person"),
                ("accountable_people", &bea_id),
                ("affected_people", &cal_id),
            ],
        )
        .await
        .location
        .unwrap()
        .trim_start_matches("/repairs/")
        .to_owned();
    gil.post_form(
        &format!("/repairs/{b}/updates"),
        &[("kind", "progress"), ("body", "B update")],
    )
    .await;
    bea.post_form(
        &format!("/repairs/{b}/commitments"),
        &[
            ("owner", &bea_id),
            ("statement", "B promise"),
            ("due", &day(0)),
        ],
    )
    .await;
    let page = gil.get(&format!("/repairs/{b}")).await;
    let commitment = commitment_id(&page.body, "B promise");
    let update = page.body.split("/updates/").nth(1).unwrap()[..36].to_owned();
    let fill = |p: &str| {
        p.replace("{id}", &b)
            .replace("{commitment}", &commitment)
            .replace("{update}", &update)
            .replace("{due}", &day(0))
    };

    let source = crate::tidy::REPAIR_PAGE_ROUTES;
    let routes: Vec<(String, String)> = crate::tidy::routes_in(source)
        .into_iter()
        .filter(|(_, p)| p.contains("{id}"))
        .collect();
    assert!(routes.len() >= 12, "{routes:?}");
    let doc = c
        .app
        .browser()
        .json(Method::GET, "/api/v1/openapi.json", None)
        .await
        .json();
    let mut api = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if path.contains("/repairs/{id}") {
            for m in ops.as_object().unwrap().keys() {
                api.push((m.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(api.len() >= 11, "{api:?}");

    let people = [
        ("outsider", &c.oz),
        ("accountable in A", &c.lee),
        ("affected in A", &c.ana),
        ("facilitator of A", &c.fay),
        ("admin", &c.admin),
    ];
    for (who, browser) in people {
        for (method, path) in &routes {
            let url = fill(path);
            let page = if method == "GET" {
                browser.get(&url).await
            } else {
                browser.post_form(&url, &[]).await
            };
            let overseer_view = who == "admin" && method == "GET" && path == "/repairs/{id}";
            if overseer_view {
                assert_eq!(page.status, StatusCode::OK);
                assert!(
                    page.body.contains("Repair B") && !page.body.contains("Private to B"),
                    "title and stage only"
                );
            } else {
                assert_eq!(
                    page.status,
                    StatusCode::NOT_FOUND,
                    "{who} {method} {url}: {}",
                    page.body
                );
                assert!(!page.body.contains("Private to B") && !page.body.contains("B promise"));
            }
        }
        for (method, path) in &api {
            let url = fill(path);
            let page = browser
                .json(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &url,
                    Some(serde_json::json!({})),
                )
                .await;
            assert_eq!(
                page.status,
                StatusCode::NOT_FOUND,
                "{who} {method} {url}: {}",
                page.body
            );
        }
    }
    // B's own people get in, and never a 5xx with empty forms.
    for (browser, accountable_in_pair) in [(&gil, false), (&bea, true)] {
        for (method, path) in &routes {
            let url = fill(path);
            let page = if method == "GET" {
                browser.get(&url).await
            } else {
                browser.post_form(&url, &[]).await
            };
            if accountable_in_pair && path.ends_with("/pulses.csv") {
                // A pair's pulses are the affected person's and the facilitator's.
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{method} {url}");
            } else if method == "GET" {
                assert_eq!(page.status, StatusCode::OK, "{method} {url}");
            }
            assert!(
                page.status.as_u16() < 500,
                "{method} {url}: {}",
                page.status
            );
        }
        for (method, path) in &api {
            let url = fill(path);
            let page = browser
                .json(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &url,
                    Some(serde_json::json!({})),
                )
                .await;
            assert!(
                page.status.as_u16() < 500,
                "{method} {url}: {} {}",
                page.status,
                page.body
            );
        }
    }
}

/// With k−1 answers, every page and API document that could show a round's results shows
/// none of them, to every role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_k_nothing_is_shown_anywhere() {
    use crate::rounds::{fetch_token, group, open_round, redeem};
    let g = group(Backend::Sqlite, 4).await;
    let (round, public) = open_round(&g).await;
    for (i, b) in g.members.iter().take(4).enumerate() {
        let t = fetch_token(b, &g.repair, &round, &public).await.unwrap();
        redeem(&g.app, &round, &t, "culture", &format!("secret-answer-{i}")).await;
    }
    g.fay
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{}/rounds/{round}/close", g.repair),
            None,
        )
        .await;
    let doc = g
        .app
        .browser()
        .json(Method::GET, "/api/v1/openapi.json", None)
        .await
        .json();
    let mut gets: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, ops)| ops.get("get").is_some() && !p.contains("openapi"))
        .map(|(p, _)| p.replace("{id}", &g.repair))
        .collect();
    let source = crate::tidy::REPAIR_PAGE_ROUTES;
    gets.extend(
        crate::tidy::routes_in(source)
            .into_iter()
            .filter(|(m, _)| m == "GET")
            .map(|(_, p)| p.replace("{id}", &g.repair)),
    );
    gets.extend(["/".to_owned(), "/repairs".to_owned()]);
    let everyone = [&g.fay, &g.admin, &g.members[0], &g.members[1]];
    for b in everyone {
        for path in &gets {
            let page = b.get(path).await;
            assert!(page.status.as_u16() < 500, "{path}");
            for i in 0..4 {
                assert!(
                    !page.body.contains(&format!("secret-answer-{i}")),
                    "{path} shows an answer below k"
                );
            }
            for count in ["Causes chosen", "class=\"answered\"", "\"answered\""] {
                assert!(!page.body.contains(count), "{path} shows a count below k");
            }
        }
    }
    let page = g.fay.get(&format!("/repairs/{}", g.repair)).await;
    assert!(
        page.body
            .contains("Fewer than 5 answered; nothing is shown.")
    );
}
