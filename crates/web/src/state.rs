//! What every handler shares: the store, settings, the clock and the login limiter.

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use governor::{DefaultKeyedRateLimiter, Quota};
use kintsugi_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The address people reach Kintsugi at, used in invitation and setup links.
    pub public_url: String,
    /// Marks cookies `Secure`; on whenever `public_url` is https.
    pub secure_cookies: bool,
    /// Login attempts allowed per minute for one email address, and 3× that per client address.
    pub login_attempts_per_minute: u32,
    /// Whether local password login is offered.
    pub local_login: bool,
    /// Where round keys live: the data directory's key store, never the database.
    pub key_dir: std::path::PathBuf,
    /// Single sign-on through an OpenID provider, when set up.
    pub oidc: Option<crate::oidc::OidcSettings>,
    /// Outgoing email; none when no SMTP server is configured (nothing is emailed then).
    pub mail: Option<crate::email::MailConfig>,
    /// The job queue's timing: retries, leases, reminder scans, notice batching.
    pub jobs: crate::jobs::JobSettings,
    /// Development builds only (the binary refuses it otherwise): the file the clock reads
    /// its shift from. See [`DevClock`].
    pub dev_clock: Option<std::path::PathBuf>,
}

impl WebConfig {
    pub fn new(public_url: impl Into<String>) -> Self {
        let public_url = public_url.into().trim_end_matches('/').to_owned();
        Self {
            secure_cookies: public_url.starts_with("https://"),
            public_url,
            login_attempts_per_minute: 10,
            local_login: true,
            key_dir: std::path::PathBuf::from("./kintsugi-data/keys"),
            oidc: None,
            mail: None,
            jobs: crate::jobs::JobSettings::default(),
            dev_clock: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    batcher: crate::anon::Batcher,
    config: WebConfig,
    login_by_email: DefaultKeyedRateLimiter<String>,
    login_by_client: DefaultKeyedRateLimiter<String>,
    dev_clock: Option<DevClock>,
    oidc: Option<crate::oidc::Oidc>,
    snapshots: crate::repairs::Snapshots,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: WebConfig) -> Self {
        let per_minute =
            NonZeroU32::new(config.login_attempts_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_client = per_minute.saturating_mul(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN));
        Self(Arc::new(Inner {
            batcher: crate::anon::Batcher::start(store.clone()),
            store,
            login_by_email: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)),
            login_by_client: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_client)),
            dev_clock: config.dev_clock.as_deref().map(DevClock::new),
            oidc: config.oidc.clone().map(crate::oidc::Oidc::new),
            snapshots: crate::repairs::Snapshots::new(),
            config,
        }))
    }

    pub fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    pub fn snapshots(&self) -> &crate::repairs::Snapshots {
        &self.0.snapshots
    }

    pub fn batcher(&self) -> &crate::anon::Batcher {
        &self.0.batcher
    }

    pub fn keys(&self) -> crate::anon::KeyStore {
        crate::anon::KeyStore::new(&self.0.config.key_dir)
    }

    pub fn config(&self) -> &WebConfig {
        &self.0.config
    }

    /// The one clock. Whole seconds, as stored. On a development clock, shifted or fixed.
    /// The identity provider for single sign-on, when one is set up.
    pub fn oidc(&self) -> Option<&crate::oidc::Oidc> {
        self.0.oidc.as_ref()
    }

    /// The one clock. Whole seconds, as stored.
    pub fn now(&self) -> OffsetDateTime {
        let real = OffsetDateTime::now_utc();
        let now = match &self.0.dev_clock {
            Some(clock) => clock.reading().apply(real),
            None => real,
        };
        now.replace_nanosecond(0).unwrap_or(now)
    }

    /// Whether time comes from a development clock (then the background sweep runs often).
    pub fn on_dev_clock(&self) -> bool {
        self.0.dev_clock.is_some()
    }

    /// The one id generator.
    pub fn new_id(&self) -> Uuid {
        Uuid::new_v4()
    }

    /// False when this email or this client has tried to log in too often.
    pub fn allow_login_attempt(&self, email: &str, client: &str) -> bool {
        let by_email = self.0.login_by_email.check_key(&email.to_owned()).is_ok();
        let by_client = self.0.login_by_client.check_key(&client.to_owned()).is_ok();
        by_email && by_client
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0.config.public_url)
    }
}

/// The Prometheus recorder is process-wide, so it is installed once.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a test process with several servers).
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
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
    file: std::path::PathBuf,
    last: std::sync::Mutex<(String, ClockReading)>,
}

impl DevClock {
    pub fn new(file: &std::path::Path) -> Self {
        Self {
            file: file.to_owned(),
            last: std::sync::Mutex::new((String::new(), ClockReading::Shift(time::Duration::ZERO))),
        }
    }

    /// What the binary checks at start-up: the file reads and parses.
    pub fn check(file: &std::path::Path) -> Result<(), String> {
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
