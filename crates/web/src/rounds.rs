//! Listening rounds: opening and closing them, issuing blind-signed tokens to members, and
//! what their results show. The answers themselves arrive on the anonymous path (`anon.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_anon::RoundKey;
use kintsugi_core::anonymity::{
    Audience, ListeningAnswer, ListeningResults, RatingResults, Shown, coarse_direction,
    group_mean, listening_results, rating_results,
};
use kintsugi_store::{NewRound, Round};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::actions::audit;
use crate::auth::CurrentUser;
use crate::error::extract::{Json, Path};
use crate::error::{AppError, Problem};
use crate::repairs::{Access, InRepair};
use crate::state::AppState;

pub const LISTENING: &str = "listening";
/// The affected side rates how genuine the acknowledgment felt, 1 to 7.
pub const GENUINENESS: &str = "genuineness";
/// The affected side says whether the named causes capture what went wrong.
pub const CAUSES: &str = "causes";

pub fn parse_kind(raw: Option<&str>) -> Result<&'static str, AppError> {
    match raw.map(str::trim) {
        None | Some("") | Some(LISTENING) => Ok(LISTENING),
        Some(GENUINENESS) => Ok(GENUINENESS),
        Some(CAUSES) => Ok(CAUSES),
        Some(_) => Err(AppError::invalid(
            "kind",
            "must be listening, genuineness or causes",
        )),
    }
}

/// A repair's rounds and the answers of its closed ones, read once for one view of the
/// repair (its page, its API document, the gate): every part of the view reads from here.
pub struct RoundsRead {
    pub list: Vec<Round>,
    answers: std::collections::HashMap<Uuid, Vec<kintsugi_store::Answer>>,
    /// The facilitator's replies to closed rounds' comments (only the facilitator sees them).
    replies: std::collections::HashMap<Uuid, Vec<kintsugi_store::Reply>>,
}

impl RoundsRead {
    pub async fn read(state: &AppState, repair_id: Uuid) -> Result<Self, AppError> {
        let list = state.store().rounds_of(repair_id).await?;
        let mut answers = std::collections::HashMap::new();
        let mut replies = std::collections::HashMap::new();
        // A closed confirmation round lives on as its occurrence's status: its answers are
        // never shown.
        for round in list.iter().filter(|r| !r.open && r.kind != CONFIRMATION) {
            answers.insert(round.id, state.store().answers(round.id).await?);
            replies.insert(round.id, state.store().replies(round.id).await?);
        }
        Ok(RoundsRead {
            list,
            answers,
            replies,
        })
    }

    /// A closed round's answers (none for open rounds: nothing is shown before close).
    pub fn answers(&self, round: Uuid) -> &[kintsugi_store::Answer] {
        self.answers.get(&round).map_or(&[], Vec::as_slice)
    }
}

/// Opens a listening round with a fresh key pair; the secret key goes to the key store.
pub async fn open(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    kind: &'static str,
    closes_in_days: Option<i64>,
) -> Result<Round, AppError> {
    access.require_facilitator()?;
    if !access.repair.stage.is_open() {
        return Err(AppError::Conflict(
            "this repair is finished; it takes no new rounds".into(),
        ));
    }
    if kind == GENUINENESS
        && state
            .store()
            .acknowledgments(access.repair.id)
            .await?
            .is_empty()
    {
        return Err(AppError::Conflict(
            "there is no acknowledgment to rate yet".into(),
        ));
    }
    if kind == CAUSES && state.store().causes(access.repair.id).await?.is_empty() {
        return Err(AppError::Conflict("no cause has been named yet".into()));
    }
    let closes_at = match closes_in_days {
        None => None,
        Some(d) if (1..=60).contains(&d) => Some(state.now() + time::Duration::days(d)),
        Some(_) => {
            return Err(AppError::invalid(
                "closes_in_days",
                "must be between 1 and 60 days",
            ));
        }
    };
    let entry = audit(
        state,
        user,
        "round.open",
        &access.repair.title,
        format!("{kind} round"),
    );
    create(state, access.repair.id, kind, None, closes_at, &entry).await
}

/// Generates the round's key pair, puts the secret half in the key store and the round in
/// the database. The secret key is removed again if the round cannot be stored.
async fn create(
    state: &AppState,
    repair_id: Uuid,
    kind: &str,
    subject: Option<String>,
    closes_at: Option<time::OffsetDateTime>,
    entry: &kintsugi_store::Audit,
) -> Result<Round, AppError> {
    let round = new_keyed_round(state, kind, subject, closes_at).await?;
    let round = NewRound {
        repair_id: Some(repair_id),
        ..round
    };
    if let Err(e) = state.store().open_round(&round, entry).await {
        let _ = state.keys().destroy(round.id);
        return Err(e.into());
    }
    crate::webhooks::announce_id(
        state,
        entry.org_id,
        repair_id,
        kintsugi_core::webhooks::Event::RoundOpened,
    )
    .await;
    state
        .store()
        .round(round.id)
        .await?
        .ok_or(AppError::Internal)
}

/// A round with a fresh key pair, its secret half already in the key store; the caller
/// stores the round, and destroys the key if it cannot.
pub async fn new_keyed_round(
    state: &AppState,
    kind: &str,
    subject: Option<String>,
    closes_at: Option<time::OffsetDateTime>,
) -> Result<NewRound, AppError> {
    let key = tokio::task::spawn_blocking(RoundKey::generate)
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(|e| {
            tracing::error!(error = %e, "round key generation failed");
            AppError::Internal
        })?;
    let public = key.public_der().map_err(|_| AppError::Internal)?;
    let id = state.new_id();
    let secret = key.secret_der().map_err(|_| AppError::Internal)?;
    state.keys().put(id, &secret).map_err(|e| {
        tracing::error!(error = %e, "cannot write the round key");
        AppError::Unavailable
    })?;
    Ok(NewRound {
        id,
        repair_id: None,
        kind: kind.into(),
        public_key: STANDARD.encode(&public),
        fingerprint: kintsugi_anon::fingerprint(&public),
        closes_at,
        opened_at: state.now(),
        subject,
    })
}

// ---- Anonymous confirmations ----

/// Confirmations of commitments go anonymous when the affected side has at least k people:
/// each due occurrence gets a round of its own, and its outcome lands at close.
pub const CONFIRMATION: &str = "confirmation";

pub fn subject_of(commitment: Uuid, due: time::Date) -> String {
    format!("{commitment}:{due}")
}

// ---- Trust pulses and the recovery gate ----

/// The affected side's trust pulse during *rebuild*, every N days (DESIGN.md 2.5).
pub const PULSE: &str = "pulse";

/// The pulse items, in our own words: (key, what it asks).
pub const PULSE_ITEMS: &[(&str, &str)] = &[
    (
        "ability",
        "They are able to do what this work needs from them.",
    ),
    ("benevolence", "They look out for what matters to me."),
    ("integrity", "They do what they say they will do."),
    (
        "follow_through",
        "Since the breach, they have followed through on what they promised.",
    ),
];

/// Checks a pulse answer's items: every item, each 1 to 7, and nothing else; no items elsewhere.
pub fn pulse_items(
    kind: &str,
    items: Option<std::collections::BTreeMap<String, i64>>,
) -> Result<Vec<(String, i64)>, AppError> {
    match (kind, items) {
        (PULSE, Some(items)) => {
            if items.len() != PULSE_ITEMS.len()
                || PULSE_ITEMS.iter().any(|(k, _)| !items.contains_key(*k))
            {
                return Err(AppError::invalid(
                    "items",
                    "must rate ability, benevolence, integrity and follow_through",
                ));
            }
            items
                .into_iter()
                .map(|(k, v)| {
                    kintsugi_core::anonymity::rating(v)
                        .map_err(|e| AppError::invalid("items", format!("{k}: {}", e.message)))
                        .map(|v| (k, v))
                })
                .collect()
        }
        (PULSE, None) => Err(AppError::invalid(
            "items",
            "a pulse rates every item from 1 to 7",
        )),
        (_, Some(_)) => Err(AppError::invalid("items", "belong only to trust pulses")),
        (_, None) => Ok(vec![]),
    }
}

/// Opens the next pulse when the repair is rebuilding and the last one is N days old. Each
/// pulse stays open for a week (or N days, if shorter) and closes on its own.
/// Returns whether it opened one.
pub async fn open_pulse_if_due(
    state: &AppState,
    repair: &kintsugi_store::Repair,
    rounds: &[Round],
) -> Result<bool, AppError> {
    if repair.stage != kintsugi_core::repair::Stage::Rebuild {
        return Ok(false);
    }
    let pulses: Vec<&Round> = rounds.iter().filter(|r| r.kind == PULSE).collect();
    let every = time::Duration::days(i64::from(repair.pulse_every_days.max(1)));
    let due = match pulses.iter().map(|p| p.opened_at).max() {
        None => true,
        Some(last) => last + every <= state.now(),
    };
    if !due || pulses.iter().any(|p| p.open) {
        return Ok(false);
    }
    let open_for = every.min(time::Duration::days(7));
    let entry = kintsugi_store::Audit {
        id: state.new_id(),
        org_id: repair.org_id,
        actor_id: None,
        action: "round.open".into(),
        subject: repair.title.clone(),
        detail: "trust pulse".into(),
        at: state.now(),
    };
    match create(
        state,
        repair.id,
        PULSE,
        None,
        Some(state.now() + open_for),
        &entry,
    )
    .await
    {
        Ok(_) => Ok(true),
        // Another request opened it first.
        Err(AppError::Conflict(_)) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Each pulse answer's rated values: every item, or only `item`.
fn item_values(answers: &[kintsugi_store::Answer], item: Option<&str>) -> Vec<Vec<i64>> {
    answers
        .iter()
        .map(|a| {
            a.items
                .iter()
                .filter(|(k, _)| item.is_none_or(|i| i == k))
                .map(|(_, v)| *v)
                .collect()
        })
        .collect()
}

/// The mean of every item of every answer of a closed pulse, in tenths; `None` when it is
/// not to be counted (below k, or nobody answered in a pair).
fn pulse_mean(
    answers: &[kintsugi_store::Answer],
    k: kintsugi_core::KThreshold,
    pair: bool,
) -> Option<u32> {
    let audience = if pair {
        Audience::PairInsider
    } else {
        Audience::Group
    };
    group_mean(&item_values(answers, None), k, audience)
        .shown()
        .map(|r| r.mean_tenths)
}

/// The recovery gate for a repair, from its closed pulses, follow-through and time in rebuild.
pub fn gate_report(
    now: time::OffsetDateTime,
    org: &kintsugi_store::Organisation,
    repair: &kintsugi_store::Repair,
    rounds: &RoundsRead,
    commitments: &[kintsugi_store::Commitment],
) -> kintsugi_core::gate::GateReport {
    let pair = repair.scope == kintsugi_core::repair::Scope::PersonPerson;
    let pulses = rounds
        .list
        .iter()
        .filter(|round| round.kind == PULSE && !round.open)
        .map(|round| pulse_mean(rounds.answers(round.id), org.k_threshold, pair))
        .collect();
    let input = kintsugi_core::gate::GateInput {
        pulses,
        follow_through: crate::repairs::follow_through(commitments, now.date()),
        days_in_rebuild: repair
            .rebuild_started_at
            .map(|t| (now - t).whole_days())
            .unwrap_or(0),
        deception: repair.deception,
    };
    kintsugi_core::gate::evaluate(&org.gate, &input)
}

/// The gate as it stands, for a change that needs only the gate (moving the stage, a lesson).
pub async fn gate_now(
    state: &AppState,
    org: &kintsugi_store::Organisation,
    repair: &kintsugi_store::Repair,
) -> Result<kintsugi_core::gate::GateReport, AppError> {
    let rounds = RoundsRead::read(state, repair.id).await?;
    let commitments = state.store().commitments(repair.id).await?;
    Ok(gate_report(state.now(), org, repair, &rounds, &commitments))
}

/// Whether this repair's confirmations go through anonymous rounds.
pub fn anonymous_confirmations(
    org: &kintsugi_store::Organisation,
    repair: &kintsugi_store::Repair,
) -> bool {
    let affected = repair
        .participants
        .iter()
        .filter(|p| p.side == kintsugi_core::repair::Side::Affected)
        .count();
    kintsugi_core::anonymity::at_least_k(affected, org.k_threshold, || ())
        .shown()
        .is_some()
}

/// Opens a confirmation round for every occurrence that is due (or done early) and has
/// none yet; each closes when the occurrence's grace ends. Idempotent; returns whether it
/// opened any.
pub async fn open_confirmation_rounds(
    state: &AppState,
    org: &kintsugi_store::Organisation,
    repair: &kintsugi_store::Repair,
    rounds: &[Round],
    commitments: &[kintsugi_store::Commitment],
) -> Result<bool, AppError> {
    if !repair.stage.is_open() || !anonymous_confirmations(org, repair) {
        return Ok(false);
    }
    let today = state.now().date();
    let existing: std::collections::HashSet<&str> =
        rounds.iter().filter_map(|r| r.subject.as_deref()).collect();
    let mut opened = false;
    for c in commitments {
        for o in &c.occurrences {
            let settled = o.yes + o.no > 0;
            if settled || (o.due > today && o.done_on.is_none()) {
                continue;
            }
            let subject = subject_of(c.id, o.due);
            if existing.contains(subject.as_str()) {
                continue;
            }
            opened = true;
            let grace_ends =
                o.due + time::Duration::days(kintsugi_core::commitments::GRACE_DAYS + 1);
            let closes_at = grace_ends.midnight().assume_utc();
            let entry = kintsugi_store::Audit {
                id: state.new_id(),
                org_id: repair.org_id,
                actor_id: None,
                action: "round.open".into(),
                subject: repair.title.clone(),
                detail: format!("anonymous confirmation of “{}”, due {}", c.statement, o.due),
                at: state.now(),
            };
            match create(
                state,
                repair.id,
                CONFIRMATION,
                Some(subject),
                Some(closes_at),
                &entry,
            )
            .await
            {
                Ok(_) | Err(AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(opened)
}

/// At close, a confirmation round's outcome becomes the occurrence's confirmations, without
/// any person attached, and only if at least k answered.
async fn settle_confirmation(
    state: &AppState,
    round: &Round,
    k: kintsugi_core::KThreshold,
) -> Result<(), AppError> {
    let Some((commitment, due)) = round.subject.as_deref().and_then(|s| s.split_once(':')) else {
        return Ok(());
    };
    let (Ok(commitment), Ok(due)) = (
        Uuid::parse_str(commitment),
        kintsugi_core::commitments::parse_date("due", due),
    ) else {
        return Ok(());
    };
    let answers = state.store().answers(round.id).await?;
    if let Shown::Shown((yes, no)) = kintsugi_core::anonymity::at_least_k(answers.len(), k, || {
        let yes = answers
            .iter()
            .filter(|a| a.category.as_deref() == Some("happened"))
            .count() as u32;
        (yes, answers.len() as u32 - yes)
    }) {
        state
            .store()
            .record_confirmations(commitment, due, yes, no, state.now().date())
            .await?;
    }
    Ok(())
}

pub async fn round_in(
    state: &AppState,
    access: &Access,
    round_id: Uuid,
) -> Result<Round, AppError> {
    match state.store().round(round_id).await? {
        Some(r) if r.repair_id == Some(access.repair.id) => Ok(r),
        _ => Err(AppError::not_found("round")),
    }
}

/// Closes a round and destroys its key: no token can be signed for it again.
pub async fn close(
    state: &AppState,
    org_id: Uuid,
    actor: Option<&CurrentUser>,
    round: &Round,
    title: &str,
) -> Result<(), AppError> {
    let entry = match actor {
        Some(user) => audit(
            state,
            user,
            "round.close",
            title,
            "closed by the facilitator",
        ),
        None => kintsugi_store::Audit {
            id: state.new_id(),
            org_id,
            actor_id: None,
            action: "round.close".into(),
            subject: title.into(),
            detail: "closed at its set time".into(),
            at: state.now(),
        },
    };
    state
        .store()
        .close_round(round.id, state.now(), &entry)
        .await?;
    if round.kind == CONFIRMATION {
        let org = state
            .store()
            .organisation(org_id)
            .await?
            .ok_or(AppError::Internal)?;
        settle_confirmation(state, round, org.k_threshold).await?;
    }
    state.keys().destroy(round.id).map_err(|e| {
        tracing::error!(error = %e, "cannot destroy the round key");
        AppError::Unavailable
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Base64 of the blinded message (256 bytes).
    pub blinded_message: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Base64 of the blind signature; the member's client unblinds it into the token.
    pub blind_signature: String,
}

/// Signs a member's blinded message, once per member and round. The server records that
/// the member got a token, with no time, and never sees the token itself.
pub async fn issue(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    round_id: Uuid,
    blinded_b64: &str,
) -> Result<TokenResponse, AppError> {
    let round = round_in(state, access, round_id).await?;
    match (round.kind.as_str(), access.side()) {
        (_, None) => {
            return Err(AppError::Forbidden(
                "only the people in the repair answer its rounds".into(),
            ));
        }
        (
            GENUINENESS | CAUSES | CONFIRMATION | PULSE,
            Some(kintsugi_core::repair::Side::Accountable),
        ) => {
            return Err(AppError::Forbidden(
                "only the affected side answers this round".into(),
            ));
        }
        _ => {}
    }
    sign_for(state, &round, user.person.id, blinded_b64).await
}

/// Signs a member's blinded message for an open round and records that they got their
/// token (once; a second request is a conflict). Whether they may answer is checked first.
pub async fn sign_for(
    state: &AppState,
    round: &Round,
    person_id: Uuid,
    blinded_b64: &str,
) -> Result<TokenResponse, AppError> {
    if !round.open {
        return Err(AppError::Conflict("this round is closed".into()));
    }
    let blinded = STANDARD
        .decode(blinded_b64.trim())
        .map_err(|_| AppError::invalid("blinded_message", "must be base64"))?;
    if blinded.len() != kintsugi_anon::MODULUS_BYTES {
        return Err(AppError::invalid("blinded_message", "must be 256 bytes"));
    }
    let secret = state
        .keys()
        .get(round.id)
        .map_err(|_| AppError::Unavailable)?
        .ok_or_else(|| {
            AppError::Conflict("this round's key is gone; the round is closed".into())
        })?;
    let key = RoundKey::from_secret_der(&secret).map_err(|_| AppError::Internal)?;
    let signature = tokio::task::spawn_blocking(move || key.sign_blinded(&blinded))
        .await
        .map_err(|_| AppError::Internal)?;
    let signature = signature.map_err(|e| AppError::invalid("blinded_message", e.to_string()))?;
    // Recorded only once the signature exists, so a refused request does not use up the member's token.
    state.store().record_issue(round.id, person_id).await?;
    Ok(TokenResponse {
        blind_signature: STANDARD.encode(signature),
    })
}

/// A round as a page or the API shows it: while open, nothing about answers at all.
#[derive(Serialize, ToSchema)]
pub struct RoundView {
    pub id: Uuid,
    pub kind: String,
    pub open: bool,
    /// Base64 DER of the round's public key.
    pub public_key: String,
    /// What members compare to know they answer the right round.
    pub fingerprint: String,
    pub closes_at: Option<String>,
    /// After close: the results, or null when fewer than k answered (nothing is shown then).
    #[schema(value_type = Option<Object>)]
    pub results: Option<ListeningResults>,
    /// The facilitator's view of the threads under comments (empty for everyone else: a
    /// thread is between the facilitator and the comment's anonymous author).
    pub replies: Vec<ReplyView>,
    /// After close of a genuineness round with at least k answers: the mean rating.
    #[schema(value_type = Option<Object>)]
    pub rating: Option<RatingResults>,
    /// After close of a causes round with at least k answers: how many agree and disagree.
    #[schema(value_type = Option<Object>)]
    pub agreement: Option<Agreement>,
    /// Person↔person repairs: the coarse direction the accountable person may see, with consent.
    pub direction: Option<String>,
    /// What a confirmation round asks about: "“statement”, due DATE".
    pub about: Option<String>,
    /// A closed pulse's mean per item: (what it asks, mean of 7).
    pub dimensions: Vec<(String, String)>,
    /// After close with fewer than k answers: "fewer than k answered; nothing is shown".
    pub suppressed: Option<String>,
}

pub fn views(
    org: &kintsugi_store::Organisation,
    access: &Access,
    rounds: &RoundsRead,
    commitments: &[kintsugi_store::Commitment],
) -> Vec<RoundView> {
    let pair = access.repair.scope == kintsugi_core::repair::Scope::PersonPerson;
    let insider =
        access.is_facilitator() || access.side() == Some(kintsugi_core::repair::Side::Affected);
    let audience = if pair && insider {
        Audience::PairInsider
    } else {
        Audience::Group
    };
    let accountable_in_pair =
        pair && access.side() == Some(kintsugi_core::repair::Side::Accountable);
    let mut out = Vec::new();
    for round in rounds.list.iter().cloned() {
        // A closed confirmation round lives on as its occurrence's status.
        if round.kind == CONFIRMATION && !round.open {
            continue;
        }
        let about = round
            .subject
            .as_deref()
            .and_then(|s| s.split_once(':'))
            .and_then(|(c, due)| {
                commitments
                    .iter()
                    .find(|x| x.id.to_string() == c)
                    .map(|x| format!("“{}” by {}, due {due}", x.statement, x.owner_name))
            });
        let (mut rating, mut suppressed_rating, mut agreement) = (None, None, None);
        if !round.open && round.kind == CAUSES {
            let answers = rounds.answers(round.id);
            let count = |v: &str| {
                answers
                    .iter()
                    .filter(|a| a.category.as_deref() == Some(v))
                    .count()
            };
            match kintsugi_core::anonymity::visible(
                answers.len(),
                org.k_threshold,
                audience,
                || Agreement {
                    answered: answers.len(),
                    agree: count("agree"),
                    disagree: count("disagree"),
                },
            ) {
                Shown::Shown(a) => agreement = Some(a),
                Shown::Suppressed { k } => {
                    suppressed_rating = Some(format!("Fewer than {k} answered; nothing is shown."))
                }
            }
        }
        let mut dimensions = Vec::new();
        if !round.open && (round.kind == GENUINENESS || round.kind == PULSE) {
            let answers = rounds.answers(round.id);
            // The accountable person of a pair gets only a direction derived from this (below).
            let shown_to = if pair {
                Audience::PairInsider
            } else {
                audience
            };
            if round.kind == PULSE {
                // Each item, under the same rule as the whole: k counts people.
                for (key, label) in PULSE_ITEMS {
                    if let Shown::Shown(m) =
                        group_mean(&item_values(answers, Some(key)), org.k_threshold, shown_to)
                    {
                        dimensions.push((label.to_string(), m.mean()));
                    }
                }
            }
            let overall = if round.kind == PULSE {
                group_mean(&item_values(answers, None), org.k_threshold, shown_to)
            } else {
                let ratings: Vec<i64> = answers.iter().filter_map(|a| a.rating).collect();
                rating_results(&ratings, org.k_threshold, shown_to)
            };
            match overall {
                Shown::Shown(r) => rating = Some(r),
                Shown::Suppressed { k } => {
                    suppressed_rating = Some(format!("Fewer than {k} answered; nothing is shown."))
                }
            }
        }
        let (results, suppressed) = if round.open || round.kind != LISTENING {
            (None, suppressed_rating)
        } else {
            let mut answers: Vec<ListeningAnswer> = rounds
                .answers(round.id)
                .iter()
                .map(|a| ListeningAnswer {
                    id: a.id.to_string(),
                    category: a.category.clone(),
                    comment: a.comment.clone(),
                })
                .collect();
            // Comments are shown shuffled and undated.
            answers.shuffle(&mut rand::rng());
            match listening_results(&answers, org.k_threshold, Audience::Group) {
                Shown::Shown(mut r) => {
                    for (category, _) in &mut r.categories {
                        if let Ok(c) = kintsugi_core::repair::CauseCategory::parse(category) {
                            *category = c.label().to_owned();
                        }
                    }
                    (Some(r), None)
                }
                Shown::Suppressed { k } => (
                    None,
                    Some(format!("Fewer than {k} answered; nothing is shown.")),
                ),
            }
        };
        out.push(RoundView {
            id: round.id,
            kind: round.kind.clone(),
            open: round.open,
            public_key: round.public_key,
            fingerprint: round.fingerprint,
            closes_at: round.closes_at.map(crate::actions::date),
            replies: if access.is_facilitator() && !round.open {
                rounds.replies.get(&round.id).map_or_else(Vec::new, |replies| {
                    replies
                        .iter()
                        .map(|r| ReplyView {
                            answer_id: r.answer_id.to_string(),
                            from_author: r.from_author,
                            body: r.body.clone(),
                        })
                        .collect()
                })
            } else {
                vec![]
            },
                        about,
            dimensions: if accountable_in_pair { vec![] } else { dimensions },
            direction: match (&rating, accountable_in_pair) {
                (Some(r), true) if access.repair.pair_consent => Some(coarse_direction(r.mean_tenths).to_owned()),
                _ => None,
            },
            suppressed: match (accountable_in_pair, round.open, round.kind.as_str()) {
                (true, false, GENUINENESS | CAUSES) if !access.repair.pair_consent || round.kind == CAUSES => Some(
                    "The affected person's answers are theirs and the facilitator's; a coarse direction is shown only if they choose to share it."
                        .into(),
                ),
                _ => suppressed,
            },
            rating: if accountable_in_pair { None } else { rating },
            agreement: if accountable_in_pair { None } else { agreement },
            results,
        });
    }
    out
}

#[derive(Serialize, Clone, ToSchema)]
pub struct Agreement {
    pub answered: usize,
    pub agree: usize,
    pub disagree: usize,
}

#[derive(Serialize, ToSchema)]
pub struct ReplyView {
    pub answer_id: String,
    /// True when the comment's author wrote it.
    pub from_author: bool,
    pub body: String,
}

/// The facilitator replies to an anonymous comment of a closed round that showed its results.
pub async fn reply(
    state: &AppState,
    access: &Access,
    round_id: Uuid,
    answer_id: Uuid,
    body: &str,
) -> Result<(), AppError> {
    access.require_facilitator()?;
    let round = round_in(state, access, round_id).await?;
    if round.open {
        return Err(AppError::Conflict(
            "replies open when the round has closed".into(),
        ));
    }
    let answers = state.store().answers(round.id).await?;
    let org = state
        .store()
        .organisation(access.repair.org_id)
        .await?
        .ok_or(AppError::Internal)?;
    if answers.len() < org.k_threshold.get() as usize {
        return Err(AppError::not_found("comment"));
    }
    if !answers
        .iter()
        .any(|a| a.id == answer_id && a.comment.is_some())
    {
        return Err(AppError::not_found("comment"));
    }
    let body = kintsugi_core::repair::reason_text(body)
        .map_err(|e| kintsugi_core::Invalid::new("body", e.message))?;
    state.store().add_reply(answer_id, false, &body).await?;
    Ok(())
}

#[derive(Deserialize, Default)]
pub struct ReplyForm {
    #[serde(default)]
    pub body: String,
}

pub async fn page_reply(
    State(state): State<AppState>,
    InRepair { access, .. }: InRepair,
    Path((_repair, round, answer)): Path<(Uuid, Uuid, Uuid)>,
    crate::error::extract::Form(form): crate::error::extract::Form<ReplyForm>,
) -> Result<Response, AppError> {
    reply(&state, &access, round, answer, &form.body).await?;
    Ok(Redirect::to(&format!("/repairs/{}#rounds-heading", access.repair.id)).into_response())
}

/// Comments that anyone in the repair can already see: those of closed listening rounds
/// that reached k. Only these may be linked to a cause.
pub async fn visible_comment_ids(state: &AppState, access: &Access) -> Result<Vec<Uuid>, AppError> {
    let org = state
        .store()
        .organisation(access.repair.org_id)
        .await?
        .ok_or(AppError::Internal)?;
    let mut ids = Vec::new();
    for round in state.store().rounds_of(access.repair.id).await? {
        if round.open || round.kind != LISTENING {
            continue;
        }
        let answers = state.store().answers(round.id).await?;
        if answers.len() >= org.k_threshold.get() as usize {
            ids.extend(answers.iter().filter(|a| a.comment.is_some()).map(|a| a.id));
        }
    }
    Ok(ids)
}

/// In a person↔person repair, the affected person lets the accountable person see a coarse
/// direction of their ratings, or stops it.
pub async fn set_pair_consent(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    consent: bool,
) -> Result<(), AppError> {
    if access.repair.scope != kintsugi_core::repair::Scope::PersonPerson {
        return Err(AppError::Conflict(
            "only a person-to-person repair has this choice".into(),
        ));
    }
    if access.side() != Some(kintsugi_core::repair::Side::Affected) {
        return Err(AppError::Forbidden(
            "only the affected person decides what the accountable person sees".into(),
        ));
    }
    let detail = if consent {
        "shares a coarse direction"
    } else {
        "shares nothing"
    };
    let entry = audit(
        state,
        user,
        "repair.pair_consent",
        &access.repair.title,
        detail,
    );
    state
        .store()
        .set_pair_consent(access.repair.id, consent, &entry)
        .await?;
    Ok(())
}

#[derive(Deserialize, Default)]
pub struct ConsentForm {
    pub share: Option<String>,
}

pub async fn page_pair_consent(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    crate::error::extract::Form(form): crate::error::extract::Form<ConsentForm>,
) -> Result<Response, AppError> {
    set_pair_consent(&state, &user, &access, form.share.as_deref() == Some("yes")).await?;
    Ok(Redirect::to(&format!("/repairs/{}#rounds-heading", access.repair.id)).into_response())
}

/// The facilitator closes one of the repair's rounds now.
async fn close_by_facilitator(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    round: Uuid,
) -> Result<(), AppError> {
    access.require_facilitator()?;
    let round = round_in(state, access, round).await?;
    // Closing a pulse early would let someone pick the moment its mean looks best for the gate.
    if round.kind == PULSE {
        return Err(AppError::Conflict(
            "a trust pulse closes on its schedule; nobody closes it early".into(),
        ));
    }
    close(
        state,
        access.repair.org_id,
        Some(user),
        &round,
        &access.repair.title,
    )
    .await
}

/// Closes every round whose set time has passed and opens the trust pulses that are due
/// (the background sweep), so pulses keep their schedule when nobody opens the repair.
pub async fn close_due(state: &AppState) -> Result<(), AppError> {
    for org in state.store().list_organisations().await? {
        for repair in state.store().all_repairs(org.id).await? {
            let mut rounds = state.store().rounds_of(repair.id).await?;
            if close_due_rounds(state, org.id, &repair.title, &rounds).await? {
                rounds = state.store().rounds_of(repair.id).await?;
            }
            if repair.stage == kintsugi_core::repair::Stage::Rebuild
                && let Some(full) = state.store().repair(org.id, repair.id).await?
            {
                open_pulse_if_due(state, &full, &rounds).await?;
            }
        }
    }
    Ok(())
}

/// Closes those of one repair's rounds whose set time has passed; returns whether any was due.
pub async fn close_due_rounds(
    state: &AppState,
    org_id: Uuid,
    title: &str,
    rounds: &[Round],
) -> Result<bool, AppError> {
    let mut closed = false;
    for round in rounds {
        if round.open && round.closes_at.is_some_and(|t| t <= state.now()) {
            closed = true;
            match close(state, org_id, None, round, title).await {
                // Another request closed it first.
                Ok(()) | Err(AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(closed)
}

// ---- Handlers (pages and API share them) ----

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct OpenRoundBody {
    /// "listening" (everyone, the default) or "genuineness" (the affected side rates the acknowledgment 1 to 7).
    #[serde(default)]
    pub kind: Option<String>,
    /// Close automatically after this many days (1 to 60); otherwise the facilitator closes it.
    pub closes_in_days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct OpenedRound {
    pub id: Uuid,
    pub public_key: String,
    pub fingerprint: String,
}

/// Open a listening round. The repair's facilitator only.
#[utoipa::path(post, path = "/repairs/{id}/rounds", tag = "rounds", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = OpenRoundBody, responses((status = 201, body = OpenedRound), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn api_open(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Json(b): Json<OpenRoundBody>,
) -> Result<Response, AppError> {
    let kind = parse_kind(b.kind.as_deref())?;
    let r = open(&state, &user, &access, kind, b.closes_in_days).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(OpenedRound {
            id: r.id,
            public_key: r.public_key,
            fingerprint: r.fingerprint,
        }),
    )
        .into_response())
}

/// Close a round now and destroy its key. The repair's facilitator only.
#[utoipa::path(post, path = "/repairs/{id}/rounds/{round}/close", tag = "rounds", security(("session" = [])),
    params(("id" = Uuid, Path), ("round" = Uuid, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn api_close(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Path((_repair, round)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    close_by_facilitator(&state, &user, &access, round).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The repair's rounds; results only after close and only when at least k answered.
#[utoipa::path(get, path = "/repairs/{id}/rounds", tag = "rounds", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = [RoundView]), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
) -> Result<axum::Json<Vec<RoundView>>, AppError> {
    let reads = crate::repairs::reads(&state, &access.repair).await?;
    Ok(axum::Json(views(
        &user.org,
        &access,
        &reads.rounds,
        &reads.commitments,
    )))
}

/// Get a blind signature on a blinded token message, once per member and round.
#[utoipa::path(post, path = "/repairs/{id}/rounds/{round}/token", tag = "rounds", security(("session" = [])),
    params(("id" = Uuid, Path), ("round" = Uuid, Path)), request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn api_token(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Path((_repair, round)): Path<(Uuid, Uuid)>,
    Json(b): Json<TokenRequest>,
) -> Result<axum::Json<TokenResponse>, AppError> {
    Ok(axum::Json(
        issue(&state, &user, &access, round, &b.blinded_message).await?,
    ))
}

#[derive(Deserialize, Default)]
pub struct OpenRoundForm {
    #[serde(default)]
    pub closes_in_days: String,
    #[serde(default)]
    pub kind: String,
}

pub async fn page_open(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    crate::error::extract::Form(form): crate::error::extract::Form<OpenRoundForm>,
) -> Result<Response, AppError> {
    let days =
        match form.closes_in_days.trim() {
            "" => None,
            d => Some(d.parse::<i64>().map_err(|_| {
                AppError::invalid("closes_in_days", "must be a whole number of days")
            })?),
        };
    open(&state, &user, &access, parse_kind(Some(&form.kind))?, days).await?;
    Ok(Redirect::to(&format!("/repairs/{}#rounds-heading", access.repair.id)).into_response())
}

pub async fn page_close(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Path((_repair, round)): Path<(Uuid, Uuid)>,
) -> Result<Response, AppError> {
    close_by_facilitator(&state, &user, &access, round).await?;
    Ok(Redirect::to(&format!("/repairs/{}#rounds-heading", access.repair.id)).into_response())
}

// ---- Trust pulse trends (the repair page's charts and its CSV) ----

/// One closed pulse in a trend: its number, when it closed, and each item's result in
/// `PULSE_ITEMS` order.
pub struct PulsePoint {
    pub number: usize,
    pub closed_on: Option<time::Date>,
    pub items: Vec<Shown<RatingResults>>,
}

/// Every closed pulse, oldest first (the first is the baseline), under the same rules as the
/// results: k counts people, a pair's insiders see their own. `None` for the accountable person
/// of a pair, who sees only a coarse direction.
pub fn pulse_trend(
    org: &kintsugi_store::Organisation,
    access: &Access,
    rounds: &RoundsRead,
) -> Option<Vec<PulsePoint>> {
    let pair = access.repair.scope == kintsugi_core::repair::Scope::PersonPerson;
    if pair && access.side() == Some(kintsugi_core::repair::Side::Accountable) {
        return None;
    }
    let audience = if pair {
        Audience::PairInsider
    } else {
        Audience::Group
    };
    let mut pulses: Vec<&Round> = rounds
        .list
        .iter()
        .filter(|r| r.kind == PULSE && !r.open)
        .collect();
    pulses.sort_by_key(|r| r.opened_at);
    let mut out = Vec::new();
    for (i, round) in pulses.iter().enumerate() {
        let answers = rounds.answers(round.id);
        out.push(PulsePoint {
            number: i + 1,
            closed_on: round.closed_at.map(|t| t.date()),
            items: PULSE_ITEMS
                .iter()
                .map(|(key, _)| {
                    group_mean(&item_values(answers, Some(key)), org.k_threshold, audience)
                })
                .collect(),
        });
    }
    Some(out)
}
