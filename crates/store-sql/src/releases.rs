//! Releases of team health periods: what a closed period shows, worked out once by
//! `kintsugi_core::health::release` inside the transaction that closes its last check, and
//! the rows that read it back.

use std::collections::{BTreeMap, HashMap};

use kintsugi_core::KThreshold;
use kintsugi_core::health::TeamCount;
use kintsugi_store::StoreError;

use crate::RollupRow;

/// The `cell` of the organisation's rows in `health_released` (a team's is its id).
pub const ORGANISATION_CELL: &str = "organisation";

/// One row to write into `health_released`.
pub struct ReleasedOut {
    pub cell: String,
    pub parent: Option<String>,
    pub hidden: bool,
    pub dimension: String,
    pub dimension_name: String,
    pub total: i64,
    pub value_count: i64,
    pub respondents: i64,
    pub scale_min: i64,
    pub scale_max: i64,
}

/// What a period releases: each team's rows with its parent from `tree` (id, parent) and
/// whether the rule hides it, and the organisation's sums per dimension, hidden unless the
/// rule shows the total.
pub fn release_of(
    rows: &[RollupRow],
    tree: &[(String, Option<String>)],
    k: KThreshold,
) -> Vec<ReleasedOut> {
    let parents: HashMap<&str, Option<&str>> = tree
        .iter()
        .map(|(t, p)| (t.as_str(), p.as_deref()))
        .collect();
    let parent_of = |t: &str| parents.get(t).copied().flatten();
    let mut answered: BTreeMap<&str, u32> = BTreeMap::new();
    for r in rows {
        if let Some(t) = &r.team_id {
            answered.insert(t, u32::try_from(r.respondents.max(0)).unwrap_or(u32::MAX));
        }
    }
    let counts: Vec<TeamCount<&str, &str>> = answered
        .iter()
        .map(|(team, n)| TeamCount {
            team: *team,
            parent: parent_of(team),
            answered: *n,
        })
        .collect();
    let release = kintsugi_core::health::release(&counts, k);
    let hidden: HashMap<&str, bool> = counts
        .iter()
        .zip(&release.hidden)
        .map(|(c, h)| (c.team, *h))
        .collect();
    let mut out = Vec::with_capacity(rows.len() + 4);
    let mut org: BTreeMap<&str, ReleasedOut> = BTreeMap::new();
    let respondents: i64 = answered.values().map(|n| i64::from(*n)).sum();
    for r in rows {
        let Some(team) = r.team_id.as_deref() else {
            continue;
        };
        let sum = org.entry(&r.dimension).or_insert_with(|| ReleasedOut {
            cell: ORGANISATION_CELL.into(),
            parent: None,
            hidden: !release.total_shown,
            dimension: r.dimension.clone(),
            dimension_name: r.dimension_name.clone(),
            total: 0,
            value_count: 0,
            respondents,
            scale_min: r.scale_min,
            scale_max: r.scale_max,
        });
        sum.total += r.total;
        sum.value_count += r.value_count;
        out.push(ReleasedOut {
            cell: team.to_owned(),
            parent: parent_of(team).map(str::to_owned),
            hidden: hidden.get(team).copied().unwrap_or(true),
            dimension: r.dimension.clone(),
            dimension_name: r.dimension_name.clone(),
            total: r.total,
            value_count: r.value_count,
            respondents: r.respondents,
            scale_min: r.scale_min,
            scale_max: r.scale_max,
        });
    }
    out.extend(org.into_values());
    out
}

#[derive(sqlx::FromRow)]
pub struct ReleasedRow {
    pub cell: String,
    pub parent_id: Option<String>,
    pub hidden: bool,
    pub period: i64,
    pub dimension: String,
    pub dimension_name: String,
    pub total: Option<i64>,
    pub value_count: Option<i64>,
    pub respondents: Option<i64>,
    pub scale_min: i64,
    pub scale_max: i64,
}

pub const RELEASED_SQL: &str = "SELECT cell, parent_id, hidden, period, dimension, dimension_name, total, value_count, respondents, scale_min, scale_max FROM health_released";

impl TryFrom<ReleasedRow> for kintsugi_store::ReleasedCell {
    type Error = StoreError;
    fn try_from(r: ReleasedRow) -> Result<Self, StoreError> {
        let team_id = match r.cell.as_str() {
            ORGANISATION_CELL => None,
            id => Some(crate::uuid(id)?),
        };
        Ok(kintsugi_store::ReleasedCell {
            parent_id: r.parent_id.as_deref().map(crate::uuid).transpose()?,
            hidden: r.hidden,
            rollup: kintsugi_store::HealthRollup {
                team_id,
                period: r.period,
                dimension: r.dimension,
                dimension_name: r.dimension_name,
                total: r.total.unwrap_or(0),
                value_count: r.value_count.unwrap_or(0),
                respondents: r.respondents.unwrap_or(0),
                scale_min: r.scale_min,
                scale_max: r.scale_max,
            },
        })
    }
}
