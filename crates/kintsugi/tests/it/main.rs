//! The one integration test binary (one link step): each module is a feature, driven the way a
//! user drives it, through HTTP on a real bound port or the CLI, against a real `kintsugi` process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support (harnesses, helpers) outside `#[test]` functions: a failed step fails the test"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests stand outside the server they drive: they need the real time and fresh ids of their own"
)]

mod admin;
mod adversary;
mod api;
mod auth;
mod cli;
mod coach;
mod compression;
mod dashboard;
mod email;
mod error_pages;
mod feeds;
mod files;
mod gate_writes;
mod groups;
mod harness;
mod health;
mod instances;
mod jobs;
mod layers;
mod lessons;
mod mixing;
mod ohttp;
mod oidc;
mod ops;
mod outbox;
mod release;
mod repairs;
mod roles;
mod rounds;
mod security;
mod setup;
mod tidy;
mod transfer;
// Faults and load: crash, database outage, full disk, soak.
mod crash;
mod disk;
mod outage;
mod soak;
mod webhooks;
