//! Nobody declares trust restored by editing data: every write route there is (pages, the
//! API, the anonymous path), tried as every role with empty and with pointed bodies, leaves a
//! repair whose gate does not pass in *rebuild*, and its pulse results as they were. The only
//! way past is the written override, and every participant sees it.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;
use crate::on_both;
use crate::repairs::Cast;

/// Takes the cast's repair to *rebuild*: an acknowledgment, no round (a pair), a cause, one
/// kept commitment. Returns the commitment's id.
pub async fn to_rebuild(c: &Cast) -> String {
    let base = format!("/api/v1/repairs/{}", c.repair);
    let stage = |from: &str| json!({"from": from, "action": "advance"});
    let steps: [(&Browser, String, serde_json::Value); 5] = [
        (
            &c.lee,
            format!("{base}/acknowledgments"),
            json!({"body": "I missed the date. I am sorry."}),
        ),
        (&c.fay, format!("{base}/stage"), stage("acknowledge")),
        (
            &c.fay,
            format!("{base}/no-round-reason"),
            json!({"reason": "Two people."}),
        ),
        (
            &c.fay,
            format!("{base}/causes"),
            json!({"category": "process", "description": "No checklist for launches."}),
        ),
        (&c.fay, format!("{base}/stage"), stage("understand")),
    ];
    for (who, path, body) in steps {
        let done = who.json(Method::POST, &path, Some(body)).await;
        assert!(done.status.is_success(), "{path}: {}", done.body);
    }
    let made = c
        .lee
        .json(
            Method::POST,
            &format!("{base}/commitments"),
            Some(json!({"owner": c.lee_id, "statement": "Share the launch plan every Monday", "due": day(0)})),
        )
        .await;
    let cid = made.json()["id"].as_str().unwrap().to_owned();
    c.lee
        .json(
            Method::POST,
            &format!("{base}/commitments/{cid}/occurrences/{}/done", day(0)),
            None,
        )
        .await;
    c.ana
        .json(
            Method::POST,
            &format!(
                "{base}/commitments/{cid}/occurrences/{}/confirmation",
                day(0)
            ),
            Some(json!({"happened": true})),
        )
        .await;
    let moved = c
        .fay
        .json(Method::POST, &format!("{base}/stage"), Some(stage("act")))
        .await;
    assert_eq!(moved.json()["stage"], "rebuild", "{}", moved.body);
    cid
}

/// The repair's pulse that is open (or the first closed one), as a member's client reads it:
/// its id and public key.
pub async fn pulse(c: &Cast, open: bool) -> (String, Vec<u8>) {
    use base64::Engine;
    // Reading the repair opens a pulse that is due (as the background sweep would).
    c.ana
        .json(Method::GET, &format!("/api/v1/repairs/{}", c.repair), None)
        .await;
    let rounds = c
        .ana
        .json(
            Method::GET,
            &format!("/api/v1/repairs/{}/rounds", c.repair),
            None,
        )
        .await
        .json();
    let pulse = rounds
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "pulse" && r["open"] == open)
        .expect("a pulse")
        .clone();
    (
        pulse["id"].as_str().unwrap().to_owned(),
        base64::engine::general_purpose::STANDARD
            .decode(pulse["public_key"].as_str().unwrap())
            .unwrap(),
    )
}

pub async fn open_pulse(c: &Cast) -> (String, Vec<u8>) {
    pulse(c, true).await
}

/// Answers the open pulse as the affected person, every item at `value`.
pub async fn answer_pulse(c: &Cast, value: i64) -> reqwest::StatusCode {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let (id, key) = open_pulse(c).await;
    let t = crate::rounds::fetch_token(&c.ana, &c.repair, &id, &key)
        .await
        .unwrap();
    let items = json!({"ability": value, "benevolence": value, "integrity": value, "follow_through": value});
    reqwest::Client::new()
        .post(format!("{}/anon/rounds/{id}/answers", c.app.url))
        .json(&json!({"token": {"message": STANDARD.encode(&t.prepared), "signature": STANDARD.encode(&t.signature)}, "answer": {"items": items}}))
        .send()
        .await
        .unwrap()
        .status()
}

/// Moves every pulse of the repair `days` into the past: the open one closes on schedule.
pub async fn age_pulses(c: &Cast, days: i64) {
    c.app
        .exec(format!(
            "UPDATE rounds SET opened_at = opened_at - {d}, closes_at = closes_at - {d} WHERE repair_id = '{}' AND kind = 'pulse'",
            c.repair,
            d = days * 86_400
        ))
        .await;
}

/// Everything about the repair that the gate reads, as one comparable line.
async fn gate_facts(c: &Cast) -> String {
    let r = &c.repair;
    let q = |sql: String| async move { c.app.scalar(&sql).await };
    let pulse = format!("SELECT id FROM rounds WHERE repair_id = '{r}' AND kind = 'pulse'");
    format!(
        "rebuild={} pulses={} closed={} answers={} item_sum={} items={} rebuild_started={} kept={}",
        q(format!(
            "SELECT COUNT(*) FROM repairs WHERE id = '{r}' AND stage = 'rebuild'"
        ))
        .await,
        q(format!("SELECT COUNT(*) FROM ({pulse}) p")).await,
        q(format!(
            "SELECT COUNT(*) FROM rounds WHERE repair_id = '{r}' AND kind = 'pulse' AND closed_at IS NOT NULL"
        ))
        .await,
        q(format!(
            "SELECT COUNT(*) FROM round_answers WHERE round_id IN ({pulse})"
        ))
        .await,
        q(format!(
            "SELECT CAST(COALESCE(SUM(i.value), 0) AS BIGINT) FROM answer_items i JOIN round_answers a ON a.id = i.answer_id WHERE a.round_id IN ({pulse})"
        ))
        .await,
        q(format!(
            "SELECT COUNT(*) FROM answer_items i JOIN round_answers a ON a.id = i.answer_id WHERE a.round_id IN ({pulse})"
        ))
        .await,
        q(format!(
            "SELECT COALESCE(rebuild_started_at, 0) FROM repairs WHERE id = '{r}'"
        ))
        .await,
        q("SELECT COUNT(*) FROM confirmations WHERE happened = TRUE".into()).await,
    )
}

/// Every write route the server declares: each router's source (a new file of routes is
/// picked up too) and the OpenAPI document.
async fn write_routes(app: &App) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for source in crate::tidy::web_sources() {
        routes.extend(
            crate::tidy::routes_in(&source)
                .into_iter()
                .filter(|(m, _)| m != "GET"),
        );
    }
    let doc = app
        .browser()
        .json(Method::GET, "/api/v1/openapi.json", None)
        .await
        .json();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if method != "get" {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes.sort();
    routes.dedup();
    routes
}

on_both!(no_write_route_passes_the_gate, |backend| async move {
    let c = crate::repairs::cast(backend).await;
    let cid = to_rebuild(&c).await;
    // One pulse answered and closed, the next one open: results exist that must not move.
    assert_eq!(answer_pulse(&c, 3).await, StatusCode::ACCEPTED);
    age_pulses(&c, 15).await;
    let page = c.ana.get(&format!("/repairs/{}", c.repair)).await;
    assert!(
        page.body
            .contains("Not yet: 0 of 3 pulses in a row at target"),
        "{}",
        page.body
    );
    let (open_pulse_id, _) = open_pulse(&c).await;
    let (closed_pulse, _) = pulse(&c, false).await;
    let before = gate_facts(&c).await;
    assert!(
        before.starts_with("rebuild=1 pulses=2 closed=1 answers=1 item_sum=12 items=4"),
        "{before}"
    );

    let routes = write_routes(&c.app).await;
    assert!(routes.len() >= 40, "{routes:?}");
    for must in [
        ("POST", "/repairs/{id}/stage"),
        ("POST", "/api/v1/repairs/{id}/stage"),
        ("POST", "/anon/rounds/{round}/answers"),
        ("POST", "/admin/settings/gate"),
    ] {
        assert!(
            routes.iter().any(|(m, p)| m == must.0 && p == must.1),
            "{must:?} is not among {routes:?}"
        );
    }
    let org = c.app.scalar("SELECT COUNT(*) FROM organisations").await;
    assert_eq!(org, 1);
    let fill = |p: &str, round: &str| {
        let mut out = p
            .replace("{id}", &c.repair)
            .replace("{round}", round)
            .replace("{commitment}", &cid)
            .replace("{due}", &day(0))
            .replace("{token}", "no-such-token")
            .replace("{mark}", &"ab".repeat(32));
        // Any other parameter (an update, an answer, a story…) gets a well-formed unknown id.
        while let (Some(a), Some(b)) = (out.find('{'), out.find('}')) {
            out.replace_range(a..=b, &uuid::Uuid::new_v4().to_string());
        }
        out
    };
    // Pointed bodies: what someone would send to push the repair on or rewrite the pulse.
    let forms: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("from", "rebuild"), ("action", "advance")],
        vec![("from", "rebuild"), ("action", "override"), ("reason", "")],
        vec![("from", "rebuilt"), ("action", "advance")],
        vec![("kind", "pulse"), ("closes_in_days", "1")],
        // The loosest gate an admin may set: still no pass without time in rebuild.
        vec![
            ("pulses_required", "1"),
            ("target_cap", "4.0"),
            ("min_change", "0.1"),
            ("follow_through_percent", "50"),
            ("min_weeks", "1"),
            ("deception_extra_weeks", "0"),
        ],
    ];
    let bodies = vec![
        json!({}),
        json!({"from": "rebuild", "action": "advance"}),
        json!({"from": "rebuild", "action": "override"}),
        json!({"from": "rebuild", "action": "override", "reason": "   "}),
        json!({"stage": "rebuilt"}),
        json!({"kind": "pulse", "closes_in_days": 1}),
        json!({"happened": true}),
        json!({"answer": {"items": {"ability": 7, "benevolence": 7, "integrity": 7, "follow_through": 7}}, "token": {"message": "", "signature": ""}}),
    ];
    let anonymous = c.app.browser();
    let people: [(&str, &Browser); 6] = [
        ("facilitator", &c.fay),
        ("accountable", &c.lee),
        ("affected", &c.ana),
        ("outsider", &c.oz),
        ("admin", &c.admin),
        ("anonymous", &anonymous),
    ];
    let mut tried = 0;
    for (who, b) in people {
        for (method, path) in &routes {
            // Routes that would end the session this walk needs.
            if path == "/logout"
                || path == "/api/v1/session" && method == "DELETE"
                || path.ends_with("/deactivate")
            {
                continue;
            }
            for round in [&closed_pulse, &open_pulse_id] {
                if !path.contains("{round}") && round == &open_pulse_id {
                    continue;
                }
                let url = fill(path, round);
                let m = Method::from_bytes(method.as_bytes()).unwrap();
                let mut statuses = Vec::new();
                if path.starts_with("/api/") || path.starts_with("/anon/") {
                    for body in &bodies {
                        let anon;
                        let client = if path.starts_with("/anon/") {
                            anon = c.app.browser();
                            &anon
                        } else {
                            b
                        };
                        statuses.push(
                            client
                                .json(m.clone(), &url, Some(body.clone()))
                                .await
                                .status,
                        );
                        if path.starts_with("/anon/") {
                            // With the browser's cookies, too.
                            statuses.push(b.json(m.clone(), &url, Some(body.clone())).await.status);
                        }
                    }
                } else if method == "POST" {
                    for form in &forms {
                        statuses.push(b.post_form(&url, form).await.status);
                    }
                }
                tried += statuses.len();
                assert!(
                    statuses.iter().all(|s| s.as_u16() < 500),
                    "{who} {method} {url}: {statuses:?}"
                );
                let now = gate_facts(&c).await;
                assert_eq!(
                    now, before,
                    "{who} {method} {url} changed what the gate reads"
                );
            }
        }
    }
    assert!(tried > 1000, "{tried} requests tried");
    eprintln!(
        "{} write routes, {tried} requests, as 6 roles",
        routes.len()
    );

    // The gate still does not pass, so advancing is refused with the reason.
    let refused = c
        .fay
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{}/stage", c.repair),
            Some(json!({"from": "rebuild", "action": "advance"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    // The one way past: a written override, which every participant then reads.
    let over = c
        .fay
        .post_form(
            &format!("/repairs/{}/stage", c.repair),
            &[
                ("from", "rebuild"),
                ("action", "override"),
                (
                    "reason",
                    "The team is being reorganised; we close the loop in person.",
                ),
            ],
        )
        .await;
    assert_eq!(over.status, StatusCode::SEE_OTHER, "{}", over.body);
    for b in [&c.fay, &c.lee, &c.ana] {
        let page = b.get(&format!("/repairs/{}", c.repair)).await;
        assert!(
            page.body.contains("The recovery gate was overridden.")
                && page.body.contains("The team is being reorganised"),
            "every participant sees the override"
        );
    }
});
