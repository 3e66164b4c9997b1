//! The one clock and the one id source. Nothing else reads the system clock or makes a
//! random id (`clippy.toml` bans both elsewhere).

use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use uuid::Uuid;

/// The one id generator: random (v4) UUIDs, so an id says nothing about when or by whom.
#[allow(clippy::disallowed_methods, reason = "the one id source")]
pub fn new_id() -> Uuid {
    Uuid::new_v4()
}

/// The system clock, read here only.
#[allow(clippy::disallowed_methods, reason = "the one clock")]
fn system_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The one clock: the system's, or in development builds a shifted or fixed one.
pub struct Clock {
    dev: Option<DevClock>,
}

impl Clock {
    pub fn new(dev_clock: Option<&Path>) -> Self {
        Self {
            dev: dev_clock.map(DevClock::new),
        }
    }

    /// The real clock, for what must not follow a development clock (the binary's own
    /// start-up, and how often the sweep runs while time jumps).
    pub fn system() -> OffsetDateTime {
        system_now()
    }

    /// Whole seconds, as stored.
    pub fn now(&self) -> OffsetDateTime {
        let real = system_now();
        let now = match &self.dev {
            Some(clock) => clock.reading().apply(real),
            None => real,
        };
        now.replace_nanosecond(0).unwrap_or(now)
    }

    pub fn is_dev(&self) -> bool {
        self.dev.is_some()
    }
}

/// What a development clock file says: shift the real clock, or stand still at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockReading {
    Shift(time::Duration),
    At(OffsetDateTime),
}

impl ClockReading {
    /// `0`, a signed shift such as `+14d`, `-3h`, `+90m`, `+30s` or `+2w` (several may follow
    /// each other: `+6w 3d`), or an RFC 3339 time such as `2027-03-01T09:00:00Z`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(at) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        {
            return Ok(Self::At(at));
        }
        let bad = || {
            format!(
                "{text:?} is neither a shift like +14d, -3h, +90m, +30s, +2w (or 0) nor an RFC 3339 time"
            )
        };
        let (sign, rest) = match text.as_bytes().first() {
            Some(b'-') => (-1, &text[1..]),
            Some(b'+') => (1, &text[1..]),
            _ => (1, text),
        };
        if rest == "0" {
            return Ok(Self::Shift(time::Duration::ZERO));
        }
        let mut total = time::Duration::ZERO;
        let mut seen = false;
        for part in rest.split_whitespace() {
            let (number, unit) = part.split_at(part.len().saturating_sub(1));
            let n: i64 = number.parse().map_err(|_| bad())?;
            let seconds = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                "w" => 7 * 86_400,
                _ => return Err(bad()),
            };
            total = total
                .checked_add(time::Duration::seconds(
                    n.checked_mul(seconds).ok_or_else(bad)?,
                ))
                .ok_or_else(bad)?;
            seen = true;
        }
        if !seen {
            return Err(bad());
        }
        Ok(Self::Shift(total * sign))
    }

    pub fn apply(self, real: OffsetDateTime) -> OffsetDateTime {
        match self {
            Self::Shift(by) => real.checked_add(by).unwrap_or(real),
            Self::At(at) => at,
        }
    }
}

/// The development clock: a file re-read whenever its content changes, so a test (or a
/// person trying the app) moves time by writing to it. A file that cannot be read or parsed
/// keeps the last good reading and is reported once.
pub struct DevClock {
    file: PathBuf,
    last: std::sync::Mutex<(String, ClockReading)>,
}

impl DevClock {
    pub fn new(file: &Path) -> Self {
        Self {
            file: file.to_owned(),
            last: std::sync::Mutex::new((String::new(), ClockReading::Shift(time::Duration::ZERO))),
        }
    }

    /// What the binary checks at start-up: the file reads and parses.
    pub fn check(file: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        ClockReading::parse(&text).map(|_| ())
    }

    pub fn reading(&self) -> ClockReading {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match std::fs::read_to_string(&self.file) {
            Ok(text) if text != last.0 => match ClockReading::parse(&text) {
                Ok(reading) => *last = (text, reading),
                Err(why) => {
                    tracing::warn!(%why, "the development clock file is not understood; keeping the last reading");
                    last.0 = text;
                }
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the development clock file"),
        }
        last.1
    }
}

#[cfg(test)]
mod tests {
    use super::ClockReading;
    use time::Duration;
    use time::macros::datetime;

    #[test]
    fn clock_file_contents() {
        let table: &[(&str, Result<ClockReading, ()>)] = &[
            ("0", Ok(ClockReading::Shift(Duration::ZERO))),
            ("+0", Ok(ClockReading::Shift(Duration::ZERO))),
            ("+14d", Ok(ClockReading::Shift(Duration::days(14)))),
            ("14d\n", Ok(ClockReading::Shift(Duration::days(14)))),
            ("-3h", Ok(ClockReading::Shift(Duration::hours(-3)))),
            ("+90m", Ok(ClockReading::Shift(Duration::minutes(90)))),
            ("+30s", Ok(ClockReading::Shift(Duration::seconds(30)))),
            ("+2w", Ok(ClockReading::Shift(Duration::days(14)))),
            ("+6w 3d", Ok(ClockReading::Shift(Duration::days(45)))),
            ("-1w 1d", Ok(ClockReading::Shift(Duration::days(-8)))),
            (
                "2027-03-01T09:00:00Z",
                Ok(ClockReading::At(datetime!(2027-03-01 09:00 UTC))),
            ),
            ("", Err(())),
            ("+", Err(())),
            ("14", Err(())),
            ("+14x", Err(())),
            ("next tuesday", Err(())),
            ("+99999999999999w", Err(())),
        ];
        for (text, want) in table {
            assert_eq!(ClockReading::parse(text).map_err(|_| ()), *want, "{text:?}");
        }
    }

    #[test]
    fn a_reading_moves_or_fixes_the_real_time() {
        let real = datetime!(2026-11-27 10:00 UTC);
        assert_eq!(
            ClockReading::Shift(Duration::days(14)).apply(real),
            datetime!(2026-12-11 10:00 UTC)
        );
        assert_eq!(
            ClockReading::At(datetime!(2027-01-01 00:00 UTC)).apply(real),
            datetime!(2027-01-01 00:00 UTC)
        );
    }
}
