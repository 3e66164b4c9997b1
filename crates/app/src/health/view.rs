//! What may be shown of team health: the organisation's trend, the heat map of the latest
//! checks and one team's trend. Each period is read as it was released when its last check
//! closed (`kintsugi_core::health::release`, stored by the store in that transaction): never
//! answers, never rollups, and never worked out again in today's layout.

use std::collections::{BTreeMap, HashMap};

use kintsugi_core::anonymity::KThreshold;
use kintsugi_core::instrument::percent_of_scale;
use kintsugi_store::{HealthRollup, ReleasedCell, ReleasedPeriod};
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
    /// The k of the latest released period (each check keeps the k it opened with); the
    /// organisation's k while nothing is released.
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

/// Why a cell shows nothing. The same words for every hidden cell of a period, whether it
/// is small itself or hidden with one: saying which would tell who holds fewer than k.
fn hidden_text(k: KThreshold, team: bool) -> String {
    if team {
        format!(
            "fewer than {} answered here or in a team hidden with it",
            k.get()
        )
    } else {
        format!("fewer than {} answered", k.get())
    }
}

fn dimensions_of<'a>(rows: impl IntoIterator<Item = &'a HealthRollup>) -> Vec<(String, String)> {
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

/// The organisation's health: the latest released heat map and the organisation's trend,
/// each period as it was released (with its own k, in its own layout). `k` is the
/// organisation's, said while nothing is released yet.
pub async fn view(ctx: &Ctx, org_id: Uuid, k: KThreshold) -> Result<HealthView, Error> {
    let periods = ctx.store().released_periods(org_id).await?;
    let org_cells = ctx.store().released_cells(org_id, None).await?;
    let mut dimensions = dimensions_of(org_cells.iter().map(|c| &c.rollup));
    // Columns in the order the instrument in use asks them.
    let settings = ctx.store().health_settings(org_id).await?;
    let order = instrument_by_id(ctx, settings.instrument.map(|i| i.id))
        .await?
        .dimensions;
    dimensions.sort_by_key(|(d, _)| order.iter().position(|(o, _)| o == d).unwrap_or(usize::MAX));
    let organisation = periods
        .iter()
        .map(|p| organisation_point(&org_cells, p, &dimensions))
        .collect();
    let latest = periods.last().copied();
    let heat = match latest {
        Some(p) => heat_map(ctx, org_id, p, &mut dimensions).await?,
        None => vec![],
    };
    Ok(HealthView {
        dimensions,
        period: latest.map(|p| day_date(p.period)),
        heat,
        organisation,
        k: latest.map_or(k, |p| p.k).get(),
        groups: vec![],
        group: None,
    })
}

/// A released cell's point in a trend: its values, or a gap that says why.
fn point(
    cells: &[&ReleasedCell],
    p: &ReleasedPeriod,
    dims: &[(String, String)],
    team: bool,
) -> TrendPoint {
    let hidden = cells.first().is_none_or(|c| c.hidden);
    let rows: Vec<&HealthRollup> = cells.iter().map(|c| &c.rollup).collect();
    TrendPoint {
        period: day_date(p.period),
        values: if hidden {
            vec![None; dims.len()]
        } else {
            values_for(&rows, dims)
        },
        hidden_because: hidden.then(|| hidden_text(p.k, team)),
    }
}

/// The organisation's result in one released period, or a gap when the release hid it.
fn organisation_point(
    org_cells: &[ReleasedCell],
    p: &ReleasedPeriod,
    dimensions: &[(String, String)],
) -> TrendPoint {
    let cells: Vec<&ReleasedCell> = org_cells
        .iter()
        .filter(|c| c.rollup.period == p.period)
        .collect();
    point(&cells, p, dimensions, false)
}

/// One released period's heat map, in the layout it was released in; adds the period's
/// dimensions the organisation's rows did not name.
async fn heat_map(
    ctx: &Ctx,
    org_id: Uuid,
    p: ReleasedPeriod,
    dimensions: &mut Vec<(String, String)>,
) -> Result<Vec<HeatCell>, Error> {
    let cells = ctx.store().released_period(org_id, p.period).await?;
    for d in dimensions_of(cells.iter().map(|c| &c.rollup)) {
        if !dimensions.iter().any(|(id, _)| *id == d.0) {
            dimensions.push(d);
        }
    }
    // Names only (a team renamed since shows its new name; its place is the released one).
    let tree = ctx.store().team_tree(org_id).await?;
    let teams: HashMap<Uuid, String> = tree.iter().map(|(id, n, _)| (*id, n.clone())).collect();
    let mut by_team: BTreeMap<Uuid, Vec<&ReleasedCell>> = BTreeMap::new();
    for c in &cells {
        if let Some(t) = c.rollup.team_id {
            by_team.entry(t).or_default().push(c);
        }
    }
    let name = |id: &Uuid| teams.get(id).cloned().unwrap_or_default();
    let mut heat: Vec<HeatCell> = by_team
        .into_iter()
        .map(|(team, cells)| {
            let parent = cells.first().and_then(|c| c.parent_id);
            let shown = point(&cells, &p, dimensions, true);
            HeatCell {
                team,
                team_name: name(&team),
                parent,
                parent_name: parent.as_ref().map(name),
                values: if shown.hidden_because.is_some() {
                    vec![]
                } else {
                    shown.values
                },
                hidden_because: shown.hidden_because,
            }
        })
        .collect();
    heat.sort_by(|a, b| (&a.parent_name, &a.team_name).cmp(&(&b.parent_name, &b.team_name)));
    Ok(heat)
}

/// One team's trend: each released period's values, or a gap where that period's release
/// hid the team. A period is never worked out again: a later move of the team changes none.
pub async fn team_trend(
    ctx: &Ctx,
    org_id: Uuid,
    team: Uuid,
) -> Result<(Vec<(String, String)>, Vec<TrendPoint>), Error> {
    if ctx.store().team(org_id, team).await?.is_none() {
        return Err(Error::not_found("team"));
    }
    let periods = ctx.store().released_periods(org_id).await?;
    let cells = ctx.store().released_cells(org_id, Some(team)).await?;
    let dims = dimensions_of(cells.iter().map(|c| &c.rollup));
    let mut points = Vec::new();
    for p in &periods {
        let mine: Vec<&ReleasedCell> = cells
            .iter()
            .filter(|c| c.rollup.period == p.period)
            .collect();
        if !mine.is_empty() {
            points.push(point(&mine, p, &dims, true));
        }
    }
    Ok((dims, points))
}

/// Admins and facilitators see the organisation's team health, as they see the dashboard.
pub fn require_viewer(user: &Actor) -> Result<(), Error> {
    Ok(user.person.roles.require_dashboard()?)
}
