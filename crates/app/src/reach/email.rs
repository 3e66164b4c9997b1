//! Email over SMTP (lettre on tokio with rustls). Emails are sent only by the job queue
//! (`email` jobs), so a mail server that is down means retries, not lost messages.
//!
//! At least once: a worker that stops after the server accepted a message but before the
//! job was marked done sends it again. Every message's `Message-ID` (and
//! `X-Idempotency-Key`) is derived from its job's idempotency key, so a receiver can drop
//! the second copy.

use kintsugi_core::notify::EmailKind;
use kintsugi_store::{Job, Person};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Error;
use crate::reach::jobs::{self, Failure};
pub use crate::settings::{MailConfig, MailTls};
use crate::tokens::{hash_token, new_token};

/// The job kind that sends one email.
pub const KIND: &str = "email";

/// What an email says, rendered into its plain-text and HTML parts when it is sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Mail {
    pub subject: String,
    pub paragraphs: Vec<String>,
    /// A short list (commitments, repairs), shown as bullets.
    pub items: Vec<String>,
    /// The one thing to do: a button in HTML, a line in text.
    pub action: Option<Action>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Action {
    pub label: String,
    pub url: String,
}

/// An `email` job's payload: who gets it and what it says. The address is looked up when
/// it is sent, so a changed address or a new preference applies to queued mail too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outgoing {
    pub org_id: Uuid,
    pub person_id: Uuid,
    pub kind: EmailKindName,
    pub mail: Mail,
}

/// An [`EmailKind`] by name, as stored in a job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailKindName(pub String);

/// Queues an email to a person, once per `key`. Nothing is queued when email is not
/// configured, or when the person turned this kind off. True when a job was stored.
pub async fn queue(
    ctx: &Ctx,
    org_id: Uuid,
    person_id: Uuid,
    kind: EmailKind,
    mail: Mail,
    key: &str,
    run_at: time::OffsetDateTime,
) -> Result<bool, Error> {
    if ctx.settings().mail.is_none() {
        return Ok(false);
    }
    if !kind.essential()
        && ctx
            .store()
            .emails_off(person_id)
            .await?
            .iter()
            .any(|k| k == kind.as_str())
    {
        return Ok(false);
    }
    let payload = Outgoing {
        org_id,
        person_id,
        kind: EmailKindName(kind.as_str().into()),
        mail,
    };
    let payload = serde_json::to_value(&payload).map_err(|_| Error::Internal)?;
    jobs::enqueue(ctx, Some(org_id), KIND, payload, key, run_at).await
}

/// Checks a From address the way sending will read it.
pub fn parse_mailbox(raw: &str) -> Result<(), String> {
    raw.parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Refuses an address the mailer would refuse: the same parse as the recipient's when an
/// email is built, so an invitation is never accepted and then dies in the queue.
pub fn deliverable(
    email: kintsugi_core::Email,
) -> Result<kintsugi_core::Email, kintsugi_core::Invalid> {
    match email.as_str().parse::<lettre::Address>() {
        Ok(_) => Ok(email),
        Err(e) => Err(kintsugi_core::Invalid::new(
            "email",
            format!("cannot be sent to ({e}); use an address like name@example.org"),
        )),
    }
}

/// The `Message-ID` local part for a job: the same for every attempt of the job.
pub fn message_id(idempotency_key: &str) -> String {
    hex::encode(&Sha256::digest(idempotency_key.as_bytes())[..16])
}

/// The `email` job's handler: renders the email for its person and sends it.
pub async fn deliver(ctx: Ctx, job: Job) -> Result<(), Failure> {
    let Some(config) = ctx.settings().mail.clone() else {
        return Err(Failure::Retry("email is not configured (smtp_host)".into()));
    };
    let out: Outgoing = serde_json::from_str(&job.payload)
        .map_err(|e| Failure::Permanent(format!("unreadable email job: {e}")))?;
    let kind = EmailKind::parse(&out.kind.0)
        .ok_or_else(|| Failure::Permanent(format!("unknown email kind {:?}", out.kind.0)))?;
    let Some(person) = recipient(&ctx, &out, kind).await? else {
        return Ok(());
    };
    let org = ctx
        .store()
        .organisation(out.org_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let unsubscribe = unsubscribe_link(&ctx, &person, kind).await?;
    let preferences = ctx.url("/preferences");
    let parts = Parts {
        name: &person.name,
        mail: &out.mail,
        org: &org,
        unsubscribe: unsubscribe.as_deref(),
        preferences: &preferences,
    };
    let message = compose(&config, &job.idempotency_key, &person, &parts)?;
    transport(&config)
        .map_err(Failure::Retry)?
        .send(message)
        .await
        .map_err(|e| {
            if e.is_permanent() {
                Failure::Permanent(format!("the mail server refused it: {e}"))
            } else {
                Failure::Retry(format!("could not hand it to the mail server: {e}"))
            }
        })?;
    Ok(())
}

/// Who gets a queued email now: `None` when they were deactivated, or turned this kind off,
/// since it was queued (nothing to send, nothing to retry).
async fn recipient(ctx: &Ctx, out: &Outgoing, kind: EmailKind) -> Result<Option<Person>, Failure> {
    let store = ctx.store();
    let Some(person) = store.person(out.org_id, out.person_id).await? else {
        return Err(Failure::Permanent("the person no longer exists".into()));
    };
    if !person.active {
        return Ok(None);
    }
    let off = store.emails_off(person.id).await?;
    if !kind.essential() && off.iter().any(|k| k == kind.as_str()) {
        return Ok(None);
    }
    Ok(Some(person))
}

/// A new one-click unsubscribe link for a non-essential email; none for an essential one.
async fn unsubscribe_link(
    ctx: &Ctx,
    person: &Person,
    kind: EmailKind,
) -> Result<Option<String>, Failure> {
    if kind.essential() {
        return Ok(None);
    }
    let token = new_token();
    ctx.store()
        .put_unsubscribe_link(&hash_token(&token), person.id, kind.as_str(), ctx.now())
        .await?;
    Ok(Some(ctx.url(&format!("/unsubscribe/{token}"))))
}

/// The message: both parts, and headers whose ids come from the job's key, so every attempt
/// sends the same `Message-ID`.
fn compose(
    config: &MailConfig,
    idempotency_key: &str,
    person: &Person,
    parts: &Parts<'_>,
) -> Result<Message, Failure> {
    let from: Mailbox = config
        .from
        .parse()
        .map_err(|e| Failure::Permanent(format!("mail_from {:?}: {e}", config.from)))?;
    let to = Mailbox::new(
        Some(person.name.clone()),
        person
            .email
            .parse()
            .map_err(|e| Failure::Permanent(format!("bad address: {e}")))?,
    );
    let id = message_id(idempotency_key);
    let domain = from.email.domain().to_owned();
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(parts.mail.subject.clone())
        .message_id(Some(format!("<{id}@{domain}>")))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Idempotency-Key"),
            id,
        ));
    if let Some(url) = parts.unsubscribe {
        // RFC 8058: one POST to this URL unsubscribes, with no login and no page to click.
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            parts.text(),
            parts.html(),
        ))
        .map_err(|e| Failure::Permanent(format!("build message: {e}")))
}

fn transport(config: &MailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = match config.tls {
        MailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
        MailTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
            .map_err(|e| format!("smtp_host {:?}: {e}", config.host))?,
        MailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
            .map_err(|e| format!("smtp_host {:?}: {e}", config.host))?,
    };
    let mut builder = builder
        .port(config.port)
        .timeout(Some(std::time::Duration::from_secs(30)));
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// What an email is rendered from: the same for its plain-text and HTML parts.
struct Parts<'a> {
    name: &'a str,
    mail: &'a Mail,
    org: &'a str,
    unsubscribe: Option<&'a str>,
    preferences: &'a str,
}

impl Parts<'_> {
    fn text(&self) -> String {
        let mut out = format!("Hello {},\n", self.name);
        for p in &self.mail.paragraphs {
            out += &format!("\n{p}\n");
        }
        if !self.mail.items.is_empty() {
            out += "\n";
            for i in &self.mail.items {
                out += &format!("- {i}\n");
            }
        }
        if let Some(a) = &self.mail.action {
            out += &format!("\n{}: {}\n", a.label, a.url);
        }
        out += "\n-- \nKintsugi";
        if !self.org.is_empty() {
            out += &format!(" for {}", self.org);
        }
        out += "\n";
        if let Some(u) = self.unsubscribe {
            out += &format!(
                "Stop these emails: {u}\nChoose which emails you get: {}\n",
                self.preferences
            );
        }
        out
    }

    fn html(&self) -> String {
        let e = |s: &str| html_escape::encode_quoted_attribute(s).into_owned();
        const SMALL: &str = "font-size: 0.85rem; color: #4a5560;";
        let mut out = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n\
             <body style=\"font-family: system-ui, sans-serif; color: #1d2730; max-width: 36rem; margin: 0 auto; padding: 1rem;\">\n\
             <p>Hello {},</p>\n",
            e(&self.mail.subject),
            e(self.name)
        );
        for p in &self.mail.paragraphs {
            out += &format!("<p>{}</p>\n", e(p));
        }
        if !self.mail.items.is_empty() {
            out += "<ul>\n";
            for i in &self.mail.items {
                out += &format!("<li>{}</li>\n", e(i));
            }
            out += "</ul>";
        }
        out += "\n";
        if let Some(a) = &self.mail.action {
            out += &format!(
                "<p><a href=\"{url}\" style=\"display: inline-block; background: #8a5a00; color: #fff; padding: 0.6rem 1rem; \
                 border-radius: 0.3rem; text-decoration: none;\">{label}</a></p>\n\
                 <p style=\"{SMALL}\">Or open this address: {url}</p>",
                url = e(&a.url),
                label = e(&a.label)
            );
        }
        out += &format!(
            "\n<hr style=\"border: 0; border-top: 1px solid #d0d5da;\">\n<p style=\"{SMALL}\">Kintsugi"
        );
        if !self.org.is_empty() {
            out += &format!(" for {}", e(self.org));
        }
        out += ".\n";
        if let Some(u) = self.unsubscribe {
            out += &format!(
                "<a href=\"{}\" style=\"color: #4a5560;\">Stop these emails</a> \u{b7}\n\
                 <a href=\"{}\" style=\"color: #4a5560;\">choose which emails you get</a>.",
                e(u),
                e(self.preferences)
            );
        }
        out + "</p>\n</body>\n</html>\n"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_the_mailer_refuses_are_refused_when_typed() {
        let check = |raw: &str| {
            kintsugi_core::Email::parse(raw)
                .and_then(super::deliverable)
                .map(|e| e.to_string())
        };
        assert_eq!(check("Ana@Acme.example").unwrap(), "ana@acme.example");
        assert!(check("o'neil+tag@acme.example").is_ok());
        for bad in [
            "a..b@acme.example",
            ".a@acme.example",
            "a,b@acme.example",
            "a@-acme.example",
            "a(b)@acme.example",
        ] {
            assert!(
                kintsugi_core::Email::parse(bad).is_ok(),
                "core lets {bad} through"
            );
            let err = check(bad).unwrap_err();
            assert_eq!(err.field, "email", "{bad}");
        }
    }
}
