//! Team health checks: the organisation's instrument, recurring anonymous rounds per team
//! (opened and closed by the background sweep), and what the dashboard may show of them.
//!
//! A check is an anonymous round (`rounds.rs`, `anon.rs`) of kind [`TEAM_HEALTH`] whose subject
//! is the team; its answers are read once, when it closes, into exact rollups. Everything
//! shown goes through `kintsugi_core::anonymity` and the heat map rule in
//! `kintsugi_core::health::suppressed`.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kintsugi_core::anonymity::KThreshold;
use kintsugi_core::health::{HealthEvery, TeamCount};
use kintsugi_core::instrument::{Instrument, percent_of_scale};
use kintsugi_core::{Invalid, Shown};
use kintsugi_store::{HealthRollup, HealthRound, Round, StoredInstrument, Team};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::actions::audit;
use crate::auth::{AdminUser, CurrentUser};
use crate::charts::{Datum, HeatMap, LineChart, Series};
use crate::error::extract::{Form, Json, Path, Query};
use crate::error::{AppError, Problem};
use crate::export::{self, Csv};
use crate::pages::{Chrome, Page, form_error, html_errors, render};
use crate::rounds::{TokenRequest, TokenResponse};
use crate::state::AppState;

/// The round kind of a team health check.
pub const TEAM_HEALTH: &str = "team_health";

/// Largest instrument file accepted (the request body limit is 64 KiB).
const MAX_INSTRUMENT_BYTES: usize = 48 * 1024;

// ---- Instruments ----

/// The instrument a round (or, for `None`, the built-in one) uses.
pub async fn instrument_by_id(state: &AppState, id: Option<Uuid>) -> Result<Instrument, AppError> {
    match id {
        None => Ok(kintsugi_core::instrument::default_instrument()),
        Some(id) => {
            let stored = state
                .store()
                .instrument(id)
                .await?
                .ok_or(AppError::Internal)?;
            Instrument::parse(&stored.source).map_err(|e| {
                tracing::error!(error = %e, "a stored instrument no longer parses");
                AppError::Internal
            })
        }
    }
}

/// Checks an instrument file and puts it in use for the organisation. A bad file is refused
/// whole with its line; nothing is stored.
pub async fn load_instrument(
    state: &AppState,
    admin: &CurrentUser,
    text: &str,
) -> Result<StoredInstrument, AppError> {
    if text.len() > MAX_INSTRUMENT_BYTES {
        return Err(AppError::invalid(
            "instrument",
            format!("is larger than {} KiB", MAX_INSTRUMENT_BYTES / 1024),
        ));
    }
    let parsed = Instrument::parse(text)
        .map_err(|e| AppError::invalid("instrument", format!("is not valid: {e}")))?;
    let stored = StoredInstrument {
        id: state.new_id(),
        org_id: admin.org.id,
        key: parsed.id.clone(),
        name: parsed.name.clone(),
        source: text.to_owned(),
        loaded_at: state.now(),
    };
    let entry = audit(
        state,
        admin,
        "health.instrument",
        &parsed.name,
        format!("{} items", parsed.items.len()),
    );
    state.store().load_instrument(&stored, &entry).await?;
    Ok(stored)
}

// ---- The schedule (the background sweep) ----

fn epoch_day(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(86_400)
}

fn day_date(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// Opens every team's check when the organisation's cycle is due, and closes checks whose
/// time has passed. Called by the server's background sweep.
pub async fn sweep(state: &AppState) -> Result<(), AppError> {
    for org in state.store().list_organisations().await? {
        catch_up(state, org.id).await?;
    }
    Ok(())
}

/// Brings one organisation's checks up to date; pages run it too, so nothing waits for
/// the next sweep.
pub async fn catch_up(state: &AppState, org_id: Uuid) -> Result<(), AppError> {
    close_due_in(state, org_id).await?;
    open_due_in(state, org_id).await
}

async fn open_due_in(state: &AppState, org_id: Uuid) -> Result<(), AppError> {
    let settings = state.store().health_settings(org_id).await?;
    let today = epoch_day(state.now());
    let last = state.store().last_health_period(org_id).await?;
    if !kintsugi_core::health::round_due(last, today, settings.every) {
        return Ok(());
    }
    let closes_at = state.now() + time::Duration::days(i64::from(settings.every.open_for_days()));
    for team in state.store().list_teams(org_id).await? {
        if team.member_count == 0 {
            continue;
        }
        let round = crate::rounds::new_keyed_round(
            state,
            TEAM_HEALTH,
            Some(team.id.to_string()),
            Some(closes_at),
        )
        .await?;
        let health = HealthRound {
            round_id: round.id,
            org_id,
            team_id: team.id,
            instrument_id: settings.instrument.as_ref().map(|i| i.id),
            period: today,
        };
        let entry = kintsugi_store::Audit {
            id: state.new_id(),
            org_id,
            actor_id: None,
            action: "round.open".into(),
            subject: team.name.clone(),
            detail: "team health check".into(),
            at: state.now(),
        };
        if let Err(e) = state
            .store()
            .open_health_round(&round, &health, &entry)
            .await
        {
            let _ = state.keys().destroy(round.id);
            match e {
                // The team's previous check is still open; it gets the next cycle.
                kintsugi_store::StoreError::Conflict(_) => {}
                e => return Err(e.into()),
            }
        }
    }
    Ok(())
}

async fn close_due_in(state: &AppState, org_id: Uuid) -> Result<(), AppError> {
    for (round, health) in state.store().open_health_rounds(org_id).await? {
        if round.closes_at.is_some_and(|t| t <= state.now()) {
            close(state, &round, &health, None).await?;
        }
    }
    Ok(())
}

/// Closes a check, writes its rollups in the same transaction, and destroys its key.
pub async fn close(
    state: &AppState,
    round: &Round,
    health: &HealthRound,
    actor: Option<&CurrentUser>,
) -> Result<(), AppError> {
    let instrument = instrument_by_id(state, health.instrument_id).await?;
    let team = state
        .store()
        .team(health.org_id, health.team_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let entry = match actor {
        Some(user) => audit(
            state,
            user,
            "round.close",
            &team,
            "team health check closed",
        ),
        None => kintsugi_store::Audit {
            id: state.new_id(),
            org_id: health.org_id,
            actor_id: None,
            action: "round.close".into(),
            subject: team,
            detail: "team health check closed at its set time".into(),
            at: state.now(),
        },
    };
    match state
        .store()
        .close_health_round(round.id, state.now(), &instrument, &entry)
        .await
    {
        Ok(()) | Err(kintsugi_store::StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    state.keys().destroy(round.id).map_err(|e| {
        tracing::error!(error = %e, "cannot destroy the round key");
        AppError::Unavailable
    })
}

// ---- Answering ----

/// The open check of a round id that the person may answer: one of their teams' checks.
async fn my_check(
    state: &AppState,
    user: &CurrentUser,
    round_id: Uuid,
) -> Result<(Round, HealthRound), AppError> {
    let health = state.store().health_round(round_id).await?;
    let round = state.store().round(round_id).await?;
    match (round, health) {
        (Some(r), Some(h)) if h.org_id == user.org.id => {
            if !user.person.team_ids.contains(&h.team_id) {
                return Err(AppError::Forbidden(
                    "only the members of this team answer its health check".into(),
                ));
            }
            Ok((r, h))
        }
        _ => Err(AppError::not_found("health check")),
    }
}

/// Checks an anonymous answer to a health check against the round's instrument: every item,
/// on the scale, nothing else.
pub async fn answer_items(
    state: &AppState,
    round: &Round,
    items: Option<BTreeMap<String, i64>>,
) -> Result<Vec<(String, i64)>, AppError> {
    let health = state
        .store()
        .health_round(round.id)
        .await?
        .ok_or_else(|| AppError::not_found("health check"))?;
    let instrument = instrument_by_id(state, health.instrument_id).await?;
    let Some(items) = items else {
        return Err(AppError::invalid(
            "items",
            "a team health check rates every item",
        ));
    };
    instrument
        .check_answer(&items)
        .map_err(|e| AppError::Invalid(vec![e]))
}

/// One open check as a member sees it.
#[derive(Serialize, ToSchema)]
pub struct CheckOut {
    round: Uuid,
    team: Uuid,
    team_name: String,
    /// Base64 DER of the round's public key, for blinding.
    public_key: String,
    fingerprint: String,
    /// RFC 3339.
    closes_at: Option<String>,
    instrument: InstrumentOut,
}

#[derive(Serialize, ToSchema)]
pub struct InstrumentOut {
    id: String,
    name: String,
    scale_min: i64,
    scale_max: i64,
    scale_labels: Vec<String>,
    items: Vec<ItemOut>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemOut {
    id: String,
    text: String,
    dimension: String,
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

async fn my_checks(state: &AppState, user: &CurrentUser) -> Result<Vec<CheckOut>, AppError> {
    let teams = state.store().list_teams(user.org.id).await?;
    let mut out = Vec::new();
    for (round, health) in state.store().open_health_rounds(user.org.id).await? {
        if !user.person.team_ids.contains(&health.team_id) {
            continue;
        }
        let instrument = instrument_by_id(state, health.instrument_id).await?;
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
            closes_at: round.closes_at.map(rfc3339),
            instrument: (&instrument).into(),
        });
    }
    Ok(out)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

// ---- What may be shown ----

/// One team's cell on the heat map: a share of the scale per dimension, or hidden.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeatCell {
    pub team: Uuid,
    pub team_name: String,
    pub parent: Option<Uuid>,
    pub parent_name: Option<String>,
    /// Percent of the scale per dimension, in the order of `HealthView::dimensions`;
    /// empty when the team is hidden.
    pub values: Vec<Option<u32>>,
    /// Why nothing is shown, when it is hidden.
    pub hidden_because: Option<String>,
}

/// One point of a trend: a period and a percent of the scale per dimension, or a gap.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendPoint {
    /// The day the period's checks opened (YYYY-MM-DD).
    pub period: String,
    pub values: Vec<Option<u32>>,
    pub hidden_because: Option<String>,
}

/// What the dashboard shows of team health.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthView {
    /// (id, name) of each dimension.
    pub dimensions: Vec<(String, String)>,
    /// The latest period's heat map, grouped by parent.
    pub period: Option<String>,
    pub heat: Vec<HeatCell>,
    pub organisation: Vec<TrendPoint>,
    pub k: u32,
    /// When the heat map is drawn one parent at a time: each parent (id, name), and
    /// which one is drawn.
    pub groups: Vec<(Uuid, String)>,
    pub group: Option<Uuid>,
}

/// Beyond this many teams the heat map is drawn one parent at a time (the CSV and the API
/// keep every team); a chart of thousands of rows helps nobody read it.
const HEAT_PAGE: usize = 60;

impl HealthView {
    pub fn is_group(&self, id: &Uuid) -> bool {
        self.group.as_ref() == Some(id)
    }

    /// Keeps only one parent's teams on the heat map when there are too many to draw.
    pub fn page_to(&mut self, group: Option<Uuid>) {
        if self.heat.len() <= HEAT_PAGE {
            return;
        }
        let mut groups: Vec<(Uuid, String)> = Vec::new();
        for c in &self.heat {
            if let (Some(id), Some(name)) = (c.parent, &c.parent_name)
                && !groups.iter().any(|(g, _)| *g == id)
            {
                groups.push((id, name.clone()));
            }
        }
        let chosen = group
            .filter(|g| groups.iter().any(|(id, _)| id == g))
            .or_else(|| groups.first().map(|(id, _)| *id));
        self.heat.retain(|c| c.parent == chosen);
        self.groups = groups;
        self.group = chosen;
    }
}

fn percent(r: &HealthRollup) -> Option<u32> {
    percent_of_scale(r.total, r.value_count, r.scale_min, r.scale_max)
}

fn hidden_text(k: KThreshold, small: bool) -> String {
    if small {
        format!("fewer than {} answered", k.get())
    } else {
        "hidden with a smaller team beside it".into()
    }
}

/// The heat map rule applied to one period's rollups: which teams are hidden, and why.
fn hide(
    rows: &[HealthRollup],
    parents: &HashMap<Uuid, Uuid>,
    k: KThreshold,
) -> HashMap<Uuid, Option<String>> {
    let mut answered: BTreeMap<Uuid, u32> = BTreeMap::new();
    for r in rows {
        if let Some(t) = r.team_id {
            answered.insert(t, r.respondents.max(0) as u32);
        }
    }
    let counts: Vec<TeamCount<Uuid, Uuid>> = answered
        .iter()
        .map(|(team, n)| TeamCount {
            team: *team,
            parent: parents.get(team).copied(),
            answered: *n,
        })
        .collect();
    let hidden = kintsugi_core::health::suppressed(&counts, k);
    counts
        .iter()
        .zip(hidden)
        .map(|(c, h)| {
            let why = h.then(|| hidden_text(k, c.answered < k.get()));
            (c.team, why)
        })
        .collect()
}

fn dimensions_of(rows: &[HealthRollup]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in rows {
        if !out.iter().any(|(d, _)| *d == r.dimension) {
            out.push((r.dimension.clone(), r.dimension_name.clone()));
        }
    }
    out
}

fn values_for(rows: &[&HealthRollup], dims: &[(String, String)]) -> Vec<Option<u32>> {
    dims.iter()
        .map(|(d, _)| {
            rows.iter()
                .find(|r| r.dimension == *d)
                .and_then(|r| percent(r))
        })
        .collect()
}

/// The organisation's health: the latest heat map and the organisation's trend.
pub async fn view(state: &AppState, org_id: Uuid, k: KThreshold) -> Result<HealthView, AppError> {
    let org_rows = state.store().health_of_organisation(org_id).await?;
    let mut dimensions = dimensions_of(&org_rows);
    // Columns in the order the instrument in use asks them.
    let settings = state.store().health_settings(org_id).await?;
    let order = instrument_by_id(state, settings.instrument.map(|i| i.id))
        .await?
        .dimensions;
    dimensions.sort_by_key(|(d, _)| order.iter().position(|(o, _)| o == d).unwrap_or(usize::MAX));
    let mut organisation = Vec::new();
    let mut periods: Vec<i64> = org_rows.iter().map(|r| r.period).collect();
    periods.dedup();
    for p in &periods {
        let rows: Vec<&HealthRollup> = org_rows.iter().filter(|r| r.period == *p).collect();
        let answered = rows.first().map_or(0, |r| r.respondents.max(0) as usize);
        // The organisation's rollup adds every team's respondents once per dimension.
        let shown =
            kintsugi_core::anonymity::at_least_k(answered, k, || values_for(&rows, &dimensions));
        organisation.push(match shown {
            Shown::Shown(values) => TrendPoint {
                period: day_date(*p),
                values,
                hidden_because: None,
            },
            Shown::Suppressed { .. } => TrendPoint {
                period: day_date(*p),
                values: vec![None; dimensions.len()],
                hidden_because: Some(hidden_text(k, true)),
            },
        });
    }
    let latest = periods.last().copied();
    let mut heat = Vec::new();
    if let Some(p) = latest {
        let rows = state.store().health_period(org_id, p).await?;
        for d in dimensions_of(&rows) {
            if !dimensions.iter().any(|(id, _)| *id == d.0) {
                dimensions.push(d);
            }
        }
        // Names and parents only: counting every team's members would cost more than the map.
        let tree = state.store().team_tree(org_id).await?;
        let teams: HashMap<Uuid, String> = tree.iter().map(|(id, n, _)| (*id, n.clone())).collect();
        let parents: HashMap<Uuid, Uuid> = tree
            .iter()
            .filter_map(|(id, _, p)| Some((*id, (*p)?)))
            .collect();
        let hidden = hide(&rows, &parents, k);
        let mut by_team: BTreeMap<Uuid, Vec<&HealthRollup>> = BTreeMap::new();
        for r in &rows {
            if let Some(t) = r.team_id {
                by_team.entry(t).or_default().push(r);
            }
        }
        for (team, rows) in by_team {
            let why = hidden.get(&team).cloned().flatten();
            let name = |id: &Uuid| teams.get(id).cloned().unwrap_or_default();
            heat.push(HeatCell {
                team,
                team_name: name(&team),
                parent: parents.get(&team).copied(),
                parent_name: parents.get(&team).map(name),
                values: if why.is_some() {
                    vec![]
                } else {
                    values_for(&rows, &dimensions)
                },
                hidden_because: why,
            });
        }
        heat.sort_by(|a, b| (&a.parent_name, &a.team_name).cmp(&(&b.parent_name, &b.team_name)));
    }
    Ok(HealthView {
        dimensions,
        period: latest.map(day_date),
        heat,
        organisation,
        k: k.get(),
        groups: vec![],
        group: None,
    })
}

/// One team's trend: each period's values, or a gap where the heat map rule hides the team
/// (applied with its siblings of that period, so a trend never shows what the map hides).
pub async fn team_trend(
    state: &AppState,
    org_id: Uuid,
    team: Uuid,
    k: KThreshold,
) -> Result<(Vec<(String, String)>, Vec<TrendPoint>), AppError> {
    // The heat map rule works within one parent: the team's siblings are all it needs.
    let Some((parent, siblings)) = state.store().sibling_teams(org_id, team).await? else {
        return Err(AppError::not_found("team"));
    };
    let parents: HashMap<Uuid, Uuid> = match parent {
        Some(p) => siblings.iter().map(|t| (*t, p)).collect(),
        None => HashMap::new(),
    };
    let rows = state.store().health_of_teams(org_id, &siblings).await?;
    let dims = dimensions_of(&rows);
    let mut periods: Vec<i64> = rows
        .iter()
        .filter(|r| r.team_id == Some(team))
        .map(|r| r.period)
        .collect();
    periods.sort_unstable();
    periods.dedup();
    let mut points = Vec::new();
    for p in periods {
        let period_rows: Vec<HealthRollup> =
            rows.iter().filter(|r| r.period == p).cloned().collect();
        let hidden = hide(&period_rows, &parents, k);
        let why = hidden.get(&team).cloned().flatten();
        let mine: Vec<&HealthRollup> = period_rows
            .iter()
            .filter(|r| r.team_id == Some(team))
            .collect();
        points.push(TrendPoint {
            period: day_date(p),
            values: if why.is_some() {
                vec![None; dims.len()]
            } else {
                values_for(&mine, &dims)
            },
            hidden_because: why,
        });
    }
    Ok((dims, points))
}

/// Admins and facilitators see the organisation's team health, as they see the dashboard.
fn require_viewer(user: &CurrentUser) -> Result<(), AppError> {
    Ok(user.person.roles.require_dashboard()?)
}

fn datum(value: Option<u32>, hidden: Option<&String>) -> Datum {
    match (value, hidden) {
        (_, Some(why)) => Datum::gap(why.clone()),
        (Some(v), None) => Datum::value(f64::from(v), format!("{v}%")),
        (None, None) => Datum::gap("no answers"),
    }
}

/// "2026-05-29" as "29 May", short enough for an axis with two years of checks.
fn short_date(iso: &str) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let short = time::macros::format_description!("[day padding:none] [month repr:short]");
    time::Date::parse(iso, &format)
        .ok()
        .and_then(|d| d.format(&short).ok())
        .unwrap_or_else(|| iso.to_owned())
}

/// A dimension's name short enough for a heat map column ("Psychological safety" → "Safety").
fn column_name(id: &str, name: &str) -> String {
    if name.chars().count() <= 14 {
        return name.to_owned();
    }
    let mut short = id.replace(['_', '-'], " ");
    if let Some(first) = short.get(..1) {
        short.replace_range(..1, &first.to_uppercase());
    }
    short
}

fn trend_chart(
    id: &str,
    title: String,
    dims: &[(String, String)],
    points: &[TrendPoint],
) -> LineChart {
    LineChart {
        id: id.into(),
        desc: format!(
            "{} over {} checks, as a share of the scale; a gap is a check whose result is hidden, and says why.",
            dims.iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(" and "),
            points.len()
        ),
        title,
        x_label: "Checks opened".into(),
        y_label: "% of the scale".into(),
        x: points.iter().map(|p| short_date(&p.period)).collect(),
        y_range: (0.0, 100.0),
        series: dims
            .iter()
            .enumerate()
            .map(|(i, (_, name))| Series {
                name: name.clone(),
                points: points
                    .iter()
                    .map(|p| {
                        datum(
                            p.values.get(i).copied().flatten(),
                            p.hidden_because.as_ref(),
                        )
                    })
                    .collect(),
            })
            .collect(),
        reference: None,
    }
}

impl HealthView {
    /// The organisation's trend as an SVG line chart.
    pub fn trend_chart(&self) -> String {
        trend_chart(
            "health-trend",
            "Team health across the organisation".into(),
            &self.dimensions,
            &self.organisation,
        )
        .render()
    }

    /// The latest checks as an SVG heat map, hidden teams drawn as gaps that say why.
    pub fn heat_chart(&self) -> String {
        HeatMap {
            id: "health-heat".into(),
            title: format!(
                "Team health by team{}",
                self.period.as_ref().map(|p| format!(", checks opened {p}")).unwrap_or_default()
            ),
            desc: format!(
                "Share of the scale per team and dimension ({}). Teams with fewer than {} answers are hidden, together with the next-smallest team under the same parent.",
                self.dimensions
                    .iter()
                    .map(|(id, n)| format!("{}: {n}", column_name(id, n)))
                    .collect::<Vec<_>>()
                    .join("; "),
                self.k
            ),
            row_label: "Team".into(),
            column_label: "Dimension".into(),
            columns: self
                .dimensions
                .iter()
                .map(|(id, n)| column_name(id, n))
                .collect(),
            rows: self
                .heat
                .iter()
                .map(|c| {
                    let name = c.team_name.clone();
                    let cells = (0..self.dimensions.len())
                        .map(|i| datum(c.values.get(i).copied().flatten(), c.hidden_because.as_ref()))
                        .collect();
                    (name, cells)
                })
                .collect(),
            range: (0.0, 100.0),
        }
        .render()
    }
}

/// The health aggregates as CSV, through the one CSV writer: hidden cells say "suppressed"
/// (with the reason in its own column), and no cell can start a formula.
pub fn csv(view: &HealthView) -> Result<Response, AppError> {
    let mut header = vec![
        "section".to_owned(),
        "team".into(),
        "parent".into(),
        "checks opened".into(),
    ];
    header.extend(
        view.dimensions
            .iter()
            .map(|(_, n)| format!("{n} (% of scale)")),
    );
    header.push("hidden because".into());
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut out = Csv::new("team-health.csv", &header);
    let cells = |values: &[Option<u32>], hidden: Option<&String>| -> Vec<String> {
        (0..view.dimensions.len())
            .map(|i| export::datum(&datum(values.get(i).copied().flatten(), hidden)))
            .collect()
    };
    for p in &view.organisation {
        let mut row = vec![
            "organisation".to_owned(),
            String::new(),
            String::new(),
            p.period.clone(),
        ];
        row.extend(cells(&p.values, p.hidden_because.as_ref()));
        row.push(p.hidden_because.clone().unwrap_or_default());
        out.row(row);
    }
    for c in &view.heat {
        let mut row = vec![
            "team".to_owned(),
            c.team_name.clone(),
            c.parent_name.clone().unwrap_or_default(),
            view.period.clone().unwrap_or_default(),
        ];
        row.extend(cells(&c.values, c.hidden_because.as_ref()));
        row.push(c.hidden_because.clone().unwrap_or_default());
        out.row(row);
    }
    out.into_response()
}

// ---- Pages ----

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health_page))
        .route("/health/rounds/{round}/token", post(api_token))
        .route("/health/overview", get(overview_page))
        .route("/health/overview.csv", get(overview_csv))
        .route("/health/teams/{team}", get(team_page))
        .route("/admin/health", get(admin_page))
        .route("/admin/health/settings", post(save_settings))
        .route("/admin/health/instrument", post(save_instrument))
        .route("/admin/health/parents", post(save_parent))
        .layer(axum::middleware::from_fn(html_errors))
        .with_state(state)
}

#[derive(Template)]
#[template(path = "health.html")]
struct HealthPage {
    chrome: Chrome,
    checks: Vec<CheckOut>,
    k: u32,
}

async fn health_page(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
) -> Result<Response, AppError> {
    catch_up(&state, user.org.id).await?;
    let checks = my_checks(&state, &user).await?;
    Ok(render(
        StatusCode::OK,
        &HealthPage {
            chrome: page.chrome("Team health"),
            checks,
            k: user.org.k_threshold.get(),
        },
    ))
}

#[derive(Template)]
#[template(path = "health_overview.html")]
struct OverviewPage {
    chrome: Chrome,
    health: HealthView,
}

#[derive(Template)]
#[template(path = "dashboard_health.html")]
struct HealthSection {
    health: HealthView,
}

/// The team health part of the organisation dashboard (its first parent group, when the
/// organisation is too large to draw at once; the overview page pages through the rest).
pub async fn dashboard_section(state: &AppState, user: &CurrentUser) -> Result<String, AppError> {
    catch_up(state, user.org.id).await?;
    let mut health = view(state, user.org.id, user.org.k_threshold).await?;
    health.page_to(None);
    HealthSection { health }.render().map_err(|e| {
        tracing::error!(error = %e, "template failed");
        AppError::Internal
    })
}

#[derive(Deserialize)]
struct GroupQuery {
    group: Option<Uuid>,
}

async fn overview_page(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Query(q): Query<GroupQuery>,
) -> Result<Response, AppError> {
    require_viewer(&user)?;
    catch_up(&state, user.org.id).await?;
    let mut health = view(&state, user.org.id, user.org.k_threshold).await?;
    health.page_to(q.group);
    Ok(render(
        StatusCode::OK,
        &OverviewPage {
            chrome: page.chrome("Team health overview"),
            health,
        },
    ))
}

async fn overview_csv(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    require_viewer(&user)?;
    catch_up(&state, user.org.id).await?;
    let health = view(&state, user.org.id, user.org.k_threshold).await?;
    csv(&health)
}

#[derive(Template)]
#[template(path = "health_team.html")]
struct TeamPage {
    chrome: Chrome,
    team: Team,
    points: Vec<TrendPoint>,
    chart: String,
}

async fn team_page(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Path(team): Path<Uuid>,
) -> Result<Response, AppError> {
    require_viewer(&user)?;
    let t = state
        .store()
        .team(user.org.id, team)
        .await?
        .ok_or_else(|| AppError::not_found("team"))?;
    let (dimensions, points) = team_trend(&state, user.org.id, team, user.org.k_threshold).await?;
    let chart = trend_chart(
        "team-trend",
        format!("Team health of {}", t.name),
        &dimensions,
        &points,
    )
    .render();
    Ok(render(
        StatusCode::OK,
        &TeamPage {
            chrome: page.chrome(&format!("Team health: {}", t.name)),
            team: t,
            points,
            chart,
        },
    ))
}

#[derive(Template)]
#[template(path = "health_admin.html")]
struct AdminPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    every: String,
    instrument: Instrument,
    custom: bool,
    draft: String,
    teams: Vec<(Team, Option<Uuid>)>,
}

impl AdminPage {
    fn is_parent(&self, parent: &Option<Uuid>, candidate: &Uuid) -> bool {
        parent.as_ref() == Some(candidate)
    }
}

async fn admin_view(
    state: &AppState,
    page: &Page,
    admin: &CurrentUser,
    errors: Vec<Invalid>,
    every: Option<String>,
    draft: String,
) -> Result<AdminPage, AppError> {
    let settings = state.store().health_settings(admin.org.id).await?;
    let instrument = instrument_by_id(state, settings.instrument.as_ref().map(|i| i.id)).await?;
    let parents: HashMap<Uuid, Uuid> = state
        .store()
        .team_parents(admin.org.id)
        .await?
        .into_iter()
        .collect();
    let teams = state
        .store()
        .list_teams(admin.org.id)
        .await?
        .into_iter()
        .map(|t| {
            let p = parents.get(&t.id).copied();
            (t, p)
        })
        .collect();
    Ok(AdminPage {
        chrome: page.chrome("Team health settings"),
        errors,
        every: every.unwrap_or_else(|| settings.every.days().to_string()),
        instrument,
        custom: settings.instrument.is_some(),
        draft,
        teams,
    })
}

async fn admin_page(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
) -> Result<Response, AppError> {
    let view = admin_view(&state, &page, &admin, vec![], None, String::new()).await?;
    Ok(render(StatusCode::OK, &view))
}

/// Shows the admin page again with the problems, keeping what was typed.
async fn admin_error(
    state: &AppState,
    page: &Page,
    admin: &CurrentUser,
    err: AppError,
    every: Option<String>,
    draft: String,
) -> Result<Response, AppError> {
    let view = admin_view(state, page, admin, vec![], every, draft).await?;
    Ok(form_error(err, |errors| AdminPage { errors, ..view }))
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    health_every_days: String,
}

pub async fn set_every(state: &AppState, admin: &CurrentUser, days: i64) -> Result<(), AppError> {
    let every = HealthEvery::new(days).map_err(|e| AppError::Invalid(vec![e]))?;
    let entry = audit(
        state,
        admin,
        "health.settings",
        &admin.org.name,
        format!("team health every {} days", every.days()),
    );
    Ok(state
        .store()
        .set_health_every(admin.org.id, every, &entry)
        .await?)
}

async fn save_settings(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(f): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let result = match f.health_every_days.trim().parse::<i64>() {
        Ok(days) => set_every(&state, &admin, days).await,
        Err(_) => Err(AppError::invalid(
            "health_every_days",
            "must be a whole number",
        )),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/admin/health").into_response()),
        Err(e) => {
            admin_error(
                &state,
                &page,
                &admin,
                e,
                Some(f.health_every_days),
                String::new(),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct InstrumentForm {
    #[serde(default)]
    instrument: String,
}

async fn save_instrument(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(f): Form<InstrumentForm>,
) -> Result<Response, AppError> {
    match load_instrument(&state, &admin, &f.instrument).await {
        Ok(_) => Ok(Redirect::to("/admin/health").into_response()),
        Err(e) => admin_error(&state, &page, &admin, e, None, f.instrument).await,
    }
}

#[derive(Deserialize)]
struct ParentForm {
    team: Uuid,
    /// Empty: no parent.
    #[serde(default)]
    parent: String,
}

pub async fn set_parent(
    state: &AppState,
    admin: &CurrentUser,
    team: Uuid,
    parent: Option<Uuid>,
) -> Result<(), AppError> {
    let name = state
        .store()
        .team(admin.org.id, team)
        .await?
        .ok_or_else(|| AppError::not_found("team"))?
        .name;
    let parent_name = match parent {
        Some(p) => {
            state
                .store()
                .team(admin.org.id, p)
                .await?
                .ok_or_else(|| AppError::invalid("parent", "is not a team of this organisation"))?
                .name
        }
        None => "no parent".into(),
    };
    let entry = audit(state, admin, "team.parent", &name, parent_name);
    Ok(state
        .store()
        .set_team_parent(admin.org.id, team, parent, &entry)
        .await?)
}

async fn save_parent(
    State(state): State<AppState>,
    page: Page,
    AdminUser(admin): AdminUser,
    Form(f): Form<ParentForm>,
) -> Result<Response, AppError> {
    let parent = match f.parent.trim() {
        "" => Ok(None),
        p => Uuid::parse_str(p)
            .map(Some)
            .map_err(|_| AppError::invalid("parent", "is not a team")),
    };
    let result = match parent {
        Ok(parent) => set_parent(&state, &admin, f.team, parent).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/admin/health").into_response()),
        Err(e) => admin_error(&state, &page, &admin, e, None, String::new()).await,
    }
}

// ---- API ----

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_checks))
        .routes(routes!(api_token))
        .routes(routes!(api_overview))
        .routes(routes!(api_team))
        .routes(routes!(api_instrument))
        .routes(routes!(api_settings))
        .routes(routes!(api_parent))
}

/// The open team health checks the person may answer (their teams'), with each instrument.
#[utoipa::path(get, path = "/health/checks", tag = "health", security(("session" = [])),
    responses((status = 200, body = [CheckOut]), (status = 401, body = Problem)))]
async fn api_checks(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Vec<CheckOut>>, AppError> {
    catch_up(&state, user.org.id).await?;
    Ok(axum::Json(my_checks(&state, &user).await?))
}

/// Get a blind signature for a team health check, once per member and check.
#[utoipa::path(post, path = "/health/rounds/{round}/token", tag = "health", security(("session" = [])),
    params(("round" = Uuid, Path)), request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn api_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(round): Path<Uuid>,
    Json(b): Json<TokenRequest>,
) -> Result<axum::Json<TokenResponse>, AppError> {
    let (round, _) = my_check(&state, &user, round).await?;
    Ok(axum::Json(
        crate::rounds::sign_for(&state, &round, user.person.id, &b.blinded_message).await?,
    ))
}

/// The organisation's team health: its trend and the latest heat map, with small teams hidden.
#[utoipa::path(get, path = "/health/overview", tag = "health", security(("session" = [])),
    responses((status = 200, body = HealthView), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn api_overview(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<HealthView>, AppError> {
    require_viewer(&user)?;
    catch_up(&state, user.org.id).await?;
    Ok(axum::Json(
        view(&state, user.org.id, user.org.k_threshold).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TeamTrendOut {
    /// (id, name) of each dimension.
    dimensions: Vec<(String, String)>,
    points: Vec<TrendPoint>,
}

/// One team's trend, with gaps where the team is hidden.
#[utoipa::path(get, path = "/health/teams/{team}", tag = "health", security(("session" = [])),
    params(("team" = Uuid, Path)),
    responses((status = 200, body = TeamTrendOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn api_team(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(team): Path<Uuid>,
) -> Result<axum::Json<TeamTrendOut>, AppError> {
    require_viewer(&user)?;
    let (dimensions, points) = team_trend(&state, user.org.id, team, user.org.k_threshold).await?;
    Ok(axum::Json(TeamTrendOut { dimensions, points }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentBody {
    /// The instrument file (TOML).
    pub toml: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoadedInstrument {
    id: Uuid,
    key: String,
    name: String,
}

/// Load the organisation's own instrument (TOML); a bad file is refused with its line.
#[utoipa::path(post, path = "/admin/health/instrument", tag = "health", security(("session" = [])),
    request_body = InstrumentBody,
    responses((status = 201, body = LoadedInstrument), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn api_instrument(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(b): Json<InstrumentBody>,
) -> Result<(StatusCode, axum::Json<LoadedInstrument>), AppError> {
    let stored = load_instrument(&state, &admin, &b.toml).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(LoadedInstrument {
            id: stored.id,
            key: stored.key,
            name: stored.name,
        }),
    ))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthSettingsBody {
    /// Days between a team's checks (7 to 90).
    pub every_days: i64,
}

/// Set how often every team gets a health check.
#[utoipa::path(put, path = "/admin/health/settings", tag = "health", security(("session" = [])),
    request_body = HealthSettingsBody,
    responses((status = 200, body = HealthSettingsBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn api_settings(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(b): Json<HealthSettingsBody>,
) -> Result<axum::Json<HealthSettingsBody>, AppError> {
    set_every(&state, &admin, b.every_days).await?;
    Ok(axum::Json(b))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentBody {
    /// The parent team, or null for none.
    pub parent: Option<Uuid>,
}

/// Set or clear a team's parent team.
#[utoipa::path(put, path = "/teams/{team}/parent", tag = "health", security(("session" = [])),
    params(("team" = Uuid, Path)), request_body = ParentBody,
    responses((status = 200, body = ParentBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn api_parent(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(team): Path<Uuid>,
    Json(b): Json<ParentBody>,
) -> Result<axum::Json<ParentBody>, AppError> {
    set_parent(&state, &admin, team, b.parent).await?;
    Ok(axum::Json(b))
}
