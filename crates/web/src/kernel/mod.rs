//! The edge's kernel: what every feature uses and none owns. It imports the application crate
//! and nothing of any feature (a tidy test checks).

pub mod anon;
pub mod assets;
pub mod charts;
pub mod csrf;
pub mod csv;
pub mod error;
pub mod openapi;
pub mod ops;
pub mod page;
pub mod session;
pub mod state;

/// Largest request body accepted anywhere. Forms and JSON here are small.
pub const BODY_LIMIT: usize = 64 * 1024;

pub use error::{HttpError, Reply};
pub use state::AppState;
