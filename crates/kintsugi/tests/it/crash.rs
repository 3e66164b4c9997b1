//! Crash safety: the real server is SIGKILLed every few seconds under mixed load (logins,
//! updates, stage moves, commitment confirmations, anonymous answers) and restarted over the
//! same data. After every restart: each acknowledged write is there, the repair's stage obeys
//! the guardrails for the stored facts, and no token is spent without its answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_anon::Token;
use kintsugi_core::repair::{Facts, Stage, missing_to_leave};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::on_both;
use crate::rounds::{Group, fetch_token, group};

/// Kills per backend: enough to land in the middle of each kind of write, bounded for CI.
const KILLS: usize = 5;

/// One request that may meet a dead server: `None` when no answer came back.
pub async fn try_send(
    b: &Browser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Option<(StatusCode, Value)> {
    let mut req = b.client.request(method, format!("{}{path}", b.base));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.ok()?;
    let status = resp.status();
    let text = resp.text().await.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// An answer sent on the anonymous path, without cookies, as the browser sends it.
pub async fn try_redeem(
    url: &str,
    round: &str,
    token: &Token,
    comment: &str,
) -> Option<StatusCode> {
    let body = json!({
        "token": {"message": STANDARD.encode(&token.prepared), "signature": STANDARD.encode(&token.signature)},
        "answer": {"category": "communication", "comment": comment},
    });
    let resp = reqwest::Client::new()
        .post(format!("{url}/anon/rounds/{round}/answers"))
        .timeout(Duration::from_secs(30))
        .json(&body)
        .send()
        .await
        .ok()?;
    Some(resp.status())
}

/// Signs in through the login form with a fresh browser; the browser when the server said yes.
pub async fn try_login(app_url: &str, email: &str, password: &str) -> Option<Browser> {
    let b = Browser {
        base: app_url.to_owned(),
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };
    let page = b.client.get(format!("{app_url}/login")).send().await.ok()?;
    let csrf = field_value(&page.text().await.ok()?, "csrf_token")?;
    let done = b
        .client
        .post(format!("{app_url}/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .ok()?;
    (done.status() == StatusCode::SEE_OTHER).then_some(b)
}

/// The same browser (cookies and all) pointed at the restarted server's new port.
pub fn rebase(b: &Browser, url: &str) -> Browser {
    Browser {
        base: url.to_owned(),
        client: b.client.clone(),
    }
}

/// What the server acknowledged, so it must survive any crash after.
#[derive(Default)]
struct Acked {
    /// (update id, body)
    updates: Vec<(String, String)>,
    /// (round, comment)
    answers: Vec<(String, String)>,
    /// (email of the affected member, due date)
    confirmations: Vec<(String, String)>,
    sessions: Vec<Browser>,
    acknowledgments: usize,
    /// The furthest stage a move was acknowledged into.
    stage: usize,
}

struct Pending {
    round: String,
    token: Token,
    comment: String,
    /// Sent at least once without an answer coming back.
    tried: bool,
}

on_both!(kill_during_mixed_load, |backend| async move {
    let Group {
        mut app,
        fay,
        members,
        repair,
        ..
    } = group(backend, 4).await;
    let r = format!("/api/v1/repairs/{repair}");
    let shown = fay.json(Method::GET, &r, None).await.json();
    let lee_id = shown["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Lee Lead")
        .unwrap()["person_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Daily for a week up to today: each occurrence is due, so the affected side confirms it
    // (four affected members: below k, so confirmations are direct, not rounds).
    let added = members[0]
        .json(
            Method::POST,
            &format!("{r}/commitments"),
            Some(
                json!({"owner": lee_id, "statement": "Post the release plan in the support channel",
                "cadence": "daily", "count": 7, "first_due": day(-6)}),
            ),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let commitment = added.json()["id"].as_str().unwrap().to_owned();
    let mut to_confirm: Vec<(usize, String)> = (1..members.len())
        .flat_map(|m| (-6..=0).map(move |d| (m, day(d))))
        .collect();

    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut pending: Vec<Pending> = Vec::new();
    let (mut fay, mut members) = (fay, members);
    let mut round = None;
    for cycle in 0..KILLS {
        // Answers not seen sealed are sent again, as the member's page does when the server
        // holding them stopped; then the round closes, sealing what waits, and a fresh one opens.
        for p in std::mem::take(&mut pending) {
            let status = try_redeem(&app.url, &p.round, &p.token, &p.comment)
                .await
                .unwrap();
            assert!(
                status == StatusCode::ACCEPTED || (p.tried && status == StatusCode::CONFLICT),
                "answer {} sent again: {status}",
                p.comment
            );
            acked.lock().unwrap().answers.push((p.round, p.comment));
        }
        if let Some(open) = round.take() {
            let closed = fay
                .json(Method::POST, &format!("{r}/rounds/{open}/close"), None)
                .await;
            assert!(closed.status.is_success(), "{}", closed.body);
        }
        let (opened, public) = open_round_as(&fay, &repair).await;
        round = Some(opened.clone());
        let round = opened;
        for (i, m) in members.iter().enumerate() {
            let token = fetch_token(m, &repair, &round, &public).await.unwrap();
            pending.push(Pending {
                round: round.clone(),
                token,
                comment: format!("cycle {cycle} answer {i}"),
                tried: false,
            });
        }

        let stop = Arc::new(AtomicBool::new(false));
        let mut load = tokio::task::JoinSet::new();
        // Updates from the facilitator.
        {
            let (fay, r, acked, stop) = (fay.clone(), r.clone(), acked.clone(), stop.clone());
            load.spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = format!("cycle {cycle} update {i}");
                    let sent = try_send(
                        &fay,
                        Method::POST,
                        &format!("{r}/updates"),
                        Some(json!({"kind": "progress", "body": body})),
                    )
                    .await;
                    if let Some((StatusCode::CREATED, created)) = sent {
                        let id = created["id"].as_str().unwrap().to_owned();
                        acked.lock().unwrap().updates.push((id, body));
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        }
        // Logins: each acknowledged one is a session that must still open the API later.
        {
            let (url, acked, stop) = (app.url.clone(), acked.clone(), stop.clone());
            load.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(b) =
                        try_login(&url, "fay@acme.example", "a long enough password").await
                    {
                        acked.lock().unwrap().sessions.push(b);
                    }
                    tokio::time::sleep(Duration::from_millis(700)).await;
                }
            });
        }
        // The repair moving through its stages, each move checked by the guardrails.
        {
            let (fay, lee, r, acked, stop) = (
                fay.clone(),
                members[0].clone(),
                r.clone(),
                acked.clone(),
                stop.clone(),
            );
            load.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    stage_step(&fay, &lee, &r, &acked).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
        // Confirmations by the affected side.
        let confirming = {
            let todo = std::mem::take(&mut to_confirm);
            let (members, r, commitment, acked, stop) = (
                members.clone(),
                r.clone(),
                commitment.clone(),
                acked.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut left = Vec::new();
                for (m, due) in todo {
                    if stop.load(Ordering::Relaxed) {
                        left.push((m, due));
                        continue;
                    }
                    let sent = try_send(
                        &members[m],
                        Method::POST,
                        &format!("{r}/commitments/{commitment}/occurrences/{due}/confirmation"),
                        Some(json!({"happened": true})),
                    )
                    .await;
                    match sent {
                        Some((StatusCode::NO_CONTENT, _)) => acked
                            .lock()
                            .unwrap()
                            .confirmations
                            .push((format!("m{}@acme.example", m - 1), due)),
                        Some((StatusCode::CONFLICT, _)) => {}
                        other => {
                            assert!(
                                other
                                    .as_ref()
                                    .is_none_or(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE),
                                "confirmation: {other:?}"
                            );
                            left.push((m, due));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
                left
            })
        };
        // Anonymous answers: unanswered tokens are sent again after a crash, as the page does.
        let answers = {
            let (url, acked, stop) = (app.url.clone(), acked.clone(), stop.clone());
            let batch = std::mem::take(&mut pending);
            tokio::spawn(async move {
                let mut left = Vec::new();
                for mut p in batch {
                    if stop.load(Ordering::Relaxed) {
                        left.push(p);
                        continue;
                    }
                    match try_redeem(&url, &p.round, &p.token, &p.comment).await {
                        // Waiting for its epoch: held in memory, so the client keeps it until
                        // it sees it sealed; the crash may take it, and then it is sent again.
                        Some(StatusCode::ACCEPTED) => {
                            p.tried = true;
                            left.push(p);
                        }
                        // Spent by a try whose answer was lost in the crash: the answer
                        // must then be stored too.
                        Some(StatusCode::CONFLICT) if p.tried => {
                            acked.lock().unwrap().answers.push((p.round, p.comment))
                        }
                        Some(s) if s != StatusCode::SERVICE_UNAVAILABLE => {
                            panic!("answer {}: {s}", p.comment)
                        }
                        _ => {
                            p.tried = true;
                            left.push(p);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                left
            })
        };

        // Kill at a different moment each cycle, mid-load.
        tokio::time::sleep(Duration::from_millis(1500 + 400 * cycle as u64)).await;
        let (dir, url) = app.stop();
        stop.store(true, Ordering::Relaxed);
        while let Some(done) = load.join_next().await {
            done.unwrap();
        }
        to_confirm = confirming.await.unwrap();
        pending = answers.await.unwrap();

        app = App::launch(dir, url, &[], &[]).await;
        fay = rebase(&fay, &app.url);
        members = members.iter().map(|m| rebase(m, &app.url)).collect();
        check(&app, &repair, &acked).await;
    }
    let acked = acked.lock().unwrap();
    eprintln!(
        "crash ({backend:?}): {KILLS} kills; acknowledged and found again: {} updates, {} answers, {} confirmations, {} sessions, {} acknowledgments, stage {:?}",
        acked.updates.len(),
        acked.answers.len(),
        acked.confirmations.len(),
        acked.sessions.len(),
        acked.acknowledgments,
        Stage::ALL[acked.stage],
    );
    assert!(
        !acked.updates.is_empty() && !acked.answers.is_empty() && !acked.sessions.is_empty(),
        "the load wrote something"
    );
});

/// Opens a listening round as the facilitator (whose browser moves to each new port).
async fn open_round_as(fay: &Browser, repair: &str) -> (String, Vec<u8>) {
    let opened = fay
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{repair}/rounds"),
            Some(json!({"kind": "listening"})),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let body = opened.json();
    (
        body["id"].as_str().unwrap().to_owned(),
        STANDARD
            .decode(body["public_key"].as_str().unwrap())
            .unwrap(),
    )
}

/// One step of moving the repair on: what the stage needs, then the move.
async fn stage_step(fay: &Browser, lee: &Browser, r: &str, acked: &Mutex<Acked>) {
    let Some((StatusCode::OK, shown)) = try_send(fay, Method::GET, r, None).await else {
        return;
    };
    let stage = shown["stage"].as_str().unwrap().to_owned();
    match stage.as_str() {
        "acknowledge" => {
            let sent = try_send(
                lee,
                Method::POST,
                &format!("{r}/acknowledgments"),
                Some(json!({"body": "I changed the dates without telling you. I'm sorry; I will post every change first."})),
            )
            .await;
            if let Some((StatusCode::NO_CONTENT, _)) = sent {
                acked.lock().unwrap().acknowledgments += 1;
            }
        }
        "understand" => {
            try_send(
                fay,
                Method::POST,
                &format!("{r}/no-round-reason"),
                Some(json!({"reason": "The team asked to talk it through in person."})),
            )
            .await;
            try_send(
                fay,
                Method::POST,
                &format!("{r}/causes"),
                Some(json!({"category": "communication", "description": "Release dates changed in a channel support is not in."})),
            )
            .await;
        }
        _ => {}
    }
    if matches!(stage.as_str(), "rebuild" | "rebuilt" | "closed") {
        return;
    }
    let moved = try_send(
        fay,
        Method::POST,
        &format!("{r}/stage"),
        Some(json!({"from": stage, "action": "advance"})),
    )
    .await;
    if let Some((StatusCode::OK, to)) = moved {
        let to = Stage::parse(to["stage"].as_str().unwrap()).unwrap();
        let at = Stage::ALL.iter().position(|s| *s == to).unwrap();
        let mut acked = acked.lock().unwrap();
        acked.stage = acked.stage.max(at);
    }
}

/// Everything acknowledged is stored, and what is stored is whole.
async fn check(app: &App, repair: &str, acked: &Mutex<Acked>) {
    let (updates, answers, confirmations, sessions, acks, acked_stage) = {
        let a = acked.lock().unwrap();
        (
            a.updates.clone(),
            a.answers.clone(),
            a.confirmations.clone(),
            a.sessions.clone(),
            a.acknowledgments,
            a.stage,
        )
    };
    for (id, body) in &updates {
        let n = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM update_versions WHERE update_id = '{id}' AND version = 1 AND body = '{body}'"
            ))
            .await;
        assert_eq!(n, 1, "acknowledged update {id} ({body}) is stored");
    }
    for (round, comment) in &answers {
        let n = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM round_answers WHERE round_id = '{round}' AND comment = '{comment}'"
            ))
            .await;
        assert_eq!(n, 1, "acknowledged answer {comment:?} is stored once");
    }
    for (email, due) in &confirmations {
        let n = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM confirmation_receipts r JOIN people p ON p.id = r.person_id \
                 WHERE p.email = '{email}' AND r.due = '{due}'"
            ))
            .await;
        assert_eq!(n, 1, "acknowledged confirmation by {email} for {due}");
    }
    for b in &sessions {
        let b = rebase(b, &app.url);
        let page = b.json(Method::GET, "/api/v1/repairs", None).await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "an acknowledged login still holds"
        );
    }

    // No token spent without its answer, no answer without its spent token.
    let uneven = app
        .scalar(
            "SELECT COUNT(*) FROM rounds r WHERE \
             (SELECT COUNT(*) FROM round_spent s WHERE s.round_id = r.id) <> \
             (SELECT COUNT(*) FROM round_answers a WHERE a.round_id = r.id)",
        )
        .await;
    assert_eq!(uneven, 0, "every spent token has exactly its answer");
    // A confirmation and its receipt are written together.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM confirmations").await,
        app.scalar("SELECT COUNT(*) FROM confirmation_receipts")
            .await,
        "confirmations and receipts match"
    );
    // The update log: numbered 1..n without gaps, each entry with its first version.
    let id = format!("'{repair}'");
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) - COALESCE(MAX(seq), 0) FROM updates WHERE repair_id = {id}"
        ))
        .await,
        0,
        "update numbers have no gaps"
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM updates u WHERE NOT EXISTS \
             (SELECT 1 FROM update_versions v WHERE v.update_id = u.id AND v.version = 1)"
        )
        .await,
        0,
        "every update has its first version"
    );

    // The stage obeys the guardrails for the facts stored beside it.
    let stage = app
        .scalar(&format!(
            "SELECT CAST(CASE stage WHEN 'acknowledge' THEN 0 WHEN 'understand' THEN 1 WHEN 'act' THEN 2 \
             WHEN 'rebuild' THEN 3 WHEN 'rebuilt' THEN 4 ELSE 5 END AS BIGINT) FROM repairs WHERE id = {id}"
        ))
        .await as usize;
    let count = |sql: String| async move { app.scalar(&sql).await as usize };
    let facts = Facts {
        stage: Some(Stage::ALL[stage]),
        acknowledgments: count(format!(
            "SELECT COUNT(*) FROM acknowledgments WHERE repair_id = {id}"
        ))
        .await,
        closed_listening_rounds: count(format!(
            "SELECT COUNT(*) FROM rounds WHERE repair_id = {id} AND kind = 'listening' AND status = 'closed'"
        ))
        .await,
        no_round_reason: count(format!(
            "SELECT COUNT(*) FROM repairs WHERE id = {id} AND no_round_reason IS NOT NULL"
        ))
        .await
            > 0,
        causes: count(format!(
            "SELECT COUNT(*) FROM causes WHERE repair_id = {id}"
        ))
        .await,
        scheduled_commitments: count(format!(
            "SELECT COUNT(*) FROM commitments WHERE repair_id = {id}"
        ))
        .await,
        gate_passes: None,
    };
    assert!(stage <= 3, "no move past rebuild was asked for: {facts:?}");
    for earlier in &Stage::ALL[..stage] {
        let missing = missing_to_leave(*earlier, &facts);
        assert!(
            missing.is_empty(),
            "stored stage {:?} left {earlier:?} without {missing:?}",
            Stage::ALL[stage]
        );
    }
    assert!(
        stage >= acked_stage,
        "an acknowledged move to {:?} survived",
        Stage::ALL[acked_stage]
    );
    assert!(
        facts.acknowledgments >= acks,
        "acknowledged acknowledgments stored"
    );
    // One audit entry per move, written in the move's transaction.
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_log WHERE action = 'repair.stage'".to_owned()).await,
        stage,
        "each stored move has its audit entry and no more"
    );
}
