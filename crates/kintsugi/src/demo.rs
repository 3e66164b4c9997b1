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

// ---- Team health in the demo ----

/// Teams the demo's health history adds, with their parent and how many more people join.
/// (name, parent, extra people). The parents themselves have nobody in them.
const HEALTH_TEAMS: &[(&str, &str, usize)] = &[
    ("Engineering", "Product", 3),
    ("Design", "Product", 3),
    ("Platform", "Product", 8),
    ("Customer Support", "Operations", 3),
    ("People Operations", "Operations", 0),
    ("Field Sales", "Operations", 7),
];

const MORE_NAMES: &[&str] = &[
    "Aiko", "Bram", "Chidi", "Dara", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jae", "Kofi",
    "Lena", "Mateo", "Nia", "Oskar", "Pita", "Quinn", "Rosa", "Sami", "Talia", "Uma", "Viktor",
    "Wren", "Xiu",
];

/// A small deterministic generator, so every demo shows the same history.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

/// Gives the demo organisation a team structure and six months of fortnightly team health
/// checks, stored the way real ones are (opened, answered anonymously, closed into
/// rollups), so the dashboard has trends and at least one pair of hidden teams. Does nothing
/// once the demo has any health check.
pub async fn ensure_health(store: &dyn Store, now: OffsetDateTime) -> anyhow::Result<()> {
    use kintsugi_store::{Answer, Audit, HealthRound, NewRound, Redemption};

    let Some(org) = store
        .list_organisations()
        .await?
        .into_iter()
        .find(|o| o.is_demo)
    else {
        return Ok(());
    };
    if store.last_health_period(org.id).await?.is_some() {
        return Ok(());
    }
    let audit = |action: &str, subject: &str, detail: &str, at: OffsetDateTime| Audit {
        id: Uuid::new_v4(),
        org_id: org.id,
        actor_id: None,
        action: action.into(),
        subject: subject.into(),
        detail: detail.into(),
        at,
    };
    let password_hash =
        kintsugi_web::hash_password(kintsugi_core::NewPassword::parse(PASSWORD)?).await?;
    let mut teams = store.list_teams(org.id).await?;
    let mut names = MORE_NAMES.iter();
    for (name, parent, extra) in HEALTH_TEAMS {
        for wanted in [*parent, *name] {
            if !teams.iter().any(|t| t.name == wanted) {
                store
                    .create_team(&NewTeam {
                        id: Uuid::new_v4(),
                        org_id: org.id,
                        name: TeamName::parse(wanted)?,
                        created_at: now,
                    })
                    .await?;
                teams = store.list_teams(org.id).await?;
            }
        }
        let id_of = |n: &str| teams.iter().find(|t| t.name == n).map(|t| t.id);
        let (team, parent_id) = (id_of(name).unwrap(), id_of(parent).unwrap());
        store
            .set_team_parent(
                org.id,
                team,
                Some(parent_id),
                &audit("team.parent", name, parent, now),
            )
            .await?;
        for _ in 0..*extra {
            let first = names.next().copied().unwrap_or("Alex");
            store
                .create_person(&NewPerson {
                    id: Uuid::new_v4(),
                    org_id: org.id,
                    name: PersonName::parse(&format!("{first} Demo"))?,
                    email: Email::parse(&format!("{}@demo.example", first.to_lowercase()))?,
                    roles: Roles::default(),
                    team_ids: vec![team],
                    password_hash: Some(password_hash.clone()),
                    created_at: now,
                })
                .await?;
        }
    }

    // One key pair stands for every past check: their secret halves would have been
    // destroyed at close anyway, and nobody can answer a closed check.
    let key = tokio::task::spawn_blocking(kintsugi_anon::RoundKey::generate).await??;
    let public = key.public_der()?;
    let public_b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &public);
    let instrument = kintsugi_core::instrument::default_instrument();
    let teams = store.list_teams(org.id).await?;
    let today = now.unix_timestamp().div_euclid(86_400);
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    // Thirteen checks, the last one closed a week ago: the next opens at the first sweep.
    for back in (1..=13i64).rev() {
        let period = today - 14 * back;
        let opened = OffsetDateTime::from_unix_timestamp(period * 86_400)?;
        let closes = opened + time::Duration::days(7);
        for (index, team) in teams.iter().filter(|t| t.member_count > 0).enumerate() {
            let round = NewRound {
                id: Uuid::new_v4(),
                repair_id: None,
                kind: kintsugi_web::health::TEAM_HEALTH.into(),
                public_key: public_b64.clone(),
                fingerprint: kintsugi_anon::fingerprint(&public),
                closes_at: Some(closes),
                opened_at: opened,
                subject: Some(team.id.to_string()),
            };
            let health = HealthRound {
                round_id: round.id,
                org_id: org.id,
                team_id: team.id,
                instrument_id: None,
                period,
            };
            store
                .open_health_round(
                    &round,
                    &health,
                    &audit("round.open", &team.name, "team health check", opened),
                )
                .await?;
            // Most people answer; each team drifts its own way (some recover, one slides).
            let answering = (team.member_count - dice.below(3)).max(0);
            let drift = [2, 1, 0, -1, 1, 2, 0, 1][index % 8];
            let level = 3 + (index as i64 % 2);
            let mut batch = Vec::new();
            for _ in 0..answering {
                let items = instrument
                    .items
                    .iter()
                    .map(|item| {
                        let felt = level + drift * (13 - back) / 10 + dice.below(3) - 1;
                        let felt = felt.clamp(1, 7);
                        let given = if item.reverse { 8 - felt } else { felt };
                        (item.id.clone(), given)
                    })
                    .collect();
                batch.push(Redemption {
                    round_id: round.id,
                    mark: format!(
                        "{:016x}{:016x}{:016x}{:016x}",
                        dice.next(),
                        dice.next(),
                        dice.next(),
                        dice.next()
                    ),
                    answer: Answer {
                        id: Uuid::new_v4(),
                        category: None,
                        comment: None,
                        rating: None,
                        items,
                        reply_check: None,
                    },
                });
            }
            store.redeem(&batch).await?;
            store
                .close_health_round(
                    round.id,
                    closes,
                    &instrument,
                    &audit(
                        "round.close",
                        &team.name,
                        "team health check closed at its set time",
                        closes,
                    ),
                )
                .await?;
        }
    }
    Ok(())
}
