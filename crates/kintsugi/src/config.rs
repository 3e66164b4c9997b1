//! Settings, layered: defaults, then a TOML file, then `KINTSUGI_*` variables, then flags.
//! A bad value is reported with its key, its value and where it came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite database, the lock file and (unless `key_encryption_key` is set) the
    /// key-encryption key live. Created 0700; the server refuses a directory others can read.
    pub data_dir: PathBuf,
    /// Seals the round keys in the database: 32 bytes in base64 (`openssl rand -base64 32`).
    /// Unset: a random key in `DATA_DIR/key-encryption-key`, made at first start. Servers that
    /// share a database must all have the same one. Prefer `KINTSUGI_KEY_ENCRYPTION_KEY`.
    pub key_encryption_key: Option<String>,
    /// `sqlite://PATH` or `postgres://…`; by default SQLite in the data directory.
    pub database_url: Option<String>,
    /// The address people use, for links in invitations; by default `http://LISTEN`.
    pub public_url: Option<String>,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `kintsugi=debug`. Whatever it says, the HTTP and
    /// database libraries never log below warnings, and SQL statements are never logged.
    pub log_level: String,
    /// The bearer token Prometheus sends to `/metrics` (at least 16 characters); unset,
    /// `/metrics` is off (404). Prefer `KINTSUGI_METRICS_TOKEN` to the TOML file.
    pub metrics_token: Option<String>,
    /// Failed logins one email address may have before each further failure makes the next
    /// attempt wait: a second, doubling per failure up to `login_backoff_cap_seconds` (the right
    /// password works once the wait is over). A client address gets three times as many.
    pub login_free_failures: u32,
    /// The longest wait the login back-off imposes, in seconds.
    pub login_backoff_cap_seconds: u32,
    /// The reverse proxies in front of Kintsugi (addresses or blocks such as `10.0.0.0/8`; in
    /// the environment, separated by commas). A request from one of them is taken to come from
    /// the right-most `X-Forwarded-For` address that is not a trusted proxy; any other request
    /// from its TCP peer, whatever it sends. Used only for the login back-off.
    #[serde(deserialize_with = "list_or_text")]
    pub trusted_proxies: Vec<String>,
    /// Offer the demo organisation.
    pub demo: bool,
    /// Offer password login. Off, people sign in only through the identity provider.
    pub local_login: bool,
    /// Take anonymous requests (`/anon`) only through the Oblivious HTTP gateway
    /// (`/ohttp/gateway`, reached through a relay); direct ones are refused with 403.
    pub require_ohttp: bool,
    /// Single sign-on: the OpenID provider's issuer URL (https, or http on loopback).
    pub oidc_issuer: Option<String>,
    /// The client id Kintsugi is registered under at the provider.
    pub oidc_client_id: Option<String>,
    /// The client secret; prefer `KINTSUGI_OIDC_CLIENT_SECRET` to the TOML file.
    pub oidc_client_secret: Option<String>,
    /// Scopes asked for, space-separated (`openid` is always asked for).
    pub oidc_scopes: String,
    /// The provider's name on the login button: "Sign in with NAME".
    pub oidc_name: String,
    /// The claim that holds a person's email.
    pub oidc_email_claim: String,
    /// The claim that holds a person's name.
    pub oidc_name_claim: String,
    /// The claim that holds a person's groups; a group that names a team adds them to it.
    pub oidc_groups_claim: Option<String>,
    /// The organisation (id) where people nobody invited are created at their first sign-in.
    /// Without it, the only organisation (the demo aside); with several, only invited people.
    pub oidc_organisation: Option<uuid::Uuid>,
    /// The SMTP server for outgoing email; no email is sent without one.
    pub smtp_host: Option<String>,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub smtp_port: Option<u16>,
    /// `starttls`, `tls` or `none` (plain: only for a relay on this host or network).
    pub smtp_tls: kintsugi_app::settings::MailTls,
    /// The SMTP account's name, when the server wants one (use TLS then).
    pub smtp_username: Option<String>,
    /// The SMTP account's password; prefer `KINTSUGI_SMTP_PASSWORD` to the TOML file.
    pub smtp_password: Option<String>,
    /// The From address, e.g. `Kintsugi <kintsugi@example.org>`; required with `smtp_host`.
    pub mail_from: Option<String>,
    /// First wait before a failed job is tried again; it doubles each time.
    pub job_retry_base_seconds: u32,
    /// Longest wait between two attempts.
    pub job_retry_cap_seconds: u32,
    /// Attempts before a job goes to the dead letters.
    pub job_max_attempts: u32,
    /// How long a worker holds a claimed job before another may take it over.
    pub job_lease_seconds: u32,
    /// How often idle workers look for due jobs, in milliseconds.
    pub job_poll_millis: u32,
    /// How often reminders are looked for.
    pub reminder_scan_seconds: u32,
    /// Round notices go out at multiples of this, so their timing says nothing.
    pub notice_batch_seconds: u32,
    /// Anonymous answers wait in memory and are sealed together at the end of an epoch of
    /// about this many seconds (each epoch drawn between half and one and a half times it).
    pub anon_epoch_seconds: u32,
    /// The fewest answers to a round sealed together; fewer wait for the next epoch, and the
    /// round's close seals what is left. By default the round's k (at least 2 when set).
    pub anon_min_batch: Option<u32>,
    /// Development builds only: a file holding the clock's shift (`+14d`, `-3h`, `0`) or a
    /// fixed RFC 3339 time. It is re-read when it changes; release builds refuse to start.
    pub dev_clock: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./kintsugi-data"),
            key_encryption_key: None,
            database_url: None,
            public_url: None,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            metrics_token: None,
            login_free_failures: 5,
            login_backoff_cap_seconds: 900,
            trusted_proxies: Vec::new(),
            demo: false,
            local_login: true,
            require_ohttp: false,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scopes: "openid email profile".into(),
            oidc_name: "single sign-on".into(),
            oidc_email_claim: "email".into(),
            oidc_name_claim: "name".into(),
            oidc_groups_claim: None,
            oidc_organisation: None,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: kintsugi_app::settings::MailTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            mail_from: None,
            job_retry_base_seconds: 30,
            job_retry_cap_seconds: 3600,
            job_max_attempts: 8,
            job_lease_seconds: 300,
            job_poll_millis: 1000,
            reminder_scan_seconds: 600,
            notice_batch_seconds: 3600,
            anon_epoch_seconds: 300,
            anon_min_batch: None,
            dev_clock: None,
        }
    }
}

const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "key_encryption_key",
    "database_url",
    "public_url",
    "log_format",
    "log_level",
    "metrics_token",
    "login_free_failures",
    "login_backoff_cap_seconds",
    "trusted_proxies",
    "demo",
    "local_login",
    "require_ohttp",
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_scopes",
    "oidc_name",
    "oidc_email_claim",
    "oidc_name_claim",
    "oidc_groups_claim",
    "oidc_organisation",
    "smtp_host",
    "smtp_port",
    "smtp_tls",
    "smtp_username",
    "smtp_password",
    "mail_from",
    "job_retry_base_seconds",
    "job_retry_cap_seconds",
    "job_max_attempts",
    "job_lease_seconds",
    "job_poll_millis",
    "reminder_scan_seconds",
    "notice_batch_seconds",
    "anon_epoch_seconds",
    "anon_min_batch",
    "dev_clock",
];

/// Which database the settings point at. Only the binary decides this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Settings {
    /// Layers the sources. `flags` holds only the flags that were given.
    pub fn load(config_file: Option<&Path>, flags: Flags) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = config_file {
            if !file.exists() {
                bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Env::prefixed("KINTSUGI_").only(KEYS))
            .merge(flags);
        let settings: Settings = figment
            .extract()
            .map_err(|e| anyhow::anyhow!(describe(&figment, &e)))?;
        settings.database().map_err(|why| {
            let source = figment
                .find_metadata("database_url")
                .map(|m| m.name.to_string())
                .unwrap_or_else(|| "defaults".into());
            anyhow::anyhow!(
                "database_url = {:?} (from {source}): {why}",
                settings.database_url.as_deref().unwrap_or_default()
            )
        })?;
        if let Some(url) = &settings.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            let source = figment
                .find_metadata("public_url")
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            bail!("public_url = {url:?} (from {source}): must start with http:// or https://");
        }
        settings.check_oidc(&figment)?;
        settings.check_secrets(&figment)?;
        settings.check_jobs_and_mail(&figment)?;
        if let Some(file) = &settings.dev_clock {
            let source = figment
                .find_metadata("dev_clock")
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            dev_clock_allowed(cfg!(debug_assertions))
                .and_then(|()| kintsugi_app::clock::DevClock::check(file))
                .map_err(|why| {
                    anyhow::anyhow!("dev_clock = {:?} (from {source}): {why}", file.display())
                })?;
        }
        Ok(settings)
    }

    /// The key-encryption key and the metrics token, refused by name (never echoed).
    fn check_secrets(&self, figment: &Figment) -> anyhow::Result<()> {
        let source = |key: &str| {
            figment
                .find_metadata(key)
                .map(|m| m.name.to_string())
                .unwrap_or_else(|| "defaults".into())
        };
        if let Some(kek) = &self.key_encryption_key
            && let Err(why) = kintsugi_app::keys::Kek::from_base64(kek)
        {
            bail!(
                "key_encryption_key (from {}): {why}",
                source("key_encryption_key")
            );
        }
        if let Some(token) = &self.metrics_token
            && token.trim().chars().count() < 16
        {
            bail!(
                "metrics_token (from {}): must be at least 16 characters (e.g. from `openssl rand -hex 32`)",
                source("metrics_token")
            );
        }
        Ok(())
    }

    /// The key-encryption key: the setting, or the data directory's file, made (0600) at the
    /// first start without the setting.
    pub fn key_encryption_key(&self) -> anyhow::Result<kintsugi_app::keys::Kek> {
        use kintsugi_app::keys::Kek;
        if let Some(kek) = &self.key_encryption_key {
            return Kek::from_base64(kek)
                .map_err(|why| anyhow::anyhow!("key_encryption_key: {why}"));
        }
        let path = self.data_dir.join(KEK_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return Kek::from_base64(&text)
                    .map_err(|why| anyhow::anyhow!("{}: {why}", path.display()));
            }
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
            Err(_) => {}
        }
        ensure_dir(&self.data_dir)?;
        // Written whole under another name, then linked into place, which fails if another
        // process got there first: no one ever reads half a key.
        let kek = Kek::random();
        let staged = self
            .data_dir
            .join(format!(".{KEK_FILE}.{}", std::process::id()));
        write_private(&staged, kek.to_base64().as_bytes())?;
        let linked = std::fs::hard_link(&staged, &path);
        let _ = std::fs::remove_file(&staged);
        match linked {
            Ok(()) => Ok(kek),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Kek::from_base64(&text).map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))
            }
            Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }

    /// Single sign-on settings that cannot work are start-up errors naming the setting.
    fn check_oidc(&self, figment: &Figment) -> anyhow::Result<()> {
        let source = |key: &str| {
            figment
                .find_metadata(key)
                .map(|m| m.name.to_string())
                .unwrap_or_else(|| "defaults".into())
        };
        let Some(issuer) = &self.oidc_issuer else {
            if !self.local_login {
                bail!(
                    "local_login = false (from {}): set oidc_issuer too, or nobody can log in",
                    source("local_login")
                );
            }
            return Ok(());
        };
        if let Err(why) = kintsugi_app::settings::OidcSettings::check_issuer(issuer) {
            bail!(
                "oidc_issuer = {issuer:?} (from {}): {why}",
                source("oidc_issuer")
            );
        }
        if self.oidc_client_id.as_deref().unwrap_or("").is_empty() {
            bail!("oidc_client_id: required when oidc_issuer is set");
        }
        Ok(())
    }

    fn check_jobs_and_mail(&self, figment: &Figment) -> anyhow::Result<()> {
        let source = |key: &str| {
            figment
                .find_metadata(key)
                .map(|m| m.name.to_string())
                .unwrap_or_else(|| "defaults".into())
        };
        for (key, value) in [
            ("job_retry_base_seconds", self.job_retry_base_seconds),
            ("job_retry_cap_seconds", self.job_retry_cap_seconds),
            ("job_max_attempts", self.job_max_attempts),
            ("job_lease_seconds", self.job_lease_seconds),
            ("job_poll_millis", self.job_poll_millis),
            ("reminder_scan_seconds", self.reminder_scan_seconds),
            ("notice_batch_seconds", self.notice_batch_seconds),
            ("anon_epoch_seconds", self.anon_epoch_seconds),
            ("login_backoff_cap_seconds", self.login_backoff_cap_seconds),
        ] {
            if value == 0 {
                bail!("{key} = 0 (from {}): must be at least 1", source(key));
            }
        }
        for proxy in &self.trusted_proxies {
            if let Err(why) = kintsugi_app::settings::Cidr::parse(proxy) {
                bail!(
                    "trusted_proxies (from {}): {why}",
                    source("trusted_proxies")
                );
            }
        }
        if let Some(n) = self.anon_min_batch
            && !(2..=1000).contains(&n)
        {
            bail!(
                "anon_min_batch = {n} (from {}): must be between 2 and 1000; one answer alone is not mixed",
                source("anon_min_batch")
            );
        }
        if self.job_lease_seconds < 10 {
            bail!(
                "job_lease_seconds = {} (from {}): must be at least 10, longer than a job takes",
                self.job_lease_seconds,
                source("job_lease_seconds")
            );
        }
        match (&self.smtp_host, &self.mail_from) {
            (Some(host), None) if !host.is_empty() => bail!(
                "mail_from is not set: with smtp_host = {host:?} (from {}), set the From address too",
                source("smtp_host")
            ),
            (Some(host), _) if host.trim().is_empty() => bail!(
                "smtp_host = \"\" (from {}): name the SMTP server, or leave the setting out",
                source("smtp_host")
            ),
            _ => {}
        }
        if let Some(from) = &self.mail_from
            && kintsugi_app::reach::email::parse_mailbox(from).is_err()
        {
            bail!(
                "mail_from = {from:?} (from {}): must be an address such as kintsugi@example.org or \"Kintsugi <kintsugi@example.org>\"",
                source("mail_from")
            );
        }
        Ok(())
    }

    /// The web layer's view of single sign-on, when it is set up.
    pub fn oidc(&self) -> Option<kintsugi_app::settings::OidcSettings> {
        Some(kintsugi_app::settings::OidcSettings {
            issuer: self.oidc_issuer.clone()?,
            client_id: self.oidc_client_id.clone()?,
            client_secret: self.oidc_client_secret.clone().filter(|s| !s.is_empty()),
            scopes: self
                .oidc_scopes
                .split_whitespace()
                .filter(|s| *s != "openid")
                .map(str::to_owned)
                .collect(),
            display_name: self.oidc_name.clone(),
            email_claim: self.oidc_email_claim.clone(),
            name_claim: self.oidc_name_claim.clone(),
            groups_claim: self.oidc_groups_claim.clone().filter(|s| !s.is_empty()),
            organisation: self.oidc_organisation,
        })
    }

    /// Outgoing email, when an SMTP server is set.
    pub fn mail(&self) -> Option<kintsugi_app::settings::MailConfig> {
        use kintsugi_app::settings::MailTls;
        let host = self.smtp_host.clone()?;
        Some(kintsugi_app::settings::MailConfig {
            port: self.smtp_port.unwrap_or(match self.smtp_tls {
                MailTls::Starttls => 587,
                MailTls::Tls => 465,
                MailTls::None => 25,
            }),
            host,
            tls: self.smtp_tls,
            username: self.smtp_username.clone(),
            password: self.smtp_password.clone(),
            from: self.mail_from.clone().unwrap_or_default(),
        })
    }

    /// Refuses an SMTP host that does not resolve, naming the setting: better at start-up
    /// than as a dead letter days later.
    pub async fn check_smtp_host(&self) -> anyhow::Result<()> {
        let Some(mail) = self.mail() else {
            return Ok(());
        };
        match tokio::net::lookup_host((mail.host.as_str(), mail.port))
            .await
            .map(|addrs| addrs.count())
        {
            Ok(0) => bail!(
                "smtp_host = {:?}: the name resolves to no address",
                mail.host
            ),
            Ok(_) => Ok(()),
            Err(e) => bail!(
                "smtp_host = {:?}: the name does not resolve ({e})",
                mail.host
            ),
        }
    }

    pub fn jobs(&self) -> kintsugi_app::settings::JobSettings {
        let secs = |s: u32| time::Duration::seconds(i64::from(s));
        kintsugi_app::settings::JobSettings {
            retry: kintsugi_core::notify::RetryPolicy {
                base: secs(self.job_retry_base_seconds),
                cap: secs(self.job_retry_cap_seconds.max(self.job_retry_base_seconds)),
                max_attempts: self.job_max_attempts,
            },
            lease: secs(self.job_lease_seconds),
            poll: std::time::Duration::from_millis(u64::from(self.job_poll_millis)),
            scan_every: secs(self.reminder_scan_seconds),
            notice_slot: secs(self.notice_batch_seconds),
            ..kintsugi_app::settings::JobSettings::default()
        }
    }

    /// The application's settings, for a server reached at `public_url`.
    pub fn app(&self, public_url: &str) -> kintsugi_app::Settings {
        kintsugi_app::Settings {
            login_free_failures: self.login_free_failures,
            login_backoff_cap: std::time::Duration::from_secs(u64::from(
                self.login_backoff_cap_seconds,
            )),
            trusted_proxies: self
                .trusted_proxies
                .iter()
                .filter_map(|c| kintsugi_app::settings::Cidr::parse(c).ok())
                .collect(),
            local_login: self.local_login,
            require_ohttp: self.require_ohttp,
            key_dir: self.data_dir.join("keys"),
            metrics_token: self.metrics_token.clone().map(|t| t.trim().to_owned()),
            oidc: self.oidc(),
            mail: self.mail(),
            jobs: self.jobs(),
            mixing: kintsugi_app::settings::MixSettings {
                epoch: std::time::Duration::from_secs(u64::from(self.anon_epoch_seconds)),
                min_batch: self.anon_min_batch.map(|n| n as usize),
            },
            dev_clock: self.dev_clock.clone(),
            ..kintsugi_app::Settings::new(public_url)
        }
    }

    pub fn database(&self) -> Result<Database, String> {
        match self.database_url.as_deref() {
            None | Some("") => Ok(Database::Sqlite(self.data_dir.join("kintsugi.db"))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Database::Postgres(url.to_owned()))
            }
            Some(url) => match url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                Some(path) if !path.is_empty() => Ok(Database::Sqlite(PathBuf::from(path))),
                _ => Err("must be sqlite://PATH or postgres://…".into()),
            },
        }
    }
}

/// Whether this build may run on a development clock. Only development builds (debug
/// assertions on) may: a release build serving real people must never be told what time it
/// is, since the clock opens and closes pulses and decides the recovery gate.
pub fn dev_clock_allowed(development_build: bool) -> Result<(), String> {
    if development_build {
        Ok(())
    } else {
        Err("a development clock is accepted only by development builds; this is a release build, so remove the setting".into())
    }
}

/// Figment's error, with each problem's key, value and source on its own line.
fn describe(figment: &Figment, e: &figment::Error) -> String {
    e.clone()
        .into_iter()
        .map(|err| {
            let key = err.path.join(".");
            let value = figment
                .find_value(&key)
                .ok()
                .map(|v| match v.as_str() {
                    Some(s) => format!(" = {s:?}"),
                    None => format!(" = {}", serde_json::to_string(&v).unwrap_or_default()),
                })
                .unwrap_or_default();
            let source = err
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_else(|| "defaults".into());
            let place = err
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            format!(
                "invalid setting `{key}`{value} (from {source}{place}): {}",
                err.kind
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads the config file path the way every other setting is read: flag, then environment.
pub fn config_file(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| std::env::var_os("KINTSUGI_CONFIG").map(PathBuf::from))
}

/// The flags that were given, as the last and strongest layer.
pub struct Flags(serde_json::Map<String, serde_json::Value>);

pub fn flags(pairs: Vec<(&str, Option<serde_json::Value>)>) -> Flags {
    Flags(
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
    )
}

impl figment::Provider for Flags {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("command-line flags")
    }
    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Serialized::globals(&self.0).data()
    }
}

/// The configuration reference in docs/operating.md, generated from `Settings` itself: its
/// fields' doc comments, their `KINTSUGI_*` variables and their defaults. A test checks the
/// committed document contains exactly this.
pub fn reference() -> String {
    let source = include_str!("config.rs");
    let body = source
        .split("pub struct Settings {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .unwrap_or_default();
    let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
    let mut out = String::from(
        "<!-- Generated by `kintsugi config reference` from crates/kintsugi/src/config.rs; a test checks it. -->\n\
         | Setting (TOML key) | Environment variable | Default | Meaning |\n|---|---|---|---|\n",
    );
    let mut doc = Vec::new();
    for line in body.lines().map(str::trim) {
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.trim().to_owned());
        } else if let Some(field) = line.strip_prefix("pub ") {
            let key = field.split(':').next().unwrap_or_default().trim();
            let default = match &defaults[key] {
                serde_json::Value::Null => "none".to_owned(),
                serde_json::Value::String(s) => format!("`{s}`"),
                v => format!("`{v}`"),
            };
            out.push_str(&format!(
                "| `{key}` | `KINTSUGI_{}` | {default} | {} |\n",
                key.to_uppercase(),
                doc.join(" ").replace('|', "\\|")
            ));
            doc.clear();
        }
    }
    out
}

/// A list in TOML; in the environment, a string of items separated by commas.
fn list_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    Ok(match ListOrText::deserialize(d)? {
        ListOrText::List(items) => items,
        ListOrText::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Where the key-encryption key is kept when the setting is not given.
pub const KEK_FILE: &str = "key-encryption-key";

/// Creates the data directory (and its parents) readable by this user only.
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

/// Refuses a data directory that its group or others may read or write: the database, its
/// journal and the key-encryption key are in it.
pub fn check_private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .with_context(|| format!("cannot read data directory {}", dir.display()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            let what = if mode & 0o044 != 0 {
                "readable"
            } else {
                "writable"
            };
            bail!(
                "data directory {} is {what} by others (mode {mode:04o}); run chmod 700 {}",
                dir.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// Makes a file only this user may read or write (0600): narrows it if it exists, creates it
/// empty when `create` says so.
pub fn make_private(path: &Path, create: bool) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {} private", path.display()))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(false);
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                options
                    .open(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    Ok(())
}

/// Writes a new secret file, 0600 from its creation.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_development_builds_accept_a_dev_clock() {
        assert_eq!(dev_clock_allowed(true), Ok(()));
        let refused = dev_clock_allowed(false).unwrap_err();
        assert!(refused.contains("release build"), "{refused}");
    }

    /// The refusal names the setting, its value and where it came from; the build here is a
    /// development build, so a missing file is what gets refused.
    #[test]
    fn a_dev_clock_that_cannot_be_read_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("kintsugi-dev-clock-{}", std::process::id()));
        let err = Settings::load(
            None,
            flags(vec![(
                "dev_clock",
                Some(serde_json::json!(dir.join("nope"))),
            )]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("dev_clock = "), "{err}");
        assert!(err.contains("command-line flags"), "{err}");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("clock");
        std::fs::write(&file, "+14d").unwrap();
        let ok = Settings::load(
            None,
            flags(vec![("dev_clock", Some(serde_json::json!(file)))]),
        );
        assert_eq!(ok.unwrap().dev_clock, Some(file.clone()));
        std::fs::write(&file, "next tuesday").unwrap();
        let err = Settings::load(
            None,
            flags(vec![("dev_clock", Some(serde_json::json!(file)))]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("next tuesday"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_reference_covers_every_setting_and_is_the_one_in_the_docs() {
        let reference = reference();
        for key in KEYS {
            let row = reference
                .lines()
                .find(|l| l.starts_with(&format!("| `{key}` |")))
                .unwrap_or_else(|| panic!("{key} is in the reference"));
            assert!(
                !row.ends_with("|  |"),
                "{key} has a doc comment in Settings"
            );
        }
        assert_eq!(reference.lines().count(), KEYS.len() + 3, "{reference}");
        let doc = include_str!("../../../docs/operating.md");
        assert!(
            doc.contains(&reference),
            "docs/operating.md is out of date: replace its configuration table with the output of \
             `kintsugi config reference`:\n{reference}"
        );
    }

    #[test]
    fn trusted_proxies_are_a_list_or_text_of_blocks_and_a_bad_one_is_named() {
        let load =
            |v: serde_json::Value| Settings::load(None, flags(vec![("trusted_proxies", Some(v))]));
        let list = load(serde_json::json!(["10.0.0.0/8", "::1"])).unwrap();
        assert_eq!(list.trusted_proxies, ["10.0.0.0/8", "::1"]);
        let text = load(serde_json::json!("10.0.0.0/8, 127.0.0.1/32")).unwrap();
        assert_eq!(text.trusted_proxies, ["10.0.0.0/8", "127.0.0.1/32"]);
        assert_eq!(text.app("http://k.example").trusted_proxies.len(), 2);
        assert!(Settings::default().trusted_proxies.is_empty());
        let err = load(serde_json::json!("10.0.0.0/33"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("trusted_proxies (from command-line flags)") && err.contains("0 to 32"),
            "{err}"
        );
    }

    #[test]
    fn database_urls() {
        let with = |url: &str| {
            Settings {
                database_url: Some(url.into()),
                ..Settings::default()
            }
            .database()
        };
        assert_eq!(
            with("sqlite:///tmp/k.db"),
            Ok(Database::Sqlite("/tmp/k.db".into()))
        );
        assert_eq!(with("sqlite://k.db"), Ok(Database::Sqlite("k.db".into())));
        assert_eq!(
            with("postgres://u@h/db"),
            Ok(Database::Postgres("postgres://u@h/db".into()))
        );
        assert!(with("mysql://h/db").is_err());
        assert!(with("sqlite://").is_err());
        assert_eq!(
            Settings::default().database(),
            Ok(Database::Sqlite("./kintsugi-data/kintsugi.db".into()))
        );
    }
}
