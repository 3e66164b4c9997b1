//! Charts drawn on the server as SVG through askama templates (no plotters: it draws text
//! through system fonts; here the browser draws the text).
//!
//! Every chart is a `<figure>` holding an `<svg role="img">` with a `<title>` and a `<desc>`,
//! labelled axes, and a data table in a `<details>` as its text alternative. A value that may
//! not be shown is a [`Datum::Gap`]: it is drawn as a gap that says why, and the number never
//! reaches the chart, because a gap does not carry one.

use askama::Template;
use kintsugi_core::anonymity::Shown;

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
fn px(v: f64) -> f64 {
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

fn style(i: usize) -> (&'static str, &'static str) {
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
fn slug(id: &str) -> String {
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

// ---- Line chart ----

/// One line: a name and one datum per x position.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<Datum>,
}

/// Lines over ordered positions (rounds, dates), broken where a datum is a gap.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub x_label: String,
    pub y_label: String,
    /// One label per x position ("Pulse 1 (baseline)", "12 Mar").
    pub x: Vec<String>,
    /// The y domain; the axis is drawn over it whatever the values.
    pub y_range: (f64, f64),
    pub series: Vec<Series>,
    /// A dashed horizontal line for comparison, with its label ("Baseline 4.2").
    pub reference: Option<(f64, String)>,
}

struct Line {
    name: String,
    colour: &'static str,
    dash: &'static str,
    /// Polylines, one per unbroken run of values.
    runs: Vec<String>,
    marks: Vec<Mark>,
    marker: usize,
}

struct Mark {
    x: f64,
    y: f64,
    label: String,
}

struct Tick {
    pos: f64,
    label: String,
}

struct GapBand {
    x: f64,
    width: f64,
    /// One rotated line per reason, side by side: (x, text).
    lines: Vec<(f64, String)>,
    text_y: f64,
}

#[derive(Template)]
#[template(path = "chart_line.html")]
struct LineView<'a> {
    id: String,
    chart: &'a LineChart,
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    y_ticks: Vec<Tick>,
    x_ticks: Vec<Tick>,
    lines: Vec<Line>,
    gaps: Vec<GapBand>,
    gap_notes: Vec<String>,
    table: DataTable,
    x_label_x: f64,
    x_label_y: f64,
    y_label_y: f64,
    reference: Option<(f64, String)>,
}

impl LineChart {
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 300.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 56.0;

    /// The chart as an HTML fragment (a `<figure>`).
    pub fn render(&self) -> String {
        let (w, h) = (Self::WIDTH, Self::HEIGHT);
        let (left, right, top, bottom) = (Self::LEFT, w - Self::RIGHT, Self::TOP, h - Self::BOTTOM);
        let n = self.x.len().max(1);
        let step = (right - left) / n as f64;
        let xs: Vec<f64> = (0..n).map(|i| px(left + step * (i as f64 + 0.5))).collect();
        let y = Scale::new(self.y_range, (bottom, top));
        let y_ticks = nice_ticks(self.y_range.0, self.y_range.1, 7)
            .into_iter()
            .filter(|t| *t >= self.y_range.0 - 1e-9 && *t <= self.y_range.1 + 1e-9)
            .map(|t| Tick {
                pos: px(y.map(t)),
                label: tick_label(t),
            })
            .collect();
        let x_ticks = self
            .x
            .iter()
            .zip(&xs)
            .map(|(l, x)| Tick {
                pos: *x,
                label: l.clone(),
            })
            .collect();
        let lines = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (colour, dash) = style(i);
                let mut runs = Vec::new();
                let mut run: Vec<String> = Vec::new();
                let mut marks = Vec::new();
                for (d, x) in s.points.iter().zip(&xs) {
                    match d.as_value() {
                        Some(v) => {
                            let yy = px(y.map(v));
                            run.push(format!("{x},{yy}"));
                            marks.push(Mark {
                                x: *x,
                                y: yy,
                                label: d.table_text(),
                            });
                        }
                        None => {
                            if run.len() > 1 {
                                runs.push(run.join(" "));
                            }
                            run.clear();
                        }
                    }
                }
                if run.len() > 1 {
                    runs.push(run.join(" "));
                }
                Line {
                    name: s.name.clone(),
                    colour,
                    dash,
                    runs,
                    marks,
                    marker: i % 3,
                }
            })
            .collect();
        // One band per x position where any line has a gap; it says why.
        let mut gaps = Vec::new();
        let mut gap_notes = Vec::new();
        for (i, x) in xs.iter().enumerate() {
            let mut reasons: Vec<String> = Vec::new();
            let mut gapped = 0;
            for s in &self.series {
                if let Some(Datum::Gap { reason }) = s.points.get(i) {
                    gapped += 1;
                    if !reasons.contains(reason) {
                        reasons.push(reason.clone());
                    }
                }
            }
            if gapped == 0 {
                continue;
            }
            let mut text = reasons.join("; ");
            if gapped < self.series.len() {
                text = format!("{gapped} of {} lines: {text}", self.series.len());
                reasons = vec![text.clone()];
            }
            let width = px((step * 0.6)
                .clamp(16.0, 40.0)
                .max(12.0 * reasons.len() as f64 + 4.0));
            let left_edge = x - width / 2.0;
            // Text turned a quarter clockwise has its top to the right: the first line is the
            // rightmost, and each line's glyphs sit to the right of its baseline.
            let n = reasons.len();
            let start = left_edge + (width - 12.0 * n as f64) / 2.0;
            gaps.push(GapBand {
                x: px(left_edge),
                width,
                lines: reasons
                    .iter()
                    .enumerate()
                    .map(|(j, r)| {
                        let label = if j == 0 {
                            format!("Gap: {r}")
                        } else {
                            r.clone()
                        };
                        (px(start + 1.0 + 12.0 * (n - 1 - j) as f64), fit(&label, 34))
                    })
                    .collect(),
                text_y: px(top + 6.0),
            });
            gap_notes.push(format!(
                "{}: {text}",
                self.x.get(i).cloned().unwrap_or_default()
            ));
        }
        let table = DataTable {
            caption: self.title.clone(),
            corner: self.x_label.clone(),
            columns: self.series.iter().map(|s| s.name.clone()).collect(),
            rows: self
                .x
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    (
                        l.clone(),
                        self.series
                            .iter()
                            .map(|s| s.points.get(i).map(Datum::table_text).unwrap_or_default())
                            .collect(),
                    )
                })
                .collect(),
        };
        render_or_note(&LineView {
            id: slug(&self.id),
            chart: self,
            width: w,
            height: h,
            left,
            right,
            top,
            bottom,
            y_ticks,
            x_ticks,
            lines,
            gaps,
            gap_notes,
            table,
            x_label_x: px((left + right) / 2.0),
            x_label_y: h - 8.0,
            y_label_y: px((top + bottom) / 2.0),
            reference: self
                .reference
                .as_ref()
                .filter(|(v, _)| v.is_finite())
                .map(|(v, l)| (px(y.map(*v)), l.clone())),
        })
    }
}

// ---- Bar chart (horizontal, optionally stacked) ----

/// One bar per row; several segments stack. A row with any gap is drawn as a gap as a whole,
/// because its total would give the hidden segment away.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub id: String,
    pub title: String,
    pub desc: String,
    /// What the bars count ("Repairs").
    pub value_label: String,
    /// What the rows are ("Stage").
    pub row_label: String,
    /// The segments' names; one segment is a plain bar chart.
    pub segments: Vec<String>,
    /// Each row: its label and one datum per segment.
    pub rows: Vec<(String, Vec<Datum>)>,
}

struct BarRow {
    label: String,
    full_label: String,
    y: f64,
    label_y: f64,
    rects: Vec<BarRect>,
    /// The total at the bar's end, or the gap's reason.
    end_text: String,
    end_x: f64,
    gap: bool,
}

struct BarRect {
    x: f64,
    width: f64,
    colour: &'static str,
    title: String,
}

#[derive(Template)]
#[template(path = "chart_bar.html")]
struct BarView<'a> {
    id: String,
    chart: &'a BarChart,
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    bar_height: f64,
    x_ticks: Vec<Tick>,
    rows: Vec<BarRow>,
    legend: Vec<(String, &'static str, f64)>,
    legend_y: f64,
    table: DataTable,
    x_label_x: f64,
    x_label_y: f64,
}

impl BarChart {
    const WIDTH: f64 = 640.0;
    const LEFT: f64 = 168.0;
    const RIGHT: f64 = 150.0;
    const TOP: f64 = 12.0;
    const ROW: f64 = 30.0;

    pub fn render(&self) -> String {
        let w = Self::WIDTH;
        let (left, right, top) = (Self::LEFT, w - Self::RIGHT, Self::TOP);
        let bottom = top + Self::ROW * self.rows.len().max(1) as f64;
        let legend = self.segments.len() > 1;
        let height = bottom + 44.0 + if legend { 26.0 } else { 0.0 };
        let totals: Vec<Option<f64>> = self
            .rows
            .iter()
            .map(|(_, ds)| ds.iter().map(Datum::as_value).sum::<Option<f64>>())
            .collect();
        let max = totals.iter().flatten().copied().fold(0.0f64, f64::max);
        // Counts get whole-number ticks: no "0.4 repairs".
        let whole = totals
            .iter()
            .flatten()
            .all(|t| (t - t.round()).abs() < 1e-9);
        let max_ticks = if whole {
            (max.max(1.0) as usize + 1).clamp(2, 6)
        } else {
            6
        };
        let ticks = nice_ticks(0.0, max.max(1.0), max_ticks);
        let top_tick = ticks.last().copied().unwrap_or(1.0);
        let x = Scale::new((0.0, top_tick), (left, right));
        let x_ticks = ticks
            .iter()
            .map(|t| Tick {
                pos: px(x.map(*t)),
                label: tick_label(*t),
            })
            .collect();
        let bar_height = Self::ROW * 0.6;
        let rows = self
            .rows
            .iter()
            .zip(&totals)
            .enumerate()
            .map(|(i, ((label, data), total))| {
                let y = px(top + Self::ROW * i as f64 + (Self::ROW - bar_height) / 2.0);
                let label_y = px(top + Self::ROW * (i as f64 + 0.5) + 4.0);
                match total {
                    Some(total) => {
                        let mut acc = 0.0;
                        let rects = data
                            .iter()
                            .zip(&self.segments)
                            .enumerate()
                            .filter_map(|(j, (d, name))| {
                                let v = d.as_value()?;
                                let x0 = x.map(acc);
                                acc += v;
                                let width = px(x.map(acc) - x0);
                                (width > 0.0).then(|| BarRect {
                                    x: px(x0),
                                    width,
                                    colour: style(j).0,
                                    title: format!("{label}, {name}: {}", d.table_text()),
                                })
                            })
                            .collect();
                        BarRow {
                            label: fit(label, 22),
                            full_label: label.clone(),
                            y,
                            label_y,
                            rects,
                            end_text: tick_label(*total),
                            end_x: px(x.map(*total) + 6.0),
                            gap: false,
                        }
                    }
                    None => {
                        let reason = data
                            .iter()
                            .find_map(|d| match d {
                                Datum::Gap { reason } => Some(reason.clone()),
                                _ => None,
                            })
                            .unwrap_or_default();
                        BarRow {
                            label: fit(label, 22),
                            full_label: label.clone(),
                            y,
                            label_y,
                            rects: vec![],
                            end_text: format!("suppressed: {reason}"),
                            end_x: px(left + 6.0),
                            gap: true,
                        }
                    }
                }
            })
            .collect();
        let legend_y = bottom + 62.0;
        let mut lx = left;
        let legend = if legend {
            self.segments
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    let at = lx;
                    lx += 24.0 + 7.0 * s.chars().count() as f64;
                    (s.clone(), style(j).0, px(at))
                })
                .collect()
        } else {
            vec![]
        };
        let mut columns = self.segments.clone();
        if self.segments.len() > 1 {
            columns.push("Total".into());
        }
        let table = DataTable {
            caption: self.title.clone(),
            corner: self.row_label.clone(),
            columns,
            rows: self
                .rows
                .iter()
                .zip(&totals)
                .map(|((label, data), total)| {
                    // A row with a gap hides every segment: they would add up to the hidden one.
                    let hidden = data.iter().find(|d| matches!(d, Datum::Gap { .. }));
                    let mut cells: Vec<String> = data
                        .iter()
                        .map(|d| hidden.unwrap_or(d).table_text())
                        .collect();
                    if self.segments.len() > 1 {
                        cells.push(total.map(tick_label).unwrap_or_else(|| "suppressed".into()));
                    }
                    (label.clone(), cells)
                })
                .collect(),
        };
        render_or_note(&BarView {
            id: slug(&self.id),
            chart: self,
            width: w,
            height,
            left,
            right,
            top,
            bottom,
            bar_height,
            x_ticks,
            rows,
            legend,
            legend_y,
            table,
            x_label_x: px((left + right) / 2.0),
            x_label_y: bottom + 36.0,
        })
    }
}

// ---- Heat map ----

/// Rows × columns of cells, each a value within `range` or a gap ("suppressed").
#[derive(Debug, Clone)]
pub struct HeatMap {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub row_label: String,
    pub column_label: String,
    pub columns: Vec<String>,
    pub rows: Vec<(String, Vec<Datum>)>,
    /// The values' scale: the lightest colour at the start, the darkest at the end.
    pub range: (f64, f64),
}

struct HeatCell {
    x: f64,
    y: f64,
    fill: &'static str,
    text: String,
    text_colour: &'static str,
    title: String,
    gap: bool,
}

#[derive(Template)]
#[template(path = "chart_heat.html")]
struct HeatView<'a> {
    id: String,
    chart: &'a HeatMap,
    width: f64,
    height: f64,
    cell_w: f64,
    cell_h: f64,
    left: f64,
    top: f64,
    column_heads: Vec<Tick>,
    row_heads: Vec<Tick>,
    cells: Vec<HeatCell>,
    legend: Vec<(f64, &'static str, String)>,
    legend_y: f64,
    table: DataTable,
}

/// Five steps from light to dark; text on the two darkest is white.
const HEAT: &[&str] = &["#eef4fb", "#c6dbef", "#85b5dc", "#3f7fbf", "#163f73"];

/// Which of the heat map's colour steps a value falls in.
pub fn heat_step(v: f64, range: (f64, f64)) -> usize {
    let t = Scale::new(range, (0.0, 1.0)).map(v);
    ((t * HEAT.len() as f64) as usize).min(HEAT.len() - 1)
}

impl HeatMap {
    const LEFT: f64 = 168.0;
    const TOP: f64 = 40.0;
    const CELL_W: f64 = 96.0;
    const CELL_H: f64 = 32.0;

    pub fn render(&self) -> String {
        let (left, top, cw, ch) = (Self::LEFT, Self::TOP, Self::CELL_W, Self::CELL_H);
        let cols = self.columns.len().max(1);
        // Wide enough for the cells and for the whole colour legend.
        let width = (left + cw * cols as f64 + 8.0).max(left + 64.0 * HEAT.len() as f64 + 16.0);
        let bottom = top + ch * self.rows.len() as f64;
        let height = bottom + 56.0;
        let column_heads = self
            .columns
            .iter()
            .enumerate()
            .map(|(j, c)| Tick {
                pos: px(left + cw * (j as f64 + 0.5)),
                label: fit(c, 14),
            })
            .collect();
        let row_heads = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, (r, _))| Tick {
                pos: px(top + ch * (i as f64 + 0.5) + 4.0),
                label: fit(r, 22),
            })
            .collect();
        let mut cells = Vec::new();
        for (i, (row, data)) in self.rows.iter().enumerate() {
            for (j, d) in data.iter().enumerate().take(cols) {
                let column = self.columns.get(j).cloned().unwrap_or_default();
                let (fill, text, text_colour, gap) = match d {
                    Datum::Value { value, label } => {
                        let step = heat_step(*value, self.range);
                        let text_colour = if step >= 3 { "#ffffff" } else { "#1a1a1a" };
                        (HEAT[step], label.clone(), text_colour, false)
                    }
                    Datum::Gap { .. } => ("#f2f2f2", "suppressed".to_owned(), "#4a4a4a", true),
                };
                cells.push(HeatCell {
                    x: px(left + cw * j as f64),
                    y: px(top + ch * i as f64),
                    fill,
                    title: format!("{row}, {column}: {}", d.table_text()),
                    text,
                    text_colour,
                    gap,
                });
            }
        }
        let legend_y = bottom + 20.0;
        let span = self.range.1 - self.range.0;
        let legend = HEAT
            .iter()
            .enumerate()
            .map(|(s, c)| {
                let from = self.range.0 + span * s as f64 / HEAT.len() as f64;
                (
                    px(left + 64.0 * s as f64),
                    *c,
                    format!("from {}", tick_label(from)),
                )
            })
            .collect();
        let table = DataTable {
            caption: self.title.clone(),
            corner: format!("{} by {}", self.row_label, self.column_label),
            columns: self.columns.clone(),
            rows: self
                .rows
                .iter()
                .map(|(r, data)| (r.clone(), data.iter().map(Datum::table_text).collect()))
                .collect(),
        };
        render_or_note(&HeatView {
            id: slug(&self.id),
            chart: self,
            width,
            height,
            cell_w: cw,
            cell_h: ch,
            left,
            top,
            column_heads,
            row_heads,
            cells,
            legend,
            legend_y,
            table,
        })
    }
}

/// A chart that fails to render must not take its page down: it says so instead.
fn render_or_note(view: &impl Template) -> String {
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
