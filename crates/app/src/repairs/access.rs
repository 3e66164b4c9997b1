//! How the person asking stands in a repair, and what that lets them do. Outsiders never
//! learn that a repair exists (404), except admins, who see its title and stage.

use std::sync::Arc;

use kintsugi_core::repair::Side;
use kintsugi_store::Repair;

use crate::error::Error;

/// How the person asking stands in a repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Facilitator,
    Side(Side),
    /// An admin outside the repair: title and stage only.
    Overseer,
}

pub struct Access {
    /// Shared with the server's snapshot of the repair (`Snapshots`): clone it to own it.
    pub repair: Arc<Repair>,
    pub standing: Standing,
}

impl Access {
    pub fn is_facilitator(&self) -> bool {
        self.standing == Standing::Facilitator
    }
    pub fn side(&self) -> Option<Side> {
        match self.standing {
            Standing::Side(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_participant(&self) -> bool {
        self.standing != Standing::Overseer
    }
    fn require(&self, ok: bool, what: &str) -> Result<(), Error> {
        if ok {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("only {what} may do this")))
        }
    }
    pub fn require_facilitator(&self) -> Result<(), Error> {
        self.require(self.is_facilitator(), "the repair's facilitator")
    }
    pub fn require_accountable(&self) -> Result<(), Error> {
        self.require(
            self.side() == Some(Side::Accountable),
            "someone on the accountable side",
        )
    }
    pub fn require_affected(&self) -> Result<(), Error> {
        self.require(
            self.side() == Some(Side::Affected),
            "someone on the affected side",
        )
    }
    /// Updates come from the facilitator and the accountable side.
    pub fn require_poster(&self) -> Result<(), Error> {
        self.require(
            self.is_facilitator() || self.side() == Some(Side::Accountable),
            "the facilitator or the accountable side",
        )
    }
}

impl Standing {
    /// How `person` stands in `repair`: `None` when they have no business there at all.
    pub fn of(repair: &Repair, person: uuid::Uuid, is_admin: bool) -> Option<Self> {
        if repair.facilitator_id == person {
            Some(Standing::Facilitator)
        } else if let Some(side) = repair.side_of(person) {
            Some(Standing::Side(side))
        } else if is_admin {
            Some(Standing::Overseer)
        } else {
            None
        }
    }
}
