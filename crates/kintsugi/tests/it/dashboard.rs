//! The organisation dashboard, a repair's trust pulse trends, and their CSV exports, driven over
//! HTTP. CSV is read back with the `csv` crate: suppressed cells say "suppressed" and formula
//! cells are defused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;
use crate::on_both;
use crate::rounds::{fetch_token, group_titled};

/// A title a spreadsheet would run as a formula.
const HOSTILE: &str = "=HYPERLINK(\"http://evil.example\",\"Open\")";

/// The CSV a page serves, parsed: its header and rows.
async fn csv_of(b: &Browser, path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let page = b.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    assert_eq!(page.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        page.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\""),
        "a download"
    );
    let mut reader = csv::Reader::from_reader(page.body.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn cell<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    &row[i]
}

on_both!(
    dashboard_for_admins_and_facilitators,
    |backend| async move {
        let c = crate::repairs::cast(backend).await;
        // A second repair with a hostile title, opened 10 days ago and never updated: overdue.
        let opened = c
            .fay
            .post_form(
                "/repairs",
                &[
                    ("title", HOSTILE),
                    ("summary", "A title that tries to run in a spreadsheet."),
                    ("breach", "other"),
                    ("scope", "person_person"),
                    ("accountable_people", &c.lee_id),
                    ("affected_people", &c.ana_id),
                    ("update_cadence_days", "7"),
                ],
            )
            .await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
        let hostile = opened
            .location
            .unwrap()
            .trim_start_matches("/repairs/")
            .to_owned();
        c.app
            .exec(format!(
                "UPDATE repairs SET created_at = created_at - {} WHERE id = '{hostile}'",
                10 * 86_400
            ))
            .await;
        // A commitment kept today: Lee marks it done, Ana confirms it.
        let base = format!("/api/v1/repairs/{}", c.repair);
        let made = c
            .lee
            .json(
                Method::POST,
                &format!("{base}/commitments"),
                Some(json!({"owner": c.lee_id, "statement": "Share the plan", "due": day(0)})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let cid = made.json()["id"].as_str().unwrap().to_owned();
        let done = c
            .lee
            .json(
                Method::POST,
                &format!("{base}/commitments/{cid}/occurrences/{}/done", day(0)),
                None,
            )
            .await;
        assert!(done.status.is_success(), "{}", done.body);
        let confirmed = c
            .ana
            .json(
                Method::POST,
                &format!(
                    "{base}/commitments/{cid}/occurrences/{}/confirmation",
                    day(0)
                ),
                Some(json!({"happened": true})),
            )
            .await;
        assert!(confirmed.status.is_success(), "{}", confirmed.body);
        // A second facilitator who is in neither repair.
        let (_, gil) = member(
            &c.app,
            &c.admin,
            "Gil Facilitator",
            "gil@acme.example",
            &["facilitator"],
        )
        .await;

        // Who gets in: admins and facilitators; members are refused, strangers sent to log in.
        assert_eq!(
            c.app.browser().get("/dashboard").await.location.as_deref(),
            Some("/login")
        );
        let refused = c.oz.get("/dashboard").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            refused
                .body
                .contains("this needs the admin or facilitator role")
        );
        assert_eq!(
            c.oz.get("/dashboard/overdue.csv").await.status,
            StatusCode::FORBIDDEN
        );
        assert!(
            !c.oz.get("/").await.body.contains("href=\"/dashboard\""),
            "no link for members"
        );
        assert!(c.fay.get("/").await.body.contains("href=\"/dashboard\""));

        let page = c.admin.get("/dashboard").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for expected in [
            "Repairs by stage and age",
            "Follow-through across the organisation",
            "Overdue updates",
            "role=\"img\"",
            "<title id=\"chart-repairs-by-stage-title\">",
            "<desc id=\"chart-follow-through-desc\">",
            "Data table: Repairs by stage and age",
            "last update 10 days ago, promised every 7",
            "=HYPERLINK(&#34;http://evil.example&#34;,&#34;Open&#34;)",
        ] {
            assert!(page.body.contains(expected), "{expected} in {}", page.body);
        }
        assert!(
            page.body
                .contains("Follow-through: <strong>100%</strong> (1 of 1"),
            "{}",
            page.body
        );

        // The facilitator of both repairs sees their titles; another facilitator only a count.
        assert!(c.fay.get("/dashboard").await.body.contains("evil.example"));
        let other = gil.get("/dashboard").await;
        assert_eq!(other.status, StatusCode::OK);
        assert!(!other.body.contains("evil.example") && !other.body.contains("Missed launch date"));
        assert!(
            other
                .body
                .contains("1 more overdue repair is one you are not part of")
        );

        // CSV: the hostile title is defused; counts match the page.
        let (header, rows) = csv_of(&c.admin, "/dashboard/overdue.csv").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(cell(&header, &rows[0], "repair"), format!("'{HOSTILE}"));
        assert_eq!(cell(&header, &rows[0], "days since the last update"), "10");
        let (_, rows) = csv_of(&gil, "/dashboard/overdue.csv").await;
        assert_eq!(rows[0][0], "a repair you are not part of");

        let (header, rows) = csv_of(&c.fay, "/dashboard/repairs.csv").await;
        let ack = rows.iter().find(|r| r[0] == "Acknowledge").unwrap();
        assert_eq!(cell(&header, ack, "repairs"), "2");
        assert_eq!(cell(&header, ack, "Under 30 days"), "2");
        assert_eq!(cell(&header, ack, "oldest (days)"), "10");
        assert_eq!(rows.len(), 6, "one row per stage");

        let (header, rows) = csv_of(&c.admin, "/dashboard/follow-through.csv").await;
        let all = rows.iter().find(|r| r[0] == "all time").unwrap();
        assert_eq!(
            (
                cell(&header, all, "kept"),
                cell(&header, all, "follow-through")
            ),
            ("1", "100%")
        );
        // A month with nothing settled has no rate: an empty cell, never a made-up 0%.
        assert_eq!(cell(&header, &rows[0], "follow-through"), "");
        assert_eq!(cell(&header, &rows[0], "due and settled"), "0");
    }
);

/// Walks a repair to *rebuild* through the API the way its people would: Lee acknowledges,
/// Fay names a cause after a conversation, Lee commits, Fay moves it on.
async fn to_rebuild(repair: &str, fay: &Browser, lee: &Browser, lee_id: &str) {
    let base = format!("/api/v1/repairs/{repair}");
    let stage = |from: &str| json!({"from": from, "action": "advance"});
    let steps = [
        (
            lee,
            "acknowledgments",
            json!({"body": "I changed the dates without telling you. I am sorry."}),
        ),
        (fay, "stage", stage("acknowledge")),
        (
            fay,
            "no-round-reason",
            json!({"reason": "We talked it through together."}),
        ),
        (
            fay,
            "causes",
            json!({"category": "process", "description": "No release checklist."}),
        ),
        (fay, "stage", stage("understand")),
        (
            lee,
            "commitments",
            json!({"owner": lee_id, "statement": "Share dates first", "due": day(30)}),
        ),
        (fay, "stage", stage("act")),
    ];
    for (who, path, body) in steps {
        let done = who
            .json(Method::POST, &format!("{base}/{path}"), Some(body))
            .await;
        assert!(done.status.is_success(), "{path}: {}", done.body);
    }
    assert_eq!(
        fay.json(Method::GET, &base, None).await.json()["stage"],
        "rebuild"
    );
}

/// Answers the open trust pulse as each of `who`, rating every item `value`; then two weeks
/// pass, so it closes and the next one opens when `reader` next reads the repair.
async fn answer_pulse(app: &App, repair: &str, reader: &Browser, who: &[&Browser], value: i64) {
    // Reading the repair is what opens a pulse that is due.
    reader
        .json(Method::GET, &format!("/api/v1/repairs/{repair}"), None)
        .await;
    let rounds = reader
        .json(
            Method::GET,
            &format!("/api/v1/repairs/{repair}/rounds"),
            None,
        )
        .await
        .json();
    let pulse = rounds
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "pulse" && r["open"] == true)
        .expect("an open pulse");
    let id = pulse["id"].as_str().unwrap();
    let key = STANDARD
        .decode(pulse["public_key"].as_str().unwrap())
        .unwrap();
    for b in who {
        let t = fetch_token(b, repair, id, &key).await.unwrap();
        let items = json!({"ability": value, "benevolence": value, "integrity": value, "follow_through": value});
        let body = json!({"token": {"message": STANDARD.encode(&t.prepared), "signature": STANDARD.encode(&t.signature)}, "answer": {"items": items}});
        let sent = reqwest::Client::new()
            .post(format!("{}/anon/rounds/{id}/answers", app.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::ACCEPTED);
    }
    app.exec(format!(
        "UPDATE rounds SET opened_at = opened_at - {d}, closes_at = closes_at - {d} WHERE repair_id = '{repair}' AND kind = 'pulse'",
        d = 15 * 86_400
    ))
    .await;
    reader
        .json(Method::GET, &format!("/api/v1/repairs/{repair}"), None)
        .await;
}

/// The trend section of a repair page, if any.
fn trend_of(body: &str) -> Option<&str> {
    let start = body.find("id=\"trend-heading\"")?;
    let end = start + body[start..].find("</section>")?;
    Some(&body[start..end])
}

on_both!(
    pulse_trends_show_suppressed_rounds_as_gaps,
    |backend| async move {
        // Five people on the affected side (k is 5); Lee is accountable.
        let g = group_titled(backend, 5, HOSTILE).await;
        let base = format!("/api/v1/repairs/{}", g.repair);
        let repair = g.fay.json(Method::GET, &base, None).await.json();
        let lee_id = repair["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["side"] == "accountable")
            .unwrap()["person_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let lee = &g.members[0];
        to_rebuild(&g.repair, &g.fay, lee, &lee_id).await;

        // No closed pulse yet: no trend section.
        let page = g.fay.get(&format!("/repairs/{}", g.repair)).await;
        assert!(trend_of(&page.body).is_none());

        // Pulse 1 (the baseline): all five answer 4. Pulse 2: two answer 2 (below k). Pulse 3: 6.
        let m = &g.members;
        let (app, repair, reader) = (&g.app, g.repair.as_str(), &m[1]);
        let all: Vec<&Browser> = m[1..=5].iter().collect();
        answer_pulse(app, repair, reader, &all, 4).await;
        answer_pulse(app, repair, reader, &all[..2], 2).await;
        answer_pulse(app, repair, reader, &all, 6).await;

        for who in [&g.fay, &g.members[1], lee] {
            let page = who.get(&format!("/repairs/{}", g.repair)).await;
            assert_eq!(page.status, StatusCode::OK);
            let trend = trend_of(&page.body).expect("a trend section");
            assert_eq!(
                trend.matches("role=\"img\"").count(),
                4,
                "one chart per dimension"
            );
            for dimension in [
                "Ability",
                "Benevolence",
                "Integrity",
                "Follow-through since the breach",
            ] {
                assert!(trend.contains(&format!(
                    ">{dimension}: mean rating per trust pulse</title>"
                )));
            }
            assert_eq!(
                trend.matches("Gap: fewer than 5 answered").count(),
                4,
                "each chart's gap says why"
            );
            assert!(trend.contains("Baseline 4.0") && trend.contains("6.0"));
            assert!(trend.contains(">1 (baseline)<") && trend.contains(">Trust pulse<"));
            assert!(
                !trend.contains("2.0"),
                "the suppressed pulse's mean is nowhere"
            );
            assert!(
                trend.contains("suppressed (fewer than 5 answered)"),
                "the data table says so too"
            );
        }

        let (header, rows) =
            csv_of(&g.members[3], &format!("/repairs/{}/pulses.csv", g.repair)).await;
        assert_eq!(
            header,
            [
                "repair",
                "pulse",
                "closed on",
                "ability",
                "benevolence",
                "integrity",
                "follow_through"
            ]
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0][0],
            format!("'{HOSTILE}"),
            "the title cannot run as a formula"
        );
        assert_eq!(&rows[0][1..2], ["1 (baseline)"]);
        assert_eq!(&rows[0][3..], ["4.0", "4.0", "4.0", "4.0"]);
        assert_eq!(
            &rows[1][3..],
            ["suppressed"; 4],
            "below k the number never leaves"
        );
        assert_eq!(&rows[2][3..], ["6.0", "6.0", "6.0", "6.0"]);
        assert!(!rows.iter().flatten().any(|c| c.contains("2.0")));
    }
);

on_both!(a_pairs_trend_is_for_its_insiders, |backend| async move {
    // Person↔person: Ana (affected) answers alone, which never reaches k.
    let c = crate::repairs::cast(backend).await;
    to_rebuild(&c.repair, &c.fay, &c.lee, &c.lee_id).await;
    let (app, repair) = (&c.app, c.repair.as_str());
    answer_pulse(app, repair, &c.ana, &[&c.ana], 3).await;
    answer_pulse(app, repair, &c.ana, &[], 7).await; // nobody answered this one
    answer_pulse(app, repair, &c.ana, &[&c.ana], 5).await;

    for insider in [&c.ana, &c.fay] {
        let page = insider.get(&format!("/repairs/{repair}")).await;
        let trend = trend_of(&page.body).expect("the insiders' trend");
        assert!(
            trend.contains("Baseline 3.0") && trend.contains("5.0"),
            "{trend}"
        );
        assert_eq!(trend.matches("Gap: fewer than 5 answered").count(), 4);
        let (_, rows) = csv_of(insider, &format!("/repairs/{repair}/pulses.csv")).await;
        assert_eq!(
            rows.iter().map(|r| r[3].as_str()).collect::<Vec<_>>(),
            ["3.0", "suppressed", "5.0"]
        );
    }
    // The accountable person sees no trend and cannot download one; an outsider finds nothing.
    let page = c.lee.get(&format!("/repairs/{repair}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(trend_of(&page.body).is_none() && !page.body.contains("Baseline 3.0"));
    let refused = c.lee.get(&format!("/repairs/{repair}/pulses.csv")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains("3.0"));
    assert_eq!(
        c.oz.get(&format!("/repairs/{repair}/pulses.csv"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
});
