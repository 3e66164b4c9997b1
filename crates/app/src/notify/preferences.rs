//! Each person's choice of emails: which non-essential kinds they get, and the one-click
//! unsubscribe link (RFC 8058) in every non-essential email.

use kintsugi_core::notify::EmailKind;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;
use crate::tokens::hash_token;

pub struct KindChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub on: bool,
}

pub async fn choices(ctx: &Ctx, person: Uuid) -> Result<Vec<KindChoice>, Error> {
    let off = ctx.store().emails_off(person).await?;
    Ok(EmailKind::OPTIONAL
        .iter()
        .map(|k| KindChoice {
            key: k.as_str(),
            label: k.label(),
            on: !off.iter().any(|o| o == k.as_str()),
        })
        .collect())
}

pub fn parse_optional(raw: &str) -> Result<EmailKind, Error> {
    EmailKind::parse(raw)
        .filter(|k| !k.essential())
        .ok_or_else(|| {
            Error::invalid(
                "kind",
                format!(
                    "must be one of {}",
                    EmailKind::OPTIONAL.map(|k| k.as_str()).join(", ")
                ),
            )
        })
}

/// Sets which non-essential emails a person gets: exactly the kinds in `on`.
pub async fn keep_only(ctx: &Ctx, person: Uuid, on: &[String]) -> Result<(), Error> {
    if let Some(bad) = on.iter().find(|k| parse_optional(k).is_err()) {
        return Err(Error::invalid(
            "on",
            format!("{bad:?} is not a kind of email"),
        ));
    }
    for k in EmailKind::OPTIONAL {
        ctx.store()
            .set_email(person, k.as_str(), on.iter().any(|o| o == k.as_str()))
            .await?;
    }
    Ok(())
}

/// Turns the named kinds on or off; kinds left out keep their setting.
pub async fn set(
    ctx: &Ctx,
    person: Uuid,
    kinds: &std::collections::BTreeMap<String, bool>,
) -> Result<(), Error> {
    let parsed = kinds
        .iter()
        .map(|(k, on)| parse_optional(k).map(|k| (k, *on)))
        .collect::<Result<Vec<_>, _>>()?;
    for (k, on) in parsed {
        ctx.store().set_email(person, k.as_str(), on).await?;
    }
    Ok(())
}

/// One-click unsubscribe by the link's secret: what it turned off, or `None` for an unknown link.
pub async fn unsubscribe(ctx: &Ctx, token: &str) -> Result<Option<&'static str>, Error> {
    Ok(ctx
        .store()
        .unsubscribe(&hash_token(token))
        .await?
        .map(|(_, kind)| EmailKind::parse(&kind).map_or("these emails", |k| k.label())))
}
