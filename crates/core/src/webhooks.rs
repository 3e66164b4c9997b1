//! Outgoing webhooks: what may be a target (the SSRF guard's address rule), the secret's
//! rule, which events exist, and the Slack-compatible message each event becomes. (The
//! HMAC itself is computed where deliveries are sent, in `kintsugi_app::reach::webhooks`.)
//!
//! A message carries only what an admin outside the repair may see anyway: the event, the
//! repair's title and stage, and a link. Never the text of an update, an answer, a cause or
//! any result, so nothing confidential and nothing below k can leave through a webhook.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::validation::Invalid;

/// A secret shorter than this is refused: HMAC-SHA256 wants a key as long as its output.
pub const MIN_SECRET_BYTES: usize = 32;

/// Header names a receiver reads.
pub const SIGNATURE_HEADER: &str = "X-Kintsugi-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Kintsugi-Timestamp";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// How old a timestamp a receiver should still accept (our advice; retries re-sign).
pub const MAX_AGE_SECONDS: i64 = 300;

/// A signing secret of at least [`MIN_SECRET_BYTES`].
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.len() < MIN_SECRET_BYTES {
            return Err(Invalid::new(
                "secret",
                format!(
                    "the secret must be at least {MIN_SECRET_BYTES} bytes (this one has {})",
                    raw.len()
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// Why an address is not a webhook target, or `None` when it is a public one.
/// v4-mapped and v4-compatible v6 addresses are judged as the v4 address they carry.
pub fn forbidden_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

/// Whether `ip` is a cloud provider's instance-metadata service (AWS, GCP, Azure: 169.254.169.254;
/// AWS's ECS and EKS agents, its IPv6 endpoint; Alibaba; Oracle), also written as a v4-mapped,
/// v4-compatible, NAT64 or 6to4 address. Never a webhook target, even where an admin allows
/// private ones: it hands out the server's own cloud credentials.
pub fn metadata_service(ip: IpAddr) -> bool {
    const V4: [Ipv4Addr; 5] = [
        Ipv4Addr::new(169, 254, 169, 254),
        Ipv4Addr::new(169, 254, 170, 2),
        Ipv4Addr::new(169, 254, 170, 23),
        Ipv4Addr::new(100, 100, 100, 200),
        Ipv4Addr::new(192, 0, 0, 192),
    ];
    const V6: [Ipv6Addr; 2] = [
        Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254),
        Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0023),
    ];
    match ip {
        IpAddr::V4(v4) => V4.contains(&v4),
        IpAddr::V6(v6) => V6.contains(&v6) || embedded_v4(v6).is_some_and(|v4| V4.contains(&v4)),
    }
}

/// The IPv4 address a v6 one reaches: v4-mapped (`::ffff:a.b.c.d`), v4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if s[..6] == [0; 6] || (s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4]) {
        Some(v4(s[6], s[7]))
    } else if s[0] == 0x2002 {
        Some(v4(s[1], s[2]))
    } else {
        None
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_unspecified() || a == 0 {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        // 10/8, 172.16/12, 192.168/16, and carrier-grade NAT 100.64/10.
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_broadcast()
        || a >= 240
        || ip.is_documentation()
        || (a == 198 && (b == 18 || b == 19))
    {
        "reserved"
    } else {
        return None;
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if first & 0xfe00 == 0xfc00 {
        "unique-local"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        "reserved"
    } else if first == 0 {
        // ::/96 (v4-compatible, deprecated) and the rest of ::/16: never a real host.
        "reserved"
    } else if first == 0x2002 {
        // 6to4 (2002::/16) reaches the v4 address in its next 32 bits: judge that one.
        return embedded_v4(ip).and_then(forbidden_v4);
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // NAT64 (64:ff9b::/96) reaches the v4 address it embeds: judge that one.
        let s = ip.segments();
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return forbidden_v4(v4);
    } else {
        return None;
    })
}

/// The events a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Event {
    #[serde(rename = "repair.update")]
    UpdatePosted,
    #[serde(rename = "repair.stage")]
    StageChanged,
    #[serde(rename = "commitment.missed")]
    CommitmentMissed,
    #[serde(rename = "round.opened")]
    RoundOpened,
}

impl Event {
    pub const ALL: [Event; 4] = [
        Event::UpdatePosted,
        Event::StageChanged,
        Event::CommitmentMissed,
        Event::RoundOpened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpdatePosted => "repair.update",
            Self::StageChanged => "repair.stage",
            Self::CommitmentMissed => "commitment.missed",
            Self::RoundOpened => "round.opened",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::UpdatePosted => "an update is posted",
            Self::StageChanged => "a repair changes stage",
            Self::CommitmentMissed => "a commitment is missed",
            Self::RoundOpened => "an anonymous round opens",
        }
    }
}

/// What happened, in the few facts a webhook may carry.
#[derive(Debug, Clone)]
pub struct Happening {
    pub event: Event,
    pub repair_title: String,
    /// The repair's stage after the event, as people read it.
    pub stage: String,
    /// The repair's page.
    pub link: String,
}

/// A Slack-compatible message: `text` for notifications, `blocks` for the message itself.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub text: String,
    pub blocks: Vec<Block>,
    /// For receivers other than Slack.
    pub event: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Block {
    Section { text: Text },
    Context { elements: Vec<Text> },
}

#[derive(Debug, Clone, Serialize)]
pub struct Text {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
}

fn mrkdwn(text: String) -> Text {
    Text {
        kind: "mrkdwn",
        text,
    }
}

/// Slack's mrkdwn treats these three as markup; a title is text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn message(h: &Happening) -> Message {
    let title = escape(&h.repair_title);
    let what = match h.event {
        Event::UpdatePosted => format!("A new update was posted in the repair “{title}”."),
        Event::StageChanged => format!("The repair “{title}” moved to the stage {}.", h.stage),
        Event::CommitmentMissed => {
            format!("A commitment in the repair “{title}” was missed.")
        }
        Event::RoundOpened => {
            format!("An anonymous round opened in the repair “{title}”. Answers are untraceable.")
        }
    };
    Message {
        text: what.clone(),
        blocks: vec![
            Block::Section {
                text: mrkdwn(format!("{what}\n<{}|Open it in Kintsugi>", escape(&h.link))),
            },
            Block::Context {
                elements: vec![mrkdwn(format!(
                    "Kintsugi · {} · stage: {}",
                    h.event.as_str(),
                    h.stage
                ))],
            },
        ],
        event: h.event.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let cases: &[(&str, Option<&str>)] = &[
            ("93.184.216.34", None),
            ("8.8.8.8", None),
            ("2606:4700:4700::1111", None),
            ("127.0.0.1", Some("loopback")),
            ("127.8.9.10", Some("loopback")),
            ("::1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("100.64.0.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("fe80::1", Some("link-local")),
            ("fc00::1", Some("unique-local")),
            ("fd12:3456::1", Some("unique-local")),
            ("224.0.0.1", Some("multicast")),
            ("ff02::1", Some("multicast")),
            ("0.0.0.0", Some("unspecified")),
            ("::", Some("unspecified")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::7f00:1", Some("loopback")),
            ("::127.0.0.1", Some("reserved")),
            ("255.255.255.255", Some("reserved")),
            ("2002:a9fe:a9fe::1", Some("link-local")),
            ("2002:0a00:0001::1", Some("private")),
            ("2002:0808:0808::1", None),
        ];
        for (ip, want) in cases {
            assert_eq!(forbidden_range(ip.parse().unwrap()), *want, "{ip}");
        }
    }

    #[test]
    fn cloud_metadata_in_every_spelling() {
        for ip in [
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::",
            "2002:a9fe:a9fe:1234::5",
            "fd00:ec2::254",
            "169.254.170.2",
            "100.100.100.200",
        ] {
            assert!(metadata_service(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "169.254.169.253",
            "10.0.0.1",
            "fd00:ec2::1",
            "2002:a9fe:a9fd::",
            "8.8.8.8",
        ] {
            assert!(!metadata_service(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn secrets_are_long_enough() {
        assert!(WebhookSecret::parse(&"x".repeat(31)).is_err());
        assert!(WebhookSecret::parse(&"x".repeat(32)).is_ok());
        assert_eq!(WebhookSecret::parse("short").unwrap_err().field, "secret");
    }

    #[test]
    fn messages_carry_title_stage_and_link_only() {
        let m = message(&Happening {
            event: Event::StageChanged,
            repair_title: "Release <night> & after".into(),
            stage: "rebuild".into(),
            link: "https://k.example/repairs/1".into(),
        });
        assert!(m.text.contains("&lt;night&gt; &amp; after"));
        assert!(m.text.contains("rebuild"));
        assert_eq!(m.blocks.len(), 2);
        assert_eq!(m.event, "repair.stage");
    }
}
