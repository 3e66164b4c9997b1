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
    /// Login attempts allowed per minute for one email address (and three times that per client address).
    pub login_attempts_per_minute: u32,
    /// Offer the demo organisation.
    pub demo: bool,
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
        Ok(settings)
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

pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
