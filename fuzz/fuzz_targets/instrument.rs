//! The instrument TOML loader (admins upload their own team health instrument): any text is
//! either refused with a line inside the file and a problem in words, or accepted as an
//! instrument whose scale, items and dimensions hang together.
#![no_main]

use std::collections::BTreeMap;

use kintsugi_core::instrument::{Instrument, percent_of_scale};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let instrument = match Instrument::parse(text) {
        Ok(i) => i,
        Err(e) => {
            assert!(!e.problem.is_empty(), "a refusal says why");
            if let Some(line) = e.line {
                // The line after a final newline counts: "expected a value" at the end.
                assert!(
                    line >= 1 && line <= text.matches('\n').count() + 1,
                    "line {line} is in the file"
                );
            }
            return;
        }
    };
    let scale = &instrument.scale;
    assert!(scale.min < scale.max);
    assert_eq!(scale.points().count() as i64, scale.max - scale.min + 1);
    assert!(!instrument.items.is_empty());
    for item in &instrument.items {
        assert!(
            instrument
                .dimensions
                .iter()
                .any(|(d, _)| *d == item.dimension),
            "item {} measures a known dimension",
            item.id
        );
        assert_eq!(instrument.item(&item.id), Some(item), "item ids are unique");
        for (value, _) in scale.points() {
            let scored = instrument.scored(item, value);
            assert!((scale.min..=scale.max).contains(&scored));
        }
    }
    // An answer rating every item at each end of the scale is accepted whole...
    for value in [scale.min, scale.max] {
        let answer: BTreeMap<String, i64> = instrument
            .items
            .iter()
            .map(|i| (i.id.clone(), value))
            .collect();
        let checked = instrument.check_answer(&answer).expect("a full answer");
        assert_eq!(checked.len(), instrument.items.len());
        // ...and its totals land on the scale.
        let sums: Vec<(String, i64, i64)> = checked.into_iter().map(|(id, v)| (id, v, 1)).collect();
        for total in instrument.dimension_totals(&sums) {
            if total.count > 0 {
                let percent = percent_of_scale(total.total, total.count, scale.min, scale.max);
                assert!(percent.is_some_and(|p| p <= 100), "{total:?}");
            }
        }
    }
    // One value off the scale is refused.
    let mut answer: BTreeMap<String, i64> = instrument
        .items
        .iter()
        .map(|i| (i.id.clone(), scale.min))
        .collect();
    answer.insert(instrument.items[0].id.clone(), scale.max + 1);
    assert!(instrument.check_answer(&answer).is_err());
});
