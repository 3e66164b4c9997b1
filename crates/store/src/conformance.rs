//! One scripted story through the storage interface. Every backend's tests call
//! [`story`] on a fresh database; a backend that passes behaves like every other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test story run by the adapters' tests: a failed step fails the test, loudly"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "a test story needs fresh ids for its rows, and the one id source is in the \
              application layer above the store"
)]

use kintsugi_core::{Email, KThreshold, OrganisationName, PersonName, Roles, TeamName};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::*;

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
}

fn person(org_id: Uuid, name: &str, email: &str, team_ids: Vec<Uuid>) -> NewPerson {
    NewPerson {
        id: Uuid::new_v4(),
        org_id,
        name: PersonName::parse(name).unwrap(),
        email: Email::parse(email).unwrap(),
        roles: Roles::default(),
        team_ids,
        password_hash: None,
        created_at: at(0),
    }
}

fn org(name: &str, is_demo: bool) -> NewOrganisation {
    NewOrganisation {
        id: Uuid::new_v4(),
        name: OrganisationName::parse(name).unwrap(),
        is_demo,
        k_threshold: KThreshold::DEFAULT,
        created_at: at(0),
    }
}

fn audit(org_id: Uuid, action: &str) -> Audit {
    Audit {
        id: Uuid::new_v4(),
        org_id,
        actor_id: None,
        action: action.into(),
        subject: "story".into(),
        detail: String::new(),
        at: at(5),
    }
}

fn team(org_id: Uuid, name: &str) -> NewTeam {
    NewTeam {
        id: Uuid::new_v4(),
        org_id,
        name: TeamName::parse(name).unwrap(),
        created_at: at(1),
    }
}

/// Panics with a message naming the step that failed.
pub async fn story(store: &dyn Store) {
    store.ping().await.expect("ping");
    assert!(
        store.list_organisations().await.unwrap().is_empty(),
        "a fresh store is empty"
    );

    // First run: a setup token creates the organisation and its admin, once.
    store.put_setup_token("setup-hash", at(3600)).await.unwrap();
    store
        .put_setup_token("second-link", at(3600))
        .await
        .unwrap();
    let acme = org("Acme", false);
    let mut admin = person(acme.id, "Ada Admin", "ada@acme.example", vec![]);
    admin.roles = Roles::ADMIN;
    admin.password_hash = Some("$argon2id$fake".into());
    assert!(matches!(
        store
            .setup_organisation("wrong-hash", at(10), &acme, &admin)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        matches!(
            store
                .setup_organisation("setup-hash", at(7200), &acme, &admin)
                .await,
            Err(StoreError::NotFound(_))
        ),
        "an expired setup token is refused"
    );
    assert!(
        store.list_organisations().await.unwrap().is_empty(),
        "a refused setup stores nothing"
    );
    store
        .setup_organisation("setup-hash", at(10), &acme, &admin)
        .await
        .unwrap();
    let again = org("Acme again", false);
    let admin2 = person(again.id, "Other", "other@acme.example", vec![]);
    assert!(
        store
            .setup_organisation("setup-hash", at(11), &again, &admin2)
            .await
            .is_err(),
        "a setup token works once"
    );
    assert!(
        store
            .setup_organisation("second-link", at(11), &again, &admin2)
            .await
            .is_err(),
        "after setup, no other setup link works"
    );
    let stored = store
        .organisation(acme.id)
        .await
        .unwrap()
        .expect("organisation stored");
    assert_eq!(stored.name, "Acme");
    assert_eq!(stored.k_threshold, KThreshold::DEFAULT);
    assert!(!stored.is_demo);

    // A second organisation (the demo) lives beside it; nothing leaks across.
    let demo = org("Demo", true);
    let demo_admin = person(demo.id, "Dee Demo", "dee@demo.example", vec![]);
    store.create_organisation(&demo, &demo_admin).await.unwrap();
    assert_eq!(store.list_organisations().await.unwrap().len(), 2);

    // Teams: unique names per organisation.
    let eng = team(acme.id, "Engineering");
    let ops = team(acme.id, "Operations");
    store.create_team(&eng).await.unwrap();
    store.create_team(&ops).await.unwrap();
    assert!(matches!(
        store.create_team(&team(acme.id, "Engineering")).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_team(&team(demo.id, "Engineering"))
        .await
        .expect("same name in another organisation");
    let teams = store.list_teams(acme.id).await.unwrap();
    assert_eq!(
        teams.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["Engineering", "Operations"]
    );
    assert!(
        store.team(demo.id, eng.id).await.unwrap().is_none(),
        "teams are scoped to their organisation"
    );

    // People, with memberships stored whole or not at all.
    let bo = person(acme.id, "Bo", "bo@acme.example", vec![eng.id, ops.id]);
    store.create_person(&bo).await.unwrap();
    let dup = person(acme.id, "Bo Two", "BO@acme.example", vec![]);
    assert!(
        matches!(
            store.create_person(&dup).await,
            Err(StoreError::Conflict(_))
        ),
        "emails are unique"
    );
    let demo_team = store.list_teams(demo.id).await.unwrap()[0].id;
    let cross = person(acme.id, "Cy", "cy@acme.example", vec![eng.id, demo_team]);
    assert!(matches!(
        store.create_person(&cross).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store.person(acme.id, cross.id).await.unwrap().is_none(),
        "nothing half-stored"
    );
    assert!(
        store
            .credentials("cy@acme.example")
            .await
            .unwrap()
            .is_none()
    );

    let got = store.person(acme.id, bo.id).await.unwrap().unwrap();
    let mut want_teams = vec![eng.id, ops.id];
    want_teams.sort();
    assert_eq!(got.team_ids, want_teams);
    assert!(got.active && !got.has_password);
    assert!(
        store.person(demo.id, bo.id).await.unwrap().is_none(),
        "people are scoped to their organisation"
    );
    let teams = store.list_teams(acme.id).await.unwrap();
    assert!(teams.iter().all(|t| t.member_count == 1), "{teams:?}");
    assert_eq!(store.list_people(acme.id).await.unwrap().len(), 2);

    store
        .set_roles(
            acme.id,
            bo.id,
            Roles {
                admin: false,
                facilitator: true,
            },
            &audit(acme.id, "person.roles"),
        )
        .await
        .unwrap();
    assert!(
        store
            .person(acme.id, bo.id)
            .await
            .unwrap()
            .unwrap()
            .roles
            .facilitator
    );
    assert!(matches!(
        store
            .set_roles(demo.id, bo.id, Roles::ADMIN, &audit(demo.id, "x"))
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Invitations: a link that expires; setting a password consumes it.
    store
        .create_invitation(&NewInvitation {
            token_hash: "old-invite".into(),
            person_id: bo.id,
            created_at: at(20),
            expires_at: at(1000),
        })
        .await
        .unwrap();
    store
        .create_invitation(&NewInvitation {
            token_hash: "invite".into(),
            person_id: bo.id,
            created_at: at(21),
            expires_at: at(1000),
        })
        .await
        .unwrap();
    assert!(
        store
            .invitation("old-invite", at(30))
            .await
            .unwrap()
            .is_none(),
        "a new invitation replaces the old"
    );
    assert_eq!(
        store
            .invitation("invite", at(30))
            .await
            .unwrap()
            .unwrap()
            .id,
        bo.id
    );
    assert!(
        store
            .invitation("invite", at(1001))
            .await
            .unwrap()
            .is_none(),
        "invitations expire"
    );
    let accepted = store
        .accept_invitation_with_password("invite", at(40), "$argon2id$bo")
        .await
        .unwrap();
    assert!(accepted.has_password);
    assert!(
        store.invitation("invite", at(41)).await.unwrap().is_none(),
        "accepting consumes it"
    );
    let creds = store.credentials("bo@acme.example").await.unwrap().unwrap();
    assert_eq!(creds.password_hash.as_deref(), Some("$argon2id$bo"));

    // Sessions, and deactivation that ends them but keeps the person.
    for (hash, expires) in [("s1", at(5000)), ("s2", at(5000)), ("s-old", at(50))] {
        store
            .create_session(&NewSession {
                id_hash: hash.into(),
                person_id: bo.id,
                created_at: at(45),
                expires_at: expires,
            })
            .await
            .unwrap();
    }
    let (session, who, org) = store.session("s1", at(60)).await.unwrap().unwrap();
    assert_eq!((session.person_id, who.id, org.id), (bo.id, bo.id, acme.id));
    assert_eq!(
        who,
        store.person(acme.id, bo.id).await.unwrap().unwrap(),
        "with their teams"
    );
    assert!(
        store.session("s-old", at(60)).await.unwrap().is_none(),
        "expired sessions do not count"
    );
    assert_eq!(store.delete_expired(at(60)).await.unwrap(), 1);
    store.delete_session("s2").await.unwrap();
    assert!(store.session("s2", at(61)).await.unwrap().is_none());

    store
        .create_invitation(&NewInvitation {
            token_hash: "invite-2".into(),
            person_id: bo.id,
            created_at: at(70),
            expires_at: at(1000),
        })
        .await
        .unwrap();
    store
        .deactivate_person(
            acme.id,
            bo.id,
            at(100),
            &audit(acme.id, "person.deactivate"),
        )
        .await
        .unwrap();
    assert!(
        store.session("s1", at(101)).await.unwrap().is_none(),
        "deactivation ends sessions"
    );
    assert!(
        store
            .invitation("invite-2", at(101))
            .await
            .unwrap()
            .is_none(),
        "and invitations"
    );
    let kept = store
        .person(acme.id, bo.id)
        .await
        .unwrap()
        .expect("history is kept");
    assert!(!kept.active);
    assert_eq!(kept.deactivated_at, Some(at(100)));
    assert_eq!(kept.team_ids.len(), 2, "memberships are kept");
    assert!(matches!(
        store
            .deactivate_person(acme.id, Uuid::new_v4(), at(100), &audit(acme.id, "x"))
            .await,
        Err(StoreError::NotFound(_))
    ));

    repair_story(store, acme.id, admin.id).await;
}

fn day(n: i64) -> Date {
    Date::from_calendar_date(2027, time::Month::January, 1).unwrap() + time::Duration::days(n)
}

fn update(kind: UpdateKind, author: Option<Uuid>, body: &str) -> NewUpdate {
    NewUpdate {
        id: Uuid::new_v4(),
        kind,
        author_id: author,
        body: body.into(),
        reason: None,
        created_at: at(200),
    }
}

fn edit(update_id: Uuid, editor_id: Uuid, body: &str, t: i64) -> UpdateEdit {
    UpdateEdit {
        update_id,
        editor_id,
        body: body.into(),
        reason: None,
        at: at(t),
    }
}

/// An event as the layer above stores it with a change: one `event` job, keyed by the event,
/// fans it out.
fn event(org_id: Uuid, repair_id: Uuid, name: &str, round_id: Option<Uuid>) -> NewEvent {
    let id = Uuid::new_v4();
    NewEvent {
        id,
        repair_id,
        event: name.into(),
        round_id,
        at: at(250),
        fan_out: NewJob {
            id: Uuid::new_v4(),
            org_id: Some(org_id),
            kind: "event".into(),
            payload: format!("{{\"event_id\":\"{id}\"}}"),
            idempotency_key: format!("event:{id}"),
            max_attempts: 5,
            run_at: at(250),
            created_at: at(250),
        },
    }
}

/// The organisation's `event` jobs: one per stored event.
async fn event_jobs(store: &dyn Store, org_id: Uuid) -> usize {
    let jobs = store.jobs(org_id, None, 1000).await.unwrap();
    jobs.iter().filter(|j| j.kind == "event").count()
}

/// The stored event, after checking that its job was stored with it (or neither was).
async fn stored(store: &dyn Store, e: &NewEvent) -> Option<EventRecord> {
    let record = store.event(e.id).await.unwrap();
    let keys = store
        .known_job_keys(std::slice::from_ref(&e.fan_out.idempotency_key))
        .await
        .unwrap();
    assert_eq!(
        record.is_some(),
        keys.len() == 1,
        "an event and its job are stored together ({})",
        e.event
    );
    record
}

async fn repair_story(store: &dyn Store, org_id: Uuid, facilitator: Uuid) {
    use kintsugi_core::repair::Transition;
    let lead = person(org_id, "Lee Lead", "lee@acme.example", vec![]);
    let ana = person(org_id, "Ana Affected", "ana@acme.example", vec![]);
    let out = person(org_id, "Oz Outsider", "oz@acme.example", vec![]);
    for p in [&lead, &ana, &out] {
        store.create_person(p).await.unwrap();
    }
    let repair = NewRepair {
        id: Uuid::new_v4(),
        org_id,
        title: "Missed launch date".into(),
        summary: "The launch slipped without warning.".into(),
        breach: Breach::MissedDeadline,
        scope: Scope::PersonPerson,
        facilitator_id: facilitator,
        update_cadence_days: 7,
        deception: false,
        participants: vec![(lead.id, Side::Accountable), (ana.id, Side::Affected)],
        notification_ids: vec![Uuid::new_v4(), Uuid::new_v4()],
        teams: vec![],
        created_at: at(100),
    };
    assert!(
        matches!(
            store
                .create_repair(
                    &NewRepair {
                        notification_ids: vec![Uuid::new_v4()],
                        ..repair.clone()
                    },
                    "You were added to a repair",
                    &audit(org_id, "repair.open"),
                )
                .await,
            Err(StoreError::Internal(_))
        ),
        "one notification id per participant"
    );
    assert!(store.repair(org_id, repair.id).await.unwrap().is_none());
    store
        .create_repair(
            &repair,
            "You were added to a repair",
            &audit(org_id, "repair.open"),
        )
        .await
        .unwrap();
    let got = store
        .repair(org_id, repair.id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        (got.stage, got.side_of(ana.id), got.side_of(out.id)),
        (Stage::Acknowledge, Some(Side::Affected), None)
    );
    assert_eq!(got.facilitator_name, "Ada Admin");
    assert!(
        store
            .repair(Uuid::new_v4(), repair.id)
            .await
            .unwrap()
            .is_none(),
        "scoped to the organisation"
    );
    assert_eq!(store.repairs_of(org_id, ana.id).await.unwrap().len(), 1);
    assert_eq!(
        store.repairs_of(org_id, facilitator).await.unwrap().len(),
        1,
        "the facilitator sees it"
    );
    assert!(
        store.repairs_of(org_id, out.id).await.unwrap().is_empty(),
        "an outsider does not"
    );
    assert_eq!(
        store.all_repairs(org_id).await.unwrap()[0].title,
        "Missed launch date"
    );
    let notes = store.notifications(ana.id, 10).await.unwrap();
    assert_eq!((notes.len(), notes[0].seen), (1, false));
    assert_eq!(
        notes[0].id, repair.notification_ids[1],
        "under the id given"
    );
    store.mark_notifications_seen(ana.id).await.unwrap();
    assert!(store.notifications(ana.id, 10).await.unwrap()[0].seen);

    // Guardrails are checked inside the move's transaction; a refusal stores nothing.
    let audits = store.audit_log(org_id, 100).await.unwrap().len();
    let refused_event = event(org_id, repair.id, "repair.stage", None);
    let refused = store
        .move_stage(
            repair.id,
            Stage::Acknowledge,
            &Transition::Advance,
            None,
            &audit(org_id, "repair.stage"),
            &refused_event,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(ref m)) if m.contains("acknowledgment")),
        "{refused:?}"
    );
    assert_eq!(
        store.audit_log(org_id, 100).await.unwrap().len(),
        audits,
        "a refused move leaves no audit entry"
    );
    assert!(
        stored(store, &refused_event).await.is_none(),
        "nor an event, nor its job"
    );
    assert_eq!(event_jobs(store, org_id).await, 0);
    let ack = Acknowledgment {
        id: Uuid::new_v4(),
        author_id: lead.id,
        author_name: String::new(),
        body: "I missed the date and did not warn you.".into(),
        score: 64,
        created_at: at(110),
    };
    store
        .post_acknowledgment(repair.id, &ack, &audit(org_id, "repair.acknowledge"))
        .await
        .unwrap();
    assert_eq!(
        store.acknowledgments(repair.id).await.unwrap()[0].author_name,
        "Lee Lead"
    );
    let moved_event = event(org_id, repair.id, "repair.stage", None);
    let moved = store
        .move_stage(
            repair.id,
            Stage::Acknowledge,
            &Transition::Advance,
            None,
            &audit(org_id, "repair.stage"),
            &moved_event,
        )
        .await;
    assert_eq!(moved.unwrap(), Stage::Understand);
    assert_eq!(
        stored(store, &moved_event).await,
        Some(EventRecord {
            id: moved_event.id,
            org_id,
            repair_id: repair.id,
            repair_title: "Missed launch date".into(),
            event: "repair.stage".into(),
            round_id: None,
            stage: Stage::Understand,
            created_at: at(250),
            fanned_out: false,
        }),
        "the move stored its event, with the stage it moved to, in its transaction"
    );
    assert_eq!(event_jobs(store, org_id).await, 1, "one event, one job");
    let stale_event = event(org_id, repair.id, "repair.stage", None);
    let stale = store
        .move_stage(
            repair.id,
            Stage::Acknowledge,
            &Transition::Advance,
            None,
            &audit(org_id, "repair.stage"),
            &stale_event,
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict(_))),
        "a move from a stage the repair has left is refused"
    );
    assert!(stored(store, &stale_event).await.is_none());
    assert_eq!(event_jobs(store, org_id).await, 1);

    store
        .record_no_round_reason(
            repair.id,
            "Two people: a round cannot reach k.",
            &audit(org_id, "repair.no_round"),
        )
        .await
        .unwrap();
    let cause = Cause {
        id: Uuid::new_v4(),
        category: CauseCategory::Process,
        description: "No release checklist.".into(),
        support: vec![],
        supporting_comments: vec![],
        created_at: at(120),
    };
    store
        .add_cause(repair.id, &cause, &audit(org_id, "repair.cause"))
        .await
        .unwrap();
    assert_eq!(store.causes(repair.id).await.unwrap(), vec![cause]);
    assert_eq!(
        store
            .move_stage(
                repair.id,
                Stage::Understand,
                &Transition::Advance,
                None,
                &audit(org_id, "s"),
                &event(org_id, repair.id, "repair.stage", None),
            )
            .await
            .unwrap(),
        Stage::Act
    );

    // Commitments and their occurrences.
    let weekly = NewCommitment {
        id: Uuid::new_v4(),
        repair_id: repair.id,
        owner_id: lead.id,
        statement: "Send the release plan every Monday".into(),
        cadence: Some("weekly".into()),
        due_dates: vec![day(0), day(7), day(14)],
        created_at: at(130),
    };
    store
        .add_commitment(&weekly, &audit(org_id, "commitment.add"))
        .await
        .unwrap();
    store
        .mark_done(weekly.id, day(0), day(0), &audit(org_id, "commitment.done"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .mark_done(weekly.id, day(1), day(1), &audit(org_id, "x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .confirm(Uuid::new_v4(), weekly.id, day(0), ana.id, true, day(1))
        .await
        .unwrap();
    assert!(
        matches!(
            store
                .confirm(Uuid::new_v4(), weekly.id, day(0), ana.id, false, day(1))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "one word per person"
    );
    let listed = store.commitments(repair.id).await.unwrap();
    assert_eq!(listed[0].owner_name, "Lee Lead");
    assert_eq!(listed[0].occurrences.len(), 3);
    assert_eq!(
        (
            listed[0].occurrences[0].yes,
            listed[0].occurrences[0].no,
            listed[0].occurrences[0].done_on
        ),
        (1, 0, Some(day(0)))
    );
    assert_eq!(listed[0].occurrences[0].last_confirmed_on, Some(day(1)));
    assert_eq!(store.commitments_owned_by(lead.id).await.unwrap().len(), 1);
    assert!(store.commitments_owned_by(ana.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .move_stage(
                repair.id,
                Stage::Act,
                &Transition::Advance,
                None,
                &audit(org_id, "s"),
                &event(org_id, repair.id, "repair.stage", None),
            )
            .await
            .unwrap(),
        Stage::Rebuild
    );
    assert_eq!(event_jobs(store, org_id).await, 3);

    // The update log: append-only, edits add versions, a missed occurrence is announced once.
    let first = update(UpdateKind::Progress, Some(facilitator), "Plan agreed.");
    let elsewhere = event(org_id, Uuid::new_v4(), "repair.update", None);
    assert!(
        store
            .post_update(repair.id, &first, &audit(org_id, "x"), &elsewhere)
            .await
            .is_err(),
        "an event about another repair is refused, and the change with it"
    );
    assert!(store.updates(repair.id).await.unwrap().is_empty());
    let posted = event(org_id, repair.id, "repair.update", None);
    store
        .post_update(repair.id, &first, &audit(org_id, "update.post"), &posted)
        .await
        .unwrap();
    let record = stored(store, &posted).await.expect("the update's event");
    assert_eq!(
        (record.event.as_str(), record.stage, record.org_id),
        ("repair.update", Stage::Rebuild, org_id)
    );
    assert_eq!(event_jobs(store, org_id).await, 4);
    store
        .edit_update(
            repair.id,
            &edit(first.id, facilitator, "Plan agreed with both sides.", 210),
            &audit(org_id, "update.edit"),
        )
        .await
        .unwrap();
    let missed = update(
        UpdateKind::Missed,
        None,
        "Missed: Send the release plan (due 2027-01-08)",
    );
    let before_missed = store.repair_version(org_id, repair.id).await.unwrap();
    let missed_event = event(org_id, repair.id, "commitment.missed", None);
    assert!(
        store
            .announce_missed(repair.id, weekly.id, day(7), &missed, &missed_event)
            .await
            .unwrap()
    );
    let record = stored(store, &missed_event)
        .await
        .expect("the miss's event");
    assert_eq!(
        (record.repair_title.as_str(), record.stage),
        ("Missed launch date", Stage::Rebuild)
    );
    assert_eq!(event_jobs(store, org_id).await, 5);
    assert!(
        store.repair_version(org_id, repair.id).await.unwrap() > before_missed,
        "a write the page shows bumps the repair's version (migration 0021)"
    );
    let again = update(UpdateKind::Missed, None, "twice");
    let again_event = event(org_id, repair.id, "commitment.missed", None);
    assert!(
        !store
            .announce_missed(repair.id, weekly.id, day(7), &again, &again_event)
            .await
            .unwrap(),
        "announced once"
    );
    assert!(
        stored(store, &again_event).await.is_none(),
        "and its event stored once"
    );
    assert_eq!(event_jobs(store, org_id).await, 5);
    let version = store.repair_version(org_id, repair.id).await.unwrap();
    assert!(matches!(
        store
            .edit_update(
                repair.id,
                &edit(missed.id, facilitator, "hide it", 220),
                &audit(org_id, "x")
            )
            .await,
        Err(StoreError::Refused(_))
    ));
    assert_eq!(
        store.repair_version(org_id, repair.id).await.unwrap(),
        version,
        "a refused edit bumps nothing"
    );
    let log = store.updates(repair.id).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[0]
            .versions
            .iter()
            .map(|v| v.body.as_str())
            .collect::<Vec<_>>(),
        ["Plan agreed.", "Plan agreed with both sides."]
    );
    assert_eq!(log[0].current().version, 2);
    assert_eq!(
        (log[1].kind, log[1].author_id, log[1].seq),
        (UpdateKind::Missed, None, 2)
    );
    assert_eq!(
        store.repairs_of(org_id, ana.id).await.unwrap()[0].last_update_at,
        Some(at(200)),
        "the last update counts people's updates, not Kintsugi's own"
    );

    let overridden = Transition::Override {
        reason: "Both sides agree trust is back.".into(),
    };
    assert_eq!(
        store
            .move_stage(
                repair.id,
                Stage::Rebuild,
                &overridden,
                None,
                &audit(org_id, "s"),
                &event(org_id, repair.id, "repair.stage", None),
            )
            .await
            .unwrap(),
        Stage::Rebuilt
    );
    let done = store.repair(org_id, repair.id).await.unwrap().unwrap();
    assert_eq!(
        done.override_reason.as_deref(),
        Some("Both sides agree trust is back.")
    );
    let log = store.audit_log(org_id, 100).await.unwrap();
    assert!(log.iter().any(|a| a.action == "repair.stage"));
    assert!(log.iter().any(|a| a.action == "person.roles"));

    // Secret feed URLs.
    store
        .set_feed_token(ana.id, "feed-1", at(300))
        .await
        .unwrap();
    store
        .set_feed_token(ana.id, "feed-2", at(301))
        .await
        .unwrap();
    assert!(
        store.feed_person("feed-1").await.unwrap().is_none(),
        "a new feed URL replaces the old"
    );
    assert_eq!(
        store.feed_person("feed-2").await.unwrap().unwrap().id,
        ana.id
    );
    store.revoke_feed_token(ana.id).await.unwrap();
    assert!(store.feed_person("feed-2").await.unwrap().is_none());

    assert_eq!(event_jobs(store, org_id).await, 6);
    fan_out_story(store, org_id, &posted).await;

    round_story(store, org_id, repair.id, &[lead.id, ana.id]).await;
    library_story(store, org_id, repair.id, facilitator).await;
    release_story(store, org_id).await;
}

/// A team health period is released by the close of its last check, with the checks' k, in
/// the layout of that moment, and once: moving a team afterwards changes nothing released.
async fn release_story(store: &dyn Store, org_id: Uuid) {
    let instrument = kintsugi_core::instrument::default_instrument();
    let dept = team(org_id, "Release dept");
    store.create_team(&dept).await.unwrap();
    let mut checks = Vec::new();
    // Lone (2 answers), Mid (3) and Large (4), k = 3.
    for (name, answers) in [
        ("Release lone", 2),
        ("Release mid", 3),
        ("Release large", 4),
    ] {
        let t = team(org_id, name);
        store.create_team(&t).await.unwrap();
        let round = NewRound {
            id: Uuid::new_v4(),
            repair_id: None,
            kind: RoundKind::TeamHealth,
            public_key: "cHVibGlj".into(),
            fingerprint: "abcd".into(),
            closes_at: Some(at(900)),
            opened_at: at(800),
            subject: Some(t.id.to_string()),
            k: KThreshold::new(3).unwrap(),
        };
        let health = HealthRound {
            round_id: round.id,
            org_id,
            team_id: t.id,
            instrument_id: None,
            period: 7,
        };
        store
            .open_health_round(&round, &health, &audit(org_id, "round.open"))
            .await
            .unwrap();
        let batch: Vec<Redemption> = (0..answers)
            .map(|_| Redemption {
                round_id: round.id,
                mark: Uuid::new_v4().to_string(),
                answer: Answer {
                    id: Uuid::new_v4(),
                    category: None,
                    comment: None,
                    rating: None,
                    items: instrument.items.iter().map(|i| (i.id.clone(), 4)).collect(),
                    reply_check: None,
                },
            })
            .collect();
        store.redeem(&batch).await.unwrap();
        checks.push((t.id, round.id));
    }
    let close = |round: Uuid| async move {
        store
            .close_health_round(
                round,
                at(901),
                &instrument_of(),
                &audit(org_id, "round.close"),
            )
            .await
            .unwrap();
    };
    let (lone, mid, large) = (checks[0], checks[1], checks[2]);
    close(lone.1).await;
    close(mid.1).await;
    assert!(
        store.released_periods(org_id).await.unwrap().is_empty(),
        "nothing is released while a check of the period is open"
    );
    // Lone becomes the only team under its parent before the last check closes.
    store
        .set_team_parent(org_id, lone.0, Some(dept.id), &audit(org_id, "team.parent"))
        .await
        .unwrap();
    close(large.1).await;
    let periods = store.released_periods(org_id).await.unwrap();
    assert_eq!(
        periods,
        vec![ReleasedPeriod {
            period: 7,
            k: KThreshold::new(3).unwrap()
        }]
    );
    let released = store.released_period(org_id, 7).await.unwrap();
    let hidden = |team: Option<Uuid>| {
        let cells: Vec<&ReleasedCell> = released
            .iter()
            .filter(|c| c.rollup.team_id == team)
            .collect();
        assert!(!cells.is_empty(), "{team:?} released");
        assert!(cells.iter().all(|c| c.hidden == cells[0].hidden));
        cells[0].hidden
    };
    // Lone, a lone child below k, is hidden with Mid, the smallest shown team.
    assert!(hidden(Some(lone.0)) && hidden(Some(mid.0)));
    assert!(!hidden(Some(large.0)) && !hidden(None));
    assert!(
        released
            .iter()
            .filter(|c| c.hidden)
            .all(|c| c.rollup.total == 0 && c.rollup.respondents == 0),
        "a hidden cell carries no numbers"
    );
    let lone_cell = released
        .iter()
        .find(|c| c.rollup.team_id == Some(lone.0))
        .unwrap();
    assert_eq!(lone_cell.parent_id, Some(dept.id), "the layout at close");
    let org_cell = released
        .iter()
        .find(|c| c.rollup.team_id.is_none())
        .unwrap();
    assert_eq!(org_cell.rollup.respondents, 9);
    // Moving teams afterwards re-publishes nothing; a second release finds nothing to do.
    store
        .set_team_parent(org_id, lone.0, None, &audit(org_id, "team.parent"))
        .await
        .unwrap();
    store
        .set_team_parent(org_id, mid.0, Some(dept.id), &audit(org_id, "team.parent"))
        .await
        .unwrap();
    assert_eq!(
        store.release_health_periods(org_id, at(990)).await.unwrap(),
        0
    );
    assert_eq!(store.released_period(org_id, 7).await.unwrap(), released);
    assert_eq!(
        store.released_cells(org_id, Some(lone.0)).await.unwrap(),
        released
            .iter()
            .filter(|c| c.rollup.team_id == Some(lone.0))
            .cloned()
            .collect::<Vec<_>>()
    );
}

fn instrument_of() -> kintsugi_core::instrument::Instrument {
    kintsugi_core::instrument::default_instrument()
}

/// Fanning out an event writes its deliveries and jobs once: the second run (a redelivered
/// job, another worker) writes nothing, and a fan-out that fails leaves the event to fan out.
async fn fan_out_story(store: &dyn Store, org_id: Uuid, e: &NewEvent) {
    let hook = NewWebhook {
        id: Uuid::new_v4(),
        org_id,
        repair_id: Some(e.repair_id),
        url: "https://hooks.example/kintsugi".into(),
        secret: "s3cret".into(),
        events: vec!["repair.update".into()],
        created_at: at(260),
    };
    store
        .add_webhook(&hook, &audit(org_id, "webhook.add"))
        .await
        .unwrap();
    // A delivery to `webhook_id` with the job that sends it, and the event's own job again
    // (its key exists: skipped, as `enqueue_job` would).
    let plan = |webhook_id: Uuid| {
        let delivery = NewDelivery {
            id: Uuid::new_v4(),
            webhook_id,
            org_id,
            event: e.event.clone(),
            body: "{\"text\":\"Plan agreed.\"}".into(),
            created_at: at(270),
        };
        let send = NewJob {
            id: Uuid::new_v4(),
            org_id: Some(org_id),
            kind: "webhook".into(),
            payload: format!("{{\"delivery_id\":\"{}\"}}", delivery.id),
            idempotency_key: format!("webhook:{}", delivery.id),
            max_attempts: 8,
            run_at: at(270),
            created_at: at(270),
        };
        (vec![delivery], vec![send, e.fan_out.clone()])
    };
    let counts = async || {
        (
            store.webhook_deliveries(org_id, 100).await.unwrap().len(),
            store.jobs(org_id, None, 1000).await.unwrap().len(),
        )
    };
    let (deliveries, jobs) = counts().await;
    assert_eq!(deliveries, 0);

    let (to_nowhere, its_jobs) = plan(Uuid::new_v4());
    assert!(
        store
            .fan_out_event(e.id, &to_nowhere, &its_jobs, at(270))
            .await
            .is_err(),
        "a delivery to a webhook that does not exist"
    );
    assert_eq!(counts().await, (0, jobs), "a failed fan-out writes nothing");
    assert!(!store.event(e.id).await.unwrap().unwrap().fanned_out);

    let (first, first_jobs) = plan(hook.id);
    assert!(
        store
            .fan_out_event(e.id, &first, &first_jobs, at(270))
            .await
            .unwrap()
    );
    assert_eq!(
        counts().await,
        (1, jobs + 1),
        "the delivery and its job; the event's own job is not stored twice"
    );
    assert!(store.event(e.id).await.unwrap().unwrap().fanned_out);
    let delivered = &store.webhook_deliveries(org_id, 100).await.unwrap()[0];
    assert_eq!(
        (delivered.id, delivered.status.as_str()),
        (first[0].id, "queued")
    );

    let (second, second_jobs) = plan(hook.id);
    assert!(
        !store
            .fan_out_event(e.id, &second, &second_jobs, at(280))
            .await
            .unwrap(),
        "an event fans out once"
    );
    assert!(
        !store
            .fan_out_event(Uuid::new_v4(), &second, &second_jobs, at(280))
            .await
            .unwrap(),
        "an unknown event fans out nothing"
    );
    assert_eq!(
        counts().await,
        (1, jobs + 1),
        "the second fan-out wrote nothing"
    );
    assert!(
        store.event(Uuid::new_v4()).await.unwrap().is_none(),
        "no such event"
    );
}

/// The lessons library: one lesson per repair, searched with an escaped LIKE pattern;
/// stories with no author, hidden ones only when asked for, found by their reply check.
async fn library_story(store: &dyn Store, org_id: Uuid, repair_id: Uuid, facilitator: Uuid) {
    let text = kintsugi_core::lessons::LessonText {
        title: "Plans slipped 50% of the time".into(),
        what_broke: "Person A moved the date.".into(),
        causes: "No_checklist".into(),
        what_worked: "A weekly plan.".into(),
        figures: String::new(),
    };
    let lesson = NewLesson {
        id: Uuid::new_v4(),
        org_id,
        repair_id,
        breach: Breach::MissedDeadline,
        text: text.clone(),
        published_at: at(900),
    };
    store
        .publish_lesson(&lesson, &audit(org_id, "lesson.publish"))
        .await
        .unwrap();
    let again = NewLesson {
        id: Uuid::new_v4(),
        ..lesson.clone()
    };
    assert!(matches!(
        store.publish_lesson(&again, &audit(org_id, "x")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.lesson_of_repair(repair_id).await.unwrap(),
        Some(lesson.id)
    );
    let search = |q: &str| kintsugi_core::lessons::search_pattern(q);
    let found = |q: &str| {
        let p = search(q);
        async move { store.lessons(org_id, p.as_deref()).await.unwrap().len() }
    };
    assert_eq!(found("").await, 1);
    assert_eq!(found("WEEKLY").await, 1, "case-insensitive, in every field");
    assert_eq!(found("50%").await, 1);
    assert_eq!(found("0%").await, 1);
    assert_eq!(found("5_%").await, 0, "_ and % are literal");
    assert_eq!(found("no_check").await, 1);
    assert_eq!(found("noXcheck").await, 0, "_ matches only itself");
    let stored = store.lesson(org_id, lesson.id).await.unwrap().unwrap();
    assert_eq!((stored.text, stored.breach), (text, Breach::MissedDeadline));
    assert!(
        store
            .lesson(Uuid::new_v4(), lesson.id)
            .await
            .unwrap()
            .is_none()
    );

    let story = NewStory {
        id: Uuid::new_v4(),
        org_id,
        title: "Credit taken".into(),
        body: "My lead presents my work.".into(),
        week: 2970,
        reply_check: "c".repeat(64),
    };
    store.submit_story(&story).await.unwrap();
    assert!(matches!(
        store
            .submit_story(&NewStory {
                id: Uuid::new_v4(),
                ..story.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    let answer = StoryAnswer {
        id: Uuid::new_v4(),
        author_id: facilitator,
        author_name: String::new(),
        body: "Keep notes.".into(),
        created_at: at(950),
    };
    assert!(matches!(
        store
            .answer_story(Uuid::new_v4(), story.id, &answer, &audit(org_id, "x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .answer_story(org_id, story.id, &answer, &audit(org_id, "story.answer"))
        .await
        .unwrap();
    let by_check = store
        .story_by_check(&"c".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((by_check.id, by_check.answers.len()), (story.id, 1));
    assert_eq!(by_check.answers[0].body, "Keep notes.");
    assert!(
        store
            .story_by_check(&"d".repeat(64))
            .await
            .unwrap()
            .is_none()
    );
    store
        .set_story_hidden(org_id, story.id, true, &audit(org_id, "story.hide"))
        .await
        .unwrap();
    assert!(store.stories(org_id, None, false).await.unwrap().is_empty());
    let all = store
        .stories(org_id, search("presents").as_deref(), true)
        .await
        .unwrap();
    assert_eq!((all.len(), all[0].hidden, all[0].week), (1, true, 2970));
}

async fn round_story(store: &dyn Store, org_id: Uuid, repair_id: Uuid, people: &[Uuid]) {
    let round = NewRound {
        id: Uuid::new_v4(),
        repair_id: Some(repair_id),
        kind: RoundKind::Listening,
        public_key: "cHVibGlj".into(),
        fingerprint: "abcd".into(),
        closes_at: None,
        opened_at: at(400),
        subject: None,
        k: KThreshold::new(4).unwrap(),
    };
    let events = event_jobs(store, org_id).await;
    let opened = event(org_id, repair_id, "round.opened", Some(round.id));
    // The round's sealed key is stored just before the round, and read only while it is open.
    store.put_round_key(round.id, "sealed-key").await.unwrap();
    assert_eq!(
        store.round_key(round.id).await.unwrap(),
        None,
        "no round yet"
    );
    store
        .open_round(&round, &audit(org_id, "round.open"), &opened)
        .await
        .unwrap();
    assert_eq!(
        store.round_key(round.id).await.unwrap().as_deref(),
        Some("sealed-key")
    );
    assert!(matches!(
        store.put_round_key(round.id, "another").await,
        Err(StoreError::Conflict(_))
    ));
    let record = stored(store, &opened).await.expect("the round's event");
    assert_eq!(
        (record.round_id, record.stage, record.event.as_str()),
        (Some(round.id), Stage::Rebuilt, "round.opened")
    );
    assert_eq!(event_jobs(store, org_id).await, events + 1);
    let second = NewRound {
        id: Uuid::new_v4(),
        ..round.clone()
    };
    let second_event = event(org_id, repair_id, "round.opened", Some(second.id));
    assert!(
        matches!(
            store
                .open_round(&second, &audit(org_id, "round.open"), &second_event)
                .await,
            Err(StoreError::Conflict(_))
        ),
        "one open round of a kind"
    );
    assert!(
        stored(store, &second_event).await.is_none(),
        "a refused round stores no event"
    );
    assert_eq!(event_jobs(store, org_id).await, events + 1);
    let got = store.round(round.id).await.unwrap().unwrap();
    assert!(got.open);
    assert_eq!(got.kind, RoundKind::Listening);
    assert_eq!(got.k.get(), 4, "a round keeps the k it opened with");
    // Another kind may open beside it; each kind comes back as it went in.
    let genuineness = NewRound {
        id: Uuid::new_v4(),
        kind: RoundKind::Genuineness,
        opened_at: at(401),
        ..round.clone()
    };
    store
        .open_round(
            &genuineness,
            &audit(org_id, "round.open"),
            &event(org_id, repair_id, "round.opened", Some(genuineness.id)),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .rounds_of(repair_id)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.id, r.kind))
            .collect::<Vec<_>>(),
        [
            (round.id, RoundKind::Listening),
            (genuineness.id, RoundKind::Genuineness)
        ]
    );
    assert_eq!(event_jobs(store, org_id).await, events + 2);

    store
        .record_issue(round.id, people[0], false)
        .await
        .unwrap();
    assert!(
        matches!(
            store.record_issue(round.id, people[0], false).await,
            Err(StoreError::Conflict(_))
        ),
        "one token per member"
    );
    let replaced = async || store.round(round.id).await.unwrap().unwrap().replaced_keys;
    assert_eq!(replaced().await, 0);
    store.record_issue(round.id, people[0], true).await.unwrap();
    assert!(
        matches!(
            store.record_issue(round.id, people[0], true).await,
            Err(StoreError::Conflict(_))
        ),
        "one replacement per member"
    );
    assert_eq!(replaced().await, 1);
    store.record_issue(round.id, people[1], true).await.unwrap();
    assert_eq!(
        replaced().await,
        1,
        "a first key asked for as a replacement is a first key"
    );

    let answer = |mark: &str, comment: &str| Redemption {
        round_id: round.id,
        mark: mark.into(),
        answer: Answer {
            id: Uuid::new_v4(),
            category: Some("process".into()),
            comment: Some(comment.into()),
            rating: None,
            items: vec![],
            reply_check: None,
        },
    };
    let batch = vec![
        answer("m1", "first"),
        answer("m2", "second"),
        answer("m1", "double spend"),
    ];
    let version = async || store.repair_version(org_id, repair_id).await.unwrap();
    let before_answers = version().await;
    let got = store.redeem(&batch).await.unwrap();
    assert_eq!(
        got,
        vec![Redeemed::Stored, Redeemed::Stored, Redeemed::AlreadySpent]
    );
    assert_eq!(
        version().await,
        before_answers,
        "answers to an open round leave the repair's row alone"
    );
    assert_eq!(
        store.sealed_marks(round.id).await.unwrap(),
        ["m1", "m2"],
        "every sealed mark, sorted, and no others"
    );
    store.mixer_seen("server-a", at(100)).await.unwrap();
    store.mixer_seen("server-b", at(100)).await.unwrap();
    store.mixer_seen("server-a", at(200)).await.unwrap();
    assert_eq!(store.mixers_since(at(150)).await.unwrap(), ["server-a"]);
    let stored = store.answers(round.id).await.unwrap();
    assert_eq!(stored.len(), 2, "the double spend stored nothing");
    let mut ids: Vec<String> = stored.iter().map(|a| a.id.to_string()).collect();
    let listed = ids.clone();
    ids.sort();
    assert_eq!(
        listed, ids,
        "answers come back in random id order, not arrival order"
    );

    store
        .close_round(round.id, at(500), &audit(org_id, "round.close"))
        .await
        .unwrap();
    assert_eq!(store.round_key(round.id).await.unwrap(), None);
    // The close deleted the key's row in its transaction: a key can be stored under the id again.
    store.put_round_key(round.id, "again").await.unwrap();
    store.delete_round_key(round.id).await.unwrap();
    let closed_at = version().await;
    assert!(
        closed_at > before_answers,
        "closing a round, which releases its answers, bumps the repair's version"
    );
    assert!(matches!(
        store
            .close_round(round.id, at(501), &audit(org_id, "x"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(version().await, closed_at, "a refused write bumps nothing");
    assert_eq!(
        store.redeem(&[answer("m4", "late")]).await.unwrap(),
        vec![Redeemed::RoundClosed]
    );
    assert_eq!(
        store.sealed_marks(round.id).await.unwrap(),
        ["m1", "m2"],
        "a refused late answer spends nothing"
    );
    let closed = store.round(round.id).await.unwrap().unwrap();
    assert_eq!((closed.open, closed.closed_at), (false, Some(at(500))));
}
