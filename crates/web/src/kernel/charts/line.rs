//! Lines over ordered positions, broken (and banded) where a datum is a gap.

use askama::Template;

use super::{
    DataTable, Datum, Scale, Tick, fit, nice_ticks, px, render_or_note, slug, style, tick_label,
};

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
        let (gaps, gap_notes) = self.gaps(&xs, step, top);
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
            lines: self.lines(&xs, &y),
            gaps,
            gap_notes,
            table: self.table(),
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

    /// Each series as polylines, one per unbroken run of values, with a mark per value.
    fn lines(&self, xs: &[f64], y: &Scale) -> Vec<Line> {
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (colour, dash) = style(i);
                let mut runs = Vec::new();
                let mut run: Vec<String> = Vec::new();
                let mut marks = Vec::new();
                for (d, x) in s.points.iter().zip(xs) {
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
            .collect()
    }

    /// One band per x position where any line has a gap, which says why; and the same as
    /// notes for the text alternative.
    fn gaps(&self, xs: &[f64], step: f64, top: f64) -> (Vec<GapBand>, Vec<String>) {
        let mut gaps = Vec::new();
        let mut notes = Vec::new();
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
            gaps.push(band(*x, step, top, &reasons));
            notes.push(format!(
                "{}: {text}",
                self.x.get(i).cloned().unwrap_or_default()
            ));
        }
        (gaps, notes)
    }

    fn table(&self) -> DataTable {
        DataTable {
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
        }
    }
}

/// The band at `x` that says why there is a gap: one rotated line per reason.
fn band(x: f64, step: f64, top: f64, reasons: &[String]) -> GapBand {
    let width = px((step * 0.6)
        .clamp(16.0, 40.0)
        .max(12.0 * reasons.len() as f64 + 4.0));
    let left_edge = x - width / 2.0;
    // Text turned a quarter clockwise has its top to the right: the first line is the
    // rightmost, and each line's glyphs sit to the right of its baseline.
    let n = reasons.len();
    let start = left_edge + (width - 12.0 * n as f64) / 2.0;
    GapBand {
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
    }
}
