//! Horizontal bars, optionally stacked; a row with a gap is a gap as a whole.

use askama::Template;

use super::{
    DataTable, Datum, Scale, Tick, fit, nice_ticks, px, render_or_note, slug, style, tick_label,
};

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
        let ticks = Self::ticks(&totals);
        let top_tick = ticks.last().copied().unwrap_or(1.0);
        let x = Scale::new((0.0, top_tick), (left, right));
        let x_ticks = ticks
            .iter()
            .map(|t| Tick {
                pos: px(x.map(*t)),
                label: tick_label(*t),
            })
            .collect();
        let rows = self
            .rows
            .iter()
            .zip(&totals)
            .enumerate()
            .map(|(i, ((label, data), total))| self.row(i, label, data, *total, &x))
            .collect();
        let legend_y = bottom + 62.0;
        render_or_note(&BarView {
            id: slug(&self.id),
            chart: self,
            width: w,
            height,
            left,
            right,
            top,
            bottom,
            bar_height: Self::ROW * 0.6,
            x_ticks,
            rows,
            legend: if legend { self.legend(left) } else { vec![] },
            legend_y,
            table: self.table(&totals),
            x_label_x: px((left + right) / 2.0),
            x_label_y: bottom + 36.0,
        })
    }

    /// The value axis's ticks; counts get whole numbers (no "0.4 repairs").
    fn ticks(totals: &[Option<f64>]) -> Vec<f64> {
        let max = totals.iter().flatten().copied().fold(0.0f64, f64::max);
        let whole = totals
            .iter()
            .flatten()
            .all(|t| (t - t.round()).abs() < 1e-9);
        let max_ticks = if whole {
            (max.max(1.0) as usize + 1).clamp(2, 6)
        } else {
            6
        };
        nice_ticks(0.0, max.max(1.0), max_ticks)
    }

    /// Row `i`: its stacked segments and total, or, with any gap, a gap with its reason.
    fn row(&self, i: usize, label: &str, data: &[Datum], total: Option<f64>, x: &Scale) -> BarRow {
        let bar_height = Self::ROW * 0.6;
        let y = px(Self::TOP + Self::ROW * i as f64 + (Self::ROW - bar_height) / 2.0);
        let label_y = px(Self::TOP + Self::ROW * (i as f64 + 0.5) + 4.0);
        let Some(total) = total else {
            let reason = data
                .iter()
                .find_map(|d| match d {
                    Datum::Gap { reason } => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            return BarRow {
                label: fit(label, 22),
                full_label: label.to_owned(),
                y,
                label_y,
                rects: vec![],
                end_text: format!("suppressed: {reason}"),
                end_x: px(Self::LEFT + 6.0),
                gap: true,
            };
        };
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
            full_label: label.to_owned(),
            y,
            label_y,
            rects,
            end_text: tick_label(total),
            end_x: px(x.map(total) + 6.0),
            gap: false,
        }
    }

    /// Each segment's name and colour, side by side from `left`.
    fn legend(&self, left: f64) -> Vec<(String, &'static str, f64)> {
        let mut lx = left;
        self.segments
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let at = lx;
                lx += 24.0 + 7.0 * s.chars().count() as f64;
                (s.clone(), style(j).0, px(at))
            })
            .collect()
    }

    fn table(&self, totals: &[Option<f64>]) -> DataTable {
        let mut columns = self.segments.clone();
        if self.segments.len() > 1 {
            columns.push("Total".into());
        }
        DataTable {
            caption: self.title.clone(),
            corner: self.row_label.clone(),
            columns,
            rows: self
                .rows
                .iter()
                .zip(totals)
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
        }
    }
}
