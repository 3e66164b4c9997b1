//! Signing in: sessions, password login under a rate limit, first-run setup, accepting an
//! invitation, and single sign-on (`oidc`). The edge keeps the cookies; this module keeps
//! the rules and what is stored (only hashes of session ids and links).

pub mod backoff;
pub mod oidc;

use kintsugi_core::{Email, Invalid, KThreshold, NewPassword, OrganisationName, PersonName, Roles};
use kintsugi_store::{NewOrganisation, NewPerson, NewSession, Person, StoreError};
use time::Duration;
use uuid::Uuid;

use crate::actor::Actor;
use crate::context::Ctx;
use crate::error::Error;
use crate::people::passwords::{hash_password, verify_password};
use crate::settings::Settings;
use crate::tokens::{hash_token, new_token};

/// A session lasts a working week; after that, log in again.
pub const SESSION_TTL: Duration = Duration::days(7);

/// What signing in keeps between requests: the login back-off, in memory per server, and
/// the identity provider, when one is set up.
pub struct SignIn {
    local_login: bool,
    backoff: backoff::Backoff,
    oidc: Option<oidc::Oidc>,
}

impl SignIn {
    pub fn new(settings: &Settings) -> Self {
        Self {
            local_login: settings.local_login,
            backoff: backoff::Backoff::new(
                settings.login_free_failures,
                settings.login_backoff_cap,
            ),
            oidc: settings.oidc.clone().map(oidc::Oidc::new),
        }
    }

    /// Whether the password form is offered.
    pub fn local_login(&self) -> bool {
        self.local_login
    }

    /// The identity provider for single sign-on, when one is set up.
    pub fn oidc(&self) -> Option<&oidc::Oidc> {
        self.oidc.as_ref()
    }

    /// Checks credentials under the back-off ([`backoff`]); the person on success, or
    /// `TooManyRequests` with the seconds to wait. `client` is the back-off's key for the
    /// client address, used for nothing else and never logged.
    pub async fn check_login(
        &self,
        ctx: &Ctx,
        client: &str,
        email: &str,
        password: String,
    ) -> Result<Person, Error> {
        if !self.local_login {
            return Err(Error::Forbidden(
                "password login is switched off here".into(),
            ));
        }
        let email = email.trim().to_lowercase();
        self.backoff
            .begin(&email, client, std::time::Instant::now())
            .map_err(Error::TooManyRequests)?;
        let creds = ctx.store().credentials(&email).await?;
        let (person, hash) = match creds {
            Some(c) if c.person.active => (Some(c.person), c.password_hash),
            _ => (None, None),
        };
        let ok = verify_password(password, hash).await;
        match person {
            Some(p) if ok => {
                self.backoff.succeeded(&email, client);
                Ok(p)
            }
            _ => Err(Error::Unauthenticated),
        }
    }
}

/// The signed-in person behind a session token, if it is live and they are active.
pub async fn session(ctx: &Ctx, token: &str) -> Result<Option<Actor>, Error> {
    let found = ctx.store().session(&hash_token(token), ctx.now()).await?;
    Ok(found.map(|(_, person, org)| Actor { person, org }))
}

/// Starts a new session for `person_id` and ends `previous` (the one the request came with),
/// so a session id known before login is worthless after it (rotation against fixation).
/// Returns the new session's token, for the cookie.
pub async fn start_session(
    ctx: &Ctx,
    previous: Option<&str>,
    person_id: Uuid,
) -> Result<String, Error> {
    end_session(ctx, previous).await?;
    let token = new_token();
    let now = ctx.now();
    ctx.store()
        .create_session(&NewSession {
            id_hash: hash_token(&token),
            person_id,
            created_at: now,
            expires_at: now + SESSION_TTL,
        })
        .await?;
    Ok(token)
}

pub async fn end_session(ctx: &Ctx, token: Option<&str>) -> Result<(), Error> {
    if let Some(token) = token {
        ctx.store().delete_session(&hash_token(token)).await?;
    }
    Ok(())
}

/// What the first-run form asks for.
pub struct SetupInput<'a> {
    pub token: &'a str,
    pub organisation_name: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// Creates the organisation and its first admin with a setup link; returns the admin's id.
pub async fn set_up(ctx: &Ctx, input: SetupInput<'_>) -> Result<Uuid, Error> {
    let org_name = OrganisationName::parse(input.organisation_name);
    let name = PersonName::parse(input.name);
    let email = Email::parse(input.email).and_then(crate::reach::email::deliverable);
    let password = NewPassword::parse(input.password);
    let problems: Vec<Invalid> = [
        org_name.as_ref().err(),
        name.as_ref().err(),
        email.as_ref().err(),
        password.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    let (Ok(org_name), Ok(name), Ok(email), Ok(password)) = (org_name, name, email, password)
    else {
        return Err(Error::Invalid(problems));
    };
    let now = ctx.now();
    let org = NewOrganisation {
        id: ctx.new_id(),
        name: org_name,
        is_demo: false,
        k_threshold: KThreshold::DEFAULT,
        created_at: now,
    };
    let admin = NewPerson {
        id: ctx.new_id(),
        org_id: org.id,
        name,
        email,
        roles: Roles::ADMIN,
        team_ids: vec![],
        password_hash: Some(hash_password(password).await?),
        created_at: now,
    };
    ctx.store()
        .setup_organisation(&hash_token(input.token), now, &org, &admin)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => Error::NotFound(
                "this setup link has been used or has expired; restart `kintsugi serve` for a new one"
                    .into(),
            ),
            other => other.into(),
        })?;
    Ok(admin.id)
}

/// Whether the server still waits for its first organisation (the demo aside).
pub async fn needs_setup(ctx: &Ctx) -> Result<bool, Error> {
    Ok(!ctx
        .store()
        .list_organisations()
        .await?
        .iter()
        .any(|o| !o.is_demo))
}

/// A new one-time link that creates the organisation, valid for a day.
pub async fn setup_link(ctx: &Ctx, public_url: &str) -> Result<String, Error> {
    let token = new_token();
    ctx.store()
        .put_setup_token(&hash_token(&token), ctx.now() + Duration::days(1))
        .await?;
    Ok(format!("{public_url}/setup?token={token}"))
}

/// The person an invitation link belongs to, and their organisation's name.
pub async fn invited(ctx: &Ctx, token: &str) -> Result<(Person, String), Error> {
    let gone = || {
        Error::NotFound("this invitation link is not valid: it has expired, been replaced, or been used to set a password. Ask your administrator for a new one".into())
    };
    let person = ctx
        .store()
        .invitation(&hash_token(token), ctx.now())
        .await?
        .ok_or_else(gone)?;
    let org = ctx
        .store()
        .organisation(person.org_id)
        .await?
        .ok_or_else(gone)?;
    Ok((person, org.name))
}

/// Sets the invited person's password and spends the link; the person, to sign in.
pub async fn accept_with_password(ctx: &Ctx, token: &str, password: &str) -> Result<Person, Error> {
    invited(ctx, token).await?;
    let password = NewPassword::parse(password)?;
    let hash = hash_password(password).await?;
    Ok(ctx
        .store()
        .accept_invitation_with_password(&hash_token(token), ctx.now(), &hash)
        .await?)
}

/// Sets someone's password by email (the command line, for an admin locked out).
pub async fn set_password(ctx: &Ctx, email: &str, password: &str) -> Result<Person, Error> {
    let password = NewPassword::parse(password)?;
    let creds = ctx
        .store()
        .credentials(&email.trim().to_lowercase())
        .await?
        .ok_or_else(|| Error::NotFound(format!("nobody has the email address {email}")))?;
    let hash = hash_password(password).await?;
    ctx.store().set_password(creds.person.id, &hash).await?;
    Ok(creds.person)
}
