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
    /// Failed logins one email address may have before each further attempt waits (a second,
    /// doubling per failure up to `login_backoff_cap`); three times as many per client address.
    pub login_free_failures: u32,
    /// The longest wait the login back-off imposes.
    pub login_backoff_cap: std::time::Duration,
    /// The proxies whose `X-Forwarded-For` is believed: only a request from one of them is
    /// taken to come from the address it names. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<Cidr>,
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
            login_free_failures: 5,
            login_backoff_cap: std::time::Duration::from_secs(900),
            trusted_proxies: Vec::new(),
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

/// A block of addresses, such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is the
/// block of that address alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Self, String> {
        use std::net::IpAddr;
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an address or a block such as 10.0.0.0/8"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }

    /// Whether `ip` is in the block (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |n: u32, width: u32| -> u128 {
            if n == 0 {
                0
            } else {
                (!0u128 >> (128 - n)) << (width - n)
            }
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = bits(u32::from(self.prefix), 32);
                (u128::from(u32::from(net)) & mask) == (u128::from(u32::from(ip)) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = bits(u32::from(self.prefix), 128);
                (u128::from(net) & mask) == (u128::from(ip) & mask)
            }
            _ => false,
        }
    }
}

/// The client's address: the TCP peer's, unless the peer is a trusted proxy; then the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy (the left-most
/// ones are whatever the client chose to send).
pub fn client_address(
    peer: std::net::IpAddr,
    forwarded_for: &[&str],
    trusted: &[Cidr],
) -> std::net::IpAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for
        .iter()
        .rev()
        .flat_map(|h| h.rsplit(','))
        .map(str::trim)
    {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if is_trusted(ip) => client = ip,
            Ok(ip) => return ip,
            // Something that is not an address: stop at the last hop believed.
            Err(_) => return client,
        }
    }
    client
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
    fn blocks_of_addresses() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let ten = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(ten.contains(ip("10.200.3.4")));
        assert!(!ten.contains(ip("11.0.0.1")));
        assert!(ten.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_right_most_address_no_trusted_proxy_added() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let proxies = [Cidr::parse("10.0.0.0/8").unwrap()];
        let from = |peer: &str, xff: &[&str]| client_address(ip(peer), xff, &proxies);
        assert_eq!(from("10.0.0.1", &["203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(
            from("10.0.0.1", &["198.51.100.1, 203.0.113.7, 10.0.0.2"]),
            ip("203.0.113.7"),
            "the left-most address is the client's own claim"
        );
        assert_eq!(
            from("10.0.0.1", &["198.51.100.1", "203.0.113.7"]),
            ip("203.0.113.7"),
            "several headers read as one list"
        );
        assert_eq!(from("10.0.0.1", &[]), ip("10.0.0.1"));
        assert_eq!(from("10.0.0.1", &["junk, 10.0.0.3"]), ip("10.0.0.3"));
        assert_eq!(
            from("192.0.2.1", &["203.0.113.7"]),
            ip("192.0.2.1"),
            "a peer that is not a trusted proxy is the client"
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &["203.0.113.7"], &[]),
            ip("127.0.0.1")
        );
    }

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
