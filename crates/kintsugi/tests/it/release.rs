//! Release rules that hold against an admin (issue 14, findings 5 and 6): a round keeps the k
//! it opened with, and a team health period is released once, in the layout it closed in,
//! with no hidden team that subtraction gives away (checked with the release auditor).

use kintsugi_core::audit::{Aggregate, Knowledge, feasible};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::health::{in_team, my_check, token};
use crate::on_both;
use crate::rounds::{fetch_token, group, open_round, redeem};

on_both!(
    lowering_k_shows_no_round_that_closed_below_it,
    |backend| async move {
        // Finding 5: k = 5, a round closes with 4 answers, then the admin sets k to 3.
        let g = group(backend, 5).await;
        let (round, public) = open_round(&g).await;
        for (i, b) in g.members.iter().skip(1).take(4).enumerate() {
            let t = fetch_token(b, &g.repair, &round, &public).await.unwrap();
            let sent = redeem(
                &g.app,
                &round,
                &t,
                "process",
                &format!("words of person {i}"),
            )
            .await;
            assert!(sent.status.is_success(), "{}", sent.body);
        }
        crate::rounds::close_round(&g, &round).await;
        let before = rounds(&g.fay, &g.repair).await;
        assert_eq!(before[0]["k"], 5, "{before}");
        assert!(before[0]["results"].is_null() && before[0]["suppressed"].is_string());

        let lowered = g
            .admin
            .post_form("/admin/settings", &[("k_threshold", "3")])
            .await;
        assert_eq!(lowered.status, StatusCode::SEE_OTHER, "{}", lowered.body);

        // Nothing of the closed round appears, for anyone: it keeps k = 5.
        for who in [&g.fay, &g.members[1], &g.members[0]] {
            let after = rounds(who, &g.repair).await;
            assert_eq!(after[0]["k"], 5, "{after}");
            assert!(after[0]["results"].is_null(), "{after}");
            let page = who.get(&format!("/repairs/{}", g.repair)).await;
            assert!(
                !page.body.contains("words of person") && !page.body.contains("4 people answered"),
                "{}",
                page.body
            );
            assert!(
                page.body.contains("shown when at least 5 answer"),
                "{}",
                page.body
            );
        }
        // A round opened now takes the new k.
        let (second, _) = open_round(&g).await;
        let now = rounds(&g.fay, &g.repair).await;
        let opened = now
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == second.as_str())
            .unwrap();
        assert_eq!(opened["k"], 3, "{now}");
        assert_eq!(
            g.app
                .scalar(&format!("SELECT k FROM rounds WHERE id = '{round}'"))
                .await,
            5
        );
    }
);

/// A repair's rounds, as the API lists them to `b`.
async fn rounds(b: &Browser, repair: &str) -> Value {
    let got = b
        .json(
            Method::GET,
            &format!("/api/v1/repairs/{repair}/rounds"),
            None,
        )
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    got.json()
}

/// Every item of the check rated `value`.
fn all_items(check: &Value, value: i64) -> Value {
    let mut items = serde_json::Map::new();
    for item in check["instrument"]["items"].as_array().unwrap() {
        items.insert(item["id"].as_str().unwrap().into(), json!(value));
    }
    json!({ "items": items })
}

async fn answer(app: &App, b: &Browser, value: i64) {
    let check = my_check(b).await;
    let round = check["round"].as_str().unwrap().to_owned();
    let t = token(b, &check).await.unwrap();
    let body = json!({
        "token": {
            "message": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &t.prepared),
            "signature": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &t.signature),
        },
        "answer": all_items(&check, value),
    });
    let resp = reqwest::Client::new()
        .post(format!("{}/anon/rounds/{round}/answers", app.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
}

async fn set_parent(admin: &Browser, team: &str, parent: &str) {
    let set = admin
        .post_form(
            "/admin/health/parents",
            &[("team", team), ("parent", parent)],
        )
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
}

/// What the overview publishes, without what does not bear on a period (the page's grouping).
async fn overview(admin: &Browser) -> Value {
    let got = admin
        .json(Method::GET, "/api/v1/health/overview", None)
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    let v = got.json();
    json!({"heat": v["heat"], "organisation": v["organisation"], "k": v["k"], "period": v["period"]})
}

on_both!(
    a_closed_check_stays_as_released_whatever_moves,
    |backend| async move {
        // Finding 6: a small team made a lone child (under a parent with nobody in it) before the
        // check closes, and teams moved after it closed.
        let app = App::start(backend).await;
        let admin = app.setup().await;
        let k3 = admin
            .post_form("/admin/settings", &[("k_threshold", "3")])
            .await;
        assert_eq!(k3.status, StatusCode::SEE_OTHER, "{}", k3.body);
        let empty = create_team(&admin, "Empty").await;
        let small = create_team(&admin, "Small").await;
        let mid = create_team(&admin, "Mid").await;
        let large = create_team(&admin, "Large").await;
        let mut people = Vec::new();
        for (team, n, value) in [(&small, 2, 2), (&mid, 3, 6), (&large, 4, 4)] {
            for i in 0..n {
                let b = in_team(&app, &admin, &format!("P{value}x{i}"), team).await;
                people.push((b, value));
            }
        }
        set_parent(&admin, &small, &empty).await;
        // Each check keeps the k it opened with, and says it.
        let check = my_check(&people[0].0).await;
        assert_eq!(check["k"], 3, "{check}");
        let page = people[0].0.get("/health").await;
        assert!(
            page.body.contains("Shown when at least 3 answer."),
            "{}",
            page.body
        );
        for (b, value) in &people {
            answer(&app, b, *value).await;
        }
        // A week passes: the checks close at the next look, and the period is released.
        app.exec(format!(
        "UPDATE rounds SET opened_at = opened_at - {d}, closes_at = closes_at - {d} WHERE kind = 'team_health'",
        d = 8 * 86_400
    ))
    .await;
        let released = overview(&admin).await;
        assert_eq!(app.scalar("SELECT COUNT(*) FROM health_releases").await, 1);
        let cell = |v: &Value, name: &str| {
            v["heat"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["team_name"] == name)
                .unwrap_or_else(|| panic!("{name} in {v}"))
                .clone()
        };
        // Small is a lone child below k: hidden, and not alone (Mid, the smallest shown team,
        // goes with it), so the organisation's total minus Large gives neither away.
        for (name, hidden) in [("Small", true), ("Mid", true), ("Large", false)] {
            let c = cell(&released, name);
            assert_eq!(c["hidden_because"].is_string(), hidden, "{c}");
            assert_eq!(c["values"].as_array().unwrap().is_empty(), hidden, "{c}");
        }
        assert!(
            released["organisation"][0]["hidden_because"].is_null(),
            "{released}"
        );
        assert_eq!(cell(&released, "Small")["parent_name"], "Empty");

        // The auditor holds everything the period publishes (Large's exact sums, the
        // organisation's, each team's members) and still cannot work Small out.
        let released_sum = |cell: &str, column: &str| {
            let app = &app;
            let q = format!(
                "SELECT {column} FROM health_released WHERE cell = '{cell}' AND dimension = 'safety'"
            );
            async move { app.scalar(&q).await }
        };
        let published = vec![
            Aggregate {
                cells: vec![2],
                count: released_sum(&large, "respondents").await as u32,
                sum: released_sum(&large, "total").await,
            },
            Aggregate {
                cells: vec![0, 1, 2],
                count: released_sum("organisation", "respondents").await as u32,
                sum: released_sum("organisation", "total").await,
            },
        ];
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM health_released WHERE hidden AND total IS NOT NULL")
                .await,
            0,
            "a hidden cell stores no numbers"
        );
        // Six safety items scored 1 to 7 each.
        let known = Knowledge {
            caps: vec![Some(2), Some(3), Some(4)],
            answer_range: (6, 42),
            published,
        };
        let small_range = feasible(&known, 0).unwrap();
        assert!(!small_range.determined(), "{small_range:?}");
        // Had Small been hidden alone (the rule before), the total would give it away.
        let mut alone = known.clone();
        alone.published.push(Aggregate {
            cells: vec![1],
            count: 3,
            sum: 3 * (4 * 6 + 2 * 2),
        });
        assert!(feasible(&alone, 0).unwrap().determined());

        // After the close: Small moves to the top, Mid under Empty (now Mid is the lone child),
        // and k goes up. The released period is the same, cell for cell.
        set_parent(&admin, &small, "").await;
        set_parent(&admin, &mid, &empty).await;
        let k5 = admin
            .post_form("/admin/settings", &[("k_threshold", "5")])
            .await;
        assert_eq!(k5.status, StatusCode::SEE_OTHER, "{}", k5.body);
        let again = overview(&admin).await;
        let names = |v: &Value| {
            let mut v = v.clone();
            for c in v["heat"].as_array_mut().unwrap() {
                c.as_object_mut().unwrap().remove("parent_name");
            }
            v
        };
        assert_eq!(names(&again), names(&released));
        assert_eq!(
            cell(&again, "Small")["parent"],
            json!(empty),
            "the layout it closed in"
        );
        for team in [&small, &mid] {
            let trend = admin
                .json(Method::GET, &format!("/api/v1/health/teams/{team}"), None)
                .await;
            assert_eq!(trend.status, StatusCode::OK, "{}", trend.body);
            let trend = trend.json();
            let points = trend["points"].as_array().unwrap();
            assert!(
                points.len() == 1 && points[0]["hidden_because"].is_string(),
                "{trend}"
            );
        }
        assert_eq!(app.scalar("SELECT COUNT(*) FROM health_releases").await, 1);
    }
);
