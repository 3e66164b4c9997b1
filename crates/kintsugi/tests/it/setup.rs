//! First run: the printed setup link creates the organisation and its admin, once.

use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both;

on_both!(
    setup_link_creates_the_organisation_once,
    |backend| async move {
        let app = App::start(backend).await;
        let link = app
            .setup_link
            .clone()
            .expect("a fresh server prints a setup link");
        assert!(
            link.starts_with(&format!("{}/setup?token=", app.url)),
            "{link}"
        );

        let admin = app.setup().await;
        let home = admin.get("/").await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(
            home.body.contains("Acme Works"),
            "home names the organisation"
        );
        assert!(home.body.contains("Welcome, Ada Admin"));

        // The link is spent: a second visitor cannot create another organisation with it.
        let other = app.browser();
        other.get_abs(&link).await;
        let token = link.split("token=").nth(1).unwrap();
        let again = other
            .post_form(
                "/setup",
                &[
                    ("token", token),
                    ("organisation_name", "Evil"),
                    ("name", "Eve"),
                    ("email", "eve@x.example"),
                    ("password", "another long password"),
                ],
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
        assert!(again.body.contains("has been used or has expired"));

        // A restarted server with an organisation prints no setup link.
        let (dir, db) = app.stop();
        let app = App::launch(dir, db, &[], &[]).await;
        assert!(app.setup_link.is_none(), "{:?}", app.stdout);
        let b = app.browser();
        assert_eq!(
            b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status,
            StatusCode::SEE_OTHER
        );
    }
);

on_both!(
    bad_setup_input_is_explained_and_stores_nothing,
    |backend| async move {
        let app = App::start(backend).await;
        let link = app.setup_link.clone().unwrap();
        let token = link.split("token=").nth(1).unwrap();
        let b = app.browser();
        b.get_abs(&link).await;
        let bad = b
            .post_form(
                "/setup",
                &[
                    ("token", token),
                    ("organisation_name", "  "),
                    ("name", "Ada"),
                    ("email", "not-an-email"),
                    ("password", "short"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        for msg in [
            "Organisation name is required",
            "Email must be an address",
            "Password must be at least 12 characters",
        ] {
            assert!(bad.body.contains(msg), "missing {msg:?} in {}", bad.body);
        }
        assert!(
            bad.body.contains("value=\"Ada\""),
            "the form keeps what was typed"
        );
        // Nothing was stored, so the same link still works.
        app.setup().await;

        let missing = app.browser().get("/setup").await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert!(missing.body.contains("has no token"));
    }
);

on_both!(demo_organisation_can_be_explored, |backend| async move {
    let app = App::start_with(backend, &["--demo"], &[]).await;
    let line = app
        .stdout
        .iter()
        .find(|l| l.starts_with("Demo organisation"))
        .expect("demo logins printed");
    assert!(
        line.contains("admin@demo.example") && line.contains("kintsugi-demo-password"),
        "{line}"
    );
    assert!(
        app.setup_link.is_some(),
        "the real organisation can still be set up beside the demo"
    );
    let b = app.browser();
    assert_eq!(
        b.login("admin@demo.example", "kintsugi-demo-password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let teams = b.get("/admin/teams").await;
    assert!(
        teams.body.contains("Customer Support") && teams.body.contains("demo organisation"),
        "{}",
        teams.body
    );
    let people = b.get("/admin/people").await;
    assert!(people.body.contains("Fatima Okafor"));
    // Restarting with --demo does not seed twice.
    let (dir, db) = app.stop();
    let app = App::launch(dir, db, &["--demo"], &[]).await;
    let b = app.browser();
    b.login("admin@demo.example", "kintsugi-demo-password")
        .await;
    let teams = b.get("/admin/teams").await;
    assert_eq!(teams.body.matches("<td>Customer Support</td>").count(), 1);
});
