//! Invitation links: made by an admin, they sign a person in without a password.

use kintsugi_store::NewInvitation;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::actor::Actor;
use crate::context::Ctx;
use crate::error::Error;
use crate::people::person_in_org;
use crate::tokens::{hash_token, new_token};

/// How long an invitation link works.
pub const INVITATION_TTL: Duration = Duration::days(7);

pub struct Invitation {
    pub link: String,
    pub expires_at: OffsetDateTime,
}

pub async fn invite(ctx: &Ctx, admin: &Actor, id: Uuid) -> Result<Invitation, Error> {
    let person = person_in_org(ctx, admin, id).await?;
    if !person.active {
        return Err(Error::Conflict(
            "this person is deactivated; they cannot be invited".into(),
        ));
    }
    let token = new_token();
    let now = ctx.now();
    let expires_at = now + INVITATION_TTL;
    ctx.store()
        .create_invitation(&NewInvitation {
            token_hash: hash_token(&token),
            person_id: id,
            created_at: now,
            expires_at,
        })
        .await?;
    Ok(Invitation {
        link: ctx.url(&format!("/invite/{token}")),
        expires_at,
    })
}
