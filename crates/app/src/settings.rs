//! The application's settings, as the binary read them (defaults, TOML, environment, flags).
//! Plain data: every service reads them through [`crate::Ctx::settings`].

use std::path::PathBuf;

use kintsugi_core::notify::RetryPolicy;
use serde::{Deserialize, Serialize};
use time::Duration;
use uuid::Uuid;

/// The application's settings, as the binary read them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address people reach Kintsugi at, used in links (no trailing slash).
    pub public_url: String,
    /// Login attempts allowed per minute for one email address, and 3× that per client address.
    pub login_attempts_per_minute: u32,
    /// Whether local password login is offered.
    pub local_login: bool,
    /// Where round keys lived before they moved into the database, sealed: files found there
    /// are imported at start-up and removed ([`crate::keys::import_key_files`]).
    pub key_dir: PathBuf,
    /// Seals the round keys in the database ([`crate::keys`]); servers sharing a database
    /// share it.
    pub key_encryption_key: Kek,
    /// The bearer token `/metrics` asks for; none: `/metrics` is off.
    pub metrics_token: Option<String>,
    /// Single sign-on through an OpenID provider, when set up.
    pub oidc: Option<OidcSettings>,
    /// Outgoing email; none when no SMTP server is configured (nothing is emailed then).
    pub mail: Option<MailConfig>,
    /// The job queue's timing: retries, leases, reminder scans, notice batching.
    pub jobs: JobSettings,
    /// When anonymous answers are sealed: see [`crate::rounds::mixer`].
    pub mixing: MixSettings,
    /// Refuse `/anon` requests that did not arrive through the Oblivious HTTP gateway.
    pub require_ohttp: bool,
    /// Development builds only (the binary refuses it otherwise): the file the clock reads
    /// its shift from. See [`crate::clock::DevClock`].
    pub dev_clock: Option<PathBuf>,
}

impl Settings {
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            login_attempts_per_minute: 10,
            local_login: true,
            key_dir: PathBuf::from("./kintsugi-data/keys"),
            key_encryption_key: Kek::random(),
            metrics_token: None,
            oidc: None,
            mail: None,
            jobs: JobSettings::default(),
            mixing: MixSettings::default(),
            require_ohttp: false,
            dev_clock: None,
        }
    }
}

/// When anonymous answers are sealed.
#[derive(Debug, Clone)]
pub struct MixSettings {
    /// The mean epoch; each one is drawn between half and one and a half times it.
    pub epoch: std::time::Duration,
    /// The fewest answers to a round sealed together; none: the round's k.
    pub min_batch: Option<usize>,
}

impl Default for MixSettings {
    fn default() -> Self {
        Self {
            epoch: std::time::Duration::from_secs(300),
            min_batch: None,
        }
    }
}

/// The key-encryption key that seals the round keys in the database (see [`crate::keys`]):
/// 32 random bytes. Servers that share a database must share it. Never printed.
#[derive(Clone)]
pub struct Kek([u8; 32]);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(…)")
    }
}

impl Kek {
    /// A fresh random key.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// Reads the key as [`Kek::to_base64`] writes it (and `openssl rand -base64 32` prints it).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "must be 32 bytes in base64 (e.g. from `openssl rand -base64 32`)")?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "must be 32 bytes in base64 (e.g. from `openssl rand -base64 32`); this is {} bytes",
                b.len()
            )
        })?;
        Ok(Self(bytes))
    }

    pub fn to_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain SMTP: only for a relay on the same host or network.
    None,
    /// Plain connection upgraded with STARTTLS (usually port 587); refuses servers without it.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The From address, e.g. `Kintsugi <kintsugi@example.org>`.
    pub from: String,
}

/// The queue's timing. The defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub retry: RetryPolicy,
    /// How long a claimed job is a worker's; after that another worker may take it.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs.
    pub poll: std::time::Duration,
    /// Jobs claimed at once by one worker.
    pub batch: u32,
    /// How often the reminders are looked for (a periodic job).
    pub scan_every: Duration,
    /// Round and pulse notices go out at the next multiple of this, so their timing says nothing.
    pub notice_slot: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            lease: Duration::minutes(5),
            poll: std::time::Duration::from_secs(1),
            batch: 8,
            scan_every: Duration::minutes(10),
            notice_slot: Duration::hours(1),
        }
    }
}

/// The identity provider and how its claims map to people here.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// Shown on the button: "Sign in with <display_name>".
    pub display_name: String,
    pub email_claim: String,
    pub name_claim: String,
    /// A claim holding a list of group names; a group that names a team adds the person to it.
    pub groups_claim: Option<String>,
    /// Where people nobody invited are created. Without it, the one organisation there is.
    pub organisation: Option<Uuid>,
}

impl OidcSettings {
    /// The issuer must be https, except on a loopback address (development and tests).
    /// The error says why; the caller names the setting.
    pub fn check_issuer(issuer: &str) -> Result<(), String> {
        let url = url::Url::parse(issuer).map_err(|e| format!("not a URL ({e})"))?;
        match url.scheme() {
            "https" => Ok(()),
            "http" if is_loopback(&url) => Ok(()),
            "http" => {
                Err("must be https (plain http is allowed only on a loopback address)".into())
            }
            other => Err(format!("must be https, not {other}")),
        }
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_must_be_https_outside_loopback() {
        for ok in [
            "https://id.example.com",
            "http://127.0.0.1:4000",
            "http://[::1]:4000/",
            "http://localhost:8080/realms/x",
        ] {
            assert_eq!(OidcSettings::check_issuer(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://id.example.com",
            "http://10.0.0.1",
            "ftp://x",
            "nope",
        ] {
            assert!(OidcSettings::check_issuer(bad).is_err(), "{bad}");
        }
    }
}
