//! Team health instruments: the questions a team health check asks, as data (TOML).
//!
//! An instrument names its scale (min, max and one label per point), and its items, each with
//! the dimension it measures and whether it is reverse-scored ("I hold back problems" counts
//! against safety). Organisations may load their own instrument; a file that is malformed is
//! refused whole, with the line that is wrong.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use toml::Spanned;

/// The instrument Kintsugi ships, in its own wording.
pub const DEFAULT_TOML: &str = include_str!("../instruments/team-health.toml");

/// The built-in instrument, parsed (it is checked by a test).
#[allow(
    clippy::expect_used,
    reason = "the instrument is compiled in and the test \
              `the_default_instrument_parses_and_covers_both_dimensions` parses it: this cannot \
              fail in a build whose tests pass, and every caller would otherwise carry an error \
              that never happens"
)]
pub fn default_instrument() -> Instrument {
    Instrument::parse(DEFAULT_TOML).expect("the built-in instrument parses")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    pub min: i64,
    pub max: i64,
    /// One label per point, from `min` to `max`.
    pub labels: Vec<String>,
}

impl Scale {
    pub fn points(&self) -> impl Iterator<Item = (i64, &str)> {
        (self.min..=self.max).zip(self.labels.iter().map(String::as_str))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub text: String,
    pub dimension: String,
    pub reverse: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    pub id: String,
    pub name: String,
    pub scale: Scale,
    /// Dimension id to the name people read, in the order of first use.
    pub dimensions: Vec<(String, String)>,
    pub items: Vec<Item>,
}

/// Why an instrument file was refused: the line (when known) and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentError {
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for InstrumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}

impl std::error::Error for InstrumentError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstrument {
    id: Spanned<String>,
    name: Spanned<String>,
    scale: Spanned<RawScale>,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
    #[serde(default)]
    item: Vec<Spanned<RawItem>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScale {
    min: i64,
    max: i64,
    labels: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: String,
    text: String,
    dimension: Option<String>,
    #[serde(default)]
    reverse: bool,
}

/// The widest scale an instrument may use: 2 to 11 points between 0 and 10.
const SCALE_LOW: i64 = 0;
const SCALE_HIGH: i64 = 10;
const MAX_ITEMS: usize = 60;

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Ids are short and plain, so they can travel in forms and CSV headers unchanged.
fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Instrument {
    pub fn parse(text: &str) -> Result<Self, InstrumentError> {
        let at = |offset: usize| Some(line_of(text, offset));
        let fail = |line: Option<usize>, problem: String| InstrumentError { line, problem };
        let raw: RawInstrument = toml::from_str(text).map_err(|e| {
            fail(
                e.span().map(|s| line_of(text, s.start)),
                e.message().trim().to_owned(),
            )
        })?;
        let id_line = at(raw.id.span().start);
        let id = raw.id.into_inner();
        if !plain_id(&id) {
            return Err(fail(
                id_line,
                "id must be 1 to 64 lowercase letters, digits, '-' or '_'".into(),
            ));
        }
        let name_line = at(raw.name.span().start);
        let name = raw.name.into_inner().trim().to_owned();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(fail(name_line, "name must be 1 to 120 characters".into()));
        }

        let scale_line = at(raw.scale.span().start);
        let s = raw.scale.into_inner();
        if s.max <= s.min {
            return Err(fail(
                scale_line,
                format!(
                    "the scale is empty: max ({}) must be above min ({})",
                    s.max, s.min
                ),
            ));
        }
        if s.min < SCALE_LOW || s.max > SCALE_HIGH {
            return Err(fail(
                scale_line,
                format!("the scale must lie between {SCALE_LOW} and {SCALE_HIGH}"),
            ));
        }
        let points = (s.max - s.min + 1) as usize;
        if s.labels.len() != points {
            return Err(fail(
                scale_line,
                format!(
                    "the scale has {points} points but {} labels; give one label per point",
                    s.labels.len()
                ),
            ));
        }
        if s.labels.iter().any(|l| l.trim().is_empty()) {
            return Err(fail(scale_line, "a scale label is empty".into()));
        }

        for (dim, label) in &raw.dimensions {
            if !plain_id(dim) || label.trim().is_empty() {
                return Err(fail(
                    None,
                    format!("dimension '{dim}' needs a plain id and a name"),
                ));
            }
        }

        let mut items: Vec<Item> = Vec::new();
        let mut dimensions: Vec<(String, String)> = Vec::new();
        for spanned in raw.item {
            let line = at(spanned.span().start);
            let item = spanned.into_inner();
            if !plain_id(&item.id) {
                return Err(fail(
                    line,
                    format!(
                        "item id '{}' must be 1 to 64 lowercase letters, digits, '-' or '_'",
                        item.id
                    ),
                ));
            }
            if items.iter().any(|i| i.id == item.id) {
                return Err(fail(
                    line,
                    format!("another item already has the id '{}'", item.id),
                ));
            }
            let text = item.text.trim().to_owned();
            if text.is_empty() || text.chars().count() > 500 {
                return Err(fail(
                    line,
                    format!("item '{}' needs a text of 1 to 500 characters", item.id),
                ));
            }
            let dimension = match item.dimension.map(|d| d.trim().to_owned()) {
                Some(d) if plain_id(&d) => d,
                _ => {
                    return Err(fail(
                        line,
                        format!(
                            "item '{}' needs a dimension (a plain id, such as \"safety\")",
                            item.id
                        ),
                    ));
                }
            };
            if !raw.dimensions.is_empty() && !raw.dimensions.contains_key(&dimension) {
                return Err(fail(
                    line,
                    format!(
                        "item '{}' names the dimension '{dimension}', which [dimensions] does not list",
                        item.id
                    ),
                ));
            }
            if !dimensions.iter().any(|(d, _)| *d == dimension) {
                let label = raw
                    .dimensions
                    .get(&dimension)
                    .map(|l| l.trim().to_owned())
                    .unwrap_or_else(|| dimension.replace(['_', '-'], " "));
                dimensions.push((dimension.clone(), label));
            }
            items.push(Item {
                id: item.id,
                text,
                dimension,
                reverse: item.reverse,
            });
        }
        if items.is_empty() {
            return Err(fail(None, "the instrument has no [[item]]".into()));
        }
        if items.len() > MAX_ITEMS {
            return Err(fail(
                None,
                format!("an instrument has at most {MAX_ITEMS} items"),
            ));
        }
        Ok(Instrument {
            id,
            name,
            scale: Scale {
                min: s.min,
                max: s.max,
                labels: s.labels.into_iter().map(|l| l.trim().to_owned()).collect(),
            },
            dimensions,
            items,
        })
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The value an answer counts for: a reverse-scored item turns the scale around.
    pub fn scored(&self, item: &Item, value: i64) -> i64 {
        if item.reverse {
            self.scale.min + self.scale.max - value
        } else {
            value
        }
    }

    /// Checks one anonymous answer: every item rated once, on the scale, and nothing else.
    /// Returns the answer in item order.
    pub fn check_answer(
        &self,
        answer: &BTreeMap<String, i64>,
    ) -> Result<Vec<(String, i64)>, crate::Invalid> {
        if let Some(unknown) = answer.keys().find(|k| self.item(k).is_none()) {
            return Err(crate::Invalid::new(
                "items",
                format!("'{unknown}' is not an item of this check"),
            ));
        }
        let mut out = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let Some(&value) = answer.get(&item.id) else {
                return Err(crate::Invalid::new(
                    "items",
                    format!("'{}' is not answered; rate every item", item.id),
                ));
            };
            if !(self.scale.min..=self.scale.max).contains(&value) {
                return Err(crate::Invalid::new(
                    "items",
                    format!(
                        "'{}' must be from {} to {}",
                        item.id, self.scale.min, self.scale.max
                    ),
                ));
            }
            out.push((item.id.clone(), value));
        }
        Ok(out)
    }

    /// Per-dimension totals of scored values, from each item's raw sum and count (what a
    /// closing round reads from its answers). Items the instrument does not know are ignored.
    pub fn dimension_totals(&self, item_sums: &[(String, i64, i64)]) -> Vec<DimensionTotal> {
        let mut out: Vec<DimensionTotal> = self
            .dimensions
            .iter()
            .map(|(d, _)| DimensionTotal {
                dimension: d.clone(),
                total: 0,
                count: 0,
            })
            .collect();
        for (item_id, sum, count) in item_sums {
            let Some(item) = self.item(item_id) else {
                continue;
            };
            // Σ(min + max − v) = n·(min + max) − Σv, so reversal needs no per-answer pass.
            let total = if item.reverse {
                count * (self.scale.min + self.scale.max) - sum
            } else {
                *sum
            };
            if let Some(d) = out.iter_mut().find(|d| d.dimension == item.dimension) {
                d.total += total;
                d.count += count;
            }
        }
        out
    }
}

/// A dimension's exact sum of scored values and how many values it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionTotal {
    pub dimension: String,
    pub total: i64,
    pub count: i64,
}

/// A mean on the instrument's scale as a share of the scale, 0 to 100 (whole percent, rounded
/// half up), so instruments with different scales read the same way on one chart.
pub fn percent_of_scale(total: i64, count: i64, min: i64, max: i64) -> Option<u32> {
    if count <= 0 || max <= min {
        return None;
    }
    // (total/count − min) / (max − min) · 100, in integers.
    let num = (total - count * min) * 200;
    let den = count * (max - min);
    Some(((num + den) / (2 * den)).clamp(0, 100) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "small"
name = "Small check"
[scale]
min = 1
max = 5
labels = ["No", "Rather not", "In between", "Rather yes", "Yes"]
[dimensions]
safety = "Psychological safety"
lead = "Trust in the lead"
[[item]]
id = "speak"
text = "I can say what worries me."
dimension = "safety"
[[item]]
id = "hold_back"
text = "I keep problems to myself."
dimension = "safety"
reverse = true
[[item]]
id = "lead_fair"
text = "Our lead is fair."
dimension = "lead"
"#;

    #[test]
    fn the_default_instrument_parses_and_covers_both_dimensions() {
        let i = default_instrument();
        let dims: Vec<&str> = i.dimensions.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(dims, ["safety", "lead"]);
        assert!(i.items.iter().any(|i| i.reverse));
        assert!(i.items.iter().any(|i| !i.reverse));
        assert_eq!((i.scale.min, i.scale.max), (1, 7));
    }

    #[test]
    fn a_good_file_parses() {
        let i = Instrument::parse(GOOD).unwrap();
        assert_eq!(i.id, "small");
        assert_eq!(i.items.len(), 3);
        assert_eq!(
            i.dimensions[0],
            ("safety".into(), "Psychological safety".into())
        );
        assert!(i.item("hold_back").unwrap().reverse);
    }

    /// (what is changed in GOOD, expected line, words the problem contains)
    #[test]
    fn bad_files_are_refused_with_their_line() {
        let cases: &[(&str, &str, Option<usize>, &str)] = &[
            // Malformed TOML: an unclosed string on line 3.
            (
                "name = \"Small check\"",
                "name = \"Small check",
                Some(3),
                "",
            ),
            (
                "id = \"lead_fair\"",
                "id = \"speak\"",
                Some(20),
                "already has the id 'speak'",
            ),
            ("max = 5", "max = 1", Some(4), "the scale is empty"),
            ("max = 5", "max = 0", Some(4), "the scale is empty"),
            ("min = 1", "min = -3", Some(4), "between 0 and 10"),
            (
                "labels = [\"No\", \"Rather not\", \"In between\", \"Rather yes\", \"Yes\"]",
                "labels = []",
                Some(4),
                "5 points but 0 labels",
            ),
            ("dimension = \"lead\"", "", Some(20), "needs a dimension"),
            (
                "dimension = \"lead\"",
                "dimension = \"\"",
                Some(20),
                "needs a dimension",
            ),
            (
                "dimension = \"lead\"",
                "dimension = \"mood\"",
                Some(20),
                "does not list",
            ),
            (
                "reverse = true",
                "reverse = true\nweight = 2",
                Some(20),
                "weight",
            ),
            ("reverse = true", "reverse = \"yes\"", Some(19), ""),
            (
                "id = \"small\"",
                "id = \"Small Check!\"",
                Some(2),
                "lowercase",
            ),
            (
                "text = \"Our lead is fair.\"",
                "text = \"  \"",
                Some(20),
                "needs a text",
            ),
        ];
        for (from, to, line, words) in cases {
            assert!(GOOD.contains(from), "{from}");
            let text = GOOD.replacen(from, to, 1);
            let err = Instrument::parse(&text).expect_err(to);
            assert_eq!(err.line, *line, "{to}: {err}");
            assert!(err.problem.contains(words), "{to}: {err}");
        }
    }

    #[test]
    fn unknown_top_level_fields_and_empty_files_are_refused() {
        let err = Instrument::parse(&format!("licence = \"x\"\n{GOOD}")).unwrap_err();
        assert!(err.problem.contains("licence"), "{err}");
        assert_eq!(err.line, Some(1));
        let no_items = GOOD.split("[[item]]").next().unwrap();
        assert!(
            Instrument::parse(no_items)
                .unwrap_err()
                .problem
                .contains("no [[item]]")
        );
        assert!(Instrument::parse("").is_err());
    }

    #[test]
    fn reverse_scoring_turns_the_scale_around() {
        let i = Instrument::parse(GOOD).unwrap();
        let hold_back = i.item("hold_back").unwrap();
        let speak = i.item("speak").unwrap();
        for (value, reversed) in [(1, 5), (2, 4), (3, 3), (5, 1)] {
            assert_eq!(i.scored(hold_back, value), reversed);
            assert_eq!(i.scored(speak, value), value);
        }
    }

    #[test]
    fn answers_must_rate_every_item_on_the_scale() {
        let i = Instrument::parse(GOOD).unwrap();
        let answer = |pairs: &[(&str, i64)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<BTreeMap<_, _>>()
        };
        type Case<'a> = (&'a [(&'a str, i64)], Result<(), &'a str>);
        let cases: &[Case] = &[
            (&[("speak", 4), ("hold_back", 2), ("lead_fair", 5)], Ok(())),
            (
                &[("speak", 4), ("hold_back", 2)],
                Err("'lead_fair' is not answered"),
            ),
            (
                &[
                    ("speak", 4),
                    ("hold_back", 2),
                    ("lead_fair", 5),
                    ("mood", 3),
                ],
                Err("'mood' is not an item"),
            ),
            (
                &[("speak", 0), ("hold_back", 2), ("lead_fair", 5)],
                Err("from 1 to 5"),
            ),
            (
                &[("speak", 6), ("hold_back", 2), ("lead_fair", 5)],
                Err("from 1 to 5"),
            ),
        ];
        for (pairs, expected) in cases {
            match (i.check_answer(&answer(pairs)), expected) {
                (Ok(v), Ok(())) => assert_eq!(v.len(), 3),
                (Err(e), Err(words)) => assert!(e.message.contains(words), "{e}"),
                (got, want) => panic!("{pairs:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn dimension_totals_score_reversed_items_from_their_sums() {
        let i = Instrument::parse(GOOD).unwrap();
        // Three answers: speak 5,4,3 (sum 12); hold_back 1,2,1 (sum 4 → scored 5,4,5 = 14);
        // lead_fair 2,2,2 (sum 6).
        let totals = i.dimension_totals(&[
            ("speak".into(), 12, 3),
            ("hold_back".into(), 4, 3),
            ("lead_fair".into(), 6, 3),
            ("gone".into(), 100, 3),
        ]);
        assert_eq!(
            totals,
            vec![
                DimensionTotal {
                    dimension: "safety".into(),
                    total: 26,
                    count: 6
                },
                DimensionTotal {
                    dimension: "lead".into(),
                    total: 6,
                    count: 3
                },
            ]
        );
    }

    #[test]
    fn percent_of_scale_is_exact_and_rounded() {
        for (total, count, min, max, expected) in [
            (7, 1, 1, 7, Some(100)),
            (1, 1, 1, 7, Some(0)),
            (4, 1, 1, 7, Some(50)),
            (26, 6, 1, 5, Some(83)), // mean 4.33 on 1..5 → 83.3%
            (9, 2, 1, 7, Some(58)),  // mean 4.5 → 58.3%
            (0, 0, 1, 7, None),
        ] {
            assert_eq!(
                percent_of_scale(total, count, min, max),
                expected,
                "{total}/{count}"
            );
        }
    }
}
