//! Team health as the edge draws it: the organisation's trend and the heat map as SVG, the
//! CSV, and the dashboard's team health section.

use askama::Template;
use kintsugi_app::health::schedule;
use kintsugi_app::health::view::{self, HealthView, TrendPoint};
use kintsugi_app::{Actor, Ctx, Error};

use crate::kernel::Reply;
use crate::kernel::charts::{Datum, HeatMap, LineChart, Series};
use crate::kernel::csv::{self, Csv};

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

pub(super) fn trend_chart(
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

/// The health aggregates as CSV, through the one CSV writer: hidden cells say "suppressed"
/// (with the reason in its own column), and no cell can start a formula.
pub fn csv(view: &HealthView) -> Reply {
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
            .map(|i| csv::datum(&datum(values.get(i).copied().flatten(), hidden)))
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

#[derive(Template)]
#[template(path = "dashboard_health.html")]
struct HealthSection {
    health: HealthView,
}

/// The team health part of the organisation dashboard (its first parent group, when the
/// organisation is too large to draw at once; the overview page pages through the rest).
pub async fn dashboard_section(ctx: &Ctx, user: &Actor) -> Result<String, Error> {
    schedule::catch_up(ctx, user.org.id).await?;
    let mut health = view::view(ctx, user.org.id, user.org.k_threshold).await?;
    health.page_to(None);
    HealthSection { health }.render().map_err(|e| {
        tracing::error!(error = %e, "template failed");
        Error::Internal
    })
}

/// The charts of team health, drawn here (the view itself is the application's).
pub trait HealthCharts {
    fn trend_chart(&self) -> String;
    fn heat_chart(&self) -> String;
}

impl HealthCharts for HealthView {
    /// The organisation's trend as an SVG line chart.
    fn trend_chart(&self) -> String {
        trend_chart(
            "health-trend",
            "Team health across the organisation".into(),
            &self.dimensions,
            &self.organisation,
        )
        .render()
    }

    /// The latest checks as an SVG heat map, hidden teams drawn as gaps that say why.
    fn heat_chart(&self) -> String {
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
