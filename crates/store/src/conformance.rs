//! One scripted story through the storage interface. Every backend's tests call
//! [`story`] on a fresh database; a backend that passes behaves like every other.

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
        store.set_roles(demo.id, bo.id, Roles::ADMIN).await,
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
    let (session, who) = store.session("s1", at(60)).await.unwrap().unwrap();
    assert_eq!((session.person_id, who.id), (bo.id, bo.id));
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
        .deactivate_person(acme.id, bo.id, at(100))
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
            .deactivate_person(acme.id, Uuid::new_v4(), at(100))
            .await,
        Err(StoreError::NotFound(_))
    ));
}
