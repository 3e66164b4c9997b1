//! What may be shown of team health: the organisation's trend, the heat map of the latest
//! checks and one team's trend, from rollups only (never answers), each through the heat map
//! rule, so a small team is hidden with the next-smallest beside it.

use std::collections::{BTreeMap, HashMap};

use kintsugi_core::Shown;
use kintsugi_core::anonymity::KThreshold;
use kintsugi_core::health::TeamCount;
use kintsugi_core::instrument::percent_of_scale;
use kintsugi_store::HealthRollup;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::actor::Actor;
use crate::context::Ctx;
use crate::error::Error;
use crate::health::schedule::day_date;
use crate::instruments::instrument_by_id;

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
pub async fn view(ctx: &Ctx, org_id: Uuid, k: KThreshold) -> Result<HealthView, Error> {
    let org_rows = ctx.store().health_of_organisation(org_id).await?;
    let mut dimensions = dimensions_of(&org_rows);
    // Columns in the order the instrument in use asks them.
    let settings = ctx.store().health_settings(org_id).await?;
    let order = instrument_by_id(ctx, settings.instrument.map(|i| i.id))
        .await?
        .dimensions;
    dimensions.sort_by_key(|(d, _)| order.iter().position(|(o, _)| o == d).unwrap_or(usize::MAX));
    let mut periods: Vec<i64> = org_rows.iter().map(|r| r.period).collect();
    periods.dedup();
    let organisation = periods
        .iter()
        .map(|p| organisation_point(&org_rows, *p, &dimensions, k))
        .collect();
    let latest = periods.last().copied();
    let heat = match latest {
        Some(p) => heat_map(ctx, org_id, p, &mut dimensions, k).await?,
        None => vec![],
    };
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

/// The organisation's result in one period, or a gap when fewer than k answered.
fn organisation_point(
    org_rows: &[HealthRollup],
    period: i64,
    dimensions: &[(String, String)],
    k: KThreshold,
) -> TrendPoint {
    let rows: Vec<&HealthRollup> = org_rows.iter().filter(|r| r.period == period).collect();
    let answered = rows.first().map_or(0, |r| r.respondents.max(0) as usize);
    // The organisation's rollup adds every team's respondents once per dimension.
    let shown = kintsugi_core::anonymity::at_least_k(answered, k, || values_for(&rows, dimensions));
    match shown {
        Shown::Shown(values) => TrendPoint {
            period: day_date(period),
            values,
            hidden_because: None,
        },
        Shown::Suppressed { .. } => TrendPoint {
            period: day_date(period),
            values: vec![None; dimensions.len()],
            hidden_because: Some(hidden_text(k, true)),
        },
    }
}

/// One period's heat map, every team through the heat map rule; adds the period's dimensions
/// the organisation's rollups did not name.
async fn heat_map(
    ctx: &Ctx,
    org_id: Uuid,
    period: i64,
    dimensions: &mut Vec<(String, String)>,
    k: KThreshold,
) -> Result<Vec<HeatCell>, Error> {
    let rows = ctx.store().health_period(org_id, period).await?;
    for d in dimensions_of(&rows) {
        if !dimensions.iter().any(|(id, _)| *id == d.0) {
            dimensions.push(d);
        }
    }
    // Names and parents only: counting every team's members would cost more than the map.
    let tree = ctx.store().team_tree(org_id).await?;
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
    let name = |id: &Uuid| teams.get(id).cloned().unwrap_or_default();
    let mut heat: Vec<HeatCell> = by_team
        .into_iter()
        .map(|(team, rows)| {
            let why = hidden.get(&team).cloned().flatten();
            HeatCell {
                team,
                team_name: name(&team),
                parent: parents.get(&team).copied(),
                parent_name: parents.get(&team).map(name),
                values: if why.is_some() {
                    vec![]
                } else {
                    values_for(&rows, dimensions)
                },
                hidden_because: why,
            }
        })
        .collect();
    heat.sort_by(|a, b| (&a.parent_name, &a.team_name).cmp(&(&b.parent_name, &b.team_name)));
    Ok(heat)
}

/// One team's trend: each period's values, or a gap where the heat map rule hides the team
/// (applied with its siblings of that period, so a trend never shows what the map hides).
pub async fn team_trend(
    ctx: &Ctx,
    org_id: Uuid,
    team: Uuid,
    k: KThreshold,
) -> Result<(Vec<(String, String)>, Vec<TrendPoint>), Error> {
    // The heat map rule works within one parent: the team's siblings are all it needs.
    let Some((parent, siblings)) = ctx.store().sibling_teams(org_id, team).await? else {
        return Err(Error::not_found("team"));
    };
    let parents: HashMap<Uuid, Uuid> = match parent {
        Some(p) => siblings.iter().map(|t| (*t, p)).collect(),
        None => HashMap::new(),
    };
    let rows = ctx.store().health_of_teams(org_id, &siblings).await?;
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
pub fn require_viewer(user: &Actor) -> Result<(), Error> {
    Ok(user.person.roles.require_dashboard()?)
}
