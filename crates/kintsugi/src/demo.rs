//! The demo organisation: made-up teams and people, so a newcomer can look around at once.
//! It lives beside any real organisation and shares nothing with it.

use kintsugi_core::{Email, KThreshold, OrganisationName, PersonName, Roles, TeamName};
use kintsugi_store::{NewOrganisation, NewPerson, NewTeam, Store};
use time::OffsetDateTime;
use uuid::Uuid;

/// Everyone in the demo signs in with this password. It opens only the demo organisation.
pub const PASSWORD: &str = "kintsugi-demo-password";
pub const ADMIN: &str = "admin@demo.example";
pub const FACILITATOR: &str = "facilitator@demo.example";
pub const MEMBER: &str = "member@demo.example";

const TEAMS: &[&str] = &[
    "Engineering",
    "Design",
    "Customer Support",
    "People Operations",
];

/// (name, email, team index, roles)
const PEOPLE: &[(&str, &str, usize, Roles)] = &[
    (
        "Fatima Okafor",
        FACILITATOR,
        3,
        Roles {
            admin: false,
            facilitator: true,
        },
    ),
    (
        "Lucas Moreau",
        MEMBER,
        0,
        Roles {
            admin: false,
            facilitator: false,
        },
    ),
    (
        "Mei Tanaka",
        "mei@demo.example",
        0,
        Roles {
            admin: false,
            facilitator: false,
        },
    ),
    (
        "Ravi Iyer",
        "ravi@demo.example",
        0,
        Roles {
            admin: false,
            facilitator: false,
        },
    ),
    (
        "Sofia Lindqvist",
        "sofia@demo.example",
        0,
        Roles {
            admin: false,
            facilitator: false,
        },
    ),
    (
        "Tomás Herrera",
        "tomas@demo.example",
        1,
        Roles {
            admin: false,
            facilitator: false,
        },
    ),
    (
        "Amara Nwosu",
        "amara@demo.example",
        1,
        Roles {
            admin: false,
            facilitator: false,
        },
    ),
    (
        "Jonas Becker",
        "jonas@demo.example",
        1,
        Roles {
            admin: false,
            facilitator: false,
        },
    ),
    (
        "Priya Raman",
        "priya@demo.example",
        2,
        Roles {
            admin: false,
            facilitator: false,
        },
    ),
    (
        "Owen Price",
        "owen@demo.example",
        2,
        Roles {
            admin: false,
            facilitator: false,
        },
    ),
    (
        "Hana Kowalski",
        "hana@demo.example",
        2,
        Roles {
            admin: false,
            facilitator: true,
        },
    ),
];

/// Creates the demo organisation unless it already exists.
pub async fn ensure(store: &dyn Store, now: OffsetDateTime) -> anyhow::Result<()> {
    if store.list_organisations().await?.iter().any(|o| o.is_demo) {
        return Ok(());
    }
    let password_hash =
        kintsugi_web::hash_password(kintsugi_core::NewPassword::parse(PASSWORD)?).await?;
    let org = NewOrganisation {
        id: Uuid::new_v4(),
        name: OrganisationName::parse("Harbour & Co (demo)")?,
        is_demo: true,
        k_threshold: KThreshold::DEFAULT,
        created_at: now,
    };
    let person =
        |name: &str, email: &str, roles: Roles, team_ids: Vec<Uuid>| -> anyhow::Result<NewPerson> {
            Ok(NewPerson {
                id: Uuid::new_v4(),
                org_id: org.id,
                name: PersonName::parse(name)?,
                email: Email::parse(email)?,
                roles,
                team_ids,
                password_hash: Some(password_hash.clone()),
                created_at: now,
            })
        };
    store
        .create_organisation(&org, &person("Dana Admin", ADMIN, Roles::ADMIN, vec![])?)
        .await?;
    let mut team_ids = Vec::new();
    for name in TEAMS {
        let team = NewTeam {
            id: Uuid::new_v4(),
            org_id: org.id,
            name: TeamName::parse(name)?,
            created_at: now,
        };
        store.create_team(&team).await?;
        team_ids.push(team.id);
    }
    for (name, email, team, roles) in PEOPLE {
        store
            .create_person(&person(name, email, *roles, vec![team_ids[*team]])?)
            .await?;
    }
    Ok(())
}
