//! Charts drawn on the server as SVG through askama templates (no plotters: it draws text
//! through system fonts; here the browser draws the text).
//!
//! Every chart is a `<figure>` holding an `<svg role="img">` with a `<title>` and a `<desc>`,
//! labelled axes, and a data table in a `<details>` as its text alternative. A value that may
//! not be shown is a [`Datum::Gap`]: it is drawn as a gap that says why, and the number never
//! reaches the chart, because a gap does not carry one.

mod bar;
mod heat;
mod line;

use askama::Template;
use kintsugi_core::anonymity::Shown;

pub use bar::BarChart;
#[cfg(test)]
use heat::HEAT;
pub use heat::{HeatMap, heat_step};
pub use line::{LineChart, Series};

/// One value on a chart, or a gap that says why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    /// `value` positions the mark; `label` is what a reader sees ("5.4", "3").
    Value { value: f64, label: String },
    /// Nothing to show, and why ("fewer than 5 answered").
    Gap { reason: String },
}

impl Datum {
    pub fn value(value: f64, label: impl Into<String>) -> Self {
        Datum::Value {
            value,
            label: label.into(),
        }
    }
    pub fn gap(reason: impl Into<String>) -> Self {
        Datum::Gap {
            reason: reason.into(),
        }
    }
    /// A count drawn as itself.
    pub fn count(n: usize) -> Self {
        Datum::value(n as f64, n.to_string())
    }
    /// A result that may be suppressed: suppression becomes a gap saying fewer than k answered.
    pub fn from_shown<T>(shown: &Shown<T>, value: impl FnOnce(&T) -> (f64, String)) -> Self {
        match shown {
            Shown::Shown(v) => {
                let (value, label) = value(v);
                Datum::value(value, label)
            }
            Shown::Suppressed { k } => Datum::gap(suppressed_reason(*k)),
        }
    }
    fn as_value(&self) -> Option<f64> {
        match self {
            Datum::Value { value, .. } if value.is_finite() => Some(*value),
            _ => None,
        }
    }
    /// What the data table shows: the label, or "suppressed (why)".
    fn table_text(&self) -> String {
        match self {
            Datum::Value { label, .. } => label.clone(),
            Datum::Gap { reason } => format!("suppressed ({reason})"),
        }
    }
}

/// Why a group's result is not shown, in the words every chart and table uses.
pub fn suppressed_reason(k: u32) -> String {
    format!("fewer than {k} answered")
}

/// A linear map from a domain of values to a range of pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub domain: (f64, f64),
    pub range: (f64, f64),
}

impl Scale {
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        Self { domain, range }
    }
    /// Where `v` lands; values outside the domain are clamped to its ends. An empty domain
    /// maps everything to the middle of the range.
    pub fn map(&self, v: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        if (d1 - d0).abs() < f64::EPSILON {
            return (r0 + r1) / 2.0;
        }
        let t = ((v - d0) / (d1 - d0)).clamp(0.0, 1.0);
        r0 + t * (r1 - r0)
    }
}

/// "Nice" tick values (steps of 1, 2 or 5 times a power of ten) covering `min..=max`, at most
/// about `max_ticks` of them. The first tick is at or below `min`, the last at or above `max`.
pub fn nice_ticks(min: f64, max: f64, max_ticks: usize) -> Vec<f64> {
    if !min.is_finite() || !max.is_finite() || max_ticks < 2 {
        return vec![];
    }
    let (min, max) = if max < min { (max, min) } else { (min, max) };
    if (max - min).abs() < f64::EPSILON {
        return vec![min];
    }
    let raw = (max - min) / (max_ticks - 1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let multiple = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|m| m * magnitude >= raw * (1.0 - 1e-12))
        .unwrap_or(10.0);
    let step = multiple * magnitude;
    // A tick is n × multiple × magnitude; below 1, divide by the whole 1/magnitude instead of
    // multiplying by a fraction, so 3 × 0.2 is 0.6 and not 0.6000000000000001.
    let at = |n: f64| {
        if magnitude < 1.0 {
            n * multiple / (1.0 / magnitude).round()
        } else {
            n * multiple * magnitude
        }
    };
    let first = (min / step + 1e-9).floor();
    let mut ticks = Vec::new();
    for i in 0..=1000 {
        let t = at(first + f64::from(i));
        ticks.push(if t == 0.0 { 0.0 } else { t });
        if t >= max - step * 1e-9 {
            break;
        }
    }
    ticks
}

/// A tick's label: whole numbers without a point, others to one decimal.
pub fn tick_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Rounded to a tenth of a pixel so the SVG stays short.
pub(super) fn px(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Series colours, dark enough against white for text and lines (WCAG 3:1 for graphics),
/// each with its own dash pattern and marker so colour is never the only difference.
const PALETTE: &[(&str, &str)] = &[
    ("#1f5f99", ""),
    ("#b3541e", "6 3"),
    ("#2e7d32", "2 3"),
    ("#7b3f98", "8 3 2 3"),
    ("#8a6d00", "4 4"),
    ("#c2185b", "1 2"),
];

pub(super) fn style(i: usize) -> (&'static str, &'static str) {
    PALETTE[i % PALETTE.len()]
}

/// A label cut to `max` characters with an ellipsis; the whole label stays in the data table
/// and in the mark's tooltip.
pub fn fit(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// A chart's id, safe in an SVG id attribute.
pub(super) fn slug(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("chart-{s}")
}

// ---- The data table every chart carries as its text alternative ----

pub struct DataTable {
    pub caption: String,
    pub corner: String,
    pub columns: Vec<String>,
    /// Each row: its header and one cell per column.
    pub rows: Vec<(String, Vec<String>)>,
}

/// A tick or a heading on an axis: where, and what it says.
pub(super) struct Tick {
    pub pos: f64,
    pub label: String,
}

/// A chart that fails to render must not take its page down: it says so instead.
pub(super) fn render_or_note(view: &impl Template) -> String {
    view.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "chart failed to render");
        "<p class=\"error\">This chart could not be drawn.</p>".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_map_and_clamp() {
        let s = Scale::new((1.0, 7.0), (200.0, 20.0));
        for (v, want) in [
            (1.0, 200.0),
            (7.0, 20.0),
            (4.0, 110.0),
            (0.0, 200.0),
            (9.0, 20.0),
        ] {
            assert!((s.map(v) - want).abs() < 1e-9, "{v} -> {}", s.map(v));
        }
        assert_eq!(Scale::new((3.0, 3.0), (0.0, 10.0)).map(3.0), 5.0);
    }

    #[test]
    fn ticks_are_nice() {
        let table: &[(f64, f64, usize, &[f64])] = &[
            (0.0, 10.0, 6, &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
            (1.0, 7.0, 7, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
            (0.0, 1.0, 6, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
            (0.0, 37.0, 6, &[0.0, 10.0, 20.0, 30.0, 40.0]),
            (0.0, 3.0, 6, &[0.0, 1.0, 2.0, 3.0]),
            (0.0, 100.0, 5, &[0.0, 50.0, 100.0]),
            (5.0, 5.0, 6, &[5.0]),
        ];
        for (min, max, n, want) in table {
            assert_eq!(nice_ticks(*min, *max, *n), *want, "{min}..{max} in {n}");
        }
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
        assert_eq!(tick_label(2.0), "2");
        assert_eq!(tick_label(0.4), "0.4");
    }

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(fit("Acknowledge", 26), "Acknowledge");
        assert_eq!(
            fit("On-call swap promised, then withdrawn", 12),
            "On-call swa…"
        );
        assert_eq!(fit("abcdef", 6), "abcdef");
    }

    #[test]
    fn heat_steps_cover_the_range() {
        let r = (1.0, 7.0);
        assert_eq!(heat_step(1.0, r), 0);
        assert_eq!(heat_step(7.0, r), HEAT.len() - 1);
        assert_eq!(heat_step(4.0, r), 2);
        assert_eq!(heat_step(-3.0, r), 0);
    }

    fn trend() -> LineChart {
        LineChart {
            id: "trend 1".into(),
            title: "Trust pulse: ability".into(),
            desc: "Mean rating of 7 per pulse".into(),
            x_label: "Pulse".into(),
            y_label: "Mean of 7".into(),
            x: vec!["Pulse 1".into(), "Pulse 2".into(), "Pulse 3".into()],
            y_range: (1.0, 7.0),
            series: vec![Series {
                name: "Ability".into(),
                points: vec![
                    Datum::value(4.2, "4.2"),
                    Datum::from_shown(&Shown::<u32>::Suppressed { k: 5 }, |_| (6.6, "6.6".into())),
                    Datum::value(5.5, "5.5"),
                ],
            }],
            reference: Some((4.2, "Baseline 4.2".into())),
        }
    }

    #[test]
    fn line_chart_is_accessible_and_shows_its_gap() {
        let svg = trend().render();
        assert!(
            svg.contains("<svg") && svg.contains("role=\"img\""),
            "{svg}"
        );
        assert!(svg.contains("<title id=\"chart-trend-1-title\">Trust pulse: ability</title>"));
        assert!(svg.contains("<desc id=\"chart-trend-1-desc\">"));
        assert!(svg.contains("aria-labelledby=\"chart-trend-1-title chart-trend-1-desc\""));
        assert!(
            svg.contains(">Pulse<") && svg.contains(">Mean of 7<"),
            "axis labels"
        );
        assert!(
            svg.contains("Gap: fewer than 5 answered"),
            "the gap says why"
        );
        assert!(
            svg.contains("<details") && svg.contains("<table"),
            "a data table"
        );
        assert!(svg.contains("suppressed (fewer than 5 answered)"));
        assert!(
            !svg.contains("6.6"),
            "a suppressed point has no number anywhere"
        );
        // The line is broken: two lone points, no polyline across the gap.
        assert!(!svg.contains("<polyline"), "{svg}");
        assert_eq!(svg.matches("class=\"mark").count(), 2);
        assert!(svg.contains(">Baseline 4.2</text>"));
    }

    #[test]
    fn a_run_of_values_is_one_polyline() {
        let mut c = trend();
        c.series[0].points[1] = Datum::value(4.8, "4.8");
        let svg = c.render();
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(!svg.contains("Gap:"));
    }

    #[test]
    fn labels_are_escaped() {
        let mut c = trend();
        c.title = "<script>alert(1)</script>".into();
        let svg = c.render();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&#60;script&#62;") || svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn stacked_bars_hide_a_row_with_a_gap() {
        let c = BarChart {
            id: "stages".into(),
            title: "Repairs by stage".into(),
            desc: "How many repairs are at each stage, by age".into(),
            value_label: "Repairs".into(),
            row_label: "Stage".into(),
            segments: vec!["Under 30 days".into(), "30 days or more".into()],
            rows: vec![
                ("Acknowledge".into(), vec![Datum::count(2), Datum::count(1)]),
                (
                    "Hidden".into(),
                    vec![Datum::count(9), Datum::gap("fewer than 5 answered")],
                ),
            ],
        };
        let svg = c.render();
        assert!(
            svg.contains("role=\"img\"") && svg.contains("<title id=") && svg.contains("<desc id=")
        );
        assert!(svg.contains(">Repairs<") && svg.contains(">Stage<"));
        assert!(svg.contains("suppressed: fewer than 5 answered"));
        assert!(
            !svg.contains(">9<") && !svg.contains(": 9<"),
            "no part of a hidden row shows"
        );
        assert_eq!(
            svg.matches("class=\"bar\"").count(),
            2,
            "only the shown row's segments"
        );
        assert!(svg.contains("Under 30 days") && svg.contains("Total"));
        assert!(!svg.contains(">0.5<"), "counts have whole-number ticks");
    }

    #[test]
    fn heat_map_marks_suppressed_cells() {
        let c = HeatMap {
            id: "health".into(),
            title: "Team health".into(),
            desc: "Mean psychological safety per team and quarter".into(),
            row_label: "Team".into(),
            column_label: "Quarter".into(),
            columns: vec!["Q1".into(), "Q2".into()],
            rows: vec![
                (
                    "Platform".into(),
                    vec![Datum::value(5.1, "5.1"), Datum::value(5.8, "5.8")],
                ),
                (
                    "Small team".into(),
                    vec![
                        Datum::gap("fewer than 5 answered"),
                        Datum::gap("fewer than 5 answered"),
                    ],
                ),
            ],
            range: (1.0, 7.0),
        };
        let svg = c.render();
        assert!(
            svg.contains("role=\"img\"") && svg.contains("<title id=") && svg.contains("<desc id=")
        );
        assert_eq!(svg.matches(">suppressed</text>").count(), 2);
        assert!(svg.contains(">5.8</text>") && svg.contains("Team"));
        assert!(svg.contains("Small team, Q1: suppressed (fewer than 5 answered)"));
        // Every legend step sits inside the drawing.
        let width: f64 = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let last = svg
            .rsplit("<rect x=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap();
        assert!(last + 60.0 <= width, "legend at {last} in {width}");
    }
}
