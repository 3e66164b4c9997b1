//! Anonymous listening rounds over HTTP: tokens, redemption, refusals and the k rule.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_anon::{Token, client};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::on_both;

pub struct Group {
    pub app: App,
    pub admin: Browser,
    pub fay: Browser,
    pub members: Vec<Browser>,
    /// The invitation links of the affected team's members, in order.
    pub links: Vec<String>,
    pub repair: String,
}

/// A leader↔team repair: Lee accountable, a team of `n` on the affected side, Fay facilitating.
pub async fn group(backend: Backend, n: usize) -> Group {
    group_titled(backend, n, "Support was kept in the dark").await
}

/// `group` with the repair's title given.
pub async fn group_titled(backend: Backend, n: usize, title: &str) -> Group {
    group_in(App::start(backend).await, n, title).await
}

/// `group_titled` on a server already started.
pub async fn group_in(app: App, n: usize, title: &str) -> Group {
    let admin = app.setup().await;
    let team = create_team(&admin, "Support").await;
    let (_, fay) = member(
        &app,
        &admin,
        "Fay Facilitator",
        "fay@acme.example",
        &["facilitator"],
    )
    .await;
    let (lee_id, lee) = member(&app, &admin, "Lee Lead", "lee@acme.example", &[]).await;
    let mut members = vec![lee];
    let mut links = Vec::new();
    for i in 0..n {
        let id = add_person(
            &admin,
            &format!("Member {i}"),
            &format!("m{i}@acme.example"),
            &team,
            &[],
        )
        .await;
        let link = invitation_link(&admin, &id).await;
        let b = app.browser();
        b.get_abs(&link).await;
        let path = link.trim_start_matches(&app.url).to_owned();
        assert_eq!(
            b.post_form(&format!("{path}/continue"), &[]).await.status,
            StatusCode::SEE_OTHER
        );
        members.push(b);
        links.push(link);
    }
    let repair = fay
        .json(
            Method::POST,
            "/api/v1/repairs",
            Some(json!({"title": title, "summary": "Release dates changed without telling support.",
                "breach": "broken_promise", "scope": "leader_team", "accountable_people": [lee_id], "affected_teams": [team]})),
        )
        .await;
    assert_eq!(repair.status, StatusCode::CREATED, "{}", repair.body);
    Group {
        app,
        admin,
        fay,
        members,
        links,
        repair: repair.json()["id"].as_str().unwrap().to_owned(),
    }
}

pub async fn open_round(g: &Group) -> (String, Vec<u8>) {
    let opened = g
        .fay
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{}/rounds", g.repair),
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

/// What a member's client does: blind, ask for the signature, unblind.
pub async fn fetch_token(
    b: &Browser,
    repair: &str,
    round: &str,
    public: &[u8],
) -> Result<Token, StatusCode> {
    let (pending, blinded) =
        client::Pending::start(round.parse().unwrap(), public, rand_secret()).unwrap();
    let got = b
        .json(
            Method::POST,
            &format!("/repairs/{repair}/rounds/{round}/token"),
            Some(json!({"blinded_message": STANDARD.encode(blinded)})),
        )
        .await;
    if got.status != StatusCode::OK {
        return Err(got.status);
    }
    Ok(pending
        .finish(
            &STANDARD
                .decode(got.json()["blind_signature"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap())
}

fn rand_secret() -> [u8; 32] {
    let mut s = [0u8; 32];
    s.iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (uuid::Uuid::new_v4().as_bytes()[i % 16]) ^ i as u8);
    s
}

/// Redeems a token on the anonymous path, with no cookie, as the browser does.
pub async fn redeem(app: &App, round: &str, token: &Token, category: &str, comment: &str) -> Page {
    let anon = reqwest::Client::new();
    let body = json!({
        "token": {"message": STANDARD.encode(&token.prepared), "signature": STANDARD.encode(&token.signature)},
        "answer": {"category": category, "comment": comment},
    });
    let resp = anon
        .post(format!("{}/anon/rounds/{round}/answers", app.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    Page {
        status,
        location: None,
        headers,
        body: resp.text().await.unwrap(),
    }
}

/// The facilitator closes the round through the API; the close seals what waits.
pub async fn close_round(g: &Group, round: &str) {
    let closed = g
        .fay
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{}/rounds/{round}/close", g.repair),
            None,
        )
        .await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT, "{}", closed.body);
}

/// The round's marks download, as any client gets it.
pub async fn marks(app: &App, round: &str) -> serde_json::Value {
    let got = reqwest::get(format!("{}/anon/rounds/{round}/marks", app.url))
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    got.json().await.unwrap()
}

/// Whether the token's answer is sealed, as a member's client finds out: in the download.
pub async fn is_sealed(app: &App, round: &str, token: &Token) -> bool {
    let mark = token.spent_mark();
    marks(app, round).await["sealed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == &mark)
}

/// Waits (up to 20 s) until the round's download holds `n` sealed marks.
pub async fn wait_sealed(app: &App, round: &str, n: usize) {
    for _ in 0..200 {
        if marks(app, round).await["sealed"].as_array().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{n} answers were not sealed: {}", marks(app, round).await);
}

on_both!(a_listening_round, |backend| async move {
    let g = group(backend, 5).await;
    let (round, public) = open_round(&g).await;
    assert_eq!(
        crate::instances::round_keys(&g.app).await,
        1,
        "the secret key is in the key store, sealed"
    );
    let page = g.members[1].get(&format!("/repairs/{}", g.repair)).await;
    assert!(
        page.body.contains(&format!("data-round=\"{round}\""))
            && page.body.contains("Send anonymously")
    );
    let fingerprint = kintsugi_anon::fingerprint(&public);
    assert!(
        page.body.contains(&fingerprint),
        "members can see the key's fingerprint"
    );

    // Everyone in the repair gets one token; a second request is refused.
    let mut tokens = Vec::new();
    for b in &g.members {
        tokens.push(
            fetch_token(b, &g.repair, &round, &public)
                .await
                .expect("a token"),
        );
    }
    assert_eq!(
        fetch_token(&g.members[0], &g.repair, &round, &public)
            .await
            .err(),
        Some(StatusCode::CONFLICT)
    );
    assert_eq!(
        fetch_token(&g.fay, &g.repair, &round, &public).await.err(),
        Some(StatusCode::FORBIDDEN),
        "the facilitator does not answer"
    );

    // Four answer; while open nobody sees anything.
    for (i, t) in tokens.iter().take(4).enumerate() {
        let r = redeem(
            &g.app,
            &round,
            t,
            "communication",
            &format!("Nobody told us, {i}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    let listed = g
        .fay
        .json(
            Method::GET,
            &format!("/api/v1/repairs/{}/rounds", g.repair),
            None,
        )
        .await
        .json();
    assert!(
        listed[0]["results"].is_null() && listed[0]["suppressed"].is_null(),
        "no counts while open: {listed}"
    );
    assert!(
        !g.fay
            .get(&format!("/repairs/{}", g.repair))
            .await
            .body
            .contains("Nobody told us")
    );

    // Refusals store nothing; an answer sent again before its seal is held once.
    assert_eq!(
        redeem(&g.app, &round, &tokens[0], "process", "again")
            .await
            .status,
        StatusCode::ACCEPTED,
        "sent again while waiting"
    );
    let mut forged = tokens[4].clone();
    forged.signature[0] ^= 1;
    assert_eq!(
        redeem(&g.app, &round, &forged, "process", "forged")
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let other = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        redeem(&g.app, &other, &tokens[4], "process", "wrong round")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let with_cookie = reqwest::Client::new()
        .post(format!("{}/anon/rounds/{round}/answers", g.app.url))
        .header("cookie", "kintsugi_session=whatever")
        .json(&json!({"token": {"message": STANDARD.encode(&tokens[4].prepared), "signature": STANDARD.encode(&tokens[4].signature)}, "answer": {"comment": "cookie"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), StatusCode::BAD_REQUEST);
    assert!(
        with_cookie
            .text()
            .await
            .unwrap()
            .contains("takes no cookies")
    );
    assert_eq!(
        marks(&g.app, &round).await["sealed"],
        json!([]),
        "four answers wait for a fifth (k = 5): nothing is sealed, and nothing refused is"
    );

    // Closed with four answers: below k, nothing is shown, not even a count.
    close_round(&g, &round).await;
    assert_eq!(
        marks(&g.app, &round).await["sealed"]
            .as_array()
            .unwrap()
            .len(),
        4,
        "the close sealed the four that waited, and the one sent twice once"
    );
    assert_eq!(
        redeem(&g.app, &round, &tokens[0], "process", "again")
            .await
            .status,
        StatusCode::CONFLICT,
        "sent again after its seal"
    );
    assert_eq!(
        crate::instances::round_keys(&g.app).await,
        0,
        "closing destroys the key"
    );
    let page = g.fay.get(&format!("/repairs/{}", g.repair)).await;
    assert!(
        page.body
            .contains("Fewer than 5 answered; nothing is shown.")
    );
    assert!(!page.body.contains("Nobody told us") && !page.body.contains("4 people answered"));
    assert_eq!(
        redeem(&g.app, &round, &tokens[4], "process", "late")
            .await
            .status,
        StatusCode::CONFLICT,
        "closed"
    );
    assert_eq!(
        fetch_token(&g.members[5], &g.repair, &round, &public)
            .await
            .err(),
        Some(StatusCode::CONFLICT)
    );

    // A second round reaches k: results show, shuffled and undated.
    let (round2, public2) = open_round(&g).await;
    for (i, b) in g.members.iter().enumerate().take(5) {
        let t = fetch_token(b, &g.repair, &round2, &public2).await.unwrap();
        let category = if i < 3 { "communication" } else { "process" };
        assert_eq!(
            redeem(
                &g.app,
                &round2,
                &t,
                category,
                &format!("Round two comment {i}")
            )
            .await
            .status,
            StatusCode::ACCEPTED
        );
    }
    let owner_check = g.members[0].get(&format!("/repairs/{}", g.repair)).await;
    assert!(
        !owner_check.body.contains("Round two comment"),
        "nothing while open"
    );
    close_round(&g, &round2).await;
    let listed = g.members[2]
        .json(
            Method::GET,
            &format!("/api/v1/repairs/{}/rounds", g.repair),
            None,
        )
        .await
        .json();
    let second = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == round2.as_str())
        .unwrap();
    let results = &second["results"];
    assert_eq!(results["answered"], 5);
    assert_eq!(
        results["categories"][0],
        json!(["Communication breakdown", 3])
    );
    assert_eq!(results["comments"].as_array().unwrap().len(), 5);
    let page = g.members[2].get(&format!("/repairs/{}", g.repair)).await;
    assert!(page.body.contains("5 people answered") && page.body.contains("Round two comment 4"));

    // The understand guardrail now sees a closed round.
    let lee = &g.members[0];
    lee.json(
        Method::POST,
        &format!("/api/v1/repairs/{}/acknowledgments", g.repair),
        Some(json!({"body": "I kept support in the dark. I am sorry."})),
    )
    .await;
    g.fay
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{}/stage", g.repair),
            Some(json!({"from": "acknowledge", "action": "advance"})),
        )
        .await;
    g.fay.json(Method::POST, &format!("/api/v1/repairs/{}/causes", g.repair), Some(json!({"category": "communication", "description": "Dates changed in a channel support cannot see."}))).await;
    let moved = g
        .fay
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{}/stage", g.repair),
            Some(json!({"from": "understand", "action": "advance"})),
        )
        .await;
    assert_eq!(moved.json()["stage"], "act", "{}", moved.body);
    let _ = &g.admin;
});

#[tokio::test]
async fn answering_from_the_command_line() {
    let g = group(Backend::Sqlite, 5).await;
    let (round, public) = open_round(&g).await;
    let respond_with = |link: &str, extra: &[&str]| {
        std::process::Command::new(BIN)
            .args([
                "respond",
                "--server",
                &g.app.url,
                "--repair",
                &g.repair,
                "--invitation",
                link,
            ])
            .args([
                "--category",
                "process",
                "--comment",
                "Answered from the command line.",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let respond = |link: &str| respond_with(link, &[]);
    let out = respond(&g.links[0]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Received. It waits to be sealed") && stdout.contains("Reply capability"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&kintsugi_anon::fingerprint(&public)),
        "it shows the key fingerprint"
    );
    let again = respond(&g.links[0]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already issued") && err.contains("--replace"),
        "one token per member, from any client, and the way out: {err}"
    );
    // A member whose key is on a device they lost (they only viewed the round there) gets one
    // replacement, and no second.
    fetch_token(&g.members[2], &g.repair, &round, &public)
        .await
        .unwrap();
    let replaced = respond_with(&g.links[1], &["--replace"]);
    assert!(
        replaced.status.success(),
        "{}",
        String::from_utf8_lossy(&replaced.stderr)
    );
    let twice = respond_with(&g.links[1], &["--replace"]);
    assert!(!twice.status.success());
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("already replaced once"),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
    for b in g.members.iter().skip(3).take(3) {
        let t = fetch_token(b, &g.repair, &round, &public).await.unwrap();
        redeem(&g.app, &round, &t, "communication", "From the browser.").await;
    }
    close_round(&g, &round).await;
    let page = g.fay.get(&format!("/repairs/{}", g.repair)).await;
    assert!(
        page.body.contains("Answered from the command line."),
        "the CLI's answer counts like any other"
    );
    assert!(
        page.body.contains(
            "1 key was replaced; at most 1 answer may be from someone who answered twice."
        ),
        "the results say what the replacement permits"
    );
}

on_both!(a_crash_loses_no_acknowledged_answer, |backend| async move {
    let g = group(backend, 11).await;
    let (round, public) = open_round(&g).await;
    let mut tokens = Vec::new();
    for b in &g.members {
        tokens.push(fetch_token(b, &g.repair, &round, &public).await.unwrap());
    }
    // Answers arrive all at once; the server is killed (SIGKILL) while they do.
    let url = g.app.url.clone();
    let sends: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let body = json!({
                "token": {"message": STANDARD.encode(&t.prepared), "signature": STANDARD.encode(&t.signature)},
                "answer": {"comment": format!("crash-{i}")},
            });
            let url = format!("{url}/anon/rounds/{round}/answers");
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(i as u64 * 3)).await;
                let sent = reqwest::Client::new().post(url).json(&body).send().await;
                sent.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let Group {
        app, fay, repair, ..
    } = g;
    let (dir, db) = app.stop();
    let mut acked = Vec::new();
    for (i, s) in sends.into_iter().enumerate() {
        if s.await.unwrap() == 202 {
            acked.push(i);
        }
    }
    eprintln!(
        "crash test: {} of {} answers accepted (waiting) before the kill",
        acked.len(),
        tokens.len()
    );
    let app = App::launch(dir, db, &[], &[]).await;
    let answers = app.scalar("SELECT COUNT(*) FROM round_answers").await;
    let spent = app.scalar("SELECT COUNT(*) FROM round_spent").await;
    assert_eq!(answers, spent, "no token is spent without its answer");
    // The clients' side of the contract: an answer not in the marks, whose server is no longer
    // running, is sent again; whatever was never accepted is sent too.
    let now = marks(&app, &round).await;
    let running = now["running"].as_array().unwrap().clone();
    for (i, t) in tokens.iter().enumerate() {
        if is_sealed(&app, &round, t).await {
            continue;
        }
        assert!(!running.is_empty(), "the new server lists itself");
        let again = redeem(&app, &round, t, "process", &format!("retry-{i}")).await;
        assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    }
    // At least k + 1 wait, so an epoch seals a batch (carrying one or more to the close).
    wait_sealed(&app, &round, 5).await;
    // The facilitator's session survives the restart; cookies do not depend on the port.
    let fay = Browser {
        base: app.url.clone(),
        client: fay.client,
    };
    let closed = fay
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{repair}/rounds/{round}/close"),
            None,
        )
        .await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT, "{}", closed.body);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM round_answers").await,
        tokens.len() as i64,
        "every answer sealed once, none twice"
    );
});

/// What the browser sends for a rating round.
async fn rate(app: &App, round: &str, token: &Token, rating: Value) -> StatusCode {
    let body = json!({
        "token": {"message": STANDARD.encode(&token.prepared), "signature": STANDARD.encode(&token.signature)},
        "answer": {"rating": rating, "comment": "It felt honest."},
    });
    reqwest::Client::new()
        .post(format!("{}/anon/rounds/{round}/answers", app.url))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

on_both!(
    the_affected_side_rates_the_acknowledgment,
    |backend| async move {
        let g = group(backend, 5).await;
        let base = format!("/api/v1/repairs/{}", g.repair);
        let early = g
            .fay
            .json(
                Method::POST,
                &format!("{base}/rounds"),
                Some(json!({"kind": "genuineness"})),
            )
            .await;
        assert_eq!(
            early.status,
            StatusCode::CONFLICT,
            "nothing to rate before an acknowledgment"
        );
        g.members[0]
            .json(
                Method::POST,
                &format!("{base}/acknowledgments"),
                Some(json!({"body": "I kept you in the dark. I am sorry."})),
            )
            .await;
        let opened = g
            .fay
            .json(
                Method::POST,
                &format!("{base}/rounds"),
                Some(json!({"kind": "genuineness"})),
            )
            .await;
        assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
        let round = opened.json()["id"].as_str().unwrap().to_owned();
        let public = STANDARD
            .decode(opened.json()["public_key"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            fetch_token(&g.members[0], &g.repair, &round, &public)
                .await
                .err(),
            Some(StatusCode::FORBIDDEN),
            "the accountable side does not rate itself"
        );
        let page = g.members[1].get(&format!("/repairs/{}", g.repair)).await;
        assert!(
            page.body
                .contains("How genuine did the acknowledgment feel?")
                && page.body.contains("name=\"rating\"")
        );

        let mut tokens = Vec::new();
        for b in g.members.iter().skip(1) {
            tokens.push(fetch_token(b, &g.repair, &round, &public).await.unwrap());
        }
        assert_eq!(
            rate(&g.app, &round, &tokens[0], json!(8)).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            rate(&g.app, &round, &tokens[0], json!(null)).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        for (t, r) in tokens.iter().zip([6, 5, 6, 7, 5]) {
            assert_eq!(
                rate(&g.app, &round, t, json!(r)).await,
                StatusCode::ACCEPTED
            );
        }
        g.fay
            .json(Method::POST, &format!("{base}/rounds/{round}/close"), None)
            .await;
        let page = g.fay.get(&format!("/repairs/{}", g.repair)).await;
        assert!(
            page.body
                .contains("How genuine it felt, on average: <strong>5.8 of 7</strong>"),
            "{}",
            page.body
        );
        let listed = g
            .fay
            .json(Method::GET, &format!("{base}/rounds"), None)
            .await
            .json();
        assert_eq!(listed[0]["rating"]["mean_tenths"], 58);
    }
);

/// A token with a known secret, redeemed with its reply check: what the browser does.
async fn answer_with_secret(
    g: &Group,
    member: usize,
    round: &str,
    public: &[u8],
    comment: &str,
) -> String {
    let mut secret = [0u8; 32];
    secret[0] = member as u8 + 1;
    secret[31] = 0x5a;
    let (pending, blinded) =
        client::Pending::start(round.parse().unwrap(), public, secret).unwrap();
    let secret_hex = pending.secret_hex.clone();
    let signed = g.members[member]
        .json(
            Method::POST,
            &format!("/repairs/{}/rounds/{round}/token", g.repair),
            Some(json!({"blinded_message": STANDARD.encode(blinded)})),
        )
        .await
        .json();
    let token = pending
        .finish(
            &STANDARD
                .decode(signed["blind_signature"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
    let capability = client::reply_capability(&secret_hex);
    let body = json!({
        "token": {"message": STANDARD.encode(&token.prepared), "signature": STANDARD.encode(&token.signature)},
        "answer": {"category": "communication", "comment": comment},
        "reply_check": client::reply_check(&capability),
    });
    let sent = reqwest::Client::new()
        .post(format!("{}/anon/rounds/{round}/answers", g.app.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    capability
}

async fn anon_post(app: &App, path: &str, body: Value) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", app.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

on_both!(
    replies_stay_between_the_facilitator_and_the_author,
    |backend| async move {
        let g = group(backend, 5).await;
        let (round, public) = open_round(&g).await;
        let mut capabilities = Vec::new();
        for m in 0..5 {
            capabilities.push(
                answer_with_secret(&g, m, &round, &public, &format!("comment by number {m}")).await,
            );
        }
        close_round(&g, &round).await;
        let (status, _) = anon_post(
            &g.app,
            "/anon/replies",
            json!({"capability": capabilities[2], "body": "too early"}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "no reply to answer yet");

        // The facilitator replies to one comment, knowing only its random id.
        let listed = g
            .fay
            .json(
                Method::GET,
                &format!("/api/v1/repairs/{}/rounds", g.repair),
                None,
            )
            .await
            .json();
        let comment = listed[0]["results"]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["text"] == "comment by number 2")
            .unwrap();
        let answer_id = comment["id"].as_str().unwrap().to_owned();
        let sent = g
            .fay
            .post_form(
                &format!(
                    "/repairs/{}/rounds/{round}/answers/{answer_id}/replies",
                    g.repair
                ),
                &[("body", "Which dates moved?")],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER);
        assert_eq!(
            g.members[3]
                .post_form(
                    &format!(
                        "/repairs/{}/rounds/{round}/answers/{answer_id}/replies",
                        g.repair
                    ),
                    &[("body", "me too")]
                )
                .await
                .status,
            StatusCode::FORBIDDEN,
            "only the facilitator replies"
        );

        // Only the author, through the capability, opens the reply in the round's threads
        // download, which is the same for everyone; everyone else sees nothing of it.
        let download = reqwest::get(format!("{}/anon/rounds/{round}/threads", g.app.url))
            .await
            .unwrap();
        assert_eq!(download.status(), StatusCode::OK);
        let raw = download.text().await.unwrap();
        let again = reqwest::get(format!("{}/anon/rounds/{round}/threads", g.app.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            raw, again,
            "the download is the same, byte for byte, for everyone"
        );
        assert!(
            !raw.contains("Which dates moved?") && !raw.contains("comment by number 2"),
            "the download is sealed: {raw}"
        );
        let download: kintsugi_app::rounds::threads::Threads = serde_json::from_str(&raw).unwrap();
        assert_eq!(download.threads.len(), 1, "one comment has a reply");
        let thread = kintsugi_app::rounds::threads::open_thread(
            round.parse().unwrap(),
            &capabilities[2],
            &download,
        )
        .expect("the author opens their thread");
        assert_eq!(thread["comment"], "comment by number 2");
        assert_eq!(thread["replies"][0]["body"], "Which dates moved?");
        assert!(
            kintsugi_app::rounds::threads::open_thread(
                round.parse().unwrap(),
                &capabilities[3],
                &download
            )
            .is_none(),
            "another author finds no thread"
        );
        for b in &g.members {
            let page = b.get(&format!("/repairs/{}", g.repair)).await;
            assert!(
                !page.body.contains("Which dates moved?"),
                "no participant sees the thread on the page"
            );
        }
        let (status, _) = anon_post(
            &g.app,
            "/anon/replies",
            json!({"capability": "0".repeat(64), "body": "guess"}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The author answers back, still anonymous; the facilitator sees it under the comment.
        let (status, _) = anon_post(
            &g.app,
            "/anon/replies",
            json!({"capability": capabilities[2], "body": "The launch and the hotfix."}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let page = g.fay.get(&format!("/repairs/{}", g.repair)).await;
        assert!(
            page.body
                .contains("<strong>The author:</strong> The launch and the hotfix.")
        );
        assert!(
            page.body
                .contains("<strong>You:</strong> Which dates moved?")
        );
        let with_cookie = reqwest::Client::new()
            .get(format!("{}/anon/rounds/{round}/threads", g.app.url))
            .header("cookie", "kintsugi_session=x")
            .send()
            .await
            .unwrap();
        assert_eq!(with_cookie.status(), StatusCode::BAD_REQUEST);
    }
);

on_both!(
    causes_link_comments_and_the_affected_side_agrees,
    |backend| async move {
        let g = group(backend, 5).await;
        let base = format!("/api/v1/repairs/{}", g.repair);
        assert_eq!(
            g.fay
                .json(
                    Method::POST,
                    &format!("{base}/rounds"),
                    Some(json!({"kind": "causes"}))
                )
                .await
                .status,
            StatusCode::CONFLICT
        );
        let (round, public) = open_round(&g).await;
        for (i, b) in g.members.iter().enumerate() {
            let t = fetch_token(b, &g.repair, &round, &public).await.unwrap();
            redeem(
                &g.app,
                &round,
                &t,
                "communication",
                &format!("support text {i}"),
            )
            .await;
        }
        g.fay
            .json(Method::POST, &format!("{base}/rounds/{round}/close"), None)
            .await;
        let listed = g
            .fay
            .json(Method::GET, &format!("{base}/rounds"), None)
            .await
            .json();
        let comments = listed[0]["results"]["comments"].as_array().unwrap().clone();
        let id_of = |text: &str| {
            comments.iter().find(|c| c["text"] == text).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let support = vec![id_of("support text 1"), id_of("support text 4")];
        let bad = g
        .fay
        .json(Method::POST, &format!("{base}/causes"), Some(json!({"category": "communication", "description": "x", "support": [uuid::Uuid::new_v4()]})))
        .await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "only comments the repair can see"
        );
        let named = g
        .fay
        .json(Method::POST, &format!("{base}/causes"), Some(json!({"category": "communication", "description": "Dates moved in a closed channel.", "support": support})))
        .await;
        assert_eq!(named.status, StatusCode::NO_CONTENT, "{}", named.body);
        let page = g.members[2].get(&format!("/repairs/{}", g.repair)).await;
        assert!(
            page.body.contains("“support text 1”") && page.body.contains("“support text 4”"),
            "supporting comments under the cause"
        );

        // The affected side says, anonymously, whether the causes capture it.
        let opened = g
            .fay
            .json(
                Method::POST,
                &format!("{base}/rounds"),
                Some(json!({"kind": "causes"})),
            )
            .await;
        assert_eq!(opened.status, StatusCode::CREATED);
        let agreement = opened.json()["id"].as_str().unwrap().to_owned();
        let key = STANDARD
            .decode(opened.json()["public_key"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            fetch_token(&g.members[0], &g.repair, &agreement, &key)
                .await
                .err(),
            Some(StatusCode::FORBIDDEN)
        );
        for (i, b) in g.members.iter().skip(1).enumerate() {
            let t = fetch_token(b, &g.repair, &agreement, &key).await.unwrap();
            if i == 0 {
                assert_eq!(
                    redeem(&g.app, &agreement, &t, "maybe", "").await.status,
                    StatusCode::UNPROCESSABLE_ENTITY
                );
            }
            let vote = if i == 4 { "disagree" } else { "agree" };
            assert_eq!(
                redeem(&g.app, &agreement, &t, vote, "").await.status,
                StatusCode::ACCEPTED
            );
        }
        g.fay
            .json(
                Method::POST,
                &format!("{base}/rounds/{agreement}/close"),
                None,
            )
            .await;
        let page = g.members[0].get(&format!("/repairs/{}", g.repair)).await;
        assert!(page.body.contains("5 people answered: <strong>4 agree</strong> the causes capture what went wrong, 1 do not."), "{}", page.body);
    }
);

on_both!(
    in_a_pair_the_affected_person_decides_what_is_shared,
    |backend| async move {
        let c = crate::repairs::cast(backend).await;
        let base = format!("/api/v1/repairs/{}", c.repair);
        c.lee
            .json(
                Method::POST,
                &format!("{base}/acknowledgments"),
                Some(json!({"body": "I missed the date. I am sorry."})),
            )
            .await;
        let opened = c
            .fay
            .json(
                Method::POST,
                &format!("{base}/rounds"),
                Some(json!({"kind": "genuineness"})),
            )
            .await
            .json();
        let round = opened["id"].as_str().unwrap().to_owned();
        let public = STANDARD
            .decode(opened["public_key"].as_str().unwrap())
            .unwrap();
        let t = fetch_token(&c.ana, &c.repair, &round, &public)
            .await
            .unwrap();
        assert_eq!(
            rate(&c.app, &round, &t, json!(6)).await,
            StatusCode::ACCEPTED
        );
        c.fay
            .json(Method::POST, &format!("{base}/rounds/{round}/close"), None)
            .await;

        // A pair can never reach k: the affected person's answer is theirs and the facilitator's.
        let page = format!("/repairs/{}", c.repair);
        for insider in [&c.ana, &c.fay] {
            assert!(
                insider
                    .get(&page)
                    .await
                    .body
                    .contains("How genuine it felt, on average: <strong>6.0 of 7</strong>")
            );
        }
        let lee = c.lee.get(&page).await;
        assert!(
            !lee.body.contains("6.0 of 7")
                && lee
                    .body
                    .contains("a coarse direction is shown only if they choose to share it")
        );
        assert!(
            c.lee
                .json(Method::GET, &format!("{base}/rounds"), None)
                .await
                .json()[0]["rating"]
                .is_null()
        );

        // Only the affected person decides; then the accountable person sees a coarse direction only.
        assert_eq!(
            c.lee
                .post_form(&format!("{page}/pair-consent"), &[("share", "yes")])
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            c.ana
                .post_form(&format!("{page}/pair-consent"), &[("share", "yes")])
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        let lee = c.lee.get(&page).await;
        assert!(
            lee.body
                .contains("as a coarse direction: <strong>felt genuine</strong>")
                && !lee.body.contains("6.0 of 7")
        );
        c.ana
            .post_form(&format!("{page}/pair-consent"), &[("share", "no")])
            .await;
        assert!(
            !c.lee.get(&page).await.body.contains("felt genuine"),
            "consent can be taken back"
        );
    }
);

on_both!(
    confirmations_go_anonymous_from_k_affected_people,
    |backend| async move {
        let g = group(backend, 5).await;
        let base = format!("/api/v1/repairs/{}", g.repair);
        let lee = &g.members[0];
        let lee_id = lee.json(Method::GET, "/api/v1/me", None).await.json()["person"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let today = day(0);
        let made = lee
        .json(Method::POST, &format!("{base}/commitments"), Some(json!({"owner": lee_id, "statement": "Post the release plan to support", "due": today})))
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let commitment = made.json()["id"].as_str().unwrap().to_owned();

        // Five on the affected side reach k: the due occurrence gets its own anonymous round.
        let page = g.members[1].get(&format!("/repairs/{}", g.repair)).await;
        assert!(
            page.body
                .contains("Did this happen? “Post the release plan to support” by Lee Lead"),
            "{}",
            page.body
        );
        assert!(
            !page.body.contains(&format!("It happened ({today})")),
            "no identified confirmation buttons"
        );
        let direct = g.members[1]
            .json(
                Method::POST,
                &format!("{base}/commitments/{commitment}/occurrences/{today}/confirmation"),
                Some(json!({"happened": true})),
            )
            .await;
        assert_eq!(direct.status, StatusCode::CONFLICT);
        assert!(
            direct.json()["detail"]
                .as_str()
                .unwrap()
                .contains("anonymous")
        );

        let rounds = g.members[1]
            .json(Method::GET, &format!("{base}/rounds"), None)
            .await
            .json();
        let round = rounds
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "confirmation")
            .expect("a confirmation round");
        let (id, public) = (
            round["id"].as_str().unwrap().to_owned(),
            STANDARD
                .decode(round["public_key"].as_str().unwrap())
                .unwrap(),
        );
        assert_eq!(
            fetch_token(lee, &g.repair, &id, &public).await.err(),
            Some(StatusCode::FORBIDDEN),
            "the owner does not confirm"
        );
        for (i, b) in g.members.iter().skip(1).enumerate() {
            let t = fetch_token(b, &g.repair, &id, &public).await.unwrap();
            let said = if i == 4 { "not_happened" } else { "happened" };
            assert_eq!(
                redeem(&g.app, &id, &t, said, "").await.status,
                StatusCode::ACCEPTED
            );
        }
        let repair = g.fay.json(Method::GET, &base, None).await.json();
        assert_eq!(
            repair["commitments"][0]["occurrences"][0]["status"], "awaiting_owner",
            "nothing lands while the round is open"
        );

        // The round closes when the occurrence's grace ends; its outcome lands without anyone attached.
        let sql = format!(
            "UPDATE rounds SET closes_at = closes_at - {} WHERE id = '{id}'",
            6 * 86_400
        );
        g.app.exec(sql).await;
        let repair = g.fay.json(Method::GET, &base, None).await.json();
        assert_eq!(
            repair["commitments"][0]["occurrences"][0]["status"], "kept",
            "{repair}"
        );
        assert_eq!(repair["follow_through"]["rate"], 100);
        let receipts = g
            .app
            .scalar("SELECT COUNT(*) FROM confirmation_receipts")
            .await;
        assert_eq!(receipts, 0, "no record of who confirmed");
    }
);

on_both!(admins_set_k_never_below_three, |backend| async move {
    let g = group(backend, 3).await;
    let low = g
        .admin
        .post_form("/admin/settings", &[("k_threshold", "2")])
        .await;
    assert_eq!(low.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(low.body.contains("must be at least 3"));
    let api = g
        .admin
        .json(
            Method::PUT,
            "/api/v1/organisation",
            Some(json!({"k_threshold": 1})),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        g.fay
            .post_form("/admin/settings", &[("k_threshold", "3")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        g.admin
            .post_form("/admin/settings", &[("k_threshold", "3")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert!(
        g.admin
            .get("/admin/settings")
            .await
            .body
            .contains("value=\"3\"")
    );

    // With k = 3, three answers show.
    let (round, public) = open_round(&g).await;
    for (i, b) in g.members.iter().skip(1).enumerate() {
        let t = fetch_token(b, &g.repair, &round, &public).await.unwrap();
        redeem(&g.app, &round, &t, "process", &format!("k is three {i}")).await;
    }
    close_round(&g, &round).await;
    let page = g.fay.get(&format!("/repairs/{}", g.repair)).await;
    assert!(page.body.contains("3 people answered") && page.body.contains("k is three 2"));
    let audit = g.admin.get("/admin/audit").await;
    assert!(audit.body.contains("minimum group size set to 3"));
});

on_both!(pulses_open_that_gate_into_rebuilt, |backend| async move {
    let c = crate::repairs::cast(backend).await;
    let base = format!("/api/v1/repairs/{}", c.repair);
    let stage = |from: &str| json!({"from": from, "action": "advance"});
    crate::gate_writes::to_rebuild(&c).await;

    // Pulses open on their own in rebuild; the affected person answers each one.
    let mut means = Vec::new();
    for (n, value) in [4, 5, 5, 5].into_iter().enumerate() {
        let repair = c.ana.json(Method::GET, &base, None).await.json();
        if n == 0 {
            let gate = &repair["gate"]["conditions"];
            assert_eq!(
                gate[0]["text"], "0 of 3 pulses in a row at target (5.5 of 7)",
                "{repair}"
            );
            // The gate follows the organisation's settings.
            let form = |r: &'static str| {
                [
                    ("pulses_required", r),
                    ("target_cap", "5.5"),
                    ("min_change", "0.5"),
                    ("follow_through_percent", "90"),
                    ("min_weeks", "6"),
                    ("deception_extra_weeks", "6"),
                ]
            };
            let bad = c.admin.post_form("/admin/settings/gate", &form("0")).await;
            assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(
                bad.body
                    .contains("Pulses required must be between 1 and 12"),
                "{}",
                bad.body
            );
            assert_eq!(
                c.admin
                    .post_form("/admin/settings/gate", &form("4"))
                    .await
                    .status,
                StatusCode::SEE_OTHER
            );
            let again = c.ana.json(Method::GET, &base, None).await.json();
            assert_eq!(
                again["gate"]["conditions"][0]["text"],
                "0 of 4 pulses in a row at target (5.5 of 7)"
            );
            assert_eq!(
                c.admin
                    .post_form("/admin/settings/gate", &form("3"))
                    .await
                    .status,
                StatusCode::SEE_OTHER
            );
            assert!(
                c.admin
                    .get("/admin/audit")
                    .await
                    .body
                    .contains("recovery gate: 3 pulses")
            );
        }
        let (id, key) = crate::gate_writes::open_pulse(&c).await;
        if n == 0 {
            assert_eq!(
                fetch_token(&c.lee, &c.repair, &id, &key).await.err(),
                Some(StatusCode::FORBIDDEN),
                "the accountable side does not take its own pulse"
            );
        }
        let t = fetch_token(&c.ana, &c.repair, &id, &key).await.unwrap();
        let items = json!({"ability": value, "benevolence": value, "integrity": value, "follow_through": value});
        let body = json!({"token": {"message": STANDARD.encode(&t.prepared), "signature": STANDARD.encode(&t.signature)}, "answer": {"items": items}});
        let sent = reqwest::Client::new()
            .post(format!("{}/anon/rounds/{id}/answers", c.app.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::ACCEPTED);
        // Two weeks pass for every pulse so far: this one closes, the next one opens.
        let repair = &c.repair;
        c.app.exec(format!("UPDATE rounds SET opened_at = opened_at - {d}, closes_at = closes_at - {d} WHERE repair_id = '{repair}' AND kind = 'pulse'", d = 15 * 86_400),
        )
        .await;
        means.push(value);
    }
    let refused = c
        .fay
        .json(
            Method::POST,
            &format!("{base}/stage"),
            Some(stage("rebuild")),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap()
            .contains("the recovery gate has not passed")
    );
    let page = c.ana.get(&format!("/repairs/{}", c.repair)).await;
    assert!(
        page.body
            .contains("✓ Met: 3 of 3 pulses in a row at target (4.5 of 7)"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("✓ Met: follow-through 100% of 90%")
            && page.body.contains("Not yet: 0 of 6 weeks")
    );
    assert!(
        page.body
            .contains("They do what they say they will do. <strong>5.0 of 7</strong>"),
        "each item of a pulse"
    );

    // Six weeks in rebuild: the gate passes and rebuilt is reachable without an override.
    c.app
        .exec(format!(
            "UPDATE repairs SET rebuild_started_at = rebuild_started_at - {} WHERE id = '{}'",
            43 * 86_400,
            c.repair
        ))
        .await;
    let moved = c
        .fay
        .json(
            Method::POST,
            &format!("{base}/stage"),
            Some(stage("rebuild")),
        )
        .await;
    assert_eq!(moved.json()["stage"], "rebuilt", "{}", moved.body);
    let done = c.ana.json(Method::GET, &base, None).await.json();
    assert!(
        done["override_reason"].is_null(),
        "through the gate, not an override"
    );
    let _ = means;
});
