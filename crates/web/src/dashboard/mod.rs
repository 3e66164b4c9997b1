//! The organisation dashboard (`/dashboard`, admins and facilitators) with its CSV exports:
//! repairs by stage and age, follow-through across the organisation, overdue updates, and the
//! team health section that team health renders (`crate::health::view`). An aggregator: it
//! reads other features' views, and nothing reads it.
//!
//! Everything here is an aggregate or a result that went through `kintsugi_core::anonymity`:
//! charts and CSV are built from the same [`Datum`] rows, so a suppressed cell is suppressed
//! in both. A facilitator sees the titles of their own repairs only; an admin sees titles (and
//! stages) of all, as on the repairs page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use kintsugi_app::repairs;
use kintsugi_app::repairs::commitments::occurrences;
use kintsugi_app::{Actor, Ctx, Error};
use kintsugi_core::commitments;
use kintsugi_core::repair::Stage;
use kintsugi_store::RepairSummary;
use time::{Date, OffsetDateTime};

use crate::kernel::charts::{BarChart, Datum, LineChart, Series};
use crate::kernel::csv::Csv;
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::Overseer;
use crate::kernel::{AppState, Reply};

pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(dashboard))
        .route("/dashboard/repairs.csv", get(repairs_csv))
        .route("/dashboard/follow-through.csv", get(follow_through_csv))
        .route("/dashboard/overdue.csv", get(overdue_csv))
}

/// How old a repair is, in the dashboard's buckets.
pub const AGE_BUCKETS: [&str; 3] = ["Under 30 days", "30 to 89 days", "90 days or more"];

/// Which age bucket a repair opened `days` ago falls in.
pub fn age_bucket(days: i64) -> usize {
    match days {
        ..30 => 0,
        30..90 => 1,
        _ => 2,
    }
}

/// Per stage: how many repairs in each age bucket, the oldest's age in days, and how many are
/// overdue with their update.
struct StageRow {
    stage: Stage,
    by_age: [usize; 3],
    oldest_days: Option<i64>,
}

fn stage_rows(all: &[RepairSummary], now: OffsetDateTime) -> Vec<StageRow> {
    Stage::ALL
        .iter()
        .map(|stage| {
            let mut row = StageRow {
                stage: *stage,
                by_age: [0; 3],
                oldest_days: None,
            };
            for r in all.iter().filter(|r| r.stage == *stage) {
                let days = (now - r.created_at).whole_days();
                row.by_age[age_bucket(days)] += 1;
                row.oldest_days = Some(row.oldest_days.map_or(days, |d: i64| d.max(days)));
            }
            row
        })
        .collect()
}

fn stage_chart(rows: &[StageRow]) -> BarChart {
    BarChart {
        id: "repairs-by-stage".into(),
        title: "Repairs by stage and age".into(),
        desc: format!(
            "How many repairs are at each stage, split by how long ago they were opened. {}",
            rows.iter()
                .map(|r| format!("{}: {}.", r.stage.label(), r.by_age.iter().sum::<usize>()))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        value_label: "Repairs".into(),
        row_label: "Stage".into(),
        segments: AGE_BUCKETS.iter().map(|s| s.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                (
                    r.stage.label().to_owned(),
                    r.by_age.iter().map(|n| Datum::count(*n)).collect(),
                )
            })
            .collect(),
    }
}

/// Follow-through of every commitment in the organisation, in total and by month due.
struct OrgFollowThrough {
    total: commitments::FollowThrough,
    /// The last six months, oldest first: ("2026-06", follow-through of what fell due then).
    months: Vec<(String, commitments::FollowThrough)>,
}

fn month_of(d: Date) -> (i32, u8) {
    (d.year(), d.month() as u8)
}

fn last_months(today: Date, n: usize) -> Vec<(i32, u8)> {
    let (mut y, mut m) = month_of(today);
    let mut out = Vec::new();
    for _ in 0..n {
        out.push((y, m));
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    out.reverse();
    out
}

async fn org_follow_through(ctx: &Ctx, org_id: uuid::Uuid) -> Result<OrgFollowThrough, Error> {
    let today = ctx.today();
    let months = last_months(today, 6);
    let mut by_month = vec![commitments::FollowThrough::default(); months.len()];
    let mut total = commitments::FollowThrough::default();
    for c in ctx.store().commitments_in_org(org_id).await? {
        let occurrences = occurrences(&c.occurrences);
        total = total + commitments::follow_through(&occurrences, today);
        for (i, month) in months.iter().enumerate() {
            let due_then: Vec<_> = occurrences
                .iter()
                .filter(|o| month_of(o.due) == *month)
                .cloned()
                .collect();
            if !due_then.is_empty() {
                by_month[i] = by_month[i] + commitments::follow_through(&due_then, today);
            }
        }
    }
    Ok(OrgFollowThrough {
        total,
        months: months
            .iter()
            .map(|(y, m)| format!("{y}-{m:02}"))
            .zip(by_month)
            .collect(),
    })
}

fn percent(rate: Option<u8>, reason: &str) -> Datum {
    match rate {
        Some(p) => Datum::value(f64::from(p), format!("{p}%")),
        None => Datum::gap(reason),
    }
}

const NOTHING_SETTLED: &str = "nothing fell due and settled";

const NOTHING_KEPT: &str = "nothing kept yet";

fn follow_through_chart(ft: &OrgFollowThrough) -> LineChart {
    LineChart {
        id: "follow-through".into(),
        title: "Follow-through across the organisation".into(),
        desc: "Of the commitment occurrences that fell due each month and are settled, the share the affected side confirmed as kept, and of those the share done on time.".into(),
        x_label: "Month due".into(),
        y_label: "Percent".into(),
        x: ft.months.iter().map(|(m, _)| m.clone()).collect(),
        y_range: (0.0, 100.0),
        series: vec![
            Series {
                name: "Follow-through (kept of due)".into(),
                points: ft
                    .months
                    .iter()
                    .map(|(_, f)| percent(f.rate(), NOTHING_SETTLED))
                    .collect(),
            },
            Series {
                name: "On time (of kept)".into(),
                points: ft
                    .months
                    .iter()
                    .map(|(_, f)| percent(f.on_time_rate(), NOTHING_KEPT))
                    .collect(),
            },
        ],
        reference: Some((90.0, "Gate needs 90%".into())),
    }
}

struct OverdueRow {
    /// The title when the viewer may see it; `None` for a repair they are not part of.
    title: Option<String>,
    id: uuid::Uuid,
    stage: Stage,
    days_since: i64,
    promised_every: u32,
}

/// Open repairs whose promised update is late, the latest first. A facilitator sees the titles
/// of the repairs they are in; the others only count.
async fn overdue_rows(
    ctx: &Ctx,
    user: &Actor,
    all: &[RepairSummary],
) -> Result<Vec<OverdueRow>, Error> {
    let mine = if user.person.roles.admin {
        vec![]
    } else {
        ctx.store().repairs_of(user.org.id, user.person.id).await?
    };
    let mut rows: Vec<OverdueRow> = all
        .iter()
        .filter_map(|r| {
            let o = repairs::overdue(ctx, r)?;
            let visible = user.person.roles.admin || mine.iter().any(|m| m.id == r.id);
            Some(OverdueRow {
                title: visible.then(|| r.title.clone()),
                id: r.id,
                stage: r.stage,
                days_since: o.days_since,
                promised_every: o.promised_every,
            })
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.days_since));
    Ok(rows)
}

fn overdue_chart(rows: &[OverdueRow]) -> Option<BarChart> {
    let shown: Vec<&OverdueRow> = rows.iter().filter(|r| r.title.is_some()).collect();
    if shown.is_empty() {
        return None;
    }
    Some(BarChart {
        id: "overdue".into(),
        title: "Days since the last update, overdue repairs".into(),
        desc: shown
            .iter()
            .map(|r| {
                format!(
                    "{}: {} days, promised every {}.",
                    r.title.as_deref().unwrap_or_default(),
                    r.days_since,
                    r.promised_every
                )
            })
            .collect::<Vec<_>>()
            .join(" "),
        value_label: "Days since the last update".into(),
        row_label: "Repair".into(),
        segments: vec!["Days since the last update".into()],
        rows: shown
            .iter()
            .map(|r| {
                let days = r.days_since.max(0) as usize;
                (
                    r.title.clone().unwrap_or_default(),
                    vec![Datum::count(days)],
                )
            })
            .collect(),
    })
}

struct StageLine {
    stage: &'static str,
    total: usize,
    by_age: [usize; 3],
    oldest: String,
}

struct OverdueLine {
    id: uuid::Uuid,
    title: String,
    stage: &'static str,
    text: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    org_name: String,
    repairs_total: usize,
    open_total: usize,
    stage_chart: String,
    stages: Vec<StageLine>,
    age_buckets: [&'static str; 3],
    ft_chart: String,
    ft_rate: String,
    ft_on_time: String,
    ft_due: u32,
    ft_kept: u32,
    overdue_chart: Option<String>,
    overdue: Vec<OverdueLine>,
    overdue_hidden: usize,
    health: String,
}

async fn dashboard(State(ctx): State<Ctx>, page: Page, Overseer(user): Overseer) -> Reply {
    let all = ctx.store().all_repairs(user.org.id).await?;
    let rows = stage_rows(&all, ctx.now());
    let ft = org_follow_through(&ctx, user.org.id).await?;
    let overdue = overdue_rows(&ctx, &user, &all).await?;
    let health = team_health_section(&ctx, &user).await?;
    let view = DashboardPage {
        chrome: page.chrome("Dashboard"),
        org_name: user.org.name.clone(),
        repairs_total: all.len(),
        open_total: all.iter().filter(|r| r.stage.is_open()).count(),
        stage_chart: stage_chart(&rows).render(),
        stages: rows
            .iter()
            .map(|r| StageLine {
                stage: r.stage.label(),
                total: r.by_age.iter().sum(),
                by_age: r.by_age,
                oldest: r
                    .oldest_days
                    .map(|d| format!("{d} days"))
                    .unwrap_or_else(|| "none".into()),
            })
            .collect(),
        age_buckets: AGE_BUCKETS,
        ft_chart: follow_through_chart(&ft).render(),
        ft_rate: ft
            .total
            .rate()
            .map(|p| format!("{p}%"))
            .unwrap_or_else(|| "nothing settled yet".into()),
        ft_on_time: ft
            .total
            .on_time_rate()
            .map(|p| format!("{p}%"))
            .unwrap_or_else(|| "nothing kept yet".into()),
        ft_due: ft.total.due,
        ft_kept: ft.total.kept,
        overdue_chart: overdue_chart(&overdue).map(|c| c.render()),
        overdue_hidden: overdue.iter().filter(|r| r.title.is_none()).count(),
        overdue: overdue
            .iter()
            .filter_map(|r| {
                Some(OverdueLine {
                    id: r.id,
                    title: r.title.clone()?,
                    stage: r.stage.label(),
                    text: kintsugi_core::repair::Overdue {
                        days_since: r.days_since,
                        promised_every: r.promised_every,
                    }
                    .describe(),
                })
            })
            .collect(),
        health,
    };
    Ok(render(StatusCode::OK, &view))
}

async fn team_health_section(ctx: &Ctx, user: &Actor) -> Result<String, Error> {
    crate::health::view::dashboard_section(ctx, user).await
}

async fn repairs_csv(State(ctx): State<Ctx>, Overseer(user): Overseer) -> Reply {
    let all = ctx.store().all_repairs(user.org.id).await?;
    let mut csv = Csv::new(
        "repairs-by-stage.csv",
        &[
            "stage",
            "repairs",
            AGE_BUCKETS[0],
            AGE_BUCKETS[1],
            AGE_BUCKETS[2],
            "oldest (days)",
        ],
    );
    for r in stage_rows(&all, ctx.now()) {
        let mut cells = vec![
            r.stage.label().to_owned(),
            r.by_age.iter().sum::<usize>().to_string(),
        ];
        cells.extend(r.by_age.iter().map(ToString::to_string));
        cells.push(r.oldest_days.map(|d| d.to_string()).unwrap_or_default());
        csv.row(cells);
    }
    csv.into_response()
}

async fn follow_through_csv(State(ctx): State<Ctx>, Overseer(user): Overseer) -> Reply {
    let ft = org_follow_through(&ctx, user.org.id).await?;
    let mut csv = Csv::new(
        "follow-through.csv",
        &[
            "month due",
            "due and settled",
            "kept",
            "on time",
            "follow-through",
            "on-time rate",
        ],
    );
    let rows = ft
        .months
        .iter()
        .map(|(m, f)| (m.clone(), f))
        .chain(std::iter::once(("all time".to_owned(), &ft.total)));
    for (label, f) in rows {
        csv.row([
            label,
            f.due.to_string(),
            f.kept.to_string(),
            f.on_time.to_string(),
            // No rate yet is an empty cell: nothing is hidden, there is nothing to show.
            f.rate().map(|p| format!("{p}%")).unwrap_or_default(),
            f.on_time_rate()
                .map(|p| format!("{p}%"))
                .unwrap_or_default(),
        ]);
    }
    csv.into_response()
}

async fn overdue_csv(State(ctx): State<Ctx>, Overseer(user): Overseer) -> Reply {
    let all = ctx.store().all_repairs(user.org.id).await?;
    let mut csv = Csv::new(
        "overdue-updates.csv",
        &[
            "repair",
            "stage",
            "days since the last update",
            "promised every (days)",
        ],
    );
    for r in overdue_rows(&ctx, &user, &all).await? {
        csv.row([
            r.title
                .unwrap_or_else(|| "a repair you are not part of".into()),
            r.stage.label().to_owned(),
            r.days_since.to_string(),
            r.promised_every.to_string(),
        ]);
    }
    csv.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_buckets() {
        for (days, bucket) in [
            (0, 0),
            (29, 0),
            (30, 1),
            (89, 1),
            (90, 2),
            (400, 2),
            (-1, 0),
        ] {
            assert_eq!(age_bucket(days), bucket, "{days} days");
        }
    }

    #[test]
    fn six_months_back_across_a_year() {
        let today = Date::from_calendar_date(2026, time::Month::February, 10).unwrap();
        assert_eq!(
            last_months(today, 6),
            vec![
                (2025, 9),
                (2025, 10),
                (2025, 11),
                (2025, 12),
                (2026, 1),
                (2026, 2)
            ]
        );
    }
}
