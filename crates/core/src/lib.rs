//! Kintsugi's domain core: the process and its rules, as pure Rust.
//!
//! Nothing here performs I/O, reads the clock or draws randomness: callers pass time
//! and ids in, so every rule can be tested as a table of inputs and expected outputs.

pub mod access;
pub mod anonymity;
#[cfg(any(test, feature = "audit"))]
pub mod audit;
pub mod coach;
pub mod commitments;
pub mod gate;
pub mod health;
pub mod instrument;
pub mod lessons;
pub mod notify;
pub mod people;
pub mod repair;
pub mod rounds;
pub mod validation;
pub mod webhooks;

pub use access::{Forbidden, Roles};
pub use anonymity::{KThreshold, Shown};
pub use people::{Email, NewPassword, OrganisationName, PersonName, TeamName};
pub use validation::Invalid;
