//! The SSRF guard for outgoing requests to addresses admins type in (webhooks).
//!
//! The host is resolved here, every address it resolves to is checked against
//! `kintsugi_core::webhooks::forbidden_range` (and, even where private targets are allowed,
//! `metadata_service`), and the request is then made to the checked
//! address itself (reqwest's `resolve`), so a second DNS answer cannot swap in another
//! address (DNS rebinding). Redirects are never followed and no proxy is used.

use std::net::SocketAddr;
use std::time::Duration;

use kintsugi_core::webhooks::{forbidden_range, metadata_service};

/// A target that passed the guard: the URL and the one address to connect to.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: url::Url,
    pub addr: SocketAddr,
}

/// Parses and checks a webhook URL; the error is a sentence about the URL.
pub async fn check(raw: &str, allow_private: bool) -> Result<Target, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("must start with https:// (or http://)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password; use the signing secret".into());
    }
    let host = url
        .host_str()
        .ok_or_else(|| "has no host".to_owned())?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| "has no port".to_owned())?;
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .map_err(|_| format!("host {host} did not resolve in time"))?
    .map_err(|_| format!("host {host} does not resolve"))?
    .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| format!("host {host} has no address"))?;
    // Allowing private targets never allows a cloud metadata service, in any spelling.
    if let Some(a) = addrs.iter().find(|a| metadata_service(a.ip())) {
        return Err(format!(
            "points at {}, a cloud metadata address, which is never a webhook target",
            a.ip()
        ));
    }
    if !allow_private {
        // Every address must be public: a name with one public and one private address
        // would otherwise let the private one through on a later lookup.
        for a in &addrs {
            if let Some(range) = forbidden_range(a.ip()) {
                return Err(format!(
                    "points at {}, a {range} address; an admin can allow private targets in the webhook settings",
                    a.ip()
                ));
            }
        }
    }
    Ok(Target { url, addr: first })
}

/// A client bound to the checked address: no redirects, no proxy, a deadline.
pub fn client(target: &Target, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout);
    if let Some(url::Host::Domain(domain)) = target.url.host() {
        builder = builder.resolve(domain, target.addr);
    }
    builder.build()
}
