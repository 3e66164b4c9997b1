//! What the repair page shows of its trust pulses: one chart per dimension, the first pulse as
//! baseline, a suppressed pulse as a gap that says why. Drawn from the same results as the
//! rounds themselves (`kintsugi_app::repairs::pulses`), so nothing below k reaches a chart.

use askama::Template;
use kintsugi_app::repairs::pulses::{self, PulsePoint};
use kintsugi_app::repairs::{Access, RoundsRead};
use kintsugi_app::{Actor, Error};
use kintsugi_core::anonymity::{RatingResults, Shown};
use kintsugi_core::rounds::PULSE_ITEMS;

use crate::kernel::charts::{Datum, LineChart, Series};

pub(crate) fn pulse_label(p: &PulsePoint) -> String {
    if p.number == 1 {
        "1 (baseline)".to_owned()
    } else {
        p.number.to_string()
    }
}

pub(crate) fn pulse_datum(shown: &Shown<RatingResults>) -> Datum {
    Datum::from_shown(shown, |r| (f64::from(r.mean_tenths) / 10.0, r.mean()))
}

/// One chart per dimension: its mean per closed pulse, suppressed pulses as gaps that say
/// why, and the baseline (the first pulse) as a dashed line when it was shown.
fn trend_charts(repair_id: uuid::Uuid, points: &[PulsePoint]) -> Vec<String> {
    PULSE_ITEMS
        .iter()
        .enumerate()
        .map(|(i, (key, wording))| {
            let name = dimension_name(key);
            let data: Vec<Datum> = points.iter().map(|p| pulse_datum(&p.items[i])).collect();
            let baseline = match data.first() {
                Some(Datum::Value { value, label }) => Some((*value, format!("Baseline {label}"))),
                _ => None,
            };
            LineChart {
                id: format!("trend-{repair_id}-{key}"),
                title: format!("{name}: mean rating per trust pulse"),
                desc: format!(
                    "The affected side's mean rating, from 1 to 7, of “{wording}” in each closed pulse; the first pulse is the baseline.{}",
                    if baseline.is_none() && !data.is_empty() {
                        " The baseline pulse is suppressed."
                    } else {
                        ""
                    }
                ),
                x_label: "Trust pulse".into(),
                y_label: "Mean of 7".into(),
                x: points.iter().map(pulse_label).collect(),
                y_range: (1.0, 7.0),
                series: vec![Series {
                    name: name.to_owned(),
                    points: data,
                }],
                reference: baseline,
            }
            .render()
        })
        .collect()
}

fn dimension_name(key: &str) -> &'static str {
    match key {
        "ability" => "Ability",
        "benevolence" => "Benevolence",
        "integrity" => "Integrity",
        _ => "Follow-through since the breach",
    }
}

#[derive(Template)]
#[template(path = "chart_trend.html")]
struct TrendSection {
    repair_id: uuid::Uuid,
    charts: Vec<String>,
    k: u32,
}

/// The repair page's trend section, or `None` when there is nothing for this person to see
/// (no closed pulse yet, or the accountable person of a pair).
pub fn pulse_trend_section(
    user: &Actor,
    access: &Access,
    rounds: &RoundsRead,
) -> Result<Option<String>, Error> {
    let Some(points) = pulses::pulse_trend(access, rounds) else {
        return Ok(None);
    };
    if points.is_empty() {
        return Ok(None);
    }
    let section = TrendSection {
        repair_id: access.repair.id,
        charts: trend_charts(access.repair.id, &points),
        k: user.org.k_threshold.get(),
    };
    Ok(Some(section.render().map_err(|e| {
        tracing::error!(error = %e, "trend failed");
        Error::Internal
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::csv::datum;

    #[test]
    fn a_suppressed_pulse_is_a_gap_in_chart_and_csv() {
        let points = vec![
            PulsePoint {
                number: 1,
                closed_on: None,
                items: vec![
                    Shown::Shown(RatingResults {
                        answered: 5,
                        mean_tenths: 42
                    });
                    4
                ],
            },
            PulsePoint {
                number: 2,
                closed_on: None,
                items: vec![Shown::Suppressed { k: 5 }; 4],
            },
        ];
        let charts = trend_charts(uuid::Uuid::nil(), &points);
        assert_eq!(charts.len(), 4);
        assert!(charts[0].contains("Gap: fewer than 5 answered"));
        assert!(charts[0].contains("Baseline 4.2"));
        assert_eq!(datum(&pulse_datum(&points[1].items[0])), "suppressed");
    }
}
