//! The lessons library over HTTP: a rebuilt repair's facilitator previews and publishes an
//! anonymised lesson; anyone in the organisation reads and searches it; anonymous stories go
//! in without a cookie, facilitators answer or hide them, and only the author's capability
//! opens the answers. Also the development clock, which drives pulses without a route.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::gate_writes::{age_pulses, answer_pulse, to_rebuild};
use crate::harness::*;
use crate::on_both;

on_both!(
    a_rebuilt_repair_becomes_an_anonymised_lesson,
    |backend| async move {
        let c = crate::repairs::cast(backend).await;
        to_rebuild(&c).await;
        let lesson = format!("/repairs/{}/lesson", c.repair);
        // Not before the repair is rebuilt, and never by anyone but its facilitator.
        assert_eq!(c.fay.get(&lesson).await.status, StatusCode::CONFLICT);
        let over = c
            .fay
            .post_form(
                &format!("/repairs/{}/stage", c.repair),
                &[
                    ("from", "rebuild"),
                    ("action", "override"),
                    ("reason", "Both moved teams; the plan is kept."),
                ],
            )
            .await;
        assert_eq!(over.status, StatusCode::SEE_OTHER, "{}", over.body);
        for b in [&c.lee, &c.ana] {
            assert_eq!(b.get(&lesson).await.status, StatusCode::FORBIDDEN);
            assert_eq!(
                b.post_form(&lesson, &[("title", "x")]).await.status,
                StatusCode::FORBIDDEN
            );
        }
        assert_eq!(c.oz.get(&lesson).await.status, StatusCode::NOT_FOUND);

        // The draft starts from what the repair recorded, with its figures.
        let draft = c.fay.get(&lesson).await;
        assert_eq!(draft.status, StatusCode::OK);
        assert!(draft.body.contains("Missed launch date"), "{}", draft.body);
        assert!(draft.body.contains("No checklist for launches."));
        assert!(
            draft
                .body
                .contains("Commitments kept: 1 of 1 due occurrences.")
        );
        assert!(
            draft
                .body
                .contains("The recovery gate was overridden, with a written reason.")
        );

        let text = [
            ("title", "Lee Lead missed the launch"),
            (
                "what_broke",
                "Lee told nobody; ANA AFFECTED heard it from a customer (write to ana@acme.example).",
            ),
            (
                "causes",
                "- Process: no checklist. Fay Facilitator saw it late.",
            ),
            (
                "what_worked",
                "Lee sent the plan every Monday and ana confirmed it.",
            ),
            ("figures", "Commitments kept: 1 of 1."),
        ];
        // A preview stores nothing and shows the names replaced.
        let preview = c.fay.post_form(&format!("{lesson}/preview"), &text).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        let shown = preview
            .body
            .split("Preview: this is what will be stored")
            .nth(1)
            .unwrap();
        let shown = shown
            .split("Something still identifies someone?")
            .next()
            .unwrap();
        for name in ["Lee", "Ana", "ANA", "ana@", "Fay", "Lead", "Affected"] {
            assert!(
                !shown.contains(name),
                "{name} survives the preview: {shown}"
            );
        }
        assert!(
            shown.contains("Person A missed the launch") && shown.contains("[email address]"),
            "{shown}"
        );
        assert!(preview.body.contains("Confirm and publish"));
        assert_eq!(c.app.scalar("SELECT COUNT(*) FROM lessons").await, 0);

        // Bad input is named and stores nothing.
        let bad = c
            .fay
            .post_form(
                &format!("{lesson}/preview"),
                &[
                    ("title", "T"),
                    ("what_broke", "b"),
                    ("causes", "c"),
                    ("what_worked", " "),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("What worked"), "{}", bad.body);
        let bad = c.fay.post_form(&lesson, &[("title", "")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(c.app.scalar("SELECT COUNT(*) FROM lessons").await, 0);

        // Confirming stores the text anonymised again: names typed back in do not survive.
        let published = c.fay.post_form(&lesson, &text).await;
        assert_eq!(
            published.status,
            StatusCode::SEE_OTHER,
            "{}",
            published.body
        );
        let at = published.location.unwrap();
        assert!(at.starts_with("/library/lessons/"));
        assert_eq!(
        c.app
            .scalar("SELECT COUNT(*) FROM lessons WHERE LOWER(title || what_broke || causes || what_worked || figures) LIKE '%lee%' OR LOWER(what_broke) LIKE '%ana%' OR LOWER(causes) LIKE '%fay%'")
            .await,
        0
    );
        assert_eq!(
            c.fay.post_form(&lesson, &text).await.status,
            StatusCode::CONFLICT
        );
        assert!(
            c.fay
                .get(&lesson)
                .await
                .body
                .contains("already in the library")
        );

        // Anyone in the organisation reads and searches the library; the audit says who published.
        for b in [&c.oz, &c.ana, &c.admin] {
            let page = b.get(&at).await;
            assert_eq!(page.status, StatusCode::OK);
            let article = page
                .body
                .split("<article")
                .nth(1)
                .unwrap()
                .split("</article>")
                .next()
                .unwrap();
            assert!(
                article.contains("Person A sent the plan every Monday and Person B confirmed it."),
                "{article}"
            );
            for name in ["Lee", "Ana", "ana", "Fay"] {
                assert!(!article.contains(name), "{name} in {article}");
            }
            let found = b.get("/library?q=PLAN%20every").await;
            assert!(
                found.body.contains("Person A missed the launch"),
                "{}",
                found.body
            );
            let none = b.get("/library?q=100%25").await;
            assert!(!none.body.contains("Person A missed the launch"));
            assert!(none.body.contains("No lesson matches"));
        }
        assert!(
            c.admin
                .get("/admin/audit")
                .await
                .body
                .contains("lesson.publish")
        );
        assert_eq!(
            c.app.browser().get(&at).await.location.as_deref(),
            Some("/login")
        );
    }
);

fn capability() -> String {
    uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()
}

on_both!(anonymous_stories_and_their_answers, |backend| async move {
    let c = crate::repairs::cast(backend).await;
    let page = c.oz.get("/library/stories/new").await;
    assert_eq!(page.status, StatusCode::OK);
    let org = page.body.split("data-org-id=\"").nth(1).unwrap()[..36].to_owned();
    let anon = reqwest::Client::new();
    let send = |org: String, body: serde_json::Value| {
        let anon = anon.clone();
        let url = format!("{}/anon/orgs/{org}/stories", c.app.url);
        async move { anon.post(url).json(&body).send().await.unwrap() }
    };
    let cap = capability();
    let check = kintsugi_anon::client::reply_check(&cap);
    let story = json!({"title": "My lead takes credit", "body": "In reviews my lead presents my work as theirs. How do I raise it?", "reply_check": check});

    // Bad input: each named, nothing stored.
    for (body, status, says) in [
        (
            json!({"title": " ", "body": "b", "reply_check": check}),
            422,
            "title",
        ),
        (
            json!({"title": "t", "body": "", "reply_check": check}),
            422,
            "body",
        ),
        (
            json!({"title": "t", "body": "b", "reply_check": "nothex"}),
            422,
            "reply_check",
        ),
        (json!({"title": "t", "body": "b"}), 422, "reply_check"),
        (
            json!({"title": "t", "body": "b", "reply_check": check, "author": "me"}),
            422,
            "author",
        ),
    ] {
        let got = send(org.clone(), body).await;
        assert_eq!(got.status().as_u16(), status);
        assert!(got.text().await.unwrap().contains(says));
    }
    let unknown = send(uuid::Uuid::new_v4().to_string(), story.clone()).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // A cookie could tie the story to a session: refused.
    let with_cookie = anon
        .post(format!("{}/anon/orgs/{org}/stories", c.app.url))
        .header("cookie", "kintsugi_session=x")
        .json(&story)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), StatusCode::BAD_REQUEST);
    assert_eq!(c.app.scalar("SELECT COUNT(*) FROM stories").await, 0);

    assert_eq!(
        send(org.clone(), story.clone()).await.status(),
        StatusCode::CREATED
    );
    // The same capability twice would open two stories: refused.
    assert_eq!(
        send(org.clone(), story.clone()).await.status(),
        StatusCode::CONFLICT
    );
    assert_eq!(c.app.scalar("SELECT COUNT(*) FROM stories").await, 1);
    // Nothing about the author anywhere: no audit entry, and the log has no line for /anon.
    assert_eq!(
        c.app
            .scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'story%'")
            .await,
        0
    );
    assert!(
        !c.app
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("/anon/"))
    );

    // Everyone in the organisation reads it; members cannot answer or hide it.
    let library = c.ana.get("/library").await;
    assert!(
        library.body.contains("My lead takes credit") && library.body.contains("No answer yet.")
    );
    let story_id = library.body.split("id=\"story-").nth(1).unwrap()[..36].to_owned();
    let answers = format!("/library/stories/{story_id}/answers");
    assert_eq!(
        c.ana
            .post_form(&answers, &[("body", "Me too")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.fay.post_form(&answers, &[("body", "  ")]).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let other = format!("/library/stories/{}/answers", uuid::Uuid::new_v4());
    assert_eq!(
        c.fay.post_form(&other, &[("body", "x")]).await.status,
        StatusCode::NOT_FOUND
    );
    let answered = c
        .fay
        .post_form(
            &answers,
            &[(
                "body",
                "Write down what you did before each review, and ask for a joint presentation.",
            )],
        )
        .await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.body);
    assert!(
        c.oz.get("/library?q=lead%20takes")
            .await
            .body
            .contains("ask for a joint presentation")
    );

    // The author reads the answers with the capability alone.
    let thread = |cap: String, cookie: bool| {
        let anon = anon.clone();
        let url = format!("{}/anon/stories/thread", c.app.url);
        async move {
            let mut req = anon.post(url).json(&json!({"capability": cap}));
            if cookie {
                req = req.header("cookie", "a=b");
            }
            req.send().await.unwrap()
        }
    };
    let got = thread(cap.clone(), false).await;
    assert_eq!(got.status(), StatusCode::OK);
    let got: serde_json::Value = got.json().await.unwrap();
    assert_eq!(got["title"], "My lead takes credit");
    assert_eq!(got["answers"][0]["from"], "Fay Facilitator");
    assert!(
        got["answers"][0]["body"]
            .as_str()
            .unwrap()
            .contains("joint presentation")
    );
    assert_eq!(
        thread(capability(), false).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        thread(check.clone(), false).await.status(),
        StatusCode::NOT_FOUND,
        "the stored hash opens nothing"
    );
    assert_eq!(
        thread("short".into(), false).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        thread(cap.clone(), true).await.status(),
        StatusCode::BAD_REQUEST
    );

    // A facilitator hides it: gone for members, marked for facilitators, the author is told.
    let hide = format!("/library/stories/{story_id}/hide");
    assert_eq!(
        c.ana.post_form(&hide, &[("hidden", "true")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.fay.post_form(&hide, &[("hidden", "maybe")]).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        c.fay.post_form(&hide, &[("hidden", "true")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        !c.ana
            .get("/library")
            .await
            .body
            .contains("My lead takes credit")
    );
    assert!(
        c.fay
            .get("/library")
            .await
            .body
            .contains("hidden from the library")
    );
    let got: serde_json::Value = thread(cap.clone(), false).await.json().await.unwrap();
    assert_eq!(got["hidden"], true);
    assert!(
        c.admin
            .get("/admin/audit")
            .await
            .body
            .contains("story.hide")
    );
});

on_both!(pulse_answers_refuse_bad_input, |backend| async move {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let c = crate::repairs::cast(backend).await;
    to_rebuild(&c).await;
    let (round, key) = crate::gate_writes::open_pulse(&c).await;
    let t = crate::rounds::fetch_token(&c.ana, &c.repair, &round, &key)
        .await
        .unwrap();
    let token = json!({"message": STANDARD.encode(&t.prepared), "signature": STANDARD.encode(&t.signature)});
    let url = format!("{}/anon/rounds/{round}/answers", c.app.url);
    let anon = reqwest::Client::new();
    let all = |v: i64| json!({"ability": v, "benevolence": v, "integrity": v, "follow_through": v});
    for (answer, says) in [
        (
            json!({"items": all(0)}),
            "ability: must be a whole number from 1 to 7",
        ),
        (json!({"items": all(8)}), "from 1 to 7"),
        (json!({"items": all(-1)}), "from 1 to 7"),
        (
            json!({"items": {"ability": 5, "benevolence": 5, "integrity": 5}}),
            "must rate ability, benevolence, integrity and follow_through",
        ),
        (
            json!({"items": {"ability": 5, "benevolence": 5, "integrity": 5, "follow_through": 5, "charm": 5}}),
            "must rate ability",
        ),
        (
            json!({"items": {"ability": 5, "benevolence": 5, "integrity": 5, "charm": 5}}),
            "must rate ability",
        ),
        (json!({"items": {}}), "must rate ability"),
        (
            json!({"items": {"ability": "high", "benevolence": 5, "integrity": 5, "follow_through": 5}}),
            "items",
        ),
        (json!({"rating": 5}), "rating"),
        (json!({}), "a pulse rates every item from 1 to 7"),
        (json!({"items": all(5), "category": "process"}), "category"),
    ] {
        let got = anon
            .post(&url)
            .json(&json!({"token": token, "answer": answer}))
            .send()
            .await
            .unwrap();
        let status = got.status();
        let body = got.text().await.unwrap();
        assert!(status.is_client_error(), "{answer}: {status} {body}");
        assert!(body.contains(says), "{answer}: {body}");
    }
    let count = format!("SELECT COUNT(*) FROM round_answers WHERE round_id = '{round}'");
    let stored = || c.app.scalar(&count);
    assert_eq!(stored().await, 0, "nothing half-stored");
    assert_eq!(
        c.app
            .scalar(&format!(
                "SELECT COUNT(*) FROM round_spent WHERE round_id = '{round}'"
            ))
            .await,
        0,
        "the token is not spent"
    );
    // The same token still answers once, properly, and then never again.
    let ok = anon
        .post(&url)
        .json(&json!({"token": token, "answer": {"items": all(6)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    let again = anon
        .post(&url)
        .json(&json!({"token": token, "answer": {"items": all(1)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::ACCEPTED,
        "sent again while it waits: held once"
    );

    // After close: refused, nothing stored. (A token fetched while the next pulse is open,
    // spent once it has closed.)
    age_pulses(&c, 15).await;
    c.ana.get(&format!("/repairs/{}", c.repair)).await;
    let (next, key) = crate::gate_writes::open_pulse(&c).await;
    assert_ne!(next, round);
    let t = crate::rounds::fetch_token(&c.ana, &c.repair, &next, &key)
        .await
        .unwrap();
    age_pulses(&c, 15).await;
    let late = anon
        .post(format!("{}/anon/rounds/{next}/answers", c.app.url))
        .json(&json!({"token": {"message": STANDARD.encode(&t.prepared), "signature": STANDARD.encode(&t.signature)}, "answer": {"items": all(7)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::CONFLICT);
    assert!(late.text().await.unwrap().contains("closed"));
    assert_eq!(
        c.app
            .scalar(&format!(
                "SELECT COUNT(*) FROM round_answers WHERE round_id = '{next}'"
            ))
            .await,
        0
    );
    // Nobody closes a pulse early: it keeps its schedule.
    c.ana.get(&format!("/repairs/{}", c.repair)).await;
    let (third, _) = crate::gate_writes::open_pulse(&c).await;
    let early = c
        .fay
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{}/rounds/{third}/close", c.repair),
            None,
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    assert!(early.body.contains("closes on its schedule"));
});

// The development clock: the server reads the time from a file; moving it on lets the
// background sweep close a pulse and open the next without anyone opening a page.
on_both!(the_dev_clock_drives_pulses, |backend| async move {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let clock_env = clock.to_str().unwrap().to_owned();
    let app = App::start_with(backend, &[], &[("KINTSUGI_DEV_CLOCK", &clock_env)]).await;
    assert!(
        app.stdout.iter().any(|l| l.contains("development clock")),
        "{:?}",
        app.stdout
    );
    let c = crate::repairs::cast_in(app).await;
    to_rebuild(&c).await;
    assert_eq!(answer_pulse(&c, 4).await, StatusCode::ACCEPTED);
    let pulses = |closed: bool| {
        let sql = format!(
            "SELECT COUNT(*) FROM rounds WHERE repair_id = '{}' AND kind = 'pulse'{}",
            c.repair,
            if closed {
                " AND closed_at IS NOT NULL"
            } else {
                ""
            }
        );
        let app = &c.app;
        async move { app.scalar(&sql).await }
    };
    assert_eq!((pulses(false).await, pulses(true).await), (1, 0));
    std::fs::write(&clock, "+15d").unwrap();
    let mut waited = 0;
    while pulses(true).await < 1 || pulses(false).await < 2 {
        assert!(waited < 100, "the sweep did not move the pulses on");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    // Every part of the server reads the same clock: sessions last a week, so Ana's has
    // ended 15 days on, and the page counts 15 days in rebuild.
    let page = c.ana.get(&format!("/repairs/{}", c.repair)).await;
    assert_eq!(page.location.as_deref(), Some("/login"));
    assert_eq!(
        c.ana
            .login("ana@acme.example", "a long enough password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let page = c.ana.get(&format!("/repairs/{}", c.repair)).await;
    assert!(page.body.contains("2 of 6 weeks"), "{}", page.body);
});

/// A clock file the server cannot understand stops it at start-up, naming the setting.
#[test]
fn a_bad_dev_clock_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "soon").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("KINTSUGI_DEV_CLOCK", &clock)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dev_clock = ") && err.contains("KINTSUGI_") && err.contains("\"soon\""),
        "{err}"
    );
}
