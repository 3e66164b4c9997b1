//! What one view of a repair reads, and each server's snapshot of it, kept while the repair's
//! version (bumped by the database on every write the page shows) has not moved.

use std::sync::Arc;

use kintsugi_store::{Acknowledgment, Cause, Commitment, Repair, Round, Update};
use uuid::Uuid;

use crate::actor::Actor;
use crate::context::Ctx;
use crate::error::Error;
use crate::repairs::access::{Access, Standing};

/// A repair's rounds and the answers of its closed ones, read once for one view of the
/// repair (its page, its API document, the gate): every part of the view reads from here.
pub struct RoundsRead {
    pub list: Vec<Round>,
    answers: std::collections::HashMap<Uuid, Vec<kintsugi_store::Answer>>,
    /// The facilitator's replies to closed rounds' comments (only the facilitator sees them).
    replies: std::collections::HashMap<Uuid, Vec<kintsugi_store::Reply>>,
}

impl RoundsRead {
    pub async fn read(ctx: &Ctx, repair_id: Uuid) -> Result<Self, Error> {
        let list = ctx.store().rounds_of(repair_id).await?;
        let mut answers = std::collections::HashMap::new();
        let mut replies = std::collections::HashMap::new();
        // A closed confirmation round lives on as its occurrence's status: its answers are
        // never shown.
        for round in list
            .iter()
            .filter(|r| !r.open && !r.kind.settles_occurrence())
        {
            answers.insert(round.id, ctx.store().answers(round.id).await?);
            replies.insert(round.id, ctx.store().replies(round.id).await?);
        }
        Ok(RoundsRead {
            list,
            answers,
            replies,
        })
    }

    /// The facilitator's replies under a closed round's comments.
    pub fn replies(&self, round: Uuid) -> &[kintsugi_store::Reply] {
        self.replies.get(&round).map_or(&[], Vec::as_slice)
    }

    /// A closed round's answers (none for open rounds: nothing is shown before close).
    pub fn answers(&self, round: Uuid) -> &[kintsugi_store::Answer] {
        self.answers.get(&round).map_or(&[], Vec::as_slice)
    }
}

/// Everything one view of a repair reads beyond the repair itself.
pub struct Reads {
    pub acks: Vec<Acknowledgment>,
    pub causes: Vec<Cause>,
    pub updates: Vec<Update>,
    pub commitments: Vec<Commitment>,
    pub rounds: RoundsRead,
}

impl Reads {
    pub async fn read(ctx: &Ctx, repair_id: Uuid) -> Result<Self, Error> {
        let store = ctx.store();
        Ok(Reads {
            rounds: RoundsRead::read(ctx, repair_id).await?,
            commitments: store.commitments(repair_id).await?,
            acks: store.acknowledgments(repair_id).await?,
            causes: store.causes(repair_id).await?,
            updates: store.updates(repair_id).await?,
        })
    }
}

/// What each server keeps of the repairs it shows: the repair (with its people) and what its
/// page reads, each under the `version` the database bumps on every write that changes them
/// (migration 0021's triggers). A view reads the version, one indexed row, and reads the rest
/// again only when it moved, so a busy repair page costs a few small queries instead of about
/// fifteen and 800 rows; several servers each check the same version.
///
/// Safe against a write racing the read: an entry is stored under the version read *before*
/// its rows, so its rows are at least that new; a later write bumps the version and the next
/// view reads again. Bounded: the repairs shown most recently, by count.
pub struct Snapshots {
    repairs: quick_cache::sync::Cache<Uuid, Arc<Repair>>,
    reads: quick_cache::sync::Cache<Uuid, (i64, Arc<Reads>)>,
}

impl Snapshots {
    /// Repairs kept at once; an organisation of thousands has tens open at a time.
    const REPAIRS: usize = 256;

    pub fn new() -> Self {
        Snapshots {
            repairs: quick_cache::sync::Cache::new(Self::REPAIRS),
            reads: quick_cache::sync::Cache::new(Self::REPAIRS),
        }
    }
}

impl Default for Snapshots {
    fn default() -> Self {
        Self::new()
    }
}

impl Snapshots {
    /// The repair, from this server's snapshot while its version has not moved.
    async fn repair(
        &self,
        ctx: &Ctx,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Arc<Repair>>, Error> {
        let store = ctx.store();
        if let Some(kept) = self.repairs.get(&id)
            && kept.org_id == org_id
            && store.repair_version(org_id, id).await? == Some(kept.version)
        {
            return Ok(Some(kept));
        }
        let Some(repair) = store.repair(org_id, id).await? else {
            return Ok(None);
        };
        let repair = Arc::new(repair);
        self.repairs.insert(id, repair.clone());
        Ok(Some(repair))
    }

    /// What a view of `r` reads, from this server's snapshot while `r.version` is current.
    /// `r` was read (or its version checked) just now, so what is read here is at least that
    /// new.
    pub async fn reads(&self, ctx: &Ctx, r: &Repair) -> Result<Arc<Reads>, Error> {
        if let Some((_, kept)) = self
            .reads
            .get(&r.id)
            .filter(|(version, _)| *version == r.version)
        {
            return Ok(kept);
        }
        let reads = Arc::new(Reads::read(ctx, r.id).await?);
        self.reads.insert(r.id, (r.version, reads.clone()));
        Ok(reads)
    }

    /// The repair as `user` may see it. A repair in another organisation, or one the person
    /// is not part of, does not exist for them (404), except that admins see that it exists.
    pub async fn access(&self, ctx: &Ctx, user: &Actor, id: Uuid) -> Result<Access, Error> {
        let repair = self
            .repair(ctx, user.org.id, id)
            .await?
            .ok_or_else(|| Error::not_found("repair"))?;
        let standing = Standing::of(&repair, user.person.id, user.person.roles.admin)
            .ok_or_else(|| Error::not_found("repair"))?;
        Ok(Access { repair, standing })
    }

    /// The same, for changes: admins outside the repair may not change it.
    pub async fn participant(&self, ctx: &Ctx, user: &Actor, id: Uuid) -> Result<Access, Error> {
        let access = self.access(ctx, user, id).await?;
        if !access.is_participant() {
            return Err(Error::not_found("repair"));
        }
        Ok(access)
    }
}
