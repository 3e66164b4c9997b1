//! Team health checks (practice 6): the organisation's instrument, recurring anonymous rounds
//! per team (opened and closed by `schedule`), what members answer, and what may be shown of
//! them (`view`).
//!
//! A check is an anonymous round (`crate::rounds`) of kind team_health whose subject is the
//! team; its answers are read once, when it closes, into exact rollups. Everything shown goes
//! through `kintsugi_core::anonymity` and the heat map rule in `kintsugi_core::health`.

pub mod schedule;
pub mod view;

use kintsugi_core::health::HealthEvery;
use kintsugi_core::instrument::Instrument;
use kintsugi_store::{HealthRound, Round, StoredInstrument};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::actor::{Actor, audit, system_audit};
use crate::context::Ctx;
use crate::error::Error;
use crate::instruments::instrument_by_id;

/// Largest instrument file accepted (the request body limit is 64 KiB).
const MAX_INSTRUMENT_BYTES: usize = 48 * 1024;

/// Checks an instrument file and puts it in use for the organisation. A bad file is refused
/// whole with its line; nothing is stored.
pub async fn load_instrument(
    ctx: &Ctx,
    org_id: Uuid,
    admin: Option<&Actor>,
    text: &str,
) -> Result<(StoredInstrument, Instrument), Error> {
    if text.len() > MAX_INSTRUMENT_BYTES {
        return Err(Error::invalid(
            "instrument",
            format!("is larger than {} KiB", MAX_INSTRUMENT_BYTES / 1024),
        ));
    }
    let parsed = Instrument::parse(text)
        .map_err(|e| Error::invalid("instrument", format!("is not valid: {e}")))?;
    let stored = StoredInstrument {
        id: ctx.new_id(),
        org_id,
        key: parsed.id.clone(),
        name: parsed.name.clone(),
        source: text.to_owned(),
        loaded_at: ctx.now(),
    };
    let items = format!("{} items", parsed.items.len());
    let entry = match admin {
        Some(admin) => audit(ctx, admin, "health.instrument", &parsed.name, items),
        None => system_audit(
            ctx,
            org_id,
            "health.instrument",
            &parsed.name,
            format!("{items}, from the command line"),
        ),
    };
    ctx.store().load_instrument(&stored, &entry).await?;
    Ok((stored, parsed))
}

/// The open check of a round id that the person may answer: one of their teams' checks.
pub async fn my_check(
    ctx: &Ctx,
    user: &Actor,
    round_id: Uuid,
) -> Result<(Round, HealthRound), Error> {
    let health = ctx.store().health_round(round_id).await?;
    let round = ctx.store().round(round_id).await?;
    match (round, health) {
        (Some(r), Some(h)) if h.org_id == user.org.id => {
            if !user.person.team_ids.contains(&h.team_id) {
                return Err(Error::Forbidden(
                    "only the members of this team answer its health check".into(),
                ));
            }
            Ok((r, h))
        }
        _ => Err(Error::not_found("health check")),
    }
}

/// One open check as a member sees it.
#[derive(Serialize, ToSchema)]
pub struct CheckOut {
    pub round: Uuid,
    pub team: Uuid,
    pub team_name: String,
    /// Base64 DER of the round's public key, for blinding.
    pub public_key: String,
    pub fingerprint: String,
    /// RFC 3339.
    pub closes_at: Option<String>,
    pub instrument: InstrumentOut,
    /// k, fixed when the check opened: its team's results show when at least this many answer.
    pub k: u32,
}

#[derive(Serialize, ToSchema)]
pub struct InstrumentOut {
    pub id: String,
    pub name: String,
    pub scale_min: i64,
    pub scale_max: i64,
    pub scale_labels: Vec<String>,
    pub items: Vec<ItemOut>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemOut {
    pub id: String,
    pub text: String,
    pub dimension: String,
}

impl From<&Instrument> for InstrumentOut {
    fn from(i: &Instrument) -> Self {
        Self {
            id: i.id.clone(),
            name: i.name.clone(),
            scale_min: i.scale.min,
            scale_max: i.scale.max,
            scale_labels: i.scale.labels.clone(),
            // Whether an item is reverse-scored is left out: it would only invite gaming.
            items: i
                .items
                .iter()
                .map(|it| ItemOut {
                    id: it.id.clone(),
                    text: it.text.clone(),
                    dimension: it.dimension.clone(),
                })
                .collect(),
        }
    }
}

pub async fn my_checks(ctx: &Ctx, user: &Actor) -> Result<Vec<CheckOut>, Error> {
    let teams = ctx.store().list_teams(user.org.id).await?;
    let mut out = Vec::new();
    for (round, health) in ctx.store().open_health_rounds(user.org.id).await? {
        if !user.person.team_ids.contains(&health.team_id) {
            continue;
        }
        let instrument = instrument_by_id(ctx, health.instrument_id).await?;
        out.push(CheckOut {
            round: round.id,
            team: health.team_id,
            team_name: teams
                .iter()
                .find(|t| t.id == health.team_id)
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            public_key: round.public_key.clone(),
            fingerprint: round.fingerprint.clone(),
            closes_at: round.closes_at.map(crate::text::rfc3339),
            instrument: (&instrument).into(),
            k: round.k.get(),
        });
    }
    Ok(out)
}

pub async fn set_every(ctx: &Ctx, admin: &Actor, days: i64) -> Result<(), Error> {
    let every = HealthEvery::new(days).map_err(|e| Error::Invalid(vec![e]))?;
    let entry = audit(
        ctx,
        admin,
        "health.settings",
        &admin.org.name,
        format!("team health every {} days", every.days()),
    );
    Ok(ctx
        .store()
        .set_health_every(admin.org.id, every, &entry)
        .await?)
}

pub async fn set_parent(
    ctx: &Ctx,
    admin: &Actor,
    team: Uuid,
    parent: Option<Uuid>,
) -> Result<(), Error> {
    let name = ctx
        .store()
        .team(admin.org.id, team)
        .await?
        .ok_or_else(|| Error::not_found("team"))?
        .name;
    let parent_name = match parent {
        Some(p) => {
            ctx.store()
                .team(admin.org.id, p)
                .await?
                .ok_or_else(|| Error::invalid("parent", "is not a team of this organisation"))?
                .name
        }
        None => "no parent".into(),
    };
    let entry = audit(ctx, admin, "team.parent", &name, parent_name);
    Ok(ctx
        .store()
        .set_team_parent(admin.org.id, team, parent, &entry)
        .await?)
}
