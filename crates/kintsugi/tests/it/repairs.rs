//! One repair, end to end over HTTP: open, acknowledge with the coach, guardrails, causes,
//! updates with versions, commitments confirmed by the affected side, missed occurrences,
//! the override, feeds and the audit log.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;
use crate::on_both;

pub struct Cast {
    pub app: App,
    pub admin: Browser,
    pub fay: Browser,
    pub lee: Browser,
    pub ana: Browser,
    pub oz: Browser,
    pub lee_id: String,
    pub ana_id: String,
    pub repair: String,
}

/// An organisation with a facilitator (Fay), an accountable person (Lee), an affected person
/// (Ana) and an outsider (Oz), and a person↔person repair Fay opened between Lee and Ana.
pub async fn cast(backend: Backend) -> Cast {
    cast_in(App::start(backend).await).await
}

/// The same cast, in a server started with settings of the test's choosing.
pub async fn cast_in(app: App) -> Cast {
    let admin = app.setup().await;
    let (_, fay) = member(
        &app,
        &admin,
        "Fay Facilitator",
        "fay@acme.example",
        &["facilitator"],
    )
    .await;
    let (lee_id, lee) = member(&app, &admin, "Lee Lead", "lee@acme.example", &[]).await;
    let (ana_id, ana) = member(&app, &admin, "Ana Affected", "ana@acme.example", &[]).await;
    let (_, oz) = member(&app, &admin, "Oz Outsider", "oz@acme.example", &[]).await;
    let opened = fay
        .post_form(
            "/repairs",
            &[
                ("title", "Missed launch date"),
                (
                    "summary",
                    "The launch slipped twice without warning to the support team.",
                ),
                ("breach", "missed_deadline"),
                ("scope", "person_person"),
                ("accountable_people", &lee_id),
                ("affected_people", &ana_id),
                ("update_cadence_days", "7"),
            ],
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let repair = opened
        .location
        .unwrap()
        .trim_start_matches("/repairs/")
        .to_owned();
    Cast {
        app,
        admin,
        fay,
        lee,
        ana,
        oz,
        lee_id,
        ana_id,
        repair,
    }
}

impl Cast {
    /// Lee takes on a weekly commitment: `count` times from `first_due`.
    pub async fn lee_weekly(&self, statement: &str, count: u32, first_due: &str) {
        let added = self
            .lee
            .post_form(
                &format!("/repairs/{}/commitments", self.repair),
                &[
                    ("owner", &self.lee_id),
                    ("statement", statement),
                    ("cadence", "weekly"),
                    ("count", &count.to_string()),
                    ("first_due", first_due),
                ],
            )
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    }
}

on_both!(a_whole_repair, |backend| async move {
    let c = cast(backend).await;
    let r = format!("/repairs/{}", c.repair);

    // Participants are told; outsiders cannot see it; admins see that it exists, and its stage.
    let home = c.ana.get("/").await;
    assert!(
        home.body
            .contains("Fay Facilitator added you to the repair “Missed launch date”"),
        "{}",
        home.body
    );
    assert!(
        !c.ana.get("/").await.body.contains("New for you"),
        "seen once, then marked seen"
    );
    assert_eq!(c.oz.get(&r).await.status, StatusCode::NOT_FOUND);
    let overseer = c.admin.get(&r).await;
    assert_eq!(overseer.status, StatusCode::OK);
    assert!(overseer.body.contains("Missed launch date") && overseer.body.contains("Acknowledge"));
    assert!(
        !overseer.body.contains("slipped twice"),
        "an admin outside the repair never sees its content"
    );
    assert!(
        c.admin
            .get("/repairs")
            .await
            .body
            .contains("Other repairs in the organisation")
    );

    // Guardrail: no acknowledgment yet.
    let refused = c
        .fay
        .post_form(
            &format!("{r}/stage"),
            &[("from", "acknowledge"), ("action", "advance")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused
            .body
            .contains("someone on the accountable side must post an acknowledgment"),
        "{}",
        refused.body
    );

    // The coach, as htmx asks for it while typing: the partial alone.
    let draft = "I'm sorry if anyone was offended, but the deadline was unrealistic.";
    let token = c.lee.csrf_token().await;
    let partial = c
        .lee
        .client
        .post(format!("{}{r}/coach", c.app.url))
        .header("hx-request", "true")
        .header("hx-target", "coach")
        .header("x-csrf-token", &token)
        .form(&[("body", draft)])
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), StatusCode::OK);
    let partial = partial.text().await.unwrap();
    assert!(
        !partial.contains("<h1>") && partial.contains("id=\"coach-summary\""),
        "only the panel: {partial}"
    );
    assert!(
        partial.contains("conditional") && partial.contains("sorry-but"),
        "{partial}"
    );
    // Without JavaScript the same button renders the whole page with the coach's review.
    let whole = c
        .lee
        .post_form(&format!("{r}/coach"), &[("body", draft)])
        .await;
    assert!(whole.body.contains("<h1>Missed launch date</h1>") && whole.body.contains("Score:"));
    let boosted = c
        .lee
        .client
        .post(format!("{}{r}/coach", c.app.url))
        .header("hx-request", "true")
        .header("hx-boosted", "true")
        .header("x-csrf-token", &token)
        .form(&[("body", draft)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        boosted.headers()["hx-replace-url"],
        r.as_str(),
        "the address bar stays on the repair"
    );
    assert!(
        boosted
            .text()
            .await
            .unwrap()
            .contains("<h1>Missed launch date</h1>"),
        "a boosted click gets the whole page"
    );
    assert_eq!(
        c.ana
            .post_form(&format!("{r}/coach"), &[("body", draft)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let empty = c
        .lee
        .post_form(&format!("{r}/acknowledgment"), &[("body", "   ")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Acknowledgment is required"));
    let apology = "I missed the launch date twice and did not warn you. That was my responsibility, and it left your team \
                   answering angry customers. I'm sorry. From now on I will send the release plan every Monday.";
    let posted = c
        .lee
        .post_form(&format!("{r}/acknowledgment"), &[("body", apology)])
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    assert_eq!(
        c.ana
            .post_form(&format!("{r}/acknowledgment"), &[("body", apology)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let moved = c
        .fay
        .post_form(
            &format!("{r}/stage"),
            &[("from", "acknowledge"), ("action", "advance")],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER);

    // Understand: a reason instead of a round, and a cause.
    let refused = c
        .fay
        .post_form(
            &format!("{r}/stage"),
            &[("from", "understand"), ("action", "advance")],
        )
        .await;
    assert!(refused.body.contains("at least one cause must be named"));
    assert_eq!(
        c.lee
            .post_form(
                &format!("{r}/causes"),
                &[("category", "process"), ("description", "x")]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    c.fay
        .post_form(
            &format!("{r}/no-round"),
            &[("reason", "Two people: a round could never reach k.")],
        )
        .await;
    c.fay
        .post_form(
            &format!("{r}/causes"),
            &[
                ("category", "process"),
                ("description", "No release checklist."),
            ],
        )
        .await;
    assert_eq!(
        c.fay
            .post_form(
                &format!("{r}/stage"),
                &[("from", "understand"), ("action", "advance")]
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // Act: commitments.
    let refused = c
        .fay
        .post_form(
            &format!("{r}/stage"),
            &[("from", "act"), ("action", "advance")],
        )
        .await;
    assert!(
        refused
            .body
            .contains("at least one commitment needs an owner")
    );
    let once = c
        .lee
        .post_form(
            &format!("{r}/commitments"),
            &[
                ("owner", &c.lee_id),
                ("statement", "Share the revised launch plan"),
                ("due", &day(0)),
            ],
        )
        .await;
    assert_eq!(once.status, StatusCode::SEE_OTHER, "{}", once.body);
    let page = c.lee.get(&r).await;
    assert!(page.body.contains(&format!("Mark done ({})", day(0))));
    let done = c
        .lee
        .post_form(
            &format!(
                "{r}/commitments/{}/done",
                commitment_id(&page.body, "Share the revised launch plan")
            ),
            &[("due", &day(0))],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let page = c.ana.get(&r).await;
    let cid = commitment_id(&page.body, "Share the revised launch plan");
    assert!(
        page.body
            .contains("waiting for the affected side to confirm")
    );
    assert_eq!(
        c.lee
            .post_form(
                &format!("{r}/commitments/{cid}/confirm"),
                &[("due", &day(0)), ("happened", "yes")]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let confirmed = c
        .ana
        .post_form(
            &format!("{r}/commitments/{cid}/confirm"),
            &[("due", &day(0)), ("happened", "yes")],
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::SEE_OTHER);
    let twice = c
        .ana
        .post_form(
            &format!("{r}/commitments/{cid}/confirm"),
            &[("due", &day(0)), ("happened", "no")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(
        c.ana
            .get(&r)
            .await
            .body
            .contains("Follow-through: <strong>100%</strong> (1 of 1 confirmed)")
    );

    // A weekly commitment that started a week ago: its first occurrence passed unconfirmed.
    c.lee_weekly("Send the release plan every Monday", 8, &day(-7))
        .await;
    let page = c.ana.get(&r).await;
    assert!(
        page.body
            .contains("Missed: “Send the release plan every Monday” by Lee Lead"),
        "an automatic update"
    );
    assert!(
        page.body
            .contains("Follow-through: <strong>50%</strong> (1 of 2 confirmed)"),
        "the rate drops"
    );
    assert_eq!(
        c.ana
            .get(&r)
            .await
            .body
            .matches("Missed: “Send the release plan")
            .count(),
        1,
        "announced once"
    );
    assert_eq!(
        c.fay
            .post_form(
                &format!("{r}/stage"),
                &[("from", "act"), ("action", "advance")]
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // One click turns an offer of repair into a commitment, and the draft stays.
    let offer_draft = "I am sorry. I will send the release plan every Monday.";
    let offered = c
        .lee
        .post_form(
            &format!("{r}/offers"),
            &[
                ("body", offer_draft),
                ("offer", "Send the release plan every Monday"),
            ],
        )
        .await;
    assert_eq!(offered.status, StatusCode::OK, "{}", offered.body);
    assert!(
        offered
            .body
            .contains("“Send the release plan every Monday” is now a commitment of yours, due")
    );
    assert!(
        offered.body.contains(&format!(">{offer_draft}</textarea>")),
        "the draft is kept"
    );
    assert!(
        offered
            .body
            .contains("<strong>Send the release plan every Monday</strong> · Lee Lead")
    );

    // Updates: a decision needs reasons; edits keep every version.
    let no_reason = c
        .fay
        .post_form(
            &format!("{r}/updates"),
            &[
                ("kind", "decision"),
                ("body", "We move the launch."),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.body.contains("Reason is required for a decision"));
    let auto = c
        .fay
        .post_form(
            &format!("{r}/updates"),
            &[("kind", "missed"), ("body", "fake")],
        )
        .await;
    assert_eq!(auto.status, StatusCode::UNPROCESSABLE_ENTITY);
    c.fay
        .post_form(
            &format!("{r}/updates"),
            &[("kind", "progress"), ("body", "The checklist is drafted.")],
        )
        .await;
    let page = c.fay.get(&r).await;
    let edit = page
        .body
        .split("href=\"")
        .find(|s| s.contains("/edit\">Edit update"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(c.ana.get(&edit).await.status, StatusCode::OK);
    assert_eq!(
        c.ana
            .post_form(&edit, &[("body", "rewritten by someone else")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.fay
            .post_form(&edit, &[("body", "The checklist is drafted and reviewed.")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let page = c.ana.get(&r).await;
    assert!(page.body.contains("Version history (2 versions)"));
    assert!(
        page.body.contains("The checklist is drafted.")
            && page.body.contains("The checklist is drafted and reviewed.")
    );

    // Rebuild: no pulse has closed yet, so the gate has not passed; a written override can.
    let refused = c
        .fay
        .post_form(
            &format!("{r}/stage"),
            &[("from", "rebuild"), ("action", "advance")],
        )
        .await;
    assert!(refused.body.contains("the recovery gate has not passed"));
    let bare = c
        .fay
        .post_form(
            &format!("{r}/stage"),
            &[("from", "rebuild"), ("action", "override"), ("reason", " ")],
        )
        .await;
    assert_eq!(bare.status, StatusCode::CONFLICT);
    assert!(bare.body.contains("needs a written reason"));
    assert_eq!(
        c.ana
            .post_form(
                &format!("{r}/stage"),
                &[("from", "rebuild"), ("action", "override"), ("reason", "x")]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let over = c
        .fay
        .post_form(
            &format!("{r}/stage"),
            &[
                ("from", "rebuild"),
                ("action", "override"),
                ("reason", "Ana and Lee both say trust is back."),
            ],
        )
        .await;
    assert_eq!(over.status, StatusCode::SEE_OTHER);
    let page = c.ana.get(&r).await;
    assert!(
        page.body.contains("The recovery gate was overridden.")
            && page.body.contains("Ana and Lee both say trust is back.")
    );
    assert!(page.body.contains("Stage: <strong>Rebuilt</strong>"));

    // The audit log has the changes and who made them, and nothing of the confirmations.
    let audit = c.admin.get("/admin/audit").await;
    for entry in [
        "repair.open",
        "repair.acknowledge",
        "repair.stage",
        "update.edit",
        "commitment.add",
        "commitment.done",
        "recovery gate overridden",
    ] {
        assert!(audit.body.contains(entry), "audit log lacks {entry}");
    }
    assert!(
        !audit.body.contains("confirm"),
        "who confirmed what never reaches the audit log"
    );
    assert_eq!(
        c.fay.get("/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );

    // The person's own follow-through.
    let lee_home = c.lee.get("/").await;
    assert!(
        lee_home.body.contains("Your commitments") && lee_home.body.contains("50%"),
        "{}",
        lee_home.body
    );
    let _ = (&c.ana_id, &c.oz);
});

/// The id of the commitment whose statement is `statement`, from a repair page.
pub fn commitment_id(html: &str, statement: &str) -> String {
    let at = html
        .find(&format!("<strong>{statement}</strong>"))
        .unwrap_or_else(|| panic!("no commitment {statement}"));
    let before = &html[..at];
    let start = before.rfind("id=\"commitment-").unwrap() + "id=\"commitment-".len();
    before[start..start + 36].to_owned()
}

on_both!(bad_input_is_refused_whole, |backend| async move {
    let c = cast(backend).await;
    let r = format!("/repairs/{}", c.repair);
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("statement", "No owner".into()), ("due", day(3))],
            "Owner is required",
        ),
        (
            vec![("owner", c.lee_id.clone()), ("statement", "No date".into())],
            "Due ",
        ),
        (
            vec![
                ("owner", c.lee_id.clone()),
                ("statement", "Zero".into()),
                ("cadence", "weekly".into()),
                ("count", "0".into()),
                ("first_due", day(1)),
            ],
            "Count must be at least 1",
        ),
        (
            vec![
                ("owner", c.lee_id.clone()),
                ("statement", "Too many".into()),
                ("cadence", "daily".into()),
                ("count", "521".into()),
                ("first_due", day(1)),
            ],
            "Count must be at most 520",
        ),
        (
            vec![
                ("owner", c.lee_id.clone()),
                ("statement", "".into()),
                ("due", day(3)),
            ],
            "Statement is required",
        ),
        (
            vec![
                ("owner", "00000000-0000-0000-0000-000000000000".into()),
                ("statement", "Stranger".into()),
                ("due", day(3)),
            ],
            "Owner must be someone in this repair",
        ),
    ];
    for (fields, message) in cases {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = c.lee.post_form(&format!("{r}/commitments"), &fields).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(
            page.body.contains(message),
            "{fields:?}: wanted {message:?}"
        );
        let statement = fields
            .iter()
            .find(|(k, _)| *k == "statement")
            .map(|(_, v)| *v)
            .unwrap_or_default();
        let kept =
            format!("placeholder=\"Send the weekly plan every Monday\" value=\"{statement}\"");
        assert!(
            page.body.contains(&kept),
            "the form keeps what was typed: {fields:?}"
        );
    }
    let api = c
        .lee
        .json(Method::GET, &format!("/api/v1/repairs/{}", c.repair), None)
        .await
        .json();
    assert!(
        api["commitments"].as_array().unwrap().is_empty(),
        "nothing half-stored"
    );

    let bad_open = c
        .fay
        .post_form(
            "/repairs",
            &[
                ("title", ""),
                ("summary", "s"),
                ("breach", "felony"),
                ("scope", "person_person"),
                ("update_cadence_days", "0"),
            ],
        )
        .await;
    assert_eq!(bad_open.status, StatusCode::UNPROCESSABLE_ENTITY);
    for msg in [
        "Title is required",
        "Breach must be one of",
        "Update cadence days must be between 1 and 90",
    ] {
        assert!(bad_open.body.contains(msg), "{msg}");
    }
    let same_person = c
        .fay
        .post_form(
            "/repairs",
            &[
                ("title", "t"),
                ("summary", "s"),
                ("breach", "other"),
                ("scope", "person_person"),
                ("accountable_people", &c.lee_id),
                ("affected_people", &c.lee_id),
            ],
        )
        .await;
    assert!(
        same_person
            .body
            .contains("Affected must not include anyone on the accountable side")
    );
    assert_eq!(
        c.lee.post_form("/repairs", &[("title", "t")]).await.status,
        StatusCode::FORBIDDEN,
        "members do not open repairs"
    );
    assert_eq!(
        c.lee
            .json(Method::GET, "/api/v1/repairs", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
});

on_both!(racing_stage_moves_apply_once, |backend| async move {
    let c = cast(backend).await;
    let r = format!("/repairs/{}", c.repair);
    c.lee
        .post_form(
            &format!("{r}/acknowledgment"),
            &[("body", "I missed the date. I'm sorry.")],
        )
        .await;
    let api = |b: &Browser| {
        let b = b.clone();
        let path = format!("/api/v1/repairs/{}/stage", c.repair);
        async move {
            b.json(
                Method::POST,
                &path,
                Some(json!({"from": "acknowledge", "action": "advance"})),
            )
            .await
            .status
        }
    };
    let edit = {
        let b = c.fay.clone();
        let path = format!("/api/v1/repairs/{}/updates", c.repair);
        async move {
            b.json(
                Method::POST,
                &path,
                Some(json!({"kind": "progress", "body": "racing"})),
            )
            .await
            .status
        }
    };
    let (a, b, e) = tokio::join!(api(&c.fay), api(&c.fay), edit);
    let mut got = [a.as_u16(), b.as_u16()];
    got.sort();
    assert_eq!(got, [200, 409], "exactly one move applies");
    assert_eq!(e, StatusCode::CREATED);
    let repair = c
        .fay
        .json(Method::GET, &format!("/api/v1/repairs/{}", c.repair), None)
        .await
        .json();
    assert_eq!(repair["stage"], "understand");
    assert_eq!(repair["updates"].as_array().unwrap().len(), 1);
    let audit = c
        .admin
        .json(Method::GET, "/api/v1/audit", None)
        .await
        .json();
    let moves = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "repair.stage")
        .count();
    assert_eq!(moves, 1, "one move, one audit entry");
});

on_both!(feeds_are_secret_and_parse, |backend| async move {
    let c = cast(backend).await;
    let r = format!("/repairs/{}", c.repair);
    c.fay
        .post_form(
            &format!("{r}/updates"),
            &[
                ("kind", "progress"),
                ("body", "Plan agreed & shared <today>."),
            ],
        )
        .await;
    c.lee_weekly("Weekly plan", 3, &day(1)).await;

    let page = c.ana.post_form("/me/feeds", &[]).await;
    let atom_url = value_by_id(&page.body, &format!("atom-{}", c.repair)).expect("an Atom address");
    let atom = reqwest::get(&atom_url).await.unwrap();
    assert_eq!(
        atom.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let feed: atom_syndication::Feed = atom.text().await.unwrap().parse().expect("valid Atom");
    assert_eq!(feed.title().as_str(), "Updates: Missed launch date");
    assert_eq!(
        feed.entries()[0].content().unwrap().value().unwrap(),
        "Plan agreed & shared <today>."
    );

    let page = c.lee.post_form("/me/feeds", &[]).await;
    let ics_url = value_by_id(&page.body, "ics-url").unwrap();
    let ics = reqwest::get(&ics_url).await.unwrap().text().await.unwrap();
    let calendar: icalendar::Calendar = ics.parse().expect("valid iCalendar");
    let events: Vec<_> = calendar
        .components
        .iter()
        .filter_map(|c| c.as_event())
        .collect();
    assert_eq!(events.len(), 3);
    use icalendar::Component;
    assert_eq!(events[0].get_summary(), Some("Weekly plan"));

    // An outsider's feed token does not open this repair; revoking kills the address.
    let oz = c.oz.post_form("/me/feeds", &[]).await;
    let oz_ics = value_by_id(&oz.body, "ics-url").unwrap();
    let oz_token = oz_ics
        .split("/feeds/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    assert_eq!(
        reqwest::get(format!(
            "{}/feeds/{oz_token}/repairs/{}/updates.atom",
            c.app.url, c.repair
        ))
        .await
        .unwrap()
        .status(),
        404
    );
    c.ana.post_form("/me/feeds/revoke", &[]).await;
    assert_eq!(reqwest::get(&atom_url).await.unwrap().status(), 404);
    assert_eq!(
        reqwest::get(format!("{}/feeds/nonsense/commitments.ics", c.app.url))
            .await
            .unwrap()
            .status(),
        404
    );
});

on_both!(the_api_drives_a_repair_too, |backend| async move {
    let c = cast(backend).await;
    let base = format!("/api/v1/repairs/{}", c.repair);
    let coach = c
        .lee
        .json(
            Method::POST,
            &format!("{base}/coach"),
            Some(json!({"body": "Mistakes were made."})),
        )
        .await;
    assert_eq!(coach.status, StatusCode::OK);
    assert_eq!(coach.json()["flags"][0]["rule"], "agentless-passive");
    let ack = c
        .lee
        .json(
            Method::POST,
            &format!("{base}/acknowledgments"),
            Some(json!({"body": "I missed the date; I am sorry."})),
        )
        .await;
    assert_eq!(ack.status, StatusCode::NO_CONTENT);
    let moved = c
        .fay
        .json(
            Method::POST,
            &format!("{base}/stage"),
            Some(json!({"from": "acknowledge", "action": "advance"})),
        )
        .await;
    assert_eq!(moved.json()["stage"], "understand");
    let refused = c
        .fay
        .json(
            Method::POST,
            &format!("{base}/stage"),
            Some(json!({"from": "understand", "action": "advance"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap()
            .contains("at least one cause must be named")
    );
    let bad_cause = c
        .fay
        .json(
            Method::POST,
            &format!("{base}/causes"),
            Some(json!({"category": "weather", "description": "x"})),
        )
        .await;
    assert_eq!(bad_cause.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_cause.json()["errors"][0]["field"], "category");

    // "Start small": the fourth open commitment of one owner comes with advice.
    let mut advice = Vec::new();
    for n in 0..4 {
        let made = c
            .lee
            .json(
                Method::POST,
                &format!("{base}/commitments"),
                Some(
                    json!({"owner": c.lee_id, "statement": format!("Promise {n}"), "due": day(5)}),
                ),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        advice.push(made.json()["advice"].clone());
    }
    assert!(advice[..3].iter().all(|a| a.is_null()));
    assert!(
        advice[3]
            .as_str()
            .unwrap()
            .contains("You already hold 3 open commitments")
    );
    let repair = c.ana.json(Method::GET, &base, None).await.json();
    assert_eq!(repair["commitments"].as_array().unwrap().len(), 4);
    assert_eq!(
        repair["commitments"][0]["occurrences"][0]["status"],
        "upcoming"
    );
    assert!(
        repair["follow_through"]["rate"].is_null(),
        "nothing due yet"
    );
    let cid = repair["commitments"][0]["id"].as_str().unwrap().to_owned();
    let early = c
        .ana
        .json(
            Method::POST,
            &format!(
                "{base}/commitments/{cid}/occurrences/{}/confirmation",
                day(5)
            ),
            Some(json!({"happened": true})),
        )
        .await;
    assert_eq!(
        early.status,
        StatusCode::CONFLICT,
        "nothing to confirm before it is due or done"
    );
    let mine = c
        .lee
        .json(Method::GET, "/api/v1/me/commitments", None)
        .await
        .json();
    assert_eq!(mine["commitments"].as_array().unwrap().len(), 4);
    assert_eq!(
        c.oz.json(Method::GET, "/api/v1/me/commitments", None)
            .await
            .json()["commitments"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
});

/// Moves a repair's clock back: as if it had opened `days` ago with no update since.
async fn age_repair(app: &App, repair: &str, days: i64) {
    app.exec(format!(
        "UPDATE repairs SET created_at = created_at - {} WHERE id = '{repair}'",
        days * 86_400
    ))
    .await;
}

on_both!(
    overdue_updates_are_shown_to_everyone,
    |backend| async move {
        let c = cast(backend).await;
        let r = format!("/repairs/{}", c.repair);
        assert!(!c.ana.get(&r).await.body.contains("Update overdue"));
        age_repair(&c.app, &c.repair, 9).await;
        for b in [&c.ana, &c.lee, &c.fay] {
            let page = b.get(&r).await;
            assert!(
                page.body
                    .contains("Update overdue: last update 9 days ago, promised every 7."),
                "{}",
                page.body
            );
            assert!(
                b.get("/repairs")
                    .await
                    .body
                    .contains("Update overdue: last update 9 days ago"),
                "the list marks it"
            );
        }
        c.fay
            .post_form(
                &format!("{r}/updates"),
                &[
                    ("kind", "check_in"),
                    ("body", "Checking in: the plan holds."),
                ],
            )
            .await;
        assert!(
            !c.ana.get(&r).await.body.contains("Update overdue"),
            "a new update clears it"
        );
    }
);

// A long log shows its latest updates and a window of each commitment's occurrences, with a
// link to all of it; the figures count everything either way.
on_both!(
    long_logs_show_the_latest_and_link_the_rest,
    |backend| async move {
        let c = cast(backend).await;
        let r = format!("/repairs/{}", c.repair);
        for n in 1..=23 {
            let posted = c
                .fay
                .post_form(
                    &format!("{r}/updates"),
                    &[
                        ("kind", "progress"),
                        ("body", &format!("Progress note {n}.")),
                    ],
                )
                .await;
            assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
        }
        // Twelve weekly occurrences: five past (missed by now), one due today, six ahead.
        c.lee_weekly("Share the plan every Monday", 12, &day(-35))
            .await;

        let page = c.lee.get(&r).await;
        assert_eq!(page.status, StatusCode::OK);
        // 23 notes, and the automatic update for each of the five missed occurrences.
        assert!(
            page.body.contains("Showing the latest 20 of 28 updates"),
            "{}",
            page.body
        );
        assert!(page.body.contains("Progress note 23."));
        assert!(
            !page.body.contains("Progress note 3."),
            "older updates wait behind the link"
        );
        assert!(
            page.body
                .contains(&format!("{r}?updates=all#updates-heading"))
        );
        // The latest missed one, today's (Lee can mark it done), and the next one ahead.
        for shown in [day(-7), day(0), day(7)] {
            assert!(page.body.contains(&format!("<td>{shown}</td>")), "{shown}");
        }
        for hidden in [day(-35), day(35)] {
            assert!(
                !page.body.contains(&format!("<td>{hidden}</td>")),
                "{hidden}"
            );
        }
        assert!(
            page.body.contains("Mark done ("),
            "what Lee can act on stays"
        );
        assert!(page.body.contains("9 more occurrences"), "{}", page.body);
        assert!(page.body.contains("Show all 12"));
        // Follow-through counts every occurrence: 0 of 5 kept.
        assert!(page.body.contains("(0 of 5 confirmed)"), "{}", page.body);

        let whole = c.lee.get(&format!("{r}?updates=all&occurrences=all")).await;
        assert_eq!(whole.status, StatusCode::OK);
        assert!(whole.body.contains("Progress note 3."));
        assert!(!whole.body.contains("Showing the latest"));
        for n in [-35, -28, 0, 35, 42] {
            assert!(whole.body.contains(&format!("<td>{}</td>", day(n))), "{n}");
        }
        assert!(!whole.body.contains("more occurrences"));
    }
);

// Each server keeps what a repair's page read and checks the repair's version before using
// it; the database bumps that version on every write (migration 0021's triggers). So a write
// that never passed through this server, as from a second server on the same database, shows
// on the next view: here the writes go straight to the database, one per way a trigger finds
// its repair (the repair's row, a child row, a grandchild through its commitment or update).
on_both!(
    a_repair_page_shows_writes_made_by_another_server,
    |backend| async move {
        let c = cast(backend).await;
        let r = format!("/repairs/{}", c.repair);
        let posted = c
            .fay
            .post_form(
                &format!("{r}/updates"),
                &[("kind", "progress"), ("body", "The plan is drafted.")],
            )
            .await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
        let committed = c
            .lee
            .post_form(
                &format!("{r}/commitments"),
                &[
                    ("owner", &c.lee_id),
                    ("statement", "Share the plan every Monday"),
                    ("cadence", "weekly"),
                    ("count", "4"),
                    ("first_due", &day(1)),
                ],
            )
            .await;
        assert_eq!(
            committed.status,
            StatusCode::SEE_OTHER,
            "{}",
            committed.body
        );
        let before = c.ana.get(&r).await.body;
        assert!(
            before.contains("Share the plan every Monday")
                && before.contains("The plan is drafted.")
        );

        let id = &c.repair;
        let elsewhere: [(String, &str); 4] = [
            (
                format!(
                    "UPDATE commitments SET statement = 'Share the plan every Tuesday' WHERE repair_id = '{id}'"
                ),
                "Share the plan every Tuesday",
            ),
            (
                format!(
                    "UPDATE update_versions SET body = 'The plan is agreed.' \
                     WHERE update_id IN (SELECT id FROM updates WHERE repair_id = '{id}')"
                ),
                "The plan is agreed.",
            ),
            (
                format!(
                    "UPDATE occurrences SET done_on = '{}' WHERE commitment_id IN \
                     (SELECT id FROM commitments WHERE repair_id = '{id}') AND due = '{}'",
                    day(0),
                    day(1)
                ),
                "Done: waiting for the affected side to confirm",
            ),
            (
                format!("UPDATE repairs SET title = 'Missed launch dates' WHERE id = '{id}'"),
                "Missed launch dates",
            ),
        ];
        for (statement, shown) in elsewhere {
            assert!(!c.ana.get(&r).await.body.contains(shown), "{shown} is new");
            c.app.exec(statement).await;
            let page = c.ana.get(&r).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.body.contains(shown), "the next view shows {shown:?}");
        }
    }
);
