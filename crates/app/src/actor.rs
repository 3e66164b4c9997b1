//! Who acts: a signed-in, active person and their organisation, and the audit entry each
//! change they make writes in its own transaction.

use kintsugi_store::{Audit, Organisation, Person};

use crate::context::Ctx;

/// A signed-in, active person and their organisation.
#[derive(Debug, Clone)]
pub struct Actor {
    pub person: Person,
    pub org: Organisation,
}

/// An audit entry for a change `actor` makes now.
pub fn audit(
    ctx: &Ctx,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: impl Into<String>,
) -> Audit {
    Audit {
        id: ctx.new_id(),
        org_id: actor.org.id,
        actor_id: Some(actor.person.id),
        action: action.into(),
        subject: subject.into(),
        detail: detail.into(),
        at: ctx.now(),
    }
}

/// An audit entry for a change Kintsugi makes itself (a schedule, the command line).
pub fn system_audit(
    ctx: &Ctx,
    org_id: uuid::Uuid,
    action: &str,
    subject: &str,
    detail: impl Into<String>,
) -> Audit {
    Audit {
        id: ctx.new_id(),
        org_id,
        actor_id: None,
        action: action.into(),
        subject: subject.into(),
        detail: detail.into(),
        at: ctx.now(),
    }
}
