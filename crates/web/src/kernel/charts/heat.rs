//! Rows by columns of cells coloured by value; a gap says "suppressed".

use askama::Template;

use super::{DataTable, Datum, Scale, Tick, fit, px, render_or_note, slug, tick_label};

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
pub(super) const HEAT: &[&str] = &["#eef4fb", "#c6dbef", "#85b5dc", "#3f7fbf", "#163f73"];

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
            cells: self.cells(cols),
            legend: self.legend(),
            legend_y: bottom + 20.0,
            table: self.table(),
        })
    }

    fn cells(&self, cols: usize) -> Vec<HeatCell> {
        let (left, top, cw, ch) = (Self::LEFT, Self::TOP, Self::CELL_W, Self::CELL_H);
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
        cells
    }

    /// Each colour step with where it starts.
    fn legend(&self) -> Vec<(f64, &'static str, String)> {
        let span = self.range.1 - self.range.0;
        HEAT.iter()
            .enumerate()
            .map(|(s, c)| {
                let from = self.range.0 + span * s as f64 / HEAT.len() as f64;
                (
                    px(Self::LEFT + 64.0 * s as f64),
                    *c,
                    format!("from {}", tick_label(from)),
                )
            })
            .collect()
    }

    fn table(&self) -> DataTable {
        DataTable {
            caption: self.title.clone(),
            corner: format!("{} by {}", self.row_label, self.column_label),
            columns: self.columns.clone(),
            rows: self
                .rows
                .iter()
                .map(|(r, data)| (r.clone(), data.iter().map(Datum::table_text).collect()))
                .collect(),
        }
    }
}
