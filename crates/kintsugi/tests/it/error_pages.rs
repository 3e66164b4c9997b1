//! Error pages are no dead ends: a signed-in person keeps their navigation, their name and Log
//! out; the page says in words what happened and why, and links back to where they came from.

use reqwest::StatusCode;
use reqwest::header::REFERER;

use crate::harness::*;
use crate::on_both;

/// The chrome of a signed-in page: the navigation, the person's name and Log out.
fn assert_signed_in_chrome(body: &str, name: &str, what: &str) {
    assert!(body.contains("aria-label=\"Main\""), "{what}: {body}");
    assert!(body.contains("href=\"/repairs\""), "{what}: navigation");
    assert!(body.contains(name), "{what}: the person's name");
    assert!(body.contains(">Log out</button>"), "{what}: Log out");
    assert!(!body.contains(">Log in</a>"), "{what}: no Log in");
}

/// The `href` of the link whose text is `text`.
fn link_to(body: &str, text: &str) -> Option<String> {
    let end = body.find(&format!(">{text}</a>"))?;
    let start = body[..end].rfind("href=\"")? + 6;
    Some(body[start..start + body[start..].find('"')?].to_owned())
}

on_both!(
    error_pages_keep_the_signed_in_chrome,
    |backend| async move {
        let app = App::start(backend).await;
        let admin = app.setup().await;
        let (bea_id, bea) = member(&app, &admin, "Bea Member", "bea@acme.example", &[]).await;

        // A 404, as a member: a repair that does not exist.
        let missing = format!("/repairs/{}", uuid::Uuid::new_v4());
        let page = bea.get(&missing).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert_signed_in_chrome(&page.body, "Bea Member", "404");
        assert!(
            page.body.contains("<h1>Page not found</h1>"),
            "{}",
            page.body
        );
        assert!(page.body.contains("<title>Page not found"), "{}", page.body);
        assert_eq!(
            link_to(&page.body, "Go to the start page").as_deref(),
            Some("/")
        );

        // An address with no route at all: the same page for a person, a problem for the API.
        let nowhere = bea.get("/no/such/page").await;
        assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
        assert_signed_in_chrome(&nowhere.body, "Bea Member", "an unknown address");
        assert!(nowhere.body.contains("<h1>Page not found</h1>"));
        let api = bea.get("/api/v1/no-such-endpoint").await;
        assert_eq!(api.status, StatusCode::NOT_FOUND);
        assert_eq!(api.json()["status"], 404, "{}", api.body);

        // A refused action (409), as the admin: emailing an invitation with no SMTP server,
        // from the person's page.
        let person_page = format!("{}/admin/people/{bea_id}", app.url);
        let token = admin.csrf_token().await;
        let refused = Browser::page(
            admin
                .client
                .post(format!("{person_page}/invitation/email"))
                .header(REFERER, &person_page)
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert_signed_in_chrome(&refused.body, "Ada Admin", "409");
        assert!(
            refused.body.contains("<h1>That could not be done</h1>"),
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("smtp_host"),
            "the server's reason: {}",
            refused.body
        );
        assert_eq!(
            link_to(&refused.body, "Go back to the page you came from"),
            Some(format!("/admin/people/{bea_id}")),
            "back to the person's page"
        );

        // A Referer from another site is not followed: the way on is the start page.
        let elsewhere = Browser::page(
            bea.client
                .get(format!("{}{missing}", app.url))
                .header(REFERER, "https://evil.example/admin/people")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
        assert!(!elsewhere.body.contains("evil.example"));
        assert!(!elsewhere.body.contains("Go back to the page you came from"));

        // Without a session, the same page has no one's chrome.
        let stranger = app.browser().get(&missing).await;
        assert!(
            stranger.status == StatusCode::SEE_OTHER || !stranger.body.contains("Log out"),
            "{}",
            stranger.body
        );
    }
);
