//! Team health: instruments loaded with line-numbered errors, checks that open and close on
//! schedule, anonymous answers checked against the instrument, and an overview (page, API
//! and CSV) that never shows a small team, nor the team that would give it away.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_anon::{Token, client};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::on_both;

/// A person in `team`, signed in with a password; their browser.
pub(crate) async fn in_team(app: &App, admin: &Browser, name: &str, team: &str) -> Browser {
    let email = format!("{}@acme.example", name.to_lowercase());
    let id = add_person(admin, name, &email, team, &[]).await;
    let link = invitation_link(admin, &id).await;
    let b = app.browser();
    b.get_abs(&link).await;
    let path = link.trim_start_matches(&app.url).to_owned();
    let done = b
        .post_form(
            &format!("{path}/password"),
            &[("password", "a long enough password")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    b
}

/// The open check of the person's team, as the API lists it.
pub(crate) async fn my_check(b: &Browser) -> Value {
    let checks = b.json(Method::GET, "/api/v1/health/checks", None).await;
    assert_eq!(checks.status, StatusCode::OK, "{}", checks.body);
    let list = checks.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    list[0].clone()
}

fn secret() -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    s[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    s
}

pub(crate) async fn token(b: &Browser, check: &Value) -> Result<Token, (StatusCode, String)> {
    let round = check["round"].as_str().unwrap();
    let public = STANDARD
        .decode(check["public_key"].as_str().unwrap())
        .unwrap();
    let (pending, blinded) =
        client::Pending::start(round.parse().unwrap(), &public, secret()).unwrap();
    let got = b
        .json(
            Method::POST,
            &format!("/api/v1/health/rounds/{round}/token"),
            Some(json!({"blinded_message": STANDARD.encode(blinded)})),
        )
        .await;
    if got.status != StatusCode::OK {
        return Err((got.status, got.body));
    }
    Ok(pending
        .finish(
            &STANDARD
                .decode(got.json()["blind_signature"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap())
}

async fn answer(app: &App, round: &str, t: &Token, answer: Value) -> (StatusCode, String) {
    let body = json!({
        "token": {"message": STANDARD.encode(&t.prepared), "signature": STANDARD.encode(&t.signature)},
        "answer": answer,
    });
    let resp = reqwest::Client::new()
        .post(format!("{}/anon/rounds/{round}/answers", app.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// Every item of the built-in instrument rated `value` (reverse items included as given).
fn all_items(check: &Value, value: i64) -> Value {
    let mut items = serde_json::Map::new();
    for item in check["instrument"]["items"].as_array().unwrap() {
        items.insert(item["id"].as_str().unwrap().into(), json!(value));
    }
    json!({ "items": items })
}

on_both!(
    checks_open_close_and_hide_small_teams,
    |backend| async move {
        let app = App::start(backend).await;
        let admin = app.setup().await;
        // k = 3 keeps the teams small enough to build here.
        let saved = admin
            .post_form("/admin/settings", &[("k_threshold", "3")])
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

        let dept = create_team(&admin, "Operations").await;
        let alpha = create_team(&admin, "Alpha").await;
        let beta = create_team(&admin, "Beta").await;
        let gamma = create_team(&admin, "Gamma").await;
        for team in [&alpha, &beta, &gamma] {
            let set = admin
                .post_form(
                    "/admin/health/parents",
                    &[("team", team.as_str()), ("parent", dept.as_str())],
                )
                .await;
            assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
        }
        // A team cannot sit under its own sub-team.
        let looped = admin
            .json(
                Method::PUT,
                &format!("/api/v1/teams/{dept}/parent"),
                Some(json!({"parent": alpha})),
            )
            .await;
        assert_eq!(looped.status, StatusCode::CONFLICT, "{}", looped.body);

        let mut alphas = Vec::new();
        for n in 0..3 {
            alphas.push(in_team(&app, &admin, &format!("Al{n}"), &alpha).await);
        }
        let beta_one = in_team(&app, &admin, "Bea", &beta).await;
        let mut gammas = Vec::new();
        for n in 0..5 {
            gammas.push(in_team(&app, &admin, &format!("Gus{n}"), &gamma).await);
        }

        // The first look opens every staffed team's check (Operations has nobody: no check).
        let check = my_check(&alphas[0]).await;
        assert_eq!(check["team_name"], "Alpha");
        assert_eq!(
            app.scalar(
                "SELECT COUNT(*) FROM rounds WHERE kind = 'team_health' AND status = 'open'"
            )
            .await,
            3
        );
        // The page offers the same check, with the instrument's wording and a blinding form.
        let page = alphas[0].get("/health").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("name=\"item_raise_problems\"")
                && page.body.contains("data-token-url=\"/health/rounds/")
        );

        // Someone outside the team gets no token for it.
        let outsider = token(&beta_one, &check).await.expect_err("refused");
        assert_eq!(outsider.0, StatusCode::FORBIDDEN, "{}", outsider.1);

        // Bad answers: refused with a clear 4xx, nothing stored.
        let round = check["round"].as_str().unwrap().to_owned();
        let t = token(&alphas[0], &check).await.unwrap();
        let mut outside = all_items(&check, 4);
        outside["items"]["raise_problems"] = json!(8);
        let mut unknown = all_items(&check, 4);
        unknown["items"]["mood"] = json!(3);
        let mut missing = all_items(&check, 4);
        missing["items"]
            .as_object_mut()
            .unwrap()
            .remove("lead_straight");
        let mut commented = all_items(&check, 4);
        commented["comment"] = json!("it is Al0 writing");
        for (bad, words) in [
            (outside, "from 1 to 7"),
            (unknown, "'mood' is not an item"),
            (missing, "'lead_straight' is not answered"),
            (commented, "ratings only"),
            (json!({"rating": 4}), "rating"),
        ] {
            let (status, body) = answer(&app, &round, &t, bad).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert!(body.contains(words), "{words}: {body}");
        }
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM round_answers").await,
            0,
            "nothing half-stored"
        );

        // Alpha (3 people) answers 6 everywhere, Beta's one person 2, Gamma 5 (one Gamma 3,
        // and one Gamma too late).
        let (status, body) = answer(&app, &round, &t, all_items(&check, 6)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let (again, _) = answer(&app, &round, &t, all_items(&check, 1)).await;
        assert_eq!(
            again,
            StatusCode::ACCEPTED,
            "sent again while it waits: held once, as first sent"
        );
        for b in &alphas[1..] {
            let c = my_check(b).await;
            let t = token(b, &c).await.unwrap();
            assert_eq!(
                answer(&app, c["round"].as_str().unwrap(), &t, all_items(&c, 6))
                    .await
                    .0,
                StatusCode::ACCEPTED
            );
        }
        let c = my_check(&beta_one).await;
        let t = token(&beta_one, &c).await.unwrap();
        assert_eq!(
            answer(&app, c["round"].as_str().unwrap(), &t, all_items(&c, 2))
                .await
                .0,
            StatusCode::ACCEPTED
        );
        let mut late = None;
        for (n, b) in gammas.iter().enumerate() {
            let c = my_check(b).await;
            let t = token(b, &c).await.unwrap();
            if n == 4 {
                // The last one waits too long.
                late = Some((c, t));
                continue;
            }
            let value = if n == 0 { 3 } else { 5 };
            assert_eq!(
                answer(&app, c["round"].as_str().unwrap(), &t, all_items(&c, value))
                    .await
                    .0,
                StatusCode::ACCEPTED
            );
        }

        // While open, the overview shows nothing of these checks.
        let overview = admin.get("/health/overview").await;
        assert_eq!(overview.status, StatusCode::OK);
        assert!(
            overview
                .body
                .contains("No team health check has closed yet"),
            "{}",
            overview.body
        );
        assert!(!overview.body.contains("<svg"), "no chart of open checks");
        // Members do not see the overview at all.
        assert_eq!(
            alphas[0].get("/health/overview").await.status,
            StatusCode::FORBIDDEN
        );

        // A week passes: the checks close on their own at the next look, with their rollups.
        app.exec(format!(
        "UPDATE rounds SET opened_at = opened_at - {d}, closes_at = closes_at - {d} WHERE kind = 'team_health'",
        d = 8 * 86_400
    ))
    .await;
        let overview = admin.get("/health/overview").await;
        assert_eq!(
            app.scalar(
                "SELECT COUNT(*) FROM rounds WHERE kind = 'team_health' AND status = 'open'"
            )
            .await,
            0
        );
        let (late_check, late_token) = late.unwrap();
        let (status, body) = answer(
            &app,
            late_check["round"].as_str().unwrap(),
            &late_token,
            all_items(&late_check, 1),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "answers after close: {body}");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM round_answers").await, 8);

        // Exact rollups, reverse items turned around: one answer of v on the 6 safety items
        // (2 of them reversed) scores 4·v + 2·(8 − v). Gamma answered 3, 5, 5 and 5.
        let safety = |v: i64| 4 * v + 2 * (8 - v);
        assert_eq!(
        app.scalar(&format!("SELECT total FROM health_rollups WHERE team_id = '{gamma}' AND dimension = 'safety'")).await,
        safety(3) + 3 * safety(5)
    );
        assert_eq!(
        app.scalar(&format!("SELECT respondents FROM health_rollups WHERE team_id = '{gamma}' AND dimension = 'lead'")).await,
        4
    );

        // Beta (1 answer) is hidden, and so is Alpha, the next-smallest team under Operations:
        // otherwise the organisation's figure minus Alpha and Gamma would be Beta's.
        // (The heat map's data table: a row per team, then its cells.)
        let hidden_rows = |body: &str, team: &str| {
            let at = body
                .find(&format!("<th scope=\"row\">{team}</th>"))
                .unwrap_or_else(|| panic!("{team} listed: {body}"));
            let row = &body[at..at + body[at..].find("</tr>").unwrap()];
            row.contains("suppressed (") && !row.contains('%')
        };
        assert!(hidden_rows(&overview.body, "Beta"), "{}", overview.body);
        assert!(hidden_rows(&overview.body, "Alpha"), "{}", overview.body);
        assert!(!hidden_rows(&overview.body, "Gamma"), "{}", overview.body);
        assert!(overview.body.contains("fewer than 3 answered"));
        assert!(
            overview
                .body
                .contains("fewer than 3 answered here or in a team hidden with it")
        );
        // What Alpha (6 everywhere: safety 61%, lead 67%) and Beta (2: 39%, 33%) would show
        // appears on no page and in no export; Gamma's (53%, 54%) and the organisation's do.
        let pct = |total: i64, count: i64| ((total - count) * 200 + 6 * count) / (12 * count);
        assert_eq!(
            (
                pct(safety(3) + 3 * safety(5), 24),
                pct(2 * 3 + 8 + 3 * (2 * 5 + 8), 16)
            ),
            (53, 54)
        );
        assert!(
            overview.body.contains("53%") && overview.body.contains("54%"),
            "{}",
            overview.body
        );
        for page in [
            overview.body.clone(),
            admin.get("/health/overview.csv").await.body,
            admin.get(&format!("/health/teams/{alpha}")).await.body,
            admin.get(&format!("/health/teams/{beta}")).await.body,
        ] {
            for hidden in [
                pct(3 * safety(6), 18),
                pct(3 * 20, 12),
                pct(safety(2), 6),
                pct(12, 4),
            ] {
                assert!(
                    !page.contains(&format!("{hidden}%"))
                        && !page.contains(&format!(",{hidden},"))
                        && !page.contains(&format!(",{hidden}\r")),
                    "{hidden}: {page}"
                );
            }
        }
        assert!(
            admin
                .get(&format!("/health/teams/{beta}"))
                .await
                .body
                .contains("suppressed (fewer than 3 answered here or in a team hidden with it)")
        );
        let api = admin
            .json(Method::GET, "/api/v1/health/overview", None)
            .await
            .json();
        for cell in api["heat"].as_array().unwrap() {
            let hidden = cell["hidden_because"].is_string();
            assert_eq!(hidden, cell["team_name"] != "Gamma", "{cell}");
            assert_eq!(
                cell["values"].as_array().unwrap().is_empty(),
                hidden,
                "{cell}"
            );
        }
        let csv = admin.get("/health/overview.csv").await;
        assert!(
            csv.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let beta_line = csv.body.lines().find(|l| l.contains("Beta")).unwrap();
        assert!(
            beta_line.contains("suppressed,suppressed,fewer than 3 answered"),
            "{beta_line}"
        );
        // The organisation's trend (8 answers) is shown.
        assert!(api["organisation"][0]["hidden_because"].is_null(), "{api}");

        // Two weeks after the first checks opened, the next cycle opens by itself.
        app.exec("UPDATE health_rounds SET period = period - 14".to_owned())
            .await;
        admin.get("/health/overview").await;
        assert_eq!(
            app.scalar(
                "SELECT COUNT(*) FROM rounds WHERE kind = 'team_health' AND status = 'open'"
            )
            .await,
            3
        );
    }
);

const GOOD: &str = r#"id = "acme-pulse"
name = "Acme team pulse"
[scale]
min = 1
max = 5
labels = ["No", "Rather not", "Unsure", "Rather yes", "Yes"]
[[item]]
id = "speak_up"
text = "I can speak up here."
dimension = "safety"
[[item]]
id = "lead_fair"
text = "Our lead is fair with us."
dimension = "lead"
"#;

on_both!(
    instruments_are_checked_whole_and_name_the_line,
    |backend| async move {
        let app = App::start(backend).await;
        let admin = app.setup().await;
        let bad = [
            (
                GOOD.replace("id = \"lead_fair\"", "id = \"speak_up\""),
                "line 11",
                "already has the id 'speak_up'",
            ),
            (
                GOOD.replace("max = 5", "max = 1"),
                "line ",
                "the scale is empty",
            ),
            (
                GOOD.replace("name = \"Acme team pulse\"", "name = \"Acme team pulse"),
                "line 2",
                "",
            ),
            (
                GOOD.replace("dimension = \"lead\"\n", ""),
                "line 11",
                "needs a dimension",
            ),
        ];
        for (text, line, words) in &bad {
            let api = admin
                .json(
                    Method::POST,
                    "/api/v1/admin/health/instrument",
                    Some(json!({"toml": text})),
                )
                .await;
            assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", api.body);
            assert!(
                api.body.contains(line) && api.body.contains(words),
                "{line} {words}: {}",
                api.body
            );
            let page = admin
                .post_form("/admin/health/instrument", &[("instrument", text)])
                .await;
            assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(page.body.contains(line), "{}", page.body);
            assert!(
                page.body.contains("Acme team pulse") || page.body.contains("acme-pulse"),
                "the draft is kept"
            );
        }
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM instruments").await,
            0,
            "nothing stored"
        );
        assert!(
            admin
                .get("/admin/health")
                .await
                .body
                .contains("Kintsugi team health check")
        );

        // A member may not load one.
        let (_, member) = member(&app, &admin, "Mo Member", "mo@acme.example", &[]).await;
        let refused = member
            .json(
                Method::POST,
                "/api/v1/admin/health/instrument",
                Some(json!({"toml": GOOD})),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        // The command line refuses a bad file with its line, and loads a good one.
        let dir = tempfile::tempdir().unwrap();
        let (bad_file, good_file) = (dir.path().join("bad.toml"), dir.path().join("good.toml"));
        std::fs::write(&bad_file, &bad[0].0).unwrap();
        std::fs::write(&good_file, GOOD).unwrap();
        let cli = |file: &std::path::Path| {
            let mut cmd = Command::new(BIN);
            cmd.args(["admin", "--data-dir"]).arg(app.data_dir.path());
            if let Some(url) = &app.database_url {
                cmd.args(["--database-url", url]);
            }
            cmd.args(["instrument", "load"]).arg(file);
            cmd.env_remove("KINTSUGI_DATABASE_URL")
                .env_remove("KINTSUGI_CONFIG")
                .output()
                .unwrap()
        };
        let out = cli(&bad_file);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("line 11") && err.contains("speak_up"), "{err}");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM instruments").await, 0);
        let out = cli(&good_file);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            admin
                .get("/admin/health")
                .await
                .body
                .contains("Acme team pulse")
        );

        // Through the page, too; the next checks use it.
        let page = admin
            .post_form(
                "/admin/health/instrument",
                &[(
                    "instrument",
                    &GOOD.replace("Acme team pulse", "Acme pulse, v2"),
                )],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM instruments").await, 2);
        let team = create_team(&admin, "Delta").await;
        let b = in_team(&app, &admin, "Dee", &team).await;
        let check = my_check(&b).await;
        assert_eq!(check["instrument"]["name"], "Acme pulse, v2");
        assert_eq!(check["instrument"]["scale_max"], 5);
        let t = token(&b, &check).await.unwrap();
        let (status, body) = answer(
            &app,
            check["round"].as_str().unwrap(),
            &t,
            json!({"items": {"speak_up": 6, "lead_fair": 2}}),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "on this instrument's scale: {body}"
        );

        // The cadence has bounds.
        for (days, status) in [
            (3, StatusCode::UNPROCESSABLE_ENTITY),
            (91, StatusCode::UNPROCESSABLE_ENTITY),
            (21, StatusCode::OK),
        ] {
            let r = admin
                .json(
                    Method::PUT,
                    "/api/v1/admin/health/settings",
                    Some(json!({"every_days": days})),
                )
                .await;
            assert_eq!(r.status, status, "{days}: {}", r.body);
        }
        assert!(
            admin
                .get("/admin/health")
                .await
                .body
                .contains("value=\"21\"")
        );
    }
);

#[tokio::test]
async fn a_check_answered_from_the_command_line() {
    let app = App::start(Backend::Sqlite).await;
    let admin = app.setup().await;
    let team = create_team(&admin, "Alpha").await;
    let al = in_team(&app, &admin, "Al", &team).await;
    let check = my_check(&al).await;
    let mut items = Vec::new();
    for item in check["instrument"]["items"].as_array().unwrap() {
        items.push(format!("--item={}=5", item["id"].as_str().unwrap()));
    }
    let respond = |extra: &[String]| {
        std::process::Command::new(BIN)
            .args([
                "respond",
                "--server",
                &app.url,
                "--email",
                "al@acme.example",
            ])
            .args(extra)
            .env("KINTSUGI_PASSWORD", "a long enough password")
            .output()
            .unwrap()
    };
    // Without --repair, the person's open team health check. An item off the scale is refused
    // with the item's name; the key that run fetched is issued, so the next run asks for the
    // one replacement.
    let mut wrong = items.clone();
    wrong[0] = wrong[0].replace("=5", "=9");
    let refused = respond(&wrong);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    let first = check["instrument"]["items"][0]["id"].as_str().unwrap();
    assert!(why.contains(first), "names the item: {why}");
    let again = respond(&[format!("--item={first}=x")]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("whole number"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let sent = respond(&[["--replace".to_owned()].as_slice(), &items].concat());
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(String::from_utf8_lossy(&sent.stdout).contains("Received."));
    let twice = respond(&[["--replace".to_owned()].as_slice(), &items].concat());
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("already replaced once"),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
}
