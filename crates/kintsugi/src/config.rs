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
    /// Where the SQLite database, the key store and the lock file live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; by default SQLite in the data directory.
    pub database_url: Option<String>,
    /// The address people use, for links in invitations; by default `http://LISTEN`.
    pub public_url: Option<String>,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `kintsugi=debug`.
    pub log_level: String,
    pub login_attempts_per_minute: u32,
    /// Offer the demo organisation.
    pub demo: bool,
    /// Offer password login. Off, people sign in only through the identity provider.
    pub local_login: bool,
    /// Single sign-on: the OpenID provider's issuer URL (https, or http on loopback).
    pub oidc_issuer: Option<String>,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret: Option<String>,
    /// Scopes asked for, space-separated (`openid` is always asked for).
    pub oidc_scopes: String,
    /// The provider's name on the login button: "Sign in with NAME".
    pub oidc_name: String,
    /// The claims that hold a person's email, name and groups (groups name teams).
    pub oidc_email_claim: String,
    pub oidc_name_claim: String,
    pub oidc_groups_claim: Option<String>,
    /// The organisation (id) where people nobody invited are created at their first sign-in.
    /// Without it, the only organisation (the demo aside); with several, only invited people.
    pub oidc_organisation: Option<uuid::Uuid>,
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
            database_url: None,
            public_url: None,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            login_attempts_per_minute: 10,
            demo: false,
            local_login: true,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scopes: "openid email profile".into(),
            oidc_name: "single sign-on".into(),
            oidc_email_claim: "email".into(),
            oidc_name_claim: "name".into(),
            oidc_groups_claim: None,
            oidc_organisation: None,
        }
    }
}

const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "public_url",
    "log_format",
    "log_level",
    "login_attempts_per_minute",
    "demo",
    "local_login",
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_scopes",
    "oidc_name",
    "oidc_email_claim",
    "oidc_name_claim",
    "oidc_groups_claim",
    "oidc_organisation",
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
        Ok(settings)
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
        if let Err(why) = kintsugi_web::OidcSettings::check_issuer(issuer) {
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

    /// The web layer's view of single sign-on, when it is set up.
    pub fn oidc(&self) -> Option<kintsugi_web::OidcSettings> {
        Some(kintsugi_web::OidcSettings {
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

pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
