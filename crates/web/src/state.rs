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
    oidc: Option<crate::oidc::Oidc>,
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
            oidc: config.oidc.clone().map(crate::oidc::Oidc::new),
            config,
        }))
    }

    pub fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
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

    /// The identity provider for single sign-on, when one is set up.
    pub fn oidc(&self) -> Option<&crate::oidc::Oidc> {
        self.0.oidc.as_ref()
    }

    /// The one clock. Whole seconds, as stored.
    pub fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(0).unwrap_or(now)
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
