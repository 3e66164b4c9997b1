//! The application layer: what Kintsugi does, by feature, below the HTTP edge and the CLI and
//! above the store. It knows no HTTP framework and no templates: the pages, the JSON API, the
//! anonymous path, the command line and the background jobs all call the same services here,
//! which take a [`Ctx`] (store, clock, ids, keys, settings) and return an [`Error`].
//!
//! Layers, each importing only those above it in this list (a tidy test checks):
//! - base: `context`, `settings`, `clock`, `error`, `actor`, `text`, `tokens`, `keys`;
//! - `reach`: the job queue, email, webhooks and the SSRF guard (knows no feature);
//! - `instruments`, `rounds` (anonymous rounds, whoever asks them);
//! - the features: `people`, `signin`, `repairs`, `health`, `lessons`, `notify`;
//! - `events` (the outbox's fan-out) and `jobs` (the one list of job kinds).

pub mod actor;
pub mod clock;
pub mod context;
pub mod error;
pub mod events;
pub mod health;
pub mod held;
pub mod instruments;
pub mod jobs;
pub mod keys;
pub mod lessons;
pub mod notify;
pub mod people;
pub mod reach;
pub mod repairs;
pub mod rounds;
pub mod settings;
pub mod signin;
pub mod text;
pub mod tokens;

pub use actor::Actor;
pub use context::Ctx;
pub use error::{Error, Result};
pub use settings::Settings;
