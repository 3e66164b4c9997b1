//! The JSON API: the same people and teams operations, with problem documents for errors.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;
use crate::on_both;

on_both!(api_covers_people_and_teams, |backend| async move {
    let app = App::start(backend).await;
    app.setup().await;
    let api = app.browser();
    let login = api
        .json(
            Method::POST,
            "/api/v1/session",
            Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.json()["organisation"]["name"], "Acme Works");
    assert_eq!(login.json()["organisation"]["k_threshold"], 5);

    let team = api
        .json(Method::POST, "/api/v1/teams", Some(json!({"name": "Data"})))
        .await;
    assert_eq!(team.status, StatusCode::CREATED, "{}", team.body);
    let team_id = team.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.json(Method::GET, &format!("/api/v1/teams/{team_id}"), None)
            .await
            .json()["name"],
        "Data"
    );
    let dup = api
        .json(Method::POST, "/api/v1/teams", Some(json!({"name": "Data"})))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.headers["content-type"], "application/problem+json");
    assert_eq!(dup.json()["detail"], "a team with this name already exists");

    let person = api
        .json(Method::POST, "/api/v1/people", Some(json!({"name": "Eli", "email": "eli@acme.example", "team_ids": [team_id], "roles": {"facilitator": true}})))
        .await;
    assert_eq!(person.status, StatusCode::CREATED, "{}", person.body);
    let eli = person.json();
    assert_eq!(eli["roles"]["facilitator"], true);
    assert_eq!(eli["team_ids"][0], team_id.as_str());
    let id = eli["id"].as_str().unwrap();

    let bad = api
        .json(
            Method::POST,
            "/api/v1/people",
            Some(json!({"name": "", "email": "nope"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = bad.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["name", "email"]);
    let unknown_field = api
        .json(
            Method::POST,
            "/api/v1/teams",
            Some(json!({"name": "X", "colour": "red"})),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown_field.json()["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`")
    );
    let not_json = api
        .client
        .post(format!("{}/api/v1/teams", app.url))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);

    let roles = api
        .json(
            Method::PUT,
            &format!("/api/v1/people/{id}/roles"),
            Some(json!({"admin": true, "facilitator": false})),
        )
        .await;
    assert_eq!(roles.json()["roles"]["admin"], true);
    let inv = api
        .json(
            Method::POST,
            &format!("/api/v1/people/{id}/invitation"),
            None,
        )
        .await;
    assert_eq!(inv.status, StatusCode::CREATED);
    let link = inv.json()["link"].as_str().unwrap().to_owned();
    assert_eq!(app.browser().get_abs(&link).await.status, StatusCode::OK);
    let off = api
        .json(
            Method::POST,
            &format!("/api/v1/people/{id}/deactivate"),
            None,
        )
        .await;
    assert_eq!(off.json()["active"], false);
    assert!(off.json()["deactivated_at"].is_string());
    assert_eq!(
        app.browser().get_abs(&link).await.status,
        StatusCode::NOT_FOUND
    );

    let people = api.json(Method::GET, "/api/v1/people", None).await.json();
    assert_eq!(people.as_array().unwrap().len(), 2);
    let missing = api
        .json(
            Method::GET,
            "/api/v1/people/00000000-0000-0000-0000-000000000000",
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.json(Method::GET, "/api/v1/nothing-here", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        api.json(Method::DELETE, "/api/v1/session", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.json(Method::GET, "/api/v1/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let wrong = api
        .json(
            Method::POST,
            "/api/v1/session",
            Some(json!({"email": ADMIN_EMAIL, "password": "wrong wrong wrong"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
});

#[tokio::test]
async fn openapi_document_lists_every_api_route() {
    let app = App::start(Backend::Sqlite).await;
    let doc = app
        .browser()
        .json(Method::GET, "/api/v1/openapi.json", None)
        .await
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    // Every source file of the web crate, so a new module's handlers count too.
    let source: String = crate::tidy::web_sources().concat();
    // Every handler registered with `routes!` carries a #[utoipa::path], so it is in the document.
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|ops| ops.as_object().unwrap().len())
        .sum();
    let handlers = source.matches("#[utoipa::path(").count();
    assert_eq!(
        documented, handlers,
        "every API handler appears in the OpenAPI document"
    );
    for path in [
        "/api/v1/teams",
        "/api/v1/people/{id}/roles",
        "/api/v1/session",
        "/api/v1/me",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
}

/// An address the mailer would refuse is refused when typed (422 on the email field), so an
/// invitation never answers 201 and then dies in the queue.
#[tokio::test]
async fn an_address_the_mailer_refuses_is_refused_when_typed() {
    let app = App::start(Backend::Sqlite).await;
    let admin = app.setup().await;
    for email in ["a..b@acme.example", "a,b@acme.example", "a@-acme.example"] {
        let refused = admin
            .json(
                Method::POST,
                "/api/v1/people",
                Some(json!({"name": "Eli", "email": email, "team_ids": [], "roles": {}})),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email}: {}",
            refused.body
        );
        assert_eq!(
            refused.json()["errors"][0]["field"],
            "email",
            "{}",
            refused.body
        );
    }
    let made = admin
        .json(
            Method::POST,
            "/api/v1/people",
            Some(json!({"name": "Eli", "email": "eli.o'neil+k@acme.example", "team_ids": [], "roles": {}})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
}
