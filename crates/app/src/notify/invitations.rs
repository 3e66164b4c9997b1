//! Invitations by email: a new link, queued as an essential email (no unsubscribe, sent
//! whatever the person's preferences).

use kintsugi_core::notify::EmailKind;
use uuid::Uuid;

use crate::actor::Actor;
use crate::context::Ctx;
use crate::error::Error;
use crate::people::invitations::{Invitation, invite};
use crate::people::person_in_org;
use crate::reach::email::{self, Action, Mail};
use crate::text::date;

/// Creates a new invitation link for a person and queues it by email (essential: no
/// unsubscribe, sent whatever their preferences).
pub async fn email_invitation(
    ctx: &Ctx,
    admin: &Actor,
    id: Uuid,
) -> Result<(kintsugi_store::Person, Invitation), Error> {
    if ctx.settings().mail.is_none() {
        return Err(Error::Conflict(
            "this server sends no email: set smtp_host and mail_from (see docs/operating.md), or copy the invitation link by hand".into(),
        ));
    }
    let invitation = invite(ctx, admin, id).await?;
    let person = person_in_org(ctx, admin, id).await?;
    let mail = Mail {
        subject: format!("Your invitation to Kintsugi for {}", admin.org.name),
        paragraphs: vec![
            format!(
                "{} invited you to Kintsugi, where {} works on rebuilding trust after things go wrong.",
                admin.person.name, admin.org.name
            ),
            format!(
                "This link signs you in. It works until {} and only for you; you can set a password on the way.",
                date(invitation.expires_at)
            ),
        ],
        items: vec![],
        action: Some(Action {
            label: "Sign in to Kintsugi".into(),
            url: invitation.link.clone(),
        }),
    };
    // One email per link: a resent invitation is a new link, so a new key.
    let key = format!("invitation:{id}:{}", email::message_id(&invitation.link));
    email::queue(
        ctx,
        admin.org.id,
        id,
        EmailKind::Invitation,
        mail,
        &key,
        ctx.now(),
    )
    .await?;
    Ok((person, invitation))
}
