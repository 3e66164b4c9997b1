//! What an admin does: teams, people, invitation links, roles and deactivation.

use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both;

on_both!(
    admin_builds_the_organisation_and_invites_a_person,
    |backend| async move {
        let app = App::start(backend).await;
        let admin = app.setup().await;
        let team = create_team(&admin, "Platform").await;

        let dup = admin
            .post_form("/admin/teams", &[("name", "Platform")])
            .await;
        assert_eq!(dup.status, StatusCode::CONFLICT);
        assert!(dup.body.contains("a team with this name already exists"));
        let empty = admin.post_form("/admin/teams", &[("name", " ")]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(empty.body.contains("Team name is required"));

        let bo = add_person(
            &admin,
            "Bo Berg",
            "Bo@Acme.example",
            &team,
            &["facilitator"],
        )
        .await;
        let person = admin.get(&format!("/admin/people/{bo}")).await;
        assert!(
            person.body.contains("bo@acme.example"),
            "emails are stored lower-case"
        );
        assert!(person.body.contains("Platform"));
        assert!(person.body.contains("facilitator, member"));
        let teams = admin.get("/admin/teams").await;
        assert!(
            teams
                .body
                .contains("href=\"/admin/teams\" aria-current=\"page\""),
            "the navigation marks where you are"
        );
        assert!(
            teams.body.contains("<td>Platform</td><td>1</td>"),
            "{}",
            teams.body
        );

        let dup = admin
            .post_form(
                "/admin/people",
                &[
                    ("name", "Bo Again"),
                    ("email", "bo@acme.example"),
                    ("team", ""),
                ],
            )
            .await;
        assert_eq!(dup.status, StatusCode::CONFLICT);
        assert!(dup.body.contains("a person with this email already exists"));
        let bad_team = admin
            .post_form(
                "/admin/people",
                &[
                    ("name", "Cy"),
                    ("email", "cy@acme.example"),
                    ("team", "00000000-0000-0000-0000-000000000000"),
                ],
            )
            .await;
        assert_eq!(bad_team.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad_team
                .body
                .contains("Team is not a team of this organisation")
        );
        let people = admin.get("/admin/people").await;
        assert!(
            !people.body.contains("cy@acme.example"),
            "nothing half-stored"
        );

        // The invitation link: set a password, then log in with it.
        let link = invitation_link(&admin, &bo).await;
        assert!(link.starts_with(&format!("{}/invite/", app.url)), "{link}");
        let bo_browser = app.browser();
        let invite = bo_browser.get_abs(&link).await;
        assert_eq!(invite.status, StatusCode::OK);
        assert!(invite.body.contains("Welcome, Bo Berg") && invite.body.contains("Acme Works"));
        let path = link.trim_start_matches(&app.url).to_owned();
        let short = bo_browser
            .post_form(&format!("{path}/password"), &[("password", "short")])
            .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        let set = bo_browser
            .post_form(
                &format!("{path}/password"),
                &[("password", "bo's own long password")],
            )
            .await;
        assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
        assert!(bo_browser.get("/").await.body.contains("Welcome, Bo Berg"));
        assert_eq!(
            bo_browser.get_abs(&link).await.status,
            StatusCode::NOT_FOUND,
            "setting a password consumes the link"
        );
        let fresh = app.browser();
        assert_eq!(
            fresh
                .login("bo@acme.example", "bo's own long password")
                .await
                .status,
            StatusCode::SEE_OTHER
        );
    }
);

on_both!(
    invitation_link_signs_in_without_a_password_until_replaced,
    |backend| async move {
        let app = App::start(backend).await;
        let admin = app.setup().await;
        let cy = add_person(&admin, "Cy Chen", "cy@acme.example", "", &[]).await;
        let first = invitation_link(&admin, &cy).await;
        let link = invitation_link(&admin, &cy).await;
        assert_ne!(first, link);
        let cy_browser = app.browser();
        assert_eq!(
            cy_browser.get_abs(&first).await.status,
            StatusCode::NOT_FOUND,
            "a new link replaces the old"
        );
        let path = link.trim_start_matches(&app.url).to_owned();
        cy_browser.get_abs(&link).await;
        let go = cy_browser.post_form(&format!("{path}/continue"), &[]).await;
        assert_eq!(go.status, StatusCode::SEE_OTHER);
        let home = cy_browser.get("/").await;
        assert!(home.body.contains("Welcome, Cy Chen") && home.body.contains("as member"));
        assert!(
            !home.body.contains("/admin/people"),
            "members see no admin links"
        );
        // The link keeps working until it expires, from another device too.
        let other = app.browser();
        other.get_abs(&link).await;
        assert_eq!(
            other
                .post_form(&format!("{path}/continue"), &[])
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            app.browser().get("/invite/not-a-real-token").await.status,
            StatusCode::NOT_FOUND
        );
    }
);

on_both!(roles_and_deactivation, |backend| async move {
    let app = App::start(backend).await;
    let admin = app.setup().await;
    let dee = add_person(&admin, "Dee Diaz", "dee@acme.example", "", &[]).await;
    let link = invitation_link(&admin, &dee).await;
    let path = link.trim_start_matches(&app.url).to_owned();
    let dee_browser = app.browser();
    dee_browser.get_abs(&link).await;
    dee_browser
        .post_form(
            &format!("{path}/password"),
            &[("password", "dee has a long password")],
        )
        .await;
    assert_eq!(
        dee_browser.get("/admin/people").await.status,
        StatusCode::FORBIDDEN
    );

    let promote = admin
        .post_form(
            &format!("/admin/people/{dee}/roles"),
            &[("admin", "on"), ("facilitator", "on")],
        )
        .await;
    assert_eq!(promote.status, StatusCode::SEE_OTHER);
    assert_eq!(
        dee_browser.get("/admin/people").await.status,
        StatusCode::OK,
        "the new role applies at once"
    );

    // An admin cannot lock themselves out.
    let me = admin
        .json(reqwest::Method::GET, "/api/v1/me", None)
        .await
        .json()["person"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let demote_self = admin
        .post_form(&format!("/admin/people/{me}/roles"), &[])
        .await;
    assert_eq!(demote_self.status, StatusCode::CONFLICT);
    assert!(
        demote_self
            .body
            .contains("cannot remove your own admin role")
    );
    let self_off = admin
        .post_form(&format!("/admin/people/{me}/deactivate"), &[])
        .await;
    assert_eq!(self_off.status, StatusCode::CONFLICT);

    let off = admin
        .post_form(&format!("/admin/people/{dee}/deactivate"), &[])
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert_eq!(
        dee_browser.get("/").await.location.as_deref(),
        Some("/login"),
        "deactivation ends sessions"
    );
    assert_eq!(
        app.browser()
            .login("dee@acme.example", "dee has a long password")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let page = admin.get(&format!("/admin/people/{dee}")).await;
    assert!(page.body.contains("Deactivated") && page.body.contains("history is kept"));
    assert!(
        admin.get("/admin/people").await.body.contains("Dee Diaz"),
        "the person stays listed"
    );
    let again = admin
        .post_form(&format!("/admin/people/{dee}/invitation"), &[])
        .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "a deactivated person cannot be invited"
    );

    assert_eq!(
        admin
            .get("/admin/people/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let garbage = admin.get("/admin/people/not-a-uuid").await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
    assert!(garbage.body.contains("no such record"), "{}", garbage.body);
});

on_both!(team_membership_can_change, |backend| async move {
    let app = App::start(backend).await;
    let admin = app.setup().await;
    let a = create_team(&admin, "Alpha").await;
    let b = create_team(&admin, "Beta").await;
    let eve = add_person(&admin, "Eve Evans", "eve@acme.example", &a, &[]).await;
    let moved = admin
        .post_form(
            &format!("/admin/people/{eve}/teams"),
            &[("team", b.as_str())],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER);
    let page = admin.get(&format!("/admin/people/{eve}")).await;
    assert!(
        page.body.contains(&format!("value=\"{b}\" checked"))
            && !page.body.contains(&format!("value=\"{a}\" checked"))
    );
    let both = admin
        .json(
            reqwest::Method::PUT,
            &format!("/api/v1/people/{eve}/teams"),
            Some(serde_json::json!({"team_ids": [a, b]})),
        )
        .await;
    assert_eq!(both.json()["team_ids"].as_array().unwrap().len(), 2);
    let bad = admin
        .json(
            reqwest::Method::PUT,
            &format!("/api/v1/people/{eve}/teams"),
            Some(serde_json::json!({"team_ids": ["00000000-0000-0000-0000-000000000000"]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let kept = admin
        .json(reqwest::Method::GET, &format!("/api/v1/people/{eve}"), None)
        .await
        .json();
    assert_eq!(
        kept["team_ids"].as_array().unwrap().len(),
        2,
        "a refused change changes nothing"
    );
    assert!(
        admin
            .get("/admin/audit")
            .await
            .body
            .contains("person.teams")
    );
});
