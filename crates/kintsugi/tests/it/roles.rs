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
    ("POST", "/admin/people/{id}/deactivate", Access::Admin),
    ("GET", "/invite/{token}", Access::Anyone),
    ("POST", "/invite/{token}/password", Access::Anyone),
    ("POST", "/invite/{token}/continue", Access::Anyone),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    Anyone,
    Member,
    Admin,
}

/// Who may call an API operation: the session endpoints are open, `/me` needs a login,
/// everything else is admin work.
fn api_access(path: &str) -> Access {
    match path {
        "/api/v1/session" => Access::Anyone,
        "/api/v1/me" => Access::Member,
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
            .replace("{token}", "no-such-token")
    };
    for (who, b) in &browsers {
        for (method, path, access) in PAGE_ROUTES {
            if (*path == "/logout") || (*who == Who::Admin && path.ends_with("/deactivate")) {
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
                page.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .contains("json"),
                "{who:?} {method} {url}: the API always answers JSON"
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
