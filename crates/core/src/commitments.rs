//! Follow through (design 2.4): what someone promised, when it falls due, and whether it was kept.
//!
//! A commitment is due on calendar days (the end of that day, in the organisation's terms).
//! An occurrence counts as kept only once the affected side confirms it happened. Nothing here
//! reads the clock: `today` is an argument, so any past day can be replayed ("as of" that day,
//! marks and confirmations dated later are not yet known).

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month};

use crate::validation::Invalid;

/// How often a repeating commitment falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Daily,
    Weekly,
    Fortnightly,
    Monthly,
}

impl Cadence {
    /// In the order a form offers them, shortest first.
    pub const ALL: [Cadence; 4] = [
        Cadence::Daily,
        Cadence::Weekly,
        Cadence::Fortnightly,
        Cadence::Monthly,
    ];

    /// Accepts the stored name or the label, in any case, so what a page shows can be posted back.
    pub fn parse(raw: &str) -> Result<Cadence, Invalid> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(Invalid::new("cadence", "is required"));
        }
        Self::ALL
            .into_iter()
            .find(|c| {
                value.eq_ignore_ascii_case(c.as_str()) || value.eq_ignore_ascii_case(c.label())
            })
            .ok_or_else(|| {
                Invalid::new(
                    "cadence",
                    "must be one of daily, weekly, fortnightly, monthly",
                )
            })
    }

    /// The stable name stored and sent over the API; never reworded.
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Fortnightly => "fortnightly",
            Cadence::Monthly => "monthly",
        }
    }

    /// The words used inside a sentence; "every two weeks" because not everyone says fortnightly.
    pub fn label(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Fortnightly => "every two weeks",
            Cadence::Monthly => "monthly",
        }
    }
}

/// How many occurrences a cadence may produce: 1..=520 (ten years of weekly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Count(u16);

impl Count {
    /// Ten years of weekly: a longer promise is a policy, not a commitment to follow through.
    pub const MAX: u16 = 520;

    pub fn new(n: i64) -> Result<Count, Invalid> {
        if n < 1 {
            return Err(Invalid::new("count", "must be at least 1"));
        }
        if n > i64::from(Self::MAX) {
            return Err(Invalid::new(
                "count",
                format!("must be at most {}", Self::MAX),
            ));
        }
        Ok(Count(n as u16))
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for Count {
    type Error = Invalid;
    fn try_from(n: i64) -> Result<Self, Invalid> {
        Self::new(n)
    }
}

impl From<Count> for i64 {
    fn from(c: Count) -> i64 {
        i64::from(c.0)
    }
}

/// A due date may lie this far back, so a commitment that already started can still be recorded.
pub const MAX_DAYS_PAST: i64 = 366;
/// Nothing is due further ahead than this: a typo like 2062 for 2026 is caught, not tracked.
pub const MAX_YEARS_AHEAD: i64 = 10;

/// When a commitment falls due: once, or on a cadence a fixed number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Once {
        due: Date,
    },
    Repeating {
        cadence: Cadence,
        count: Count,
        first_due: Date,
    },
}

impl Schedule {
    /// Parses form/API input: a due date alone, or cadence + count + first due date.
    ///
    /// Blank text counts as not given, because an HTML form posts its empty inputs. Every due
    /// date, including a repeating schedule's last one, must fall between [`MAX_DAYS_PAST`] days
    /// ago and [`MAX_YEARS_AHEAD`] years ahead of `today`; a last date too far out blames "count".
    pub fn parse(
        due: Option<&str>,
        cadence: Option<&str>,
        count: Option<i64>,
        first_due: Option<&str>,
        today: Date,
    ) -> Result<Schedule, Invalid> {
        const EITHER: &str = "a due date, or a cadence with a count and a first due date";
        fn given(raw: Option<&str>) -> Option<&str> {
            raw.map(str::trim).filter(|s| !s.is_empty())
        }
        let (due, cadence, first_due) = (given(due), given(cadence), given(first_due));
        let repeating = cadence.is_some() || count.is_some() || first_due.is_some();
        match (due, repeating) {
            (Some(_), true) => Err(Invalid::new(
                "due",
                format!("must be left empty for a repeating commitment: give either {EITHER}"),
            )),
            (None, false) => Err(Invalid::new("due", format!("is required: give {EITHER}"))),
            (Some(raw), false) => Ok(Schedule::Once {
                due: within_window("due", parse_date("due", raw)?, today)?,
            }),
            (None, true) => {
                let required = "is required for a repeating commitment";
                let missing = |field| move || Invalid::new(field, required);
                let cadence = Cadence::parse(cadence.ok_or_else(missing("cadence"))?)?;
                let count = Count::new(count.ok_or_else(missing("count"))?)?;
                let first_due = first_due.ok_or_else(missing("first_due"))?;
                let first_due =
                    within_window("first_due", parse_date("first_due", first_due)?, today)?;
                let schedule = Schedule::Repeating {
                    cadence,
                    count,
                    first_due,
                };
                let (last, latest) = (schedule.last_due(), latest(today));
                if last > latest {
                    return Err(Invalid::new(
                        "count",
                        format!(
                            "is too high: {} would end on {}, after {} ({} years ahead)",
                            schedule.describe(),
                            iso(last),
                            iso(latest),
                            MAX_YEARS_AHEAD
                        ),
                    ));
                }
                Ok(schedule)
            }
        }
    }

    /// Every due date, in order; monthly keeps the first date's day, clamped to short months.
    pub fn due_dates(&self) -> Vec<Date> {
        match *self {
            Schedule::Once { due } => vec![due],
            Schedule::Repeating {
                cadence,
                count,
                first_due,
            } => (0..count.get())
                .map_while(|n| nth_due(cadence, first_due, n))
                .collect(),
        }
    }

    /// The first date anything is due, for sorting and for "starts on".
    pub fn first_due(&self) -> Date {
        match *self {
            Schedule::Once { due } => due,
            Schedule::Repeating { first_due, .. } => first_due,
        }
    }

    /// The last date anything is due: after it, the commitment only waits for confirmations.
    pub fn last_due(&self) -> Date {
        match *self {
            Schedule::Once { due } => due,
            Schedule::Repeating {
                cadence,
                count,
                first_due,
            } => nth_due(cadence, first_due, count.get() - 1).unwrap_or(Date::MAX),
        }
    }

    /// One phrase for lists and the update log ("weekly, 8 times, from 2026-12-01").
    pub fn describe(&self) -> String {
        match *self {
            Schedule::Once { due } => format!("due {}", iso(due)),
            Schedule::Repeating {
                cadence,
                count,
                first_due,
            } => {
                let times = match count.get() {
                    1 => "once".to_owned(),
                    n => format!("{n} times"),
                };
                format!("{}, {times}, from {}", cadence.label(), iso(first_due))
            }
        }
    }
}

/// Parses a calendar date written "YYYY-MM-DD" (and nothing looser), naming `field` when wrong.
pub fn parse_date(field: &'static str, raw: &str) -> Result<Date, Invalid> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(Invalid::new(field, "is required"));
    }
    let bytes = value.as_bytes();
    let well_formed = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(Invalid::new(
            field,
            "must be a date written YYYY-MM-DD, like 2026-12-01",
        ));
    }
    // Only ASCII digits remain in these slices, so the numbers parse.
    let number = |range: std::ops::Range<usize>| value[range].parse::<u16>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| Invalid::new(field, "is not a real date: months run from 01 to 12"))?;
    let year = i32::from(year);
    u8::try_from(day)
        .ok()
        .and_then(|d| Date::from_calendar_date(year, month, d).ok())
        .ok_or_else(|| {
            Invalid::new(
                field,
                format!(
                    "is not a real date: {year:04}-{:02} has {} days",
                    u8::from(month),
                    month.length(year)
                ),
            )
        })
}

/// The date as "YYYY-MM-DD", the one way dates are written to people and in the API.
fn iso(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn earliest(today: Date) -> Date {
    today
        .checked_sub(Duration::days(MAX_DAYS_PAST))
        .unwrap_or(Date::MIN)
}

fn latest(today: Date) -> Date {
    add_months(today, MAX_YEARS_AHEAD * 12).unwrap_or(Date::MAX)
}

fn within_window(field: &'static str, date: Date, today: Date) -> Result<Date, Invalid> {
    let (earliest, latest) = (earliest(today), latest(today));
    if date < earliest {
        return Err(Invalid::new(
            field,
            format!(
                "must be on or after {}: at most {MAX_DAYS_PAST} days in the past",
                iso(earliest)
            ),
        ));
    }
    if date > latest {
        return Err(Invalid::new(
            field,
            format!(
                "must be on or before {}: at most {MAX_YEARS_AHEAD} years ahead",
                iso(latest)
            ),
        ));
    }
    Ok(date)
}

/// The `n`th due date (0 is the first); None only past the calendar's end.
fn nth_due(cadence: Cadence, first: Date, n: u16) -> Option<Date> {
    let n = i64::from(n);
    match cadence {
        Cadence::Daily => first.checked_add(Duration::days(n)),
        Cadence::Weekly => first.checked_add(Duration::weeks(n)),
        Cadence::Fortnightly => first.checked_add(Duration::weeks(2 * n)),
        Cadence::Monthly => add_months(first, n),
    }
}

/// `months` later on the same day of month, clamped to the month's length (Jan 31 → Feb 28).
fn add_months(date: Date, months: i64) -> Option<Date> {
    let index = i64::from(date.year()) * 12 + i64::from(u8::from(date.month()) - 1) + months;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    Date::from_calendar_date(year, month, date.day().min(month.length(year))).ok()
}

/// What is known about one occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub due: Date,
    /// The day its owner said it was done; the owner's word alone never makes it kept.
    pub done_on: Option<Date>,
    /// The affected side's answer to "did this happen?", which alone settles it as kept.
    pub confirmation: Option<Confirmation>,
}

/// The affected side's answer about one occurrence, and the day it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmation {
    pub happened: bool,
    pub on: Date,
}

/// Where one occurrence stands, as of a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not due yet, and nobody has said anything about it.
    Upcoming,
    /// Due (today, or within the grace days) and the owner has not said it is done.
    AwaitingOwner,
    /// The owner says it is done (in time); the affected side has not answered yet.
    AwaitingConfirmation,
    /// The affected side confirmed it happened: the only way a promise counts as kept.
    Kept,
    /// The affected side said it did not happen, or the owner let the grace days pass silently.
    Missed,
}

impl Status {
    /// Kept and Missed are final outcomes (until a later confirmation changes them).
    pub fn is_settled(self) -> bool {
        matches!(self, Status::Kept | Status::Missed)
    }
}

/// Days after the due date an owner still has to mark it done: time zones, weekends, a sick day.
pub const GRACE_DAYS: i64 = 2;

/// Where one occurrence stands at the end of `today`; marks and answers dated later are ignored.
///
/// A confirmation decides. Otherwise an owner who marked it done by the end of the grace days
/// waits for the affected side however long that takes: a slow answer must never publish
/// "missed" against someone who said they did it.
pub fn status(o: &Occurrence, today: Date) -> Status {
    if let Some(c) = confirmation(o, today) {
        return if c.happened {
            Status::Kept
        } else {
            Status::Missed
        };
    }
    let grace_end = o
        .due
        .checked_add(Duration::days(GRACE_DAYS))
        .unwrap_or(Date::MAX);
    if done_on(o, today).is_some_and(|done| done <= grace_end) {
        Status::AwaitingConfirmation
    } else if o.due > today {
        Status::Upcoming
    } else if today > grace_end {
        Status::Missed
    } else {
        Status::AwaitingOwner
    }
}

fn confirmation(o: &Occurrence, today: Date) -> Option<Confirmation> {
    o.confirmation.filter(|c| c.on <= today)
}

fn done_on(o: &Occurrence, today: Date) -> Option<Date> {
    o.done_on.filter(|done| *done <= today)
}

/// Follow-through, on-time rate and consistency (design 2.4), for one commitment or many.
///
/// Everything counts only settled occurrences (kept or missed): one still waiting on its owner
/// within the grace days, or on the affected side's answer, has no outcome yet and neither lowers
/// the rate nor breaks a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub struct FollowThrough {
    /// Occurrences whose outcome is known (kept + missed), early confirmations included.
    pub due: u32,
    /// Of those, the ones the affected side confirmed happened.
    pub kept: u32,
    /// Of kept, done by the due date: the owner's mark, or the confirmation if never marked.
    pub on_time: u32,
    /// The best unbroken streak of kept occurrences in due order: the consistency shown so far.
    pub longest_run: u32,
    /// The streak that ends at the latest settled occurrence: 0 right after a miss.
    pub current_run: u32,
}

impl FollowThrough {
    /// Kept ÷ due as a whole percent, rounded down so 100% means every single one was kept.
    pub fn rate(&self) -> Option<u8> {
        percent(self.kept, self.due)
    }

    /// On time ÷ kept, rounded down; None before anything was kept.
    pub fn on_time_rate(&self) -> Option<u8> {
        percent(self.on_time, self.kept)
    }

    /// Combines commitments into a repair or person total.
    ///
    /// Counts add up. Runs take the larger one: runs of different commitments interleave in
    /// time, so adding them would report a streak that never happened; the best one did.
    #[allow(
        clippy::should_implement_trait,
        reason = "the API is `a.add(b)`; `Add` is implemented too"
    )]
    pub fn add(self, other: FollowThrough) -> FollowThrough {
        FollowThrough {
            due: self.due.saturating_add(other.due),
            kept: self.kept.saturating_add(other.kept),
            on_time: self.on_time.saturating_add(other.on_time),
            longest_run: self.longest_run.max(other.longest_run),
            current_run: self.current_run.max(other.current_run),
        }
    }
}

impl std::ops::Add for FollowThrough {
    type Output = FollowThrough;
    fn add(self, other: FollowThrough) -> FollowThrough {
        FollowThrough::add(self, other)
    }
}

impl std::iter::Sum for FollowThrough {
    fn sum<I: Iterator<Item = FollowThrough>>(iter: I) -> FollowThrough {
        iter.fold(FollowThrough::default(), FollowThrough::add)
    }
}

fn percent(part: u32, whole: u32) -> Option<u8> {
    if whole == 0 {
        return None;
    }
    let floor = u64::from(part) * 100 / u64::from(whole);
    Some(floor.min(100) as u8)
}

/// Follow-through of one commitment's occurrences (any order in; sorted by due inside).
pub fn follow_through(occurrences: &[Occurrence], today: Date) -> FollowThrough {
    let mut result = FollowThrough::default();
    let mut run = 0;
    for o in by_due(occurrences) {
        match status(o, today) {
            Status::Kept => {
                result.due += 1;
                result.kept += 1;
                let done = done_on(o, today).or(confirmation(o, today).map(|c| c.on));
                if done.is_some_and(|done| done <= o.due) {
                    result.on_time += 1;
                }
                run += 1;
                result.longest_run = result.longest_run.max(run);
            }
            Status::Missed => {
                result.due += 1;
                run = 0;
            }
            Status::Upcoming | Status::AwaitingOwner | Status::AwaitingConfirmation => {}
        }
    }
    result.current_run = run;
    result
}

fn by_due(occurrences: &[Occurrence]) -> Vec<&Occurrence> {
    let mut sorted: Vec<&Occurrence> = occurrences.iter().collect();
    sorted.sort_by_key(|o| o.due);
    sorted
}

/// "Start small": from this many open commitments on, adding another gets a gentle suggestion.
pub const START_SMALL_AT: usize = 3;

/// Advice, never a refusal: a person already holding many open promises is asked to finish some.
pub fn start_small(open_owned: usize) -> Option<String> {
    (open_owned >= START_SMALL_AT).then(|| {
        format!(
            "You already hold {open_owned} open commitments. Trust grows from promises kept: \
             consider finishing some before adding more."
        )
    })
}

/// Open while any occurrence has no outcome yet, including one waiting only for confirmation.
pub fn is_open(occurrences: &[Occurrence], today: Date) -> bool {
    occurrences.iter().any(|o| !status(o, today).is_settled())
}

/// Due dates of every missed occurrence, in order, for the automatic update-log entry.
///
/// Stateless: the caller records which dates it has already announced and posts the rest.
pub fn missed(occurrences: &[Occurrence], today: Date) -> Vec<Date> {
    by_due(occurrences)
        .into_iter()
        .filter(|o| status(o, today) == Status::Missed)
        .map(|o| o.due)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "today" of every table unless a case says otherwise: a Monday in a non-leap year.
    const TODAY: &str = "2026-06-15";

    fn d(raw: &str) -> Date {
        parse_date("test", raw).unwrap_or_else(|e| panic!("bad test date {raw:?}: {e}"))
    }

    fn today() -> Date {
        d(TODAY)
    }

    fn repeating(cadence: Cadence, count: i64, first_due: &str) -> Schedule {
        Schedule::Repeating {
            cadence,
            count: Count::new(count).unwrap(),
            first_due: d(first_due),
        }
    }

    /// An occurrence from text: `done` and `confirmed` (happened, on) are optional.
    fn occ(due: &str, done: Option<&str>, confirmed: Option<(bool, &str)>) -> Occurrence {
        Occurrence {
            due: d(due),
            done_on: done.map(d),
            confirmation: confirmed.map(|(happened, on)| Confirmation {
                happened,
                on: d(on),
            }),
        }
    }

    #[test]
    fn cadence_parse() {
        fn check(raw: &str, want: Result<Cadence, &str>) {
            let got = Cadence::parse(raw).map_err(|e| e.field);
            assert_eq!(got, want, "{raw:?}");
        }
        let table = [
            ("daily", Ok(Cadence::Daily)),
            ("weekly", Ok(Cadence::Weekly)),
            ("fortnightly", Ok(Cadence::Fortnightly)),
            ("monthly", Ok(Cadence::Monthly)),
            ("  Weekly ", Ok(Cadence::Weekly)),
            ("MONTHLY", Ok(Cadence::Monthly)),
            ("every two weeks", Ok(Cadence::Fortnightly)),
            ("", Err("cadence")),
            ("   ", Err("cadence")),
            ("yearly", Err("cadence")),
            ("biweekly", Err("cadence")),
            ("week", Err("cadence")),
        ];
        for (raw, want) in table {
            check(raw, want);
        }
        for c in Cadence::ALL {
            check(c.as_str(), Ok(c));
            check(c.label(), Ok(c));
        }
        assert_eq!(Cadence::Weekly.label(), "weekly");
        assert_eq!(Cadence::Fortnightly.as_str(), "fortnightly");
        assert_eq!(Cadence::parse("").unwrap_err().message, "is required");
    }

    #[test]
    fn count_bounds() {
        fn check(n: i64, want: Result<u16, &str>) {
            let got = Count::new(n).map(Count::get).map_err(|e| e.message);
            assert_eq!(got, want.map_err(str::to_owned), "{n}");
            if let Err(e) = Count::new(n) {
                assert_eq!(e.field, "count");
            }
        }
        let table = [
            (i64::MIN, Err("must be at least 1")),
            (-1, Err("must be at least 1")),
            (0, Err("must be at least 1")),
            (1, Ok(1)),
            (8, Ok(8)),
            (520, Ok(520)),
            (521, Err("must be at most 520")),
            (i64::MAX, Err("must be at most 520")),
        ];
        for (n, want) in table {
            check(n, want);
        }
        assert_eq!(Count::try_from(7).map(i64::from), Ok(7));
    }

    #[test]
    fn date_parse() {
        fn check(raw: &str, want: Result<&str, &str>) {
            let got = parse_date("due", raw);
            match (got, want) {
                (Ok(date), Ok(iso_want)) => assert_eq!(iso(date), iso_want, "{raw:?}"),
                (Err(e), Err(message)) => {
                    assert_eq!(e.field, "due", "{raw:?}");
                    assert!(e.message.starts_with(message), "{raw:?}: {}", e.message);
                }
                (got, want) => panic!("{raw:?}: got {got:?}, want {want:?}"),
            }
        }
        let table = [
            ("2026-12-01", Ok("2026-12-01")),
            (" 2026-12-01 ", Ok("2026-12-01")),
            ("2028-02-29", Ok("2028-02-29")),
            ("2000-02-29", Ok("2000-02-29")),
            ("", Err("is required")),
            ("2026-02-30", Err("is not a real date: 2026-02 has 28 days")),
            ("2027-02-29", Err("is not a real date: 2027-02 has 28 days")),
            ("1900-02-29", Err("is not a real date: 1900-02 has 28 days")),
            ("2026-04-31", Err("is not a real date: 2026-04 has 30 days")),
            ("2026-13-01", Err("is not a real date: months")),
            ("2026-00-10", Err("is not a real date: months")),
            ("2026-01-00", Err("is not a real date")),
            ("2026-12-1", Err("must be a date written YYYY-MM-DD")),
            ("26-12-01", Err("must be a date written YYYY-MM-DD")),
            ("2026/12/01", Err("must be a date written YYYY-MM-DD")),
            ("+2026-12-01", Err("must be a date written YYYY-MM-DD")),
            ("2026-12-01T00:00", Err("must be a date written YYYY-MM-DD")),
            ("２０２６-12-01", Err("must be a date written YYYY-MM-DD")),
            ("tomorrow", Err("must be a date written YYYY-MM-DD")),
        ];
        for (raw, want) in table {
            check(raw, want);
        }
    }

    #[test]
    fn schedule_parse() {
        type Input<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<i64>,
            Option<&'a str>,
        );
        /// `want` is the schedule's description, or the field the error names.
        fn check(today: &str, (due, cadence, count, first_due): Input, want: Result<&str, &str>) {
            let got = Schedule::parse(due, cadence, count, first_due, d(today));
            let input = format!("{due:?} {cadence:?} {count:?} {first_due:?} today {today}");
            match (&got, want) {
                (Ok(schedule), Ok(description)) => {
                    assert_eq!(schedule.describe(), description, "{input}")
                }
                (Err(e), Err(field)) => {
                    assert_eq!(e.field, field, "{input}: {e}");
                    assert!(!e.message.is_empty(), "{input}");
                }
                _ => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        let w = Some("weekly");
        let table: &[(&str, Input, Result<&str, &str>)] = &[
            // One date.
            (
                TODAY,
                (Some("2026-12-01"), None, None, None),
                Ok("due 2026-12-01"),
            ),
            (
                TODAY,
                (Some(" 2026-12-01 "), None, None, None),
                Ok("due 2026-12-01"),
            ),
            (
                TODAY,
                (Some("2026-12-01"), Some(""), None, Some(" ")),
                Ok("due 2026-12-01"),
            ),
            (TODAY, (Some(TODAY), None, None, None), Ok("due 2026-06-15")),
            // Repeating.
            (
                TODAY,
                (None, w, Some(8), Some("2026-12-01")),
                Ok("weekly, 8 times, from 2026-12-01"),
            ),
            (
                TODAY,
                (Some(""), Some("Daily"), Some(10), Some("2026-07-01")),
                Ok("daily, 10 times, from 2026-07-01"),
            ),
            (
                TODAY,
                (None, Some("fortnightly"), Some(1), Some("2026-07-01")),
                Ok("every two weeks, once, from 2026-07-01"),
            ),
            (
                TODAY,
                (None, Some("monthly"), Some(12), Some("2026-01-31")),
                Ok("monthly, 12 times, from 2026-01-31"),
            ),
            (
                TODAY,
                (None, w, Some(520), Some(TODAY)),
                Ok("weekly, 520 times, from 2026-06-15"),
            ),
            // Neither form, or both.
            (TODAY, (None, None, None, None), Err("due")),
            (TODAY, (Some(""), Some("  "), None, Some("")), Err("due")),
            (
                TODAY,
                (Some("2026-12-01"), w, Some(8), Some("2026-12-01")),
                Err("due"),
            ),
            (TODAY, (Some("2026-12-01"), None, Some(8), None), Err("due")),
            (TODAY, (Some("2026-12-01"), w, None, None), Err("due")),
            (TODAY, (Some("not a date"), w, None, None), Err("due")),
            // A repeating form with a part missing or wrong.
            (
                TODAY,
                (None, None, Some(8), Some("2026-12-01")),
                Err("cadence"),
            ),
            (
                TODAY,
                (None, Some("yearly"), Some(8), Some("2026-12-01")),
                Err("cadence"),
            ),
            (TODAY, (None, w, None, Some("2026-12-01")), Err("count")),
            (TODAY, (None, w, Some(0), Some("2026-12-01")), Err("count")),
            (TODAY, (None, w, Some(-3), Some("2026-12-01")), Err("count")),
            (
                TODAY,
                (None, w, Some(521), Some("2026-12-01")),
                Err("count"),
            ),
            (
                TODAY,
                (None, None, None, Some("2026-12-01")),
                Err("cadence"),
            ),
            (TODAY, (None, w, Some(8), None), Err("first_due")),
            (TODAY, (None, w, Some(8), Some("")), Err("first_due")),
            (
                TODAY,
                (None, w, Some(8), Some("2026-02-30")),
                Err("first_due"),
            ),
            (TODAY, (None, w, Some(8), Some("1 Dec")), Err("first_due")),
            // Bad dates.
            (TODAY, (Some("2026-02-30"), None, None, None), Err("due")),
            (TODAY, (Some("2026-12-1"), None, None, None), Err("due")),
            // The window: 366 days back (2025-06-14), 10 years ahead (2036-06-15).
            (
                TODAY,
                (Some("2025-06-14"), None, None, None),
                Ok("due 2025-06-14"),
            ),
            (TODAY, (Some("2025-06-13"), None, None, None), Err("due")),
            (
                TODAY,
                (Some("2036-06-15"), None, None, None),
                Ok("due 2036-06-15"),
            ),
            (TODAY, (Some("2036-06-16"), None, None, None), Err("due")),
            (
                TODAY,
                (None, w, Some(1), Some("2025-06-14")),
                Ok("weekly, once, from 2025-06-14"),
            ),
            (
                TODAY,
                (None, w, Some(2), Some("2025-06-13")),
                Err("first_due"),
            ),
            (
                TODAY,
                (None, w, Some(1), Some("2036-06-15")),
                Ok("weekly, once, from 2036-06-15"),
            ),
            (
                TODAY,
                (None, w, Some(2), Some("2036-06-16")),
                Err("first_due"),
            ),
            (
                TODAY,
                (None, Some("daily"), Some(520), Some("1999-01-01")),
                Err("first_due"),
            ),
            // A leap day today: ten years on is 2038-02-28 (there is no 2038-02-29).
            (
                "2028-02-29",
                (Some("2038-02-28"), None, None, None),
                Ok("due 2038-02-28"),
            ),
            (
                "2028-02-29",
                (Some("2038-03-01"), None, None, None),
                Err("due"),
            ),
            (
                "2028-02-29",
                (Some("2027-02-28"), None, None, None),
                Ok("due 2027-02-28"),
            ),
            (
                "2028-02-29",
                (Some("2027-02-27"), None, None, None),
                Err("due"),
            ),
            // Every date must be in the window, the last one too: "monthly, 520" is a typo for 52.
            (
                TODAY,
                (None, Some("monthly"), Some(520), Some("2026-07-01")),
                Err("count"),
            ),
            (
                TODAY,
                (None, Some("monthly"), Some(121), Some(TODAY)),
                Ok("monthly, 121 times, from 2026-06-15"),
            ),
            (
                TODAY,
                (None, Some("monthly"), Some(122), Some(TODAY)),
                Err("count"),
            ),
            (
                TODAY,
                (None, Some("fortnightly"), Some(520), Some(TODAY)),
                Err("count"),
            ),
            (
                TODAY,
                (None, w, Some(520), Some("2026-12-01")),
                Err("count"),
            ),
        ];
        for &(today, input, want) in table {
            check(today, input, want);
        }

        let too_far = Schedule::parse(
            None,
            Some("monthly"),
            Some(520),
            Some("2026-07-01"),
            today(),
        );
        assert_eq!(
            too_far.unwrap_err().message_for_people(),
            "Count is too high: monthly, 520 times, from 2026-07-01 would end on 2069-10-01, \
             after 2036-06-15 (10 years ahead)"
        );
        let past = Schedule::parse(Some("2025-01-01"), None, None, None, today());
        assert_eq!(
            past.unwrap_err().message_for_people(),
            "Due must be on or after 2025-06-14: at most 366 days in the past"
        );
    }

    #[test]
    fn due_dates() {
        fn check(schedule: Schedule, want: &[&str]) {
            let got: Vec<String> = schedule.due_dates().into_iter().map(iso).collect();
            assert_eq!(got, want, "{}", schedule.describe());
            assert_eq!(
                iso(schedule.first_due()),
                want[0],
                "{}",
                schedule.describe()
            );
            assert_eq!(
                iso(schedule.last_due()),
                want[want.len() - 1],
                "{}",
                schedule.describe()
            );
        }
        use Cadence::*;
        let table = [
            (
                Schedule::Once {
                    due: d("2026-12-01"),
                },
                &["2026-12-01"][..],
            ),
            (repeating(Daily, 1, "2026-12-01"), &["2026-12-01"]),
            (
                repeating(Daily, 3, "2026-12-30"),
                &["2026-12-30", "2026-12-31", "2027-01-01"],
            ),
            (
                repeating(Daily, 3, "2028-02-28"),
                &["2028-02-28", "2028-02-29", "2028-03-01"],
            ),
            (
                repeating(Weekly, 3, "2026-12-01"),
                &["2026-12-01", "2026-12-08", "2026-12-15"],
            ),
            (
                repeating(Weekly, 2, "2028-02-26"),
                &["2028-02-26", "2028-03-04"],
            ),
            (
                repeating(Fortnightly, 3, "2026-12-25"),
                &["2026-12-25", "2027-01-08", "2027-01-22"],
            ),
            // Month ends clamp from the original day each time, never cumulatively.
            (
                repeating(Monthly, 4, "2027-01-31"),
                &["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"],
            ),
            (
                repeating(Monthly, 3, "2028-01-31"),
                &["2028-01-31", "2028-02-29", "2028-03-31"],
            ),
            (
                repeating(Monthly, 3, "2028-01-30"),
                &["2028-01-30", "2028-02-29", "2028-03-30"],
            ),
            (
                repeating(Monthly, 3, "2026-11-30"),
                &["2026-11-30", "2026-12-30", "2027-01-30"],
            ),
            (
                repeating(Monthly, 2, "2028-02-29"),
                &["2028-02-29", "2028-03-29"],
            ),
            (
                repeating(Monthly, 14, "2027-12-31"),
                &[
                    "2027-12-31",
                    "2028-01-31",
                    "2028-02-29",
                    "2028-03-31",
                    "2028-04-30",
                    "2028-05-31",
                    "2028-06-30",
                    "2028-07-31",
                    "2028-08-31",
                    "2028-09-30",
                    "2028-10-31",
                    "2028-11-30",
                    "2028-12-31",
                    "2029-01-31",
                ],
            ),
            (
                repeating(Monthly, 2, "2027-12-15"),
                &["2027-12-15", "2028-01-15"],
            ),
        ];
        for (schedule, want) in table {
            check(schedule, want);
        }

        let ten_years = repeating(Weekly, 520, TODAY).due_dates();
        assert_eq!(ten_years.len(), 520);
        assert!(
            ten_years
                .windows(2)
                .all(|w| w[1] - w[0] == Duration::weeks(1))
        );
        assert_eq!(iso(ten_years[519]), "2036-05-26");

        // A schedule built by hand at the calendar's end stops there rather than panicking.
        assert_eq!(repeating(Daily, 5, "9999-12-30").due_dates().len(), 2);
    }

    #[test]
    fn statuses() {
        use Status::*;
        fn check(o: Occurrence, want: Status) {
            assert_eq!(status(&o, today()), want, "{o:?} on {TODAY}");
        }
        let table = [
            // Not due yet.
            (occ("2026-06-16", None, None), Upcoming),
            (occ("2026-12-01", None, None), Upcoming),
            // Due today or within the grace days (2026-06-13 is the last still in grace).
            (occ("2026-06-15", None, None), AwaitingOwner),
            (occ("2026-06-14", None, None), AwaitingOwner),
            (occ("2026-06-13", None, None), AwaitingOwner),
            // Grace over, never marked.
            (occ("2026-06-12", None, None), Missed),
            (occ("2026-01-01", None, None), Missed),
            // Marked done and waiting for the affected side, however long they take.
            (
                occ("2026-06-15", Some("2026-06-15"), None),
                AwaitingConfirmation,
            ),
            (
                occ("2026-06-20", Some("2026-06-14"), None),
                AwaitingConfirmation,
            ),
            (
                occ("2026-06-01", Some("2026-06-01"), None),
                AwaitingConfirmation,
            ),
            (
                occ("2026-06-01", Some("2026-06-03"), None),
                AwaitingConfirmation,
            ),
            // Marked only after the grace days: it was missed, and stays so until confirmed.
            (occ("2026-06-01", Some("2026-06-04"), None), Missed),
            (occ("2026-06-12", Some("2026-06-15"), None), Missed),
            // A confirmation decides, whatever else is true.
            (
                occ("2026-06-10", Some("2026-06-10"), Some((true, "2026-06-11"))),
                Kept,
            ),
            (occ("2026-06-10", None, Some((true, "2026-06-10"))), Kept),
            (occ("2026-05-01", None, Some((true, "2026-06-14"))), Kept),
            (
                occ("2026-06-01", Some("2026-06-09"), Some((true, "2026-06-10"))),
                Kept,
            ),
            (occ("2026-06-20", None, Some((true, "2026-06-14"))), Kept),
            (
                occ(
                    "2026-06-15",
                    Some("2026-06-15"),
                    Some((false, "2026-06-15")),
                ),
                Missed,
            ),
            (occ("2026-06-14", None, Some((false, "2026-06-15"))), Missed),
            (occ("2026-06-20", None, Some((false, "2026-06-15"))), Missed),
            // Marks and answers dated after today are not known yet.
            (occ("2026-06-20", Some("2026-06-16"), None), Upcoming),
            (occ("2026-06-15", Some("2026-06-16"), None), AwaitingOwner),
            (occ("2026-06-10", None, Some((true, "2026-06-16"))), Missed),
            (
                occ(
                    "2026-06-14",
                    Some("2026-06-14"),
                    Some((false, "2026-06-16")),
                ),
                AwaitingConfirmation,
            ),
        ];
        for (o, want) in table {
            check(o, want);
        }

        // The grace boundary, walked day by day for one occurrence due 2026-06-10.
        let o = occ("2026-06-10", None, None);
        for (day, want) in [
            ("2026-06-09", Upcoming),
            ("2026-06-10", AwaitingOwner),
            ("2026-06-11", AwaitingOwner),
            ("2026-06-12", AwaitingOwner),
            ("2026-06-13", Missed),
        ] {
            assert_eq!(status(&o, d(day)), want, "due 2026-06-10 on {day}");
        }
        assert!(Kept.is_settled() && Missed.is_settled());
        assert!(!Upcoming.is_settled() && !AwaitingOwner.is_settled());
        assert!(!AwaitingConfirmation.is_settled());
    }

    /// Shorthands for follow-through tables, all relative to `TODAY` (2026-06-15).
    fn kept(due: &str) -> Occurrence {
        occ(due, Some(due), Some((true, due)))
    }
    fn kept_late(due: &str, done: &str) -> Occurrence {
        occ(due, Some(done), Some((true, done)))
    }
    fn refused(due: &str) -> Occurrence {
        occ(due, Some(due), Some((false, due)))
    }
    fn lapsed(due: &str) -> Occurrence {
        occ(due, None, None)
    }

    fn ft(due: u32, kept: u32, on_time: u32, longest_run: u32, current_run: u32) -> FollowThrough {
        FollowThrough {
            due,
            kept,
            on_time,
            longest_run,
            current_run,
        }
    }

    #[test]
    fn follow_throughs() {
        fn check(name: &str, occurrences: &[Occurrence], want: FollowThrough, rate: Option<u8>) {
            let got = follow_through(occurrences, today());
            assert_eq!(got, want, "{name}");
            assert_eq!(got.rate(), rate, "{name}: rate");
            let mut reversed = occurrences.to_vec();
            reversed.reverse();
            assert_eq!(follow_through(&reversed, today()), want, "{name}: reversed");
        }
        let table: &[(&str, Vec<Occurrence>, FollowThrough, Option<u8>)] = &[
            ("nothing", vec![], ft(0, 0, 0, 0, 0), None),
            (
                "only upcoming",
                vec![lapsed("2026-06-20"), lapsed("2026-06-27")],
                ft(0, 0, 0, 0, 0),
                None,
            ),
            (
                "all kept",
                vec![kept("2026-05-25"), kept("2026-06-01"), kept("2026-06-08")],
                ft(3, 3, 3, 3, 3),
                Some(100),
            ),
            (
                "one missed",
                vec![
                    kept("2026-05-18"),
                    kept("2026-05-25"),
                    refused("2026-06-01"),
                    kept("2026-06-08"),
                ],
                ft(4, 3, 3, 2, 1),
                Some(75),
            ),
            (
                "missed by silence past grace",
                vec![kept("2026-06-01"), lapsed("2026-06-08")],
                ft(2, 1, 1, 1, 0),
                Some(50),
            ),
            (
                "a miss last resets the current run",
                vec![
                    kept("2026-05-25"),
                    kept("2026-06-01"),
                    refused("2026-06-08"),
                ],
                ft(3, 2, 2, 2, 0),
                Some(66),
            ),
            (
                "the longest run survives a later miss",
                vec![
                    kept("2026-05-04"),
                    kept("2026-05-11"),
                    kept("2026-05-18"),
                    refused("2026-05-25"),
                    kept("2026-06-01"),
                ],
                ft(5, 4, 4, 3, 1),
                Some(80),
            ),
            (
                "due today, not marked: neither counts nor breaks the run",
                vec![kept("2026-06-01"), kept("2026-06-08"), lapsed("2026-06-15")],
                ft(2, 2, 2, 2, 2),
                Some(100),
            ),
            (
                "in grace, not marked",
                vec![kept("2026-06-01"), lapsed("2026-06-13")],
                ft(1, 1, 1, 1, 1),
                Some(100),
            ),
            (
                "awaiting confirmation between kept ones",
                vec![
                    kept("2026-05-25"),
                    occ("2026-06-01", Some("2026-06-01"), None),
                    kept("2026-06-08"),
                ],
                ft(2, 2, 2, 2, 2),
                Some(100),
            ),
            (
                "awaiting confirmation after a miss",
                vec![
                    kept("2026-05-25"),
                    refused("2026-06-01"),
                    occ("2026-06-08", Some("2026-06-08"), None),
                ],
                ft(2, 1, 1, 1, 0),
                Some(50),
            ),
            (
                "confirmed early counts before its due date",
                vec![
                    kept("2026-06-08"),
                    occ("2026-06-22", Some("2026-06-12"), Some((true, "2026-06-14"))),
                ],
                ft(2, 2, 2, 2, 2),
                Some(100),
            ),
            (
                "refused early counts too",
                vec![
                    kept("2026-06-08"),
                    occ("2026-06-22", None, Some((false, "2026-06-14"))),
                ],
                ft(2, 1, 1, 1, 0),
                Some(50),
            ),
            (
                "late but kept: kept, not on time",
                vec![
                    kept_late("2026-06-01", "2026-06-02"),
                    kept("2026-06-08"),
                    kept_late("2026-06-10", "2026-06-12"),
                ],
                ft(3, 3, 1, 3, 3),
                Some(100),
            ),
            (
                "kept after a late confirmation rescues the run",
                vec![
                    kept("2026-05-25"),
                    occ("2026-06-01", None, Some((true, "2026-06-14"))),
                ],
                ft(2, 2, 1, 2, 2),
                Some(100),
            ),
            (
                "never marked: the confirmation's date decides on-time",
                vec![
                    occ("2026-06-01", None, Some((true, "2026-06-01"))),
                    occ("2026-06-08", None, Some((true, "2026-06-09"))),
                ],
                ft(2, 2, 1, 2, 2),
                Some(100),
            ),
            (
                "marked on time, confirmed later: on time",
                vec![occ(
                    "2026-06-01",
                    Some("2026-05-31"),
                    Some((true, "2026-06-05")),
                )],
                ft(1, 1, 1, 1, 1),
                Some(100),
            ),
            (
                "one of three",
                vec![
                    refused("2026-06-01"),
                    kept("2026-06-05"),
                    refused("2026-06-08"),
                ],
                ft(3, 1, 1, 1, 0),
                Some(33),
            ),
            (
                "all missed",
                vec![lapsed("2026-06-01"), refused("2026-06-08")],
                ft(2, 0, 0, 0, 0),
                Some(0),
            ),
        ];
        for (name, occurrences, want, rate) in table {
            check(name, occurrences, *want, *rate);
        }
    }

    #[test]
    fn rates() {
        fn check(part: u32, whole: u32, want: Option<u8>) {
            let f = ft(whole, part, 0, 0, 0);
            assert_eq!(f.rate(), want, "rate {part}/{whole}");
            let f = ft(0, whole, part, 0, 0);
            assert_eq!(f.on_time_rate(), want, "on time {part}/{whole}");
        }
        let table = [
            (0, 0, None),
            (0, 1, Some(0)),
            (1, 1, Some(100)),
            (1, 2, Some(50)),
            (1, 3, Some(33)),
            (2, 3, Some(66)),
            (5, 6, Some(83)),
            (199, 200, Some(99)),
            (999, 1000, Some(99)),
            (1, 200, Some(0)),
            (u32::MAX, u32::MAX, Some(100)),
            (u32::MAX - 1, u32::MAX, Some(99)),
            // Inconsistent input (a hand-built total) never shows more than 100%.
            (5, 4, Some(100)),
        ];
        for (part, whole, want) in table {
            check(part, whole, want);
        }
    }

    #[test]
    fn adding() {
        fn check(a: FollowThrough, b: FollowThrough, want: FollowThrough) {
            assert_eq!(a.add(b), want, "{a:?} + {b:?}");
            assert_eq!(b.add(a), want, "{b:?} + {a:?}");
            assert_eq!(a + b, want, "{a:?} + {b:?} via Add");
            assert_eq!([a, b].into_iter().sum::<FollowThrough>(), want);
        }
        let table = [
            (ft(0, 0, 0, 0, 0), ft(0, 0, 0, 0, 0), ft(0, 0, 0, 0, 0)),
            (ft(4, 3, 2, 2, 1), ft(0, 0, 0, 0, 0), ft(4, 3, 2, 2, 1)),
            (ft(4, 3, 2, 2, 1), ft(2, 2, 2, 2, 2), ft(6, 5, 4, 2, 2)),
            (ft(10, 9, 9, 7, 0), ft(3, 1, 0, 1, 1), ft(13, 10, 9, 7, 1)),
            (
                ft(u32::MAX, 1, 1, 1, 1),
                ft(1, 1, 1, 1, 1),
                ft(u32::MAX, 2, 2, 1, 1),
            ),
        ];
        for (a, b, want) in table {
            check(a, b, want);
        }
        assert_eq!(ft(6, 5, 4, 2, 2).rate(), Some(83));
        assert_eq!(ft(6, 5, 4, 2, 2).on_time_rate(), Some(80));
        assert_eq!(
            std::iter::empty::<FollowThrough>().sum::<FollowThrough>(),
            FollowThrough::default()
        );
    }

    #[test]
    fn start_small_advice() {
        let advice = |n: usize| {
            format!(
                "You already hold {n} open commitments. Trust grows from promises kept: \
                 consider finishing some before adding more."
            )
        };
        let table = [
            (0, None),
            (1, None),
            (2, None),
            (3, Some(advice(3))),
            (4, Some(advice(4))),
            (40, Some(advice(40))),
        ];
        for (open, want) in table {
            assert_eq!(start_small(open), want, "{open}");
        }
        assert_eq!(
            start_small(3).as_deref(),
            Some(
                "You already hold 3 open commitments. Trust grows from promises kept: \
                 consider finishing some before adding more."
            )
        );
    }

    #[test]
    fn openness() {
        fn check(name: &str, occurrences: &[Occurrence], want: bool) {
            assert_eq!(is_open(occurrences, today()), want, "{name}");
        }
        let table: &[(&str, Vec<Occurrence>, bool)] = &[
            ("nothing to do", vec![], false),
            (
                "all kept",
                vec![kept("2026-06-01"), kept("2026-06-08")],
                false,
            ),
            (
                "kept and missed",
                vec![kept("2026-06-01"), lapsed("2026-06-08")],
                false,
            ),
            (
                "one upcoming",
                vec![kept("2026-06-08"), lapsed("2026-06-22")],
                true,
            ),
            ("due today", vec![lapsed("2026-06-15")], true),
            ("in grace", vec![lapsed("2026-06-13")], true),
            (
                "awaiting confirmation",
                vec![occ("2026-06-01", Some("2026-06-01"), None)],
                true,
            ),
            (
                "confirmed early",
                vec![occ("2026-06-22", None, Some((true, "2026-06-14")))],
                false,
            ),
        ];
        for (name, occurrences, want) in table {
            check(name, occurrences, *want);
        }
    }

    #[test]
    fn misses() {
        fn check(name: &str, occurrences: &[Occurrence], want: &[&str]) {
            let got: Vec<String> = missed(occurrences, today()).into_iter().map(iso).collect();
            assert_eq!(got, want, "{name}");
        }
        let table: &[(&str, Vec<Occurrence>, &[&str])] = &[
            ("nothing", vec![], &[]),
            (
                "all kept",
                vec![kept("2026-06-01"), kept("2026-06-08")],
                &[],
            ),
            ("in grace", vec![lapsed("2026-06-13")], &[]),
            (
                "awaiting confirmation",
                vec![occ("2026-06-01", Some("2026-06-01"), None)],
                &[],
            ),
            ("past grace", vec![lapsed("2026-06-12")], &["2026-06-12"]),
            ("refused", vec![refused("2026-06-14")], &["2026-06-14"]),
            (
                "refused early",
                vec![occ("2026-06-22", None, Some((false, "2026-06-15")))],
                &["2026-06-22"],
            ),
            (
                "in due order",
                vec![
                    lapsed("2026-06-08"),
                    kept("2026-06-05"),
                    refused("2026-06-01"),
                    lapsed("2026-06-20"),
                ],
                &["2026-06-01", "2026-06-08"],
            ),
            (
                "a late confirmation takes it back",
                vec![occ("2026-06-01", None, Some((true, "2026-06-14")))],
                &[],
            ),
        ];
        for (name, occurrences, want) in table {
            check(name, occurrences, want);
        }
    }
}
