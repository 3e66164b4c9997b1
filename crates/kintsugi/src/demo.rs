//! The demo organisation: made-up teams and people, so a newcomer can look around at once.
//! It lives beside any real organisation and shares nothing with it.

use kintsugi_app::Ctx;
use kintsugi_app::clock::new_id;
use kintsugi_app::events;
use kintsugi_core::repair::{Breach, CauseCategory, Scope, Side, Stage, Transition, UpdateKind};
use kintsugi_core::webhooks::Event;
use kintsugi_core::{Email, KThreshold, OrganisationName, PersonName, Roles, TeamName};
use kintsugi_store::{
    Acknowledgment, Answer, Audit, Cause, NewCommitment, NewOrganisation, NewPerson, NewRepair,
    NewRound, NewTeam, NewUpdate, Redemption, Repair,
};
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
pub async fn ensure(ctx: &Ctx, now: OffsetDateTime) -> anyhow::Result<()> {
    if ctx
        .store()
        .list_organisations()
        .await?
        .iter()
        .any(|o| o.is_demo)
    {
        return Ok(());
    }
    let password_hash = kintsugi_app::people::passwords::hash_password(
        kintsugi_core::NewPassword::parse(PASSWORD)?,
    )
    .await?;
    let org = NewOrganisation {
        id: new_id(),
        name: OrganisationName::parse("Harbour & Co (demo)")?,
        is_demo: true,
        k_threshold: KThreshold::DEFAULT,
        created_at: now,
    };
    let person =
        |name: &str, email: &str, roles: Roles, team_ids: Vec<Uuid>| -> anyhow::Result<NewPerson> {
            Ok(NewPerson {
                id: new_id(),
                org_id: org.id,
                name: PersonName::parse(name)?,
                email: Email::parse(email)?,
                roles,
                team_ids,
                password_hash: Some(password_hash.clone()),
                created_at: now,
            })
        };
    ctx.store()
        .create_organisation(&org, &person("Dana Admin", ADMIN, Roles::ADMIN, vec![])?)
        .await?;
    let mut team_ids = Vec::new();
    for name in TEAMS {
        let team = NewTeam {
            id: new_id(),
            org_id: org.id,
            name: TeamName::parse(name)?,
            created_at: now,
        };
        ctx.store().create_team(&team).await?;
        team_ids.push(team.id);
    }
    let mut people = Vec::new();
    for (name, email, team, roles) in PEOPLE {
        let p = person(name, email, *roles, vec![team_ids[*team]])?;
        ctx.store().create_person(&p).await?;
        people.push((p.id, name.to_string()));
    }
    repairs(ctx, org.id, &people, now).await?;
    Ok(())
}

// ---- Demo repairs: one at each stage, pulses with a suppressed round, follow-through ----

/// `PEOPLE` by index, as (id, name).
type People = [(Uuid, String)];

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

fn entry(org: Uuid, actor: Option<Uuid>, action: &str, subject: &str, at: OffsetDateTime) -> Audit {
    Audit {
        id: new_id(),
        org_id: org,
        actor_id: actor,
        action: action.into(),
        subject: subject.into(),
        detail: String::new(),
        at,
    }
}

/// What one demo repair is made of before its history is written.
struct Plan<'a> {
    title: &'a str,
    summary: &'a str,
    breach: Breach,
    scope: Scope,
    facilitator: usize,
    accountable: &'a [usize],
    affected: &'a [usize],
    /// How many days ago it was opened.
    age: i64,
}

async fn open_repair(
    ctx: &Ctx,
    org: Uuid,
    people: &People,
    plan: &Plan<'_>,
    now: OffsetDateTime,
) -> anyhow::Result<Repair> {
    let mut participants: Vec<(Uuid, Side)> = plan
        .accountable
        .iter()
        .map(|i| (people[*i].0, Side::Accountable))
        .collect();
    participants.extend(plan.affected.iter().map(|i| (people[*i].0, Side::Affected)));
    let opened = now - days(plan.age);
    let notification_ids = participants.iter().map(|_| new_id()).collect();
    let repair = NewRepair {
        id: new_id(),
        org_id: org,
        title: plan.title.into(),
        summary: plan.summary.into(),
        breach: plan.breach,
        scope: plan.scope,
        facilitator_id: people[plan.facilitator].0,
        update_cadence_days: 7,
        deception: false,
        participants,
        notification_ids,
        teams: vec![],
        created_at: opened,
    };
    ctx.store()
        .create_repair(
            &repair,
            &format!("You were added to the repair “{}”.", plan.title),
            &entry(
                org,
                Some(repair.facilitator_id),
                "repair.open",
                plan.title,
                opened,
            ),
        )
        .await?;
    ctx.store()
        .repair(org, repair.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo repair was not stored"))
}

async fn acknowledge(
    ctx: &Ctx,
    r: &Repair,
    people: &People,
    who: usize,
    body: &str,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    let review = kintsugi_core::coach::Coach::default_rules().review(body, Some(r.breach), false);
    let ack = Acknowledgment {
        id: new_id(),
        author_id: people[who].0,
        author_name: people[who].1.clone(),
        body: body.into(),
        score: review.score,
        created_at: at,
    };
    let audit = entry(
        r.org_id,
        Some(ack.author_id),
        "repair.acknowledge",
        &r.title,
        at,
    );
    ctx.store().post_acknowledgment(r.id, &ack, &audit).await?;
    Ok(())
}

async fn advance(
    ctx: &Ctx,
    r: &Repair,
    from: Stage,
    gate: Option<bool>,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    let audit = entry(
        r.org_id,
        Some(r.facilitator_id),
        "repair.stage",
        &r.title,
        at,
    );
    let event = events::new(ctx, r.org_id, r.id, Event::StageChanged, None);
    ctx.store()
        .move_stage(r.id, from, &Transition::Advance, gate, &audit, &event)
        .await?;
    Ok(())
}

/// Names a cause after a conversation instead of a listening round, then leaves *understand*.
async fn understand(ctx: &Ctx, r: &Repair, cause: &str, at: OffsetDateTime) -> anyhow::Result<()> {
    let audit = entry(
        r.org_id,
        Some(r.facilitator_id),
        "repair.no_round_reason",
        &r.title,
        at,
    );
    ctx.store()
        .record_no_round_reason(
            r.id,
            "We talked it through together in a facilitated meeting.",
            &audit,
        )
        .await?;
    let c = Cause {
        id: new_id(),
        category: CauseCategory::Process,
        description: cause.into(),
        support: vec![],
        supporting_comments: vec![],
        created_at: at,
    };
    let audit = entry(
        r.org_id,
        Some(r.facilitator_id),
        "repair.cause",
        &r.title,
        at,
    );
    ctx.store().add_cause(r.id, &c, &audit).await?;
    advance(ctx, r, Stage::Understand, None, at).await
}

async fn update(
    ctx: &Ctx,
    r: &Repair,
    kind: UpdateKind,
    body: &str,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    let u = NewUpdate {
        id: new_id(),
        kind,
        author_id: Some(r.facilitator_id),
        body: body.into(),
        reason: (kind == UpdateKind::Decision)
            .then(|| "It is what the affected side asked for.".into()),
        created_at: at,
    };
    let event = events::new(ctx, r.org_id, r.id, Event::UpdatePosted, None);
    ctx.store()
        .post_update(
            r.id,
            &u,
            &entry(
                r.org_id,
                Some(r.facilitator_id),
                "update.post",
                &r.title,
                at,
            ),
            &event,
        )
        .await?;
    Ok(())
}

/// A weekly commitment with `count` occurrences from `first`, each kept unless listed in
/// `missed`; kept ones are marked done and confirmed by the affected side.
#[allow(clippy::too_many_arguments)]
async fn weekly_commitment(
    ctx: &Ctx,
    r: &Repair,
    owner: Uuid,
    statement: &str,
    first: time::Date,
    count: i64,
    missed: &[i64],
    confirmers: &[Uuid],
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let due_dates: Vec<time::Date> = (0..count).map(|i| first + days(7 * i)).collect();
    let c = NewCommitment {
        id: new_id(),
        repair_id: r.id,
        owner_id: owner,
        statement: statement.into(),
        cadence: Some("weekly".into()),
        due_dates: due_dates.clone(),
        created_at: OffsetDateTime::new_utc(first - days(1), time::Time::MIDNIGHT).min(now),
    };
    let at = c.created_at;
    ctx.store()
        .add_commitment(
            &c,
            &entry(r.org_id, Some(owner), "commitment.add", &r.title, at),
        )
        .await?;
    let today = now.date();
    for (i, due) in due_dates.iter().enumerate() {
        if *due >= today || missed.contains(&(i as i64)) {
            continue;
        }
        let done_at = OffsetDateTime::new_utc(*due, time::Time::MIDNIGHT);
        ctx.store()
            .mark_done(
                c.id,
                *due,
                *due,
                &entry(r.org_id, Some(owner), "commitment.done", &r.title, done_at),
            )
            .await?;
        if confirmers.len() >= KThreshold::DEFAULT.get() as usize {
            // A group this size confirms anonymously: only the tally is kept.
            let confirmations: Vec<(Uuid, bool)> =
                confirmers.iter().map(|_| (new_id(), true)).collect();
            ctx.store()
                .record_confirmations(c.id, *due, &confirmations, *due + days(1))
                .await?;
        } else {
            for p in confirmers {
                ctx.store()
                    .confirm(new_id(), c.id, *due, *p, true, *due + days(1))
                    .await?;
            }
        }
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
pub async fn ensure_health(ctx: &Ctx, now: OffsetDateTime) -> anyhow::Result<()> {
    use kintsugi_store::{Answer, Audit, HealthRound, NewRound, Redemption};

    let Some(org) = ctx
        .store()
        .list_organisations()
        .await?
        .into_iter()
        .find(|o| o.is_demo)
    else {
        return Ok(());
    };
    if ctx.store().last_health_period(org.id).await?.is_some() {
        return Ok(());
    }
    let audit = |action: &str, subject: &str, detail: &str, at: OffsetDateTime| Audit {
        id: new_id(),
        org_id: org.id,
        actor_id: None,
        action: action.into(),
        subject: subject.into(),
        detail: detail.into(),
        at,
    };
    let password_hash = kintsugi_app::people::passwords::hash_password(
        kintsugi_core::NewPassword::parse(PASSWORD)?,
    )
    .await?;
    let mut teams = ctx.store().list_teams(org.id).await?;
    let mut names = MORE_NAMES.iter();
    for (name, parent, extra) in HEALTH_TEAMS {
        for wanted in [*parent, *name] {
            if !teams.iter().any(|t| t.name == wanted) {
                ctx.store()
                    .create_team(&NewTeam {
                        id: new_id(),
                        org_id: org.id,
                        name: TeamName::parse(wanted)?,
                        created_at: now,
                    })
                    .await?;
                teams = ctx.store().list_teams(org.id).await?;
            }
        }
        let id_of = |n: &str| teams.iter().find(|t| t.name == n).map(|t| t.id);
        let (Some(team), Some(parent_id)) = (id_of(name), id_of(parent)) else {
            anyhow::bail!("the demo teams {name} and {parent} were just made but are not listed");
        };
        ctx.store()
            .set_team_parent(
                org.id,
                team,
                Some(parent_id),
                &audit("team.parent", name, parent, now),
            )
            .await?;
        for _ in 0..*extra {
            let first = names.next().copied().unwrap_or("Alex");
            ctx.store()
                .create_person(&NewPerson {
                    id: new_id(),
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
    let teams = ctx.store().list_teams(org.id).await?;
    let today = now.unix_timestamp().div_euclid(86_400);
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    // Thirteen checks, the last one closed a week ago: the next opens at the first sweep.
    for back in (1..=13i64).rev() {
        let period = today - 14 * back;
        let opened = OffsetDateTime::from_unix_timestamp(period * 86_400)?;
        let closes = opened + time::Duration::days(7);
        for (index, team) in teams.iter().filter(|t| t.member_count > 0).enumerate() {
            let round = NewRound {
                id: new_id(),
                repair_id: None,
                kind: kintsugi_core::rounds::RoundKind::TeamHealth,
                public_key: public_b64.clone(),
                fingerprint: kintsugi_anon::fingerprint(&public),
                closes_at: Some(closes),
                opened_at: opened,
                subject: Some(team.id.to_string()),
                k: org.k_threshold,
            };
            let health = HealthRound {
                round_id: round.id,
                org_id: org.id,
                team_id: team.id,
                instrument_id: None,
                period,
            };
            ctx.store()
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
                        id: new_id(),
                        category: None,
                        comment: None,
                        rating: None,
                        items,
                        reply_check: None,
                    },
                });
            }
            ctx.store().redeem(&batch).await?;
            ctx.store()
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

/// One closed trust pulse answered through real blind-signed tokens: one answer per rating
/// set, all four items rated alike (a person's "how things stand").
async fn pulse(
    ctx: &Ctx,
    r: &Repair,
    opened: OffsetDateTime,
    ratings: &[[i64; 4]],
) -> anyhow::Result<()> {
    let key = kintsugi_anon::RoundKey::generate()?;
    let public = key.public_der()?;
    let round = NewRound {
        id: new_id(),
        repair_id: Some(r.id),
        kind: kintsugi_core::rounds::RoundKind::Pulse,
        public_key: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &public),
        fingerprint: kintsugi_anon::fingerprint(&public),
        closes_at: Some(opened + days(7)),
        opened_at: opened,
        subject: None,
        k: KThreshold::DEFAULT,
    };
    let event = events::new(ctx, r.org_id, r.id, Event::RoundOpened, Some(round.id));
    ctx.store()
        .open_round(
            &round,
            &entry(r.org_id, None, "round.open", &r.title, opened),
            &event,
        )
        .await?;
    let mut batch = Vec::new();
    for items in ratings {
        let (pending, blinded) =
            kintsugi_anon::client::Pending::start(round.id, &public, rand::random())?;
        let token = pending.finish(&key.sign_blinded(&blinded)?)?;
        batch.push(Redemption {
            round_id: round.id,
            mark: token.spent_mark(),
            answer: Answer {
                id: new_id(),
                category: None,
                comment: None,
                rating: None,
                items: kintsugi_core::rounds::PULSE_ITEMS
                    .iter()
                    .zip(items)
                    .map(|((k, _), v)| (k.to_string(), *v))
                    .collect(),
                reply_check: None,
            },
        });
    }
    ctx.store().redeem(&batch).await?;
    ctx.store()
        .close_round(
            round.id,
            opened + days(7),
            &entry(r.org_id, None, "round.close", &r.title, opened + days(7)),
        )
        .await?;
    Ok(())
}

/// One repair at each stage, so every page and the dashboard have something to show.
async fn repairs(ctx: &Ctx, org: Uuid, people: &People, now: OffsetDateTime) -> anyhow::Result<()> {
    // PEOPLE: 0 Fatima (facilitator), 1 Lucas (the demo member), 2 Mei, 3 Ravi, 4 Sofia,
    // 5 Tomás, 6 Amara, 7 Jonas, 8 Priya, 9 Owen, 10 Hana (facilitator).
    let at = |d: i64| now - days(d);

    // Acknowledge: just opened.
    open_repair(ctx, org, people, &Plan {
        title: "Design review feedback felt dismissive",
        summary: "In the last two design reviews, feedback on Amara's proposals was given in a way the design team felt was dismissive.",
        breach: Breach::LackOfRespect, scope: Scope::PersonPerson, facilitator: 10,
        accountable: &[7], affected: &[6], age: 3,
    }, now).await?;

    // Understand: acknowledged, and its promised weekly update is overdue.
    let r = open_repair(ctx, org, people, &Plan {
        title: "On-call swap promised, then withdrawn",
        summary: "Owen agreed to cover Priya's on-call weekend and withdrew the day before without finding cover.",
        breach: Breach::BrokenPromise, scope: Scope::PersonPerson, facilitator: 10,
        accountable: &[9], affected: &[8], age: 24,
    }, now).await?;
    acknowledge(ctx, &r, people, 9, "I withdrew from the on-call swap I had promised, the day before, and left you without cover. That was my responsibility. I am sorry; I will find cover myself whenever I cannot keep a swap.", at(22)).await?;
    advance(ctx, &r, Stage::Acknowledge, None, at(21)).await?;
    update(
        ctx,
        &r,
        UpdateKind::CheckIn,
        "We met on Monday to talk through what happened.",
        at(18),
    )
    .await?;

    // Act: causes named, a commitment being set up.
    let r = open_repair(ctx, org, people, &Plan {
        title: "Roadmap changed without telling Design",
        summary: "The quarter's roadmap was changed in a leadership meeting and Design learned of it from a release note.",
        breach: Breach::BrokenPromise, scope: Scope::PersonPerson, facilitator: 0,
        accountable: &[2], affected: &[5], age: 45,
    }, now).await?;
    acknowledge(ctx, &r, people, 2, "I changed the roadmap without telling you first, and you learned of it from a release note. I am sorry. From now on I will share roadmap changes with Design before they are final.", at(43)).await?;
    advance(ctx, &r, Stage::Acknowledge, None, at(40)).await?;
    understand(
        ctx,
        &r,
        "Roadmap changes have no step where affected teams are told first.",
        at(30),
    )
    .await?;
    update(
        ctx,
        &r,
        UpdateKind::Decision,
        "Roadmap changes now go to Design a week before they are final.",
        at(5),
    )
    .await?;
    weekly_commitment(
        ctx,
        &r,
        people[2].0,
        "Send Design the draft roadmap changes every Monday",
        now.date() + days(3),
        6,
        &[],
        &[people[5].0],
        now,
    )
    .await?;

    // Rebuild: a leader↔team repair with weekly pulses; the third had too few answers.
    let affected = [1usize, 5, 6, 7, 8, 9];
    let r = open_repair(ctx, org, people, &Plan {
        title: "Release dates changed without telling Support",
        summary: "Release dates moved three times this quarter. Support heard about it from customers, not from Engineering.",
        breach: Breach::MissedDeadline, scope: Scope::LeaderTeam, facilitator: 0,
        accountable: &[3], affected: &affected, age: 110,
    }, now).await?;
    acknowledge(ctx, &r, people, 3, "I moved the release dates three times without telling Support, and you heard it from customers. That is on me, and it made your work harder. I am sorry. I will send every date change to Support the day it is decided.", at(105)).await?;
    advance(ctx, &r, Stage::Acknowledge, None, at(100)).await?;
    understand(
        ctx,
        &r,
        "Release dates are decided in a meeting Support is not part of, with no step to tell them.",
        at(85),
    )
    .await?;
    let confirmers: Vec<Uuid> = affected.iter().map(|i| people[*i].0).collect();
    weekly_commitment(
        ctx,
        &r,
        people[3].0,
        "Post the release dates to Support every Monday",
        now.date() - days(70),
        12,
        &[3],
        &confirmers,
        now,
    )
    .await?;
    advance(ctx, &r, Stage::Act, None, at(72)).await?;
    let pulses: [&[[i64; 4]]; 4] = [
        &[
            [3, 4, 3, 3],
            [4, 4, 3, 3],
            [3, 3, 4, 2],
            [4, 5, 4, 3],
            [3, 4, 3, 4],
            [4, 4, 4, 3],
        ],
        &[
            [4, 4, 4, 4],
            [4, 5, 4, 4],
            [3, 4, 4, 4],
            [5, 5, 4, 5],
            [4, 4, 5, 4],
        ],
        &[[5, 5, 5, 5], [4, 5, 5, 4], [5, 4, 5, 5]],
        &[
            [5, 5, 5, 6],
            [5, 6, 5, 5],
            [6, 5, 6, 6],
            [5, 5, 5, 5],
            [6, 6, 5, 6],
            [5, 5, 6, 5],
        ],
    ];
    for (i, answers) in pulses.iter().enumerate() {
        pulse(ctx, &r, at(70 - 14 * i as i64), answers).await?;
    }
    update(
        ctx,
        &r,
        UpdateKind::Progress,
        "Release dates have gone to Support every Monday for two months; one week was missed.",
        at(4),
    )
    .await?;

    // Rebuilt: through the recovery gate, checked the way the server checks it.
    let r = open_repair(ctx, org, people, &Plan {
        title: "Credit for the migration went to the wrong team",
        summary: "The all-hands thanked Engineering for a migration that Support had done most of.",
        breach: Breach::Other, scope: Scope::PersonPerson, facilitator: 0,
        accountable: &[4], affected: &[1], age: 150,
    }, now).await?;
    acknowledge(ctx, &r, people, 4, "I gave the credit for the migration to Engineering at the all-hands when you had done most of it. I am sorry; I will correct it at the next all-hands and name the work of each team.", at(148)).await?;
    advance(ctx, &r, Stage::Acknowledge, None, at(145)).await?;
    understand(
        ctx,
        &r,
        "Thanks at the all-hands were drafted without asking who did the work.",
        at(135),
    )
    .await?;
    weekly_commitment(
        ctx,
        &r,
        people[4].0,
        "Check who did the work before thanking anyone",
        now.date() - days(126),
        4,
        &[],
        &[people[1].0],
        now,
    )
    .await?;
    advance(ctx, &r, Stage::Act, None, at(125)).await?;
    let pair_pulses: [&[[i64; 4]]; 4] = [
        &[[4, 4, 4, 4]],
        &[[5, 5, 5, 5]],
        &[[6, 5, 6, 6]],
        &[[6, 6, 6, 6]],
    ];
    for (i, answers) in pair_pulses.iter().enumerate() {
        pulse(ctx, &r, at(124 - 14 * i as i64), answers).await?;
    }
    let settings = ctx
        .store()
        .organisation(org)
        .await?
        .map(|o| o.gate)
        .unwrap_or_default();
    // A pair's pulses count for the gate whatever k is (its insiders see them).
    let means = pair_pulses
        .iter()
        .map(|a| {
            let per_person: Vec<Vec<i64>> = a.iter().map(|x| x.to_vec()).collect();
            kintsugi_core::anonymity::group_mean(
                &per_person,
                KThreshold::DEFAULT,
                kintsugi_core::anonymity::Audience::PairInsider,
            )
            .shown()
            .map(|m| m.mean_tenths)
        })
        .collect();
    let commitments = ctx.store().commitments(r.id).await?;
    let gate = kintsugi_core::gate::evaluate(
        &settings,
        &kintsugi_core::gate::GateInput {
            pulses: means,
            follow_through: kintsugi_app::repairs::commitments::follow_through(
                &commitments,
                (at(60)).date(),
            ),
            days_in_rebuild: 65,
            deception: false,
        },
    );
    advance(ctx, &r, Stage::Rebuild, Some(gate.passes), at(60)).await?;

    // Closed without repair, with its reason.
    let r = open_repair(
        ctx,
        org,
        people,
        &Plan {
            title: "Meeting notes shared outside the team",
            summary: "Notes from a private retrospective were forwarded to another department.",
            breach: Breach::Other,
            scope: Scope::PersonPerson,
            facilitator: 10,
            accountable: &[8],
            affected: &[9],
            age: 80,
        },
        now,
    )
    .await?;
    let audit = entry(
        org,
        Some(r.facilitator_id),
        "repair.stage",
        &r.title,
        at(50),
    );
    ctx.store()
        .move_stage(
            r.id,
            Stage::Acknowledge,
            &Transition::Close {
                reason: "Both agreed to settle it with their manager instead.".into(),
            },
            None,
            &audit,
            &events::new(ctx, r.org_id, r.id, Event::StageChanged, None),
        )
        .await?;
    Ok(())
}
